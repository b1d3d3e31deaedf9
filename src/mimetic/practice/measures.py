"""Per-side movement measures for the practice exercises, from one face's landmarks.

Every practice measure is a *scoring* of one measure of the registry :mod:`mimetic.face.measures` (read from the
pose-corrected frontal landmarks: origin between the eye centres, +x the person's left, +y up, +z toward the viewer,
unit = the inter-ocular distance, IOD, ~62 mm). So head turn, tilt and the face's size in the image cancel, and the
frame is anchored on the eyes: a jaw drop does not move the brows, and the mouth corners are measured against the
eyes, not against the (moving) lips.

``measure(face)`` returns ``{name: (left, right)}`` (the **person's** left and right) of raw values: for each
practice measure of :data:`MEASURES`, the value of its registry measure. A raw value means nothing on its own
(faces differ); scoring uses the change from the same person's neutral calibration, in the practice measure's
*direction* and divided by its *full range* (see ``docs/practice.md``):

    movement_side = clip(direction × (value_side − neutral_side) / full_range, 0, 1)

A practice measure is named for the movement it scores; where that is also a registry name it reads that very
measure (``commissure_pull``, ``lip_protrusion``, ...). ``eye_opening`` (registry ``eye_aperture``) is the one
dimensionless measure (lid gap ÷ eye width); its full range is relative to the person's own neutral opening
(``relative=True``: full_range × neutral), so "fully closed" means the same for a narrow and a wide eye.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from mimetic.face.measures import REGISTRY, compute
from mimetic.facs import geometry as g

L, R = 0, 1


@dataclass(frozen=True)
class MeasureInfo:
    """How a practice measure is scored: ``measure`` = the registry measure it reads
    (:data:`mimetic.face.measures.REGISTRY`); ``direction`` +1 when the action increases it, −1 when the action
    decreases it; ``full_range`` = the change (in the measure's unit) that counts as a complete movement (1.0);
    ``relative``: the full range is ``full_range × the neutral value`` instead."""

    measure: str
    direction: float
    full_range: float
    relative: bool = False

    @property
    def unit(self) -> str:
        """The full range's unit: the registry measure's, or ``"× neutral"`` for a relative range."""
        return "× neutral" if self.relative else REGISTRY[self.measure].unit

    @property
    def description(self) -> str:
        return REGISTRY[self.measure].description

    def movement(self, value: float, neutral: float) -> float:
        """0..1: how far ``value`` moved from ``neutral`` in the action's direction, as a fraction of the range."""
        full = self.full_range * (abs(neutral) if self.relative else 1.0)
        if not np.isfinite(value) or not np.isfinite(neutral) or full <= 1e-9:
            return 0.0
        return float(min(1.0, max(0.0, self.direction * (value - neutral) / full)))

    def signed(self, value: float, neutral: float) -> float:
        """Like :meth:`movement` but unclipped (negative = moved against the action's direction)."""
        full = self.full_range * (abs(neutral) if self.relative else 1.0)
        if not np.isfinite(value) or not np.isfinite(neutral) or full <= 1e-9:
            return 0.0
        return float(self.direction * (value - neutral) / full)


# fmt: off
#: Every measure ``measure()`` returns: the registry measure it reads, its direction and its full range (the change of
#: a complete, healthy movement; rounded; the reasons are in docs/practice.md: the smile values were measured on
#: smile_pexels.mp4, the others follow the AU knots of mimetic.facs.estimate, whose A..E span is the population's
#: range of that movement).
MEASURES: dict[str, MeasureInfo] = {
    "brow_lift": MeasureInfo("brow_mean", +1, 0.10),
    "brow_lowering": MeasureInfo("brow_inner_position", -1, 0.06),
    "eye_opening": MeasureInfo("eye_aperture", -1, 0.85, relative=True),
    "cheek_raise": MeasureInfo("cheek_height", +1, 0.06),
    "nose_wrinkle": MeasureInfo("ala_canthus", -1, 0.05),
    "upper_lip_raise": MeasureInfo("upper_lip_eye_height", +1, 0.06),
    "commissure_pull": MeasureInfo("commissure_pull", +1, 0.12),
    "commissure_lift": MeasureInfo("commissure_eye_height", +1, 0.10),
    "commissure_depression": MeasureInfo("commissure_eye_height", -1, 0.06),
    "mouth_narrowing": MeasureInfo("half_mouth_width", -1, 0.10),
    "mouth_widening": MeasureInfo("half_mouth_width", +1, 0.10),
    "lip_protrusion": MeasureInfo("lip_protrusion", +1, 0.06),
    "cheek_puff": MeasureInfo("cheek_puff", +1, 0.04),
    "lower_lip_depression": MeasureInfo("lower_lip_depression", +1, 0.08),
}
# fmt: on
#: The registry measures of the resting (Sunnybrook-shaped) symmetry: eye aperture and palpebral fissure, the
#: nasolabial line (alar crease → mouth corner) length and angle, and the mouth-corner height relative to the eye
#: line (a drooping corner sits lower).
RESTING = ("eye_aperture", "palpebral_fissure", "nasolabial_length", "nasolabial_angle", "commissure_eye_height")


def measure(face, *, frontal_points: np.ndarray | None = None) -> dict[str, tuple[float, float]]:
    """Raw per-side measures ``{name: (left, right)}`` of one face (the registry measure of every name of
    :data:`MEASURES`). ``frontal_points``: the face's frontal points when the caller already has them.
    """
    m = compute(g.frontal_points(face) if frontal_points is None else frontal_points)
    return {k: (float(m[info.measure][L]), float(m[info.measure][R])) for k, info in MEASURES.items()}


def resting_measures(face, *, frontal_points: np.ndarray | None = None) -> dict[str, tuple[float, float]]:
    """The registry measures of :data:`RESTING`, per side ``{name: (left, right)}`` (IOD units / ratio / degrees)."""
    m = compute(g.frontal_points(face) if frontal_points is None else frontal_points)
    return {k: (float(m[k][L]), float(m[k][R])) for k in RESTING}


__all__ = ["MEASURES", "RESTING", "MeasureInfo", "measure", "resting_measures"]

"""Per-side movement measures for the practice exercises, from one face's landmarks.

Every measure is read from the pose-corrected frontal landmarks (:func:`mimetic.facs.geometry.frontal_points`):
origin between the eye centres, +x the person's left, +y up, +z toward the viewer, unit = the inter-ocular
distance (IOD, ~62 mm in adults). So head turn, tilt and the face's size in the image cancel, and the frame is
anchored on the eyes: a jaw drop does not move the brows, and the mouth corners are measured against the eyes,
not against the (moving) lips.

``measure(face)`` returns ``{name: (left, right)}`` (the **person's** left and right) of raw values. A raw value
means nothing on its own (faces differ); scoring uses the change from the same person's neutral calibration,
in the measure's *direction* and divided by its *full range* (:data:`MEASURES`, see ``docs/practice.md``):

    movement_side = clip(direction × (value_side − neutral_side) / full_range, 0, 1)

``eye_opening`` is the one dimensionless measure (lid gap ÷ eye width); its full range is relative to the
person's own neutral opening (``relative=True``: full_range × neutral), so "fully closed" means the same for a
narrow and a wide eye.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from mimetic.facs import geometry as g

L, R = 0, 1
#: buccal cheek points (mid and lower cheek, lateral to the mouth), per side (left, right)
CHEEK_LOW = ((425, 427, 411), (205, 207, 187))
#: outer lip contour (upper paramedian, lower paramedian), per side
LIP_OUTER = ((267, 314), (37, 84))
#: the 45° up-and-out direction of zygomaticus major's pull, per side, in the frontal frame (x, y)
_ZYG = np.array([[1.0, 1.0], [-1.0, 1.0]]) / np.sqrt(2.0)


@dataclass(frozen=True)
class MeasureInfo:
    """How a measure is scored: ``direction`` +1 when the action increases it, −1 when the action decreases it;
    ``full_range`` = the change (in the measure's unit, IOD unless said otherwise) that counts as a complete
    movement (1.0); ``relative``: the full range is ``full_range × the neutral value`` instead."""

    direction: float
    full_range: float
    unit: str
    description: str
    relative: bool = False

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
#: Every measure ``measure()`` returns. Full ranges: the change of a complete, healthy movement (rounded; the
#: reasons are in docs/practice.md: the smile values were measured on smile_pexels.mp4, the others follow the AU
#: knots of mimetic.facs.estimate, whose A..E span is the population's range of that movement).
MEASURES: dict[str, MeasureInfo] = {
    "brow_height": MeasureInfo(+1, 0.10, "IOD", "mean height of the inner, mid and outer brow above the canthal line"),
    "brow_lowering": MeasureInfo(-1, 0.06, "IOD", "inner-brow height above the canthal line plus half its distance "
                                 "from the midline: drops when the brows are drawn down and together"),
    "eye_opening": MeasureInfo(-1, 0.85, "× neutral", "lid gap ÷ eye width (eye aspect ratio); closing the eye "
                               "lowers it, full range = 85 % of the person's neutral opening", relative=True),
    "cheek_raise": MeasureInfo(+1, 0.06, "IOD", "infra-orbital cheek height relative to the canthal line"),
    "nose_wrinkle": MeasureInfo(-1, 0.05, "IOD", "alar crease to inner canthus distance (shortens with AU9)"),
    "upper_lip_raise": MeasureInfo(+1, 0.06, "IOD", "paramedian upper-lip point height (rises with AU10)"),
    "commissure_excursion": MeasureInfo(+1, 0.12, "IOD", "mouth corner position along the 45° up-and-out line of "
                                        "zygomaticus major, in the eye-anchored frame"),
    "commissure_height": MeasureInfo(+1, 0.10, "IOD", "mouth corner height relative to the eye line"),
    "commissure_depression": MeasureInfo(-1, 0.06, "IOD", "mouth corner height relative to the eye line (drops with "
                                         "AU15)"),
    "mouth_width": MeasureInfo(-1, 0.10, "IOD", "mouth corner distance from the facial midline (narrows in a pucker)"),
    "lip_protrusion": MeasureInfo(+1, 0.06, "IOD", "forward (z) position of the outer lip contour, paramedian"),
    "cheek_puff": MeasureInfo(+1, 0.04, "IOD", "lateral + forward position of the buccal cheek points"),
    "lower_lip_depression": MeasureInfo(+1, 0.08, "IOD", "lower-lip paramedian point below the mouth corner of the "
                                        "same side"),
}
# fmt: on


def measure(face, *, frontal_points: np.ndarray | None = None) -> dict[str, tuple[float, float]]:
    """Raw per-side measures ``{name: (left, right)}`` of one face (IOD units; ``eye_opening`` is a ratio).

    The names and their meaning are :data:`MEASURES`. ``frontal_points``: the face's frontal points when the caller
    already has them.
    """
    f = g.frontal_points(face) if frontal_points is None else frontal_points
    m = g.measures(f)
    x, y, z = f[:, 0], f[:, 1], f[:, 2]
    brow = (m["brow_inner"] + m["brow_mid"] + m["brow_outer"]) / 3.0
    corners = f[list(g.MOUTH_CORNER), :2]  # (2, 2): left, right (x, y)
    excursion = (corners * _ZYG).sum(axis=1)
    ul = np.array([y[g.UPPER_LIP_PARAMEDIAN[L][0]], y[g.UPPER_LIP_PARAMEDIAN[R][0]]])
    lips = np.array([z[list(LIP_OUTER[L])].mean(), z[list(LIP_OUTER[R])].mean()])
    cheek = np.array([np.abs(x[list(CHEEK_LOW[s])]).mean() + z[list(CHEEK_LOW[s])].mean() for s in (L, R)])
    lower = np.array([corners[s, 1] - y[LIP_OUTER[s][1]] for s in (L, R)])
    out = {
        "brow_height": brow,
        "brow_lowering": m["brow_inner"] + 0.5 * m["brow_inner_x"],
        "eye_opening": m["aperture"],
        "cheek_raise": m["cheek"],
        "nose_wrinkle": m["ala_canthus"],
        "upper_lip_raise": ul,
        "commissure_excursion": excursion,
        "commissure_height": corners[:, 1],
        "commissure_depression": corners[:, 1],
        "mouth_width": np.abs(corners[:, 0]),
        "lip_protrusion": lips,
        "cheek_puff": cheek,
        "lower_lip_depression": lower,
    }
    return {k: (float(v[L]), float(v[R])) for k, v in out.items()}


def resting_measures(face, *, frontal_points: np.ndarray | None = None) -> dict[str, tuple[float, float]]:
    """Measures used for resting symmetry (Sunnybrook-shaped): eye opening, nasolabial (alar crease → mouth corner)
    length and angle, and mouth-corner height relative to the eye line (a drooping corner sits lower); per side,
    IOD units / ratio / degrees."""
    f = g.frontal_points(face) if frontal_points is None else frontal_points
    m = g.measures(f)
    corners = f[list(g.MOUTH_CORNER), :2]
    ala = f[list(g.ALA), :2]
    v = corners - ala
    length = np.hypot(v[:, 0], v[:, 1])
    angle = np.degrees(np.arctan2(np.abs(corners[:, 0]) - np.abs(ala[:, 0]), -v[:, 1]))
    return {
        "eye_opening": (float(m["aperture"][L]), float(m["aperture"][R])),
        "palpebral_fissure": (float(m["upper_lid"][L] - m["lower_lid"][L]),
                              float(m["upper_lid"][R] - m["lower_lid"][R])),
        "nasolabial_length": (float(length[L]), float(length[R])),
        "nasolabial_angle": (float(angle[L]), float(angle[R])),
        "corner_height": (float(corners[L, 1]), float(corners[R, 1])),
    }


__all__ = ["MEASURES", "MeasureInfo", "measure", "resting_measures"]

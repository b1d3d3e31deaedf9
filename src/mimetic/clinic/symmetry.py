"""Regional left/right symmetry in millimetres, at rest and (with a neutral baseline) in motion.

All measures are taken on the pose-corrected frontal landmarks (:func:`mimetic.facs.geometry.frontal_points`), so
a turned or tilted head does not read as asymmetry (up to about 30° of yaw; ``pose_ok`` says when the turn is
larger and the far side is foreshortened or hidden). Millimetres come from the iris: the mean visible iris
diameter (MediaPipe points 468-477) is taken as :data:`IRIS_MM` = 11.7 mm (Emotrics uses 11.77). When the iris
looks implausible against the eye spacing (iris ÷ inter-ocular distance outside 0.15-0.24, e.g. eyes nearly
closed) the typical ratio 0.187 is used instead, and ``scale_source`` says ``"typical"``.

Regions (person's left and right; each is one measure of :mod:`mimetic.face.measures`, see ``docs/measures.md``):

=========================  ============================================================================================
``brow_height_mm``         mid-brow (334/282, 105/52) above the pupil (iris centre), perpendicular to the eye line
``palpebral_fissure_mm``   vertical eye opening at the lid centres (386-374, 159-145)
``commissure_height_mm``   mouth corner (291, 61) above the mouth centre (midpoint of 13 and 14); + = up
``commissure_excursion_mm``  mouth corner to the lower-lip midline point (17), as in Emotrics
``smile_angle_deg``        angle of the line mouth centre → corner above the horizontal
``nasolabial_length_mm``   alar crease (358, 129) to mouth corner: shortens as the corner is pulled up and out
``nasolabial_angle_deg``   angle of that line from the vertical (the nasolabial-fold orientation)
``lip_height_mm``          upper + lower vermilion height at the paramedian points (267-312 + 317-314, 37-82 + 87-84)
=========================  ============================================================================================

Each region has ``left``, ``right``, ``difference`` (left − right), ``asymmetry`` = ``|left − right| /
max(|left|, |right|)`` (0 = symmetric, 1 = one side only, above 1 when the sides have opposite signs) and ``flag``.

At rest a region is flagged when ``|difference|`` exceeds its :data:`REST_TOLERANCE` (mm or degrees). The
tolerances are about the largest differences seen on the eleven healthy fixture faces (most of them smiling),
rounded up: they are a plausibility screen, not clinically validated limits. Ratios are not used at rest because
several regions are small signed positions (a corner 0.3 mm vs 0.6 mm above the mouth centre is 50 % "asymmetric").

In motion (with a baseline: the same person's neutral face) each region also gets a ``movement`` entry: the
change from the baseline per side (for the commissure: how far the corner moved, in mm, in the eye-anchored frontal
frame) and the movement asymmetry index. This is what tells a weak side from a face that is simply asymmetric at
rest. Normal band: healthy faces are about 7-9 % asymmetric in movement (OSCAR, Ann Otol Rhinol Laryngol
1999;108:641). Reading that mean as a half-normal distribution (mean 8 % → σ ≈ 10 %), 95 % of healthy faces stay
below ~20 %: :data:`NORMAL_BAND` = (0, 0.20). A movement is flagged when its asymmetry index is above the band and
one side moved at least :data:`MIN_MOVEMENT_MM` (2 mm; 3° for angles); smaller movements get ``asymmetry: None``.
Flags are withheld when ``pose_ok`` is False (|yaw| > 30° or |pitch| > 25°).
"""

from __future__ import annotations

import weakref
from collections.abc import Mapping
from typing import Any

import numpy as np

from mimetic.face.measures import REGISTRY, compute
from mimetic.facs import geometry as g
from mimetic.types import RegionMovement, Symmetry, SymmetryRegion

#: Assumed visible iris diameter (mm).
IRIS_MM = 11.7
#: Iris diameter ÷ inter-ocular distance outside this range -> use :data:`TYPICAL_IRIS_PER_IOD`.
IRIS_PER_IOD_RANGE = (0.15, 0.24)
TYPICAL_IRIS_PER_IOD = 0.187
#: The healthy range of the asymmetry index (see the module docstring).
NORMAL_BAND = (0.0, 0.20)
#: Movement asymmetry is computed only when one side moves at least this much (mm; 3° for angles).
MIN_MOVEMENT_MM = 2.0
MIN_MOVEMENT_DEG = 3.0

#: Each region is one measure of the registry (:data:`mimetic.face.measures.REGISTRY`), reported in millimetres
#: (``_mm``; the registry's IOD times :func:`mm_per_iod`) or degrees (``_deg``).
REGION_MEASURES = {
    "brow_height_mm": "brow_height", "palpebral_fissure_mm": "palpebral_fissure",
    "commissure_height_mm": "commissure_height", "commissure_excursion_mm": "commissure_excursion",
    "smile_angle_deg": "smile_angle", "nasolabial_length_mm": "nasolabial_length",
    "nasolabial_angle_deg": "nasolabial_angle", "lip_height_mm": "lip_height",
}
REGIONS = tuple(REGION_MEASURES)
#: registry measures that place the mouth corner in the eye-anchored frame (out, up): with a baseline, the
#: commissure excursion's movement is how far the corner moved in that frame
CORNER_POSITION = ("half_mouth_width", "commissure_eye_height")
_ANGLE = {r for r, name in REGION_MEASURES.items() if REGISTRY[name].unit == "degrees"}
#: At rest, a left/right difference above this is flagged (mm, or degrees for ``*_deg``); see the docstring.
REST_TOLERANCE = {
    "brow_height_mm": 3.0, "palpebral_fissure_mm": 2.0, "commissure_height_mm": 3.0, "commissure_excursion_mm": 4.0,
    "smile_angle_deg": 6.0, "nasolabial_length_mm": 4.0, "nasolabial_angle_deg": 10.0, "lip_height_mm": 3.0,
}


def mm_per_iod(m: Mapping[str, Any]) -> tuple[float, str]:
    """Millimetres per inter-ocular distance, and where the scale came from (``"iris"`` or ``"typical"``), from a
    face's measures (:func:`mimetic.face.measures.compute`)."""
    iris = float(m["iris_diameter"].mean())
    if IRIS_PER_IOD_RANGE[0] <= iris <= IRIS_PER_IOD_RANGE[1]:
        return IRIS_MM / iris, "iris"
    return IRIS_MM / TYPICAL_IRIS_PER_IOD, "typical"


def _region_values(f: np.ndarray) -> tuple[dict[str, np.ndarray], float, str]:
    """Per-region (left, right) values at one instant (mm, or degrees), the scale (mm per IOD) and its source."""
    m = compute(f)
    mm, source = mm_per_iod(m)
    out = {r: m[name] if REGISTRY[name].unit == "degrees" else m[name] * mm for r, name in REGION_MEASURES.items()}
    # the corners' positions in the eye-anchored frame (mm), for the excursion against a baseline (not reported)
    out["_corner_xy_mm"] = np.stack([m[name] * mm for name in CORNER_POSITION], axis=1)
    return out, mm, source


def _index(left: float, right: float) -> float:
    top = max(abs(left), abs(right))
    return abs(left - right) / top if top > 1e-9 else 0.0


def _region(left: float, right: float, tolerance: float, pose_ok: bool) -> SymmetryRegion:
    diff = left - right
    return SymmetryRegion(round(left, 2), round(right, 2), round(diff, 2), round(_index(left, right), 3),
                          bool(abs(diff) > tolerance and pose_ok))


_BASELINE_CACHE: "weakref.WeakKeyDictionary[Any, dict]" = weakref.WeakKeyDictionary()


def _baseline_values(baseline) -> dict[str, np.ndarray]:
    try:
        return _BASELINE_CACHE[baseline]
    except (KeyError, TypeError):
        f = g.frontal_points(baseline)
        vals = _region_values(f)[0]
        try:
            _BASELINE_CACHE[baseline] = vals
        except TypeError:
            pass
        return vals


def face_symmetry(face, baseline=None, *, frontal: np.ndarray | None = None) -> Symmetry:
    """Regional left/right measures and asymmetry flags for one face (``Face.symmetry``, a
    :class:`~mimetic.types.Symmetry`).

    Fields: ``scale_mm_per_iod``, ``scale_source``, ``pose_ok``, ``baseline`` (bool), ``normal_band``, ``regions``
    ({region: SymmetryRegion(left, right, difference, asymmetry, flag)}), with a baseline ``movement`` ({region:
    RegionMovement(left, right, asymmetry, flag)}; asymmetry ``None`` when neither side moved enough) and
    ``movement_asymmetry`` (their mean, or ``None``; both ``None`` without a baseline), ``flagged`` (the names of
    the flagged regions) and ``flag`` (any). ``contempt_check`` is left ``None`` (``mimetic.stages`` fills it).
    See the module docstring for the definitions and the band.
    ``frontal``: the face's :func:`mimetic.facs.geometry.frontal_points`, when already computed.
    """
    f = g.frontal_points(face) if frontal is None else frontal
    vals, mm, source = _region_values(f)
    pose_ok = g.is_pose_reliable(face)
    regions = {r: _region(float(vals[r][0]), float(vals[r][1]), REST_TOLERANCE[r], pose_ok) for r in REGIONS}
    flagged = [r for r in REGIONS if regions[r].flag]
    movement: dict[str, RegionMovement] | None = None
    if baseline is not None:
        base = _baseline_values(baseline)
        movement = {}
        for r in REGIONS:
            if r == "commissure_excursion_mm":
                d = vals["_corner_xy_mm"] - base["_corner_xy_mm"]
                ml, mr = float(np.hypot(*d[0])), float(np.hypot(*d[1]))
            else:
                ml, mr = (float(v) for v in (vals[r] - base[r]))
            minimum = MIN_MOVEMENT_DEG if r in _ANGLE else MIN_MOVEMENT_MM
            moved = max(abs(ml), abs(mr)) >= minimum
            idx = _index(ml, mr) if moved else None
            flag = bool(moved and idx > NORMAL_BAND[1] and pose_ok)
            movement[r] = RegionMovement(round(ml, 2), round(mr, 2), None if idx is None else round(idx, 3), flag)
        flagged += [f"movement:{r}" for r in REGIONS if movement[r].flag]
    return Symmetry(scale_mm_per_iod=round(mm, 2), scale_source=source, pose_ok=pose_ok,
                    baseline=baseline is not None, normal_band=NORMAL_BAND, regions=regions, movement=movement,
                    movement_asymmetry=summary_index(movement), flagged=tuple(flagged), flag=bool(flagged))


def summary_index(movement: Mapping[str, RegionMovement] | None) -> float | None:
    """The mean movement asymmetry over the regions that moved enough (``None`` without a baseline or movement)."""
    vals = [v.asymmetry for v in (movement or {}).values() if v.asymmetry is not None]
    return round(float(np.mean(vals)), 3) if vals else None


__all__ = ["IRIS_MM", "MIN_MOVEMENT_MM", "NORMAL_BAND", "REGIONS", "REGION_MEASURES", "REST_TOLERANCE", "face_symmetry",
           "mm_per_iod", "summary_index"]


"""The registry of landmark measures: every measure that AUs, symmetry and practice read, defined once.

A measure is a number per side (the person's ``(left, right)``) or one midline number, read from the pose-corrected
frontal landmarks (:func:`mimetic.facs.geometry.frontal_points`: origin between the eye centres, +x the person's
left, +y up, +z toward the viewer, unit = the inter-ocular distance **IOD**, ~62 mm). :data:`REGISTRY` holds, per
name, the landmarks it reads, what it is measured from (its reference), its unit and its direction (what a larger
value means); :func:`compute` computes them all from frontal points in one vectorised pass (~0.15 ms).

The consumers read these names and nothing else: the AU channels (:data:`mimetic.facs.estimate.CHANNELS`), the
symmetry regions (:data:`mimetic.clinic.symmetry.REGION_MEASURES`, converted to millimetres) and the practice
movements (:data:`mimetic.practice.measures.MEASURES`, each a scoring of one measure). A name means one thing: two
definitions get two names (``commissure_height`` is the corner above the mouth centre, ``commissure_eye_height``
the corner above the eye line). The table with every measure is in ``docs/measures.md``.

Landmark convention (checked on the fixtures): MediaPipe's 33/133/159/145 belong to the **person's right** eye,
263/362/386/374 to the person's left; iris 468-472 is the right eye's, 473-477 the left's; 61 is the right mouth
corner, 291 the left. Every sided tuple below is ordered ``(left, right)``.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

import numpy as np

# --- landmarks (person's left, person's right) -----------------------------------------------------------------
EYE_OUTER = (263, 33)
EYE_INNER = (362, 133)
#: upper / lower eyelid points, three per lid (centre first), per side
LID_UP = ((386, 385, 387), (159, 158, 160))
LID_LO = ((374, 380, 373), (145, 153, 144))
IRIS_CENTRE = (473, 468)
#: iris boundary: two diameters per eye ((a, b), (c, d))
IRIS_RIM = (((474, 476), (475, 477)), ((469, 471), (470, 472)))
BROW_INNER = ((336, 296, 285), (107, 66, 55))
BROW_MID = ((334, 282), (105, 52))
BROW_OUTER = ((300, 293, 276, 283), (70, 63, 46, 53))
CHEEK = ((346, 347, 280, 348), (117, 118, 50, 119))
#: buccal cheek points (mid and lower cheek, lateral to the mouth)
CHEEK_LOW = ((425, 427, 411), (205, 207, 187))
ALA = (358, 129)  # alar crease
MOUTH_CORNER = (291, 61)
UPPER_LIP_LATERAL = (270, 40)  # outer upper lip, between the philtral column and the corner
UPPER_LIP_PARAMEDIAN = ((267, 312), (37, 82))  # (outer, inner) upper-lip contour
LOWER_LIP_PARAMEDIAN = ((317, 314), (87, 84))  # (inner, outer) lower-lip contour
#: outer lip contour (upper paramedian, lower paramedian)
LIP_OUTER = ((267, 314), (37, 84))
LIP_UP_OUT, LIP_UP_IN, LIP_LO_IN, LIP_LO_OUT = 0, 13, 14, 17
NASION, SUBNASALE, MENTON = 168, 2, 152

CANTHAL = "canthal line of the same side (mean height of its two canthi)"
MOUTH_CENTRE = "mouth centre (midpoint of 13 and 14)"
EYE_LINE = "eye line (the frame's origin between the eye centres; x = 0 is the facial midline)"


@dataclass(frozen=True)
class Measure:
    """One registered measure. ``landmarks``: ``(left, right)`` index tuples for a sided measure, one tuple for a
    midline one; ``reference``: what it is measured from; ``unit``: ``"IOD"``, ``"ratio"``, ``"iris radii"`` or
    ``"degrees"``; ``direction``: what a larger value means."""

    name: str
    landmarks: tuple[tuple[int, ...], tuple[int, ...]] | tuple[int, ...]
    reference: str
    unit: str
    direction: str
    description: str

    @property
    def sided(self) -> bool:
        return isinstance(self.landmarks[0], tuple)


def _m(name, landmarks, reference, unit, direction, description) -> Measure:
    return Measure(name, landmarks, reference, unit, direction, description)


def _lr(left, right) -> tuple[tuple[int, ...], tuple[int, ...]]:
    return (tuple(left), tuple(right))


_CORNERS = _lr((291,), (61,))
_LIDS = _lr(LID_UP[0] + LID_LO[0], LID_UP[1] + LID_LO[1])

# fmt: off
#: Every measure, once. Order: eyes, brows, cheeks and nose, mouth, vertical proportions.
ALL: tuple[Measure, ...] = (
    _m("eye_width", _lr(EYE_INNER[:1] + EYE_OUTER[:1], EYE_INNER[1:] + EYE_OUTER[1:]), "—", "IOD", "+ wider",
       "inner to outer canthus"),
    _m("eye_aperture", _LIDS, "eye width (canthus to canthus)", "ratio", "+ more open",
       "lid gap (mean of three upper/lower lid pairs, ≥ 0) ÷ eye width (eye aspect ratio)"),
    _m("upper_lid", _lr(LID_UP[0][:1], LID_UP[1][:1]), CANTHAL, "IOD", "+ up", "height of the upper-lid centre"),
    _m("lower_lid", _lr(LID_LO[0][:1], LID_LO[1][:1]), CANTHAL, "IOD", "+ up",
       "height of the lower-lid centre (usually < 0)"),
    _m("palpebral_fissure", _lr((386, 374), (159, 145)), "—", "IOD", "+ more open",
       "vertical eye opening at the lid centres (upper − lower, ≥ 0)"),
    _m("mrd1", _lr((386, 473), (159, 468)), "iris centre", "iris radii", "+ up",
       "upper-lid centre above the iris centre (margin-reflex distance 1); > 1 = sclera shows above the iris"),
    _m("iris_diameter", _lr((474, 475, 476, 477), (469, 470, 471, 472)), "—", "IOD", "+ larger",
       "iris diameter (mean of its two rim diameters)"),
    _m("brow_inner", BROW_INNER, CANTHAL, "IOD", "+ up", "mean height of the inner brow"),
    _m("brow_mid", BROW_MID, CANTHAL, "IOD", "+ up", "mean height of the mid brow"),
    _m("brow_outer", BROW_OUTER, CANTHAL, "IOD", "+ up", "mean height of the outer brow"),
    _m("brow_mean", _lr(BROW_INNER[0] + BROW_MID[0] + BROW_OUTER[0], BROW_INNER[1] + BROW_MID[1] + BROW_OUTER[1]),
       CANTHAL, "IOD", "+ up", "mean of brow_inner, brow_mid and brow_outer"),
    _m("brow_inner_x", BROW_INNER, "facial midline (x = 0)", "IOD", "+ apart",
       "distance of the inner brow from the midline"),
    _m("brow_inner_position", BROW_INNER, CANTHAL + "; facial midline", "IOD", "+ up and apart",
       "brow_inner + 0.5 × brow_inner_x: drops when the brows are drawn down and together"),
    _m("brow_height", _lr(BROW_MID[0] + (473,), BROW_MID[1] + (468,)), "pupil (iris centre)", "IOD", "+ up",
       "mid-brow height above the pupil, perpendicular to the eye line (as in Emotrics)"),
    _m("cheek_height", CHEEK, CANTHAL, "IOD", "+ up", "mean height of the infra-orbital cheek points"),
    _m("cheek_puff", CHEEK_LOW, EYE_LINE, "IOD", "+ out and forward",
       "mean distance of the buccal cheek points from the midline plus their mean forward (z) position"),
    _m("ala_canthus", _lr((358, 362), (129, 133)), "—", "IOD", "+ longer",
       "alar crease to inner canthus distance (shortens with AU9)"),
    _m("commissure_height", _CORNERS, MOUTH_CENTRE, "IOD", "+ up", "mouth-corner height above the mouth centre"),
    _m("commissure_lateral", _CORNERS, MOUTH_CENTRE, "IOD", "+ out",
       "horizontal distance of the mouth corner from the mouth centre"),
    _m("commissure_excursion", _lr((291, 17), (61, 17)), "lower-lip midline point (17)", "IOD", "+ longer",
       "mouth corner to the lower-lip midline point (as in Emotrics)"),
    _m("smile_angle", _CORNERS, MOUTH_CENTRE, "degrees", "+ up",
       "angle of the line mouth centre → corner above the horizontal"),
    _m("commissure_eye_height", _CORNERS, EYE_LINE, "IOD", "+ up", "mouth-corner height above the eye line (< 0)"),
    _m("half_mouth_width", _CORNERS, EYE_LINE, "IOD", "+ out", "mouth-corner distance from the facial midline"),
    _m("commissure_pull", _CORNERS, EYE_LINE, "IOD", "+ up and out",
       "mouth-corner position along the 45° up-and-out line of zygomaticus major"),
    _m("nasolabial_length", _lr((358, 291), (129, 61)), "alar crease", "IOD", "+ longer",
       "alar crease to mouth corner: shortens as the corner is pulled up and out"),
    _m("nasolabial_angle", _lr((358, 291), (129, 61)), "vertical", "degrees", "+ corner further out",
       "angle of the line alar crease → mouth corner from the vertical (the nasolabial-fold orientation)"),
    _m("upper_lip_lat", _lr((270, 0, 291), (40, 0, 61)), "chord from the lip top (0) to the corner", "IOD", "+ up",
       "height of the lateral upper lip (40/270) above that chord"),
    _m("upper_lip_eye_height", _lr((267,), (37,)), EYE_LINE, "IOD", "+ up",
       "height of the paramedian upper-lip point (rises with AU10)"),
    _m("lip_protrusion", LIP_OUTER, EYE_LINE, "IOD", "+ forward",
       "mean forward (z) position of the paramedian outer lip contour"),
    _m("lower_lip_depression", _lr((291, 314), (61, 84)), "mouth corner of the same side", "IOD", "+ lip lower",
       "paramedian lower-lip point (314/84) below the mouth corner"),
    _m("lip_height", _lr(UPPER_LIP_PARAMEDIAN[0] + LOWER_LIP_PARAMEDIAN[0],
                         UPPER_LIP_PARAMEDIAN[1] + LOWER_LIP_PARAMEDIAN[1]), "—", "IOD", "+ taller",
       "upper + lower vermilion height at the paramedian points (267-312 + 317-314, 37-82 + 87-84), ≥ 0"),
    _m("mouth_width", (291, 61), "—", "IOD", "+ wider", "mouth corner to mouth corner"),
    _m("lip_gap", (13, 14), "—", "IOD", "+ more open", "inner lip gap 13-14 (0 when the lips touch)"),
    _m("verm_up", (0, 13), "—", "IOD", "+ taller", "upper vermilion height at the midline (0-13)"),
    _m("verm_lo", (14, 17), "—", "IOD", "+ taller", "lower vermilion height at the midline (14-17)"),
    _m("vermilion", (0, 13, 14, 17), "—", "IOD", "+ taller", "verm_up + verm_lo"),
    _m("chin", (17, 152), "—", "IOD", "+ longer", "lower-lip bottom (17) above the menton (152)"),
    _m("face_len", (168, 152), "—", "IOD", "+ longer", "nasion (168) above the menton (152)"),
    _m("philtrum", (2, 0), "—", "IOD", "+ longer", "subnasale (2) above the upper-lip top (0)"),
)
# fmt: on
#: The measures by name (a name means one thing: tests/test_measures.py checks that every name is unique).
REGISTRY: dict[str, Measure] = {m.name: m for m in ALL}
#: The units a measure may have.
UNITS = ("IOD", "ratio", "iris radii", "degrees")

# landmark groups whose mean height compute() needs, as one index array for np.add.reduceat:
# canthi L, R; inner brow L, R; mid brow L, R; outer brow L, R; cheek L, R
_GROUPS = ((263, 362), (33, 133), *BROW_INNER, *BROW_MID, *BROW_OUTER, *CHEEK)
_GROUP_IDX = np.array([i for grp in _GROUPS for i in grp])
_GROUP_LEN = np.array([len(grp) for grp in _GROUPS], dtype=np.float64)
_GROUP_START = np.concatenate([[0], np.cumsum(_GROUP_LEN[:-1])]).astype(int)
_BROW_INNER_IDX = np.array(BROW_INNER[0] + BROW_INNER[1])
_LID_UP_IDX = np.array(LID_UP)  # (2, 3)
_LID_LO_IDX = np.array(LID_LO)
_CORNER_IDX = list(MOUTH_CORNER)
_ALA_IDX = list(ALA)
_LIP_OUTER_IDX = np.array(LIP_OUTER)  # (2, 2)
_CHEEK_LOW_IDX = np.array(CHEEK_LOW)  # (2, 3)
_RIM = np.array(IRIS_RIM)  # (side, diameter, end)
_UP_PARA = np.array(UPPER_LIP_PARAMEDIAN)  # (side, (outer, inner))
_LO_PARA = np.array(LOWER_LIP_PARAMEDIAN)  # (side, (inner, outer))
#: the 45° up-and-out direction of zygomaticus major's pull, per side, in the frontal frame (x, y)
_ZYG = np.array([[1.0, 1.0], [-1.0, 1.0]]) / np.sqrt(2.0)


def _dist2(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Row-wise 2-D distance."""
    d = a - b
    return np.sqrt(d[..., 0] * d[..., 0] + d[..., 1] * d[..., 1])


_LAST = threading.local()  # per thread: (a copy of the last frontal points, their measures)


def compute(f: np.ndarray) -> dict[str, np.ndarray | float]:
    """Every measure of :data:`REGISTRY` from frontal points ``f`` (478 × 3, IOD units): ``{name: value}``, a
    sided value as a read-only array ``[left, right]``, a midline one as a float.

    The AU and symmetry stages of one face both ask for the same points: the last result (per thread) is reused when
    the points are equal to the last ones (compared by value, ~5 µs), so a face's measures are computed once.
    """
    last = getattr(_LAST, "value", None)
    if last is not None and last[0].shape == f.shape and np.array_equal(last[0], f):
        return dict(last[1])
    out = _compute(f)
    for v in out.values():
        if isinstance(v, np.ndarray):
            v.flags.writeable = False
    _LAST.value = (np.array(f, dtype=np.float64, copy=True), out)
    return dict(out)


def _compute(f: np.ndarray) -> dict[str, np.ndarray | float]:
    x, y, z = f[:, 0], f[:, 1], f[:, 2]
    xy = f[:, :2]
    g = np.add.reduceat(y[_GROUP_IDX], _GROUP_START) / _GROUP_LEN  # mean height of every landmark group
    canth_y = g[0:2]
    eye_w = _dist2(xy[list(EYE_OUTER)], xy[list(EYE_INNER)])
    up = y[_LID_UP_IDX]  # (2, 3)
    lo = y[_LID_LO_IDX]
    iris = 0.5 * (_dist2(xy[_RIM[:, 0, 0]], xy[_RIM[:, 0, 1]]) + _dist2(xy[_RIM[:, 1, 0]], xy[_RIM[:, 1, 1]]))
    pupil = y[list(IRIS_CENTRE)]
    brow_inner = g[2:4] - canth_y
    brow_mid = g[4:6] - canth_y
    brow_outer = g[6:8] - canth_y
    brow_inner_x = np.abs(x[_BROW_INNER_IDX]).reshape(2, -1).mean(axis=1)
    mc = 0.5 * (xy[LIP_UP_IN] + xy[LIP_LO_IN])
    corners = xy[_CORNER_IDX]
    corner_h = corners[:, 1] - mc[1]
    corner_lat = np.abs(corners[:, 0] - mc[0])
    top = xy[LIP_UP_OUT]
    lat = xy[list(UPPER_LIP_LATERAL)]
    # height of the lateral upper lip above the straight line from the lip top (0) to the corner, at its x
    t = (lat[:, 0] - top[0]) / np.where(np.abs(corners[:, 0] - top[0]) > 1e-6, corners[:, 0] - top[0], 1e-6)
    chord_y = top[1] + t * (corners[:, 1] - top[1])
    ala = xy[_ALA_IDX]
    nl = corners - ala
    verm_up = float(y[LIP_UP_OUT] - y[LIP_UP_IN])
    verm_lo = float(y[LIP_LO_IN] - y[LIP_LO_OUT])
    lip_up = y[_UP_PARA[:, 0]] - y[_UP_PARA[:, 1]]  # outer − inner
    lip_lo = y[_LO_PARA[:, 0]] - y[_LO_PARA[:, 1]]  # inner − outer
    return {
        "eye_width": eye_w,
        "eye_aperture": np.clip(up - lo, 0.0, None).mean(axis=1) / np.maximum(eye_w, 1e-6),
        "upper_lid": up[:, 0] - canth_y,
        "lower_lid": lo[:, 0] - canth_y,
        "palpebral_fissure": np.maximum(up[:, 0] - lo[:, 0], 0.0),
        "mrd1": (up[:, 0] - pupil) / np.maximum(0.5 * iris, 1e-6),
        "iris_diameter": iris,
        "brow_inner": brow_inner,
        "brow_mid": brow_mid,
        "brow_outer": brow_outer,
        "brow_mean": (brow_inner + brow_mid + brow_outer) / 3.0,
        "brow_inner_x": brow_inner_x,
        "brow_inner_position": brow_inner + 0.5 * brow_inner_x,
        "brow_height": np.array([y[list(BROW_MID[0])].mean(), y[list(BROW_MID[1])].mean()]) - pupil,
        "cheek_height": g[8:10] - canth_y,
        "cheek_puff": np.abs(x[_CHEEK_LOW_IDX]).mean(axis=1) + z[_CHEEK_LOW_IDX].mean(axis=1),
        "ala_canthus": _dist2(ala, xy[list(EYE_INNER)]),
        "commissure_height": corner_h,
        "commissure_lateral": corner_lat,
        "commissure_excursion": np.hypot(*(corners - xy[LIP_LO_OUT]).T),
        "smile_angle": np.degrees(np.arctan2(corner_h, np.maximum(corner_lat, 1e-6))),
        "commissure_eye_height": corners[:, 1],
        "half_mouth_width": np.abs(corners[:, 0]),
        "commissure_pull": (corners * _ZYG).sum(axis=1),
        "nasolabial_length": np.hypot(nl[:, 0], nl[:, 1]),
        "nasolabial_angle": np.degrees(np.arctan2(np.abs(corners[:, 0]) - np.abs(ala[:, 0]), -nl[:, 1])),
        "upper_lip_lat": lat[:, 1] - chord_y,
        "upper_lip_eye_height": y[_UP_PARA[:, 0]],
        "lip_protrusion": z[_LIP_OUTER_IDX].mean(axis=1),
        "lower_lip_depression": corners[:, 1] - y[_LIP_OUTER_IDX[:, 1]],
        "lip_height": np.maximum(lip_up + lip_lo, 0.0),
        "mouth_width": float(_dist2(corners[0], corners[1])),
        "lip_gap": max(0.0, float(y[LIP_UP_IN] - y[LIP_LO_IN])),
        "verm_up": verm_up,
        "verm_lo": verm_lo,
        "vermilion": verm_up + verm_lo,
        "chin": float(y[LIP_LO_OUT] - y[MENTON]),
        "face_len": float(y[NASION] - y[MENTON]),
        "philtrum": float(y[SUBNASALE] - y[LIP_UP_OUT]),
    }


__all__ = ["ALL", "REGISTRY", "UNITS", "Measure", "compute"]

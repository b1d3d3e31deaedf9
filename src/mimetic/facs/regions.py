"""The per-side input features of the fitted AU models and the face region each belongs to, as data.

A feature is a number per side (the person's ``(left, right)``), read from a MediaPipe blendshape (0..1; the sided
``*Left``/``*Right`` names are the person's sides) or a landmark measure of :mod:`mimetic.face.measures` (IOD or
ratio units, pose-corrected). Unsided blendshapes and midline measures give the same value on both sides.

``lateral``: a blendshape that leaks across sides (lifting one mouth corner raises the other side's mouthSmile by
~70 % as much) gets its left/right split sharpened by a landmark measure of the same movement:
``value_side + gain × (measure_side − mean of both sides)``. On a symmetric face the term is 0.

Each AU reads only the features of its region (:data:`AU_REGION`): brow AUs the brow, eye AUs the eyelids and
cheek, AU9/AU10 the nose and upper lip, mouth AUs the lips and jaw. ``tests/test_facs.py`` warps one region of a
real face and checks that only that region's AUs move.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Feature:
    name: str
    region: str
    source: str  # "bs" or "geo"
    key: tuple[str, str] | str  # (left, right) blendshape names, one unsided name, or a measure name
    lateral: tuple[str, float] | None = None


def _lr(stem: str) -> tuple[str, str]:
    return (stem + "Left", stem + "Right")


# fmt: off
FEATURES: tuple[Feature, ...] = (
    # brow
    Feature("bs_browInnerUp", "brow", "bs", "browInnerUp", ("brow_inner", 3.0)),
    Feature("bs_browOuterUp", "brow", "bs", _lr("browOuterUp"), ("brow_outer", 4.0)),
    Feature("bs_browDown", "brow", "bs", _lr("browDown"), ("brow_inner", -2.5)),
    Feature("brow_inner", "brow", "geo", "brow_inner"),
    Feature("brow_mid", "brow", "geo", "brow_mid"),
    Feature("brow_outer", "brow", "geo", "brow_outer"),
    Feature("brow_inner_x", "brow", "geo", "brow_inner_x"),
    # eyes and cheeks
    Feature("bs_eyeWide", "eye", "bs", _lr("eyeWide")),
    Feature("bs_eyeSquint", "eye", "bs", _lr("eyeSquint")),
    Feature("bs_eyeBlink", "eye", "bs", _lr("eyeBlink")),
    Feature("bs_cheekSquint", "eye", "bs", _lr("cheekSquint")),
    Feature("eye_aperture", "eye", "geo", "eye_aperture"),
    Feature("upper_lid", "eye", "geo", "upper_lid"),
    Feature("lower_lid", "eye", "geo", "lower_lid"),
    Feature("cheek_height", "eye", "geo", "cheek_height"),
    # nose and upper lip
    Feature("bs_noseSneer", "nose", "bs", _lr("noseSneer")),
    Feature("bs_mouthUpperUp", "nose", "bs", _lr("mouthUpperUp")),
    Feature("ala_canthus", "nose", "geo", "ala_canthus"),
    Feature("upper_lip_eye_height", "nose", "geo", "upper_lip_eye_height"),
    Feature("philtrum", "nose", "geo", "philtrum"),
    # mouth and jaw
    Feature("bs_mouthSmile", "mouth", "bs", _lr("mouthSmile"), ("commissure_height", 5.0)),
    Feature("bs_mouthFrown", "mouth", "bs", _lr("mouthFrown"), ("commissure_height", -5.0)),
    Feature("bs_mouthDimple", "mouth", "bs", _lr("mouthDimple")),
    Feature("bs_mouthStretch", "mouth", "bs", _lr("mouthStretch")),
    Feature("bs_mouthPress", "mouth", "bs", _lr("mouthPress")),
    Feature("bs_mouthLowerDown", "mouth", "bs", _lr("mouthLowerDown")),
    Feature("bs_mouthShrugLower", "mouth", "bs", "mouthShrugLower"),
    Feature("bs_mouthShrugUpper", "mouth", "bs", "mouthShrugUpper"),
    Feature("bs_mouthPucker", "mouth", "bs", "mouthPucker"),
    Feature("bs_mouthFunnel", "mouth", "bs", "mouthFunnel"),
    Feature("bs_mouthRollLower", "mouth", "bs", "mouthRollLower"),
    Feature("bs_mouthRollUpper", "mouth", "bs", "mouthRollUpper"),
    Feature("bs_mouthClose", "mouth", "bs", "mouthClose"),
    Feature("bs_jawOpen", "mouth", "bs", "jawOpen"),
    Feature("commissure_height", "mouth", "geo", "commissure_height"),
    Feature("commissure_lateral", "mouth", "geo", "commissure_lateral"),
    Feature("mouth_width", "mouth", "geo", "mouth_width"),
    Feature("lip_gap", "mouth", "geo", "lip_gap"),
    Feature("verm_up", "mouth", "geo", "verm_up"),
    Feature("verm_lo", "mouth", "geo", "verm_lo"),
    Feature("lip_height", "mouth", "geo", "lip_height"),
    Feature("chin", "mouth", "geo", "chin"),
    Feature("lower_lip_depression", "mouth", "geo", "lower_lip_depression"),
    Feature("upper_lip_lat", "mouth", "geo", "upper_lip_lat"),
)
# fmt: on
FEATURE_INDEX = {f.name: i for i, f in enumerate(FEATURES)}

#: The region each AU reads. The eye region includes the cheek (AU6 raises it); the nose region the upper lip.
AU_REGION: dict[str, str] = {
    "AU01": "brow", "AU02": "brow", "AU04": "brow",
    "AU05": "eye", "AU06": "eye", "AU07": "eye", "AU43": "eye",
    "AU09": "nose", "AU10": "nose",
    **{a: "mouth" for a in ("AU11", "AU12", "AU14", "AU15", "AU16", "AU17", "AU18", "AU20", "AU22", "AU23",
                            "AU24", "AU25", "AU26", "AU27", "AU28")},
}


def region_features(au: str) -> tuple[str, ...]:
    """The names of the features an AU may read (those of its region)."""
    region = AU_REGION[au]
    return tuple(f.name for f in FEATURES if f.region == region)


def feature_matrix(measures: dict, blendshapes: dict) -> "np.ndarray":
    """Every feature of :data:`FEATURES` for one face, ``(len(FEATURES), 2)`` = (left, right), from its measures
    (:func:`mimetic.face.measures.compute`) and blendshapes (a missing blendshape counts 0)."""
    import numpy as np

    out = np.empty((len(FEATURES), 2))
    bs = blendshapes
    for i, f in enumerate(FEATURES):
        if f.source == "bs":
            if isinstance(f.key, str):
                left = right = float(bs.get(f.key, 0.0))
            else:
                left, right = float(bs.get(f.key[0], 0.0)), float(bs.get(f.key[1], 0.0))
            if f.lateral is not None:
                g = measures[f.lateral[0]]
                d = f.lateral[1] * 0.5 * (g[0] - g[1])
                left += d
                right -= d
        else:
            v = measures[f.key]
            if np.ndim(v):
                left, right = float(v[0]), float(v[1])
            else:
                left = right = float(v)
        out[i, 0] = left
        out[i, 1] = right
    return out

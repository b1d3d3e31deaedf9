"""Action-unit intensities (FACS 0-5, left and right) from one face: fitted models where they beat the hand-set
channels on FACS-coded faces, hand-set channels (blendshapes and landmark geometry) elsewhere.

Fitted AUs
----------
The AUs of :data:`FITTED` (see ``docs/aus.md``) are read from the models in ``au_model.json`` (data written by
``mimetic train aus``, :mod:`mimetic.train.aus`, with its provenance and cross-validated report). Each reads only
its region's features (:mod:`mimetic.facs.regions`), per side: ``z = W·x + W2·x² + b``, intensity
``clip(1 + slope (z − threshold), 0, 5)``; ``present`` is intensity ≥ 1, i.e. ``z ≥ threshold``. With a baseline
the intensity is what rises above the baseline's own. The other AUs come from the hand-set channels below.

The hand-set channels as a whole (:func:`knot_aus`) are also feature version 1 of the geometric expression model,
frozen with it.

How a hand-set AU is computed
-----------------------------
Each AU is read from one or more *channels* (:data:`CHANNELS`). A channel is a raw value per side:

- a MediaPipe blendshape (0..1; sided ``*Left``/``*Right`` names are the person's left/right, checked on the
  fixtures by warping one mouth corner, one eyelid and one brow of a photo), optionally minus a fraction of
  another blendshape (``explain``: AU10 subtracts half of mouthSmile, which lifts the upper lip too), and
  optionally sharpened by a landmark asymmetry: ``raw_side = value_side + gain × (measure_side − mean)``
  (``lateral``; blendshapes leak across sides: lifting one mouth corner raises the other side's mouthSmile by
  ~70 % as much);
- or a landmark measure of the registry :mod:`mimetic.face.measures` (by name), computed on the pose-corrected
  frontal landmarks in inter-ocular-distance (IOD) units, so head turn and face size cancel. ``sign = -1`` for measures
  that shrink with the action.

The raw value is mapped to the FACS scale by a piecewise-linear function through six knots
``(k0, k1, k2, k3, k4, k5) -> (0, 1, 2, 3, 4, 5)`` (0 = none, 1..5 = A..E), clipped to 0..5. ``k0`` sits above
the resting values seen on neutral faces (the upper percentiles of 1,400 FER+ neutral faces and the fixture
portraits), ``k5`` near the extreme seen in expressive faces; see ``docs/aus.md`` for every AU's numbers and
their reasons. The channels of one AU are combined by a weighted mean (or the maximum, for ``"max"`` AUs).
A midline AU (unsided) reports the same value left and right. ``intensity`` is the larger of left and right
(FACS scores an AU that shows on either side), and ``present`` is ``intensity >= PRESENT_AT`` (1.0 = trace, A).

With a baseline (the same person's neutral face) each channel is taken relative to the baseline's, in one of two
ways (``Channel.relative``):

- ``"delta"`` (geometric movement measures: corner height, brow height, cheek height, ala-canthus distance, chin,
  vermilion): the raw change, less a dead zone of half the first step (:data:`DELTA_DEADZONE`, for landmark
  jitter), is mapped with the channel's step sizes: ``raw' = k0 + max(0, raw − raw_baseline − 0.5 (k1 − k0))``,
  so the baseline maps to 0 and a movement of ``1.5 (k1 − k0)`` (e.g. 0.03 IOD ≈ 1.9 mm of corner lift) to A;
- ``"state"`` (blendshapes, and the measures of a state rather than a movement: eye aperture for AU43, MRD1 for
  AU5, lip gap for AU25/AU27): the baseline's *intensity* is subtracted, ``max(0, I(raw) − I(raw_baseline))``.
  Blendshapes are not linear in the movement and many rest well above 0 (browDown 0.7, mouthPress 0.6 on some
  faces); on the smile video, eyeSquint goes from 0.1 (eyes wide, looking up) to 0.4 in a plain smile, which a raw
  difference would call AU7 D, and the eye narrows from an aperture of 0.35 to 0.25, which is not AU43 (eyes
  closed). Subtracting intensities removes a resting offset without making these channels more sensitive than
  they are without a baseline.

Cost: ~0.25 ms per face (a few hundred small numpy operations; the mapping is one vectorised expression).
"""

from __future__ import annotations

import weakref
from dataclasses import dataclass
from typing import Any

import numpy as np

import json
from pathlib import Path

from mimetic.facs.catalogue import AU_BY_CODE, FRAME_AUS
from mimetic.face.measures import compute
from mimetic.facs.geometry import frontal_points
from mimetic.facs.regions import FEATURE_INDEX, FEATURES, feature_matrix
from mimetic.facs.texture import SLICES, TEXTURE_SIZE, texture_vector
from mimetic.types import AUValue

#: ``present`` is True from this intensity on (1.0 = A, trace).
PRESENT_AT = 1.0


@dataclass(frozen=True)
class Channel:
    """One raw input of one AU; see the module docstring."""

    au: str
    source: str  # "bs" (blendshape) or "geo" (landmark measure)
    name: tuple[str, str] | str  # (left, right) names, or one unsided name; "geo": a name of face.measures.REGISTRY
    knots: tuple[float, float, float, float, float, float]
    sign: float = 1.0  # -1: the measure decreases with the action
    weight: float = 1.0
    lateral: tuple[str, float] | None = None  # (measure, gain): add gain * (measure_side - mean of both sides)
    explain: tuple[tuple[str, str], float] | None = None  # ((left bs, right bs), coef): subtract coef * that
    extra: tuple[str, float] | None = None  # (measure, coef): add coef * an unsided measure (geo only)
    baseline_only: bool = False  # used only when a baseline is given
    relative: str = ""  # "delta" or "state" against a baseline; default: "state" for blendshapes, else "delta"

    @property
    def mode(self) -> str:
        return self.relative or ("state" if self.source == "bs" else "delta")


def _lr(stem: str) -> tuple[str, str]:
    return (stem + "Left", stem + "Right")


# fmt: off
#: Every channel, grouped by AU. Knots are raw values at intensity 0, A, B, C, D, E (for sign=-1 channels the raw
#: value is the negated measure, so the knots are negative). Reasons for each number: docs/aus.md.
CHANNELS: tuple[Channel, ...] = (
    Channel("AU01", "bs", "browInnerUp", (0.20, 0.35, 0.50, 0.65, 0.80, 0.95), lateral=("brow_inner", 3.0)),
    Channel("AU02", "bs", _lr("browOuterUp"), (0.25, 0.40, 0.55, 0.70, 0.85, 0.97), lateral=("brow_outer", 4.0)),
    Channel("AU04", "bs", _lr("browDown"), (0.75, 0.82, 0.88, 0.92, 0.96, 0.99),
            lateral=("brow_inner", -2.5)),
    Channel("AU04", "geo", ("brow_inner", "brow_inner"), (-0.27, -0.255, -0.24, -0.225, -0.21, -0.195), sign=-1),
    Channel("AU05", "bs", _lr("eyeWide"), (0.08, 0.15, 0.22, 0.30, 0.40, 0.55)),
    Channel("AU05", "geo", ("mrd1", "mrd1"), (1.00, 1.10, 1.20, 1.30, 1.40, 1.50), relative="state"),
    Channel("AU06", "geo", ("cheek_height", "cheek_height"), (-0.315, -0.300, -0.285, -0.270, -0.255, -0.240)),
    Channel("AU06", "geo", ("lower_lid", "lower_lid"), (-0.040, -0.030, -0.020, -0.010, 0.000, 0.010)),
    Channel("AU07", "bs", _lr("eyeSquint"), (0.50, 0.60, 0.70, 0.78, 0.86, 0.94)),
    Channel("AU09", "bs", _lr("noseSneer"), (0.05, 0.10, 0.20, 0.30, 0.40, 0.50)),
    Channel("AU09", "geo", ("ala_canthus", "ala_canthus"), (-0.46, -0.44, -0.42, -0.40, -0.38, -0.36), sign=-1,
            extra=("commissure_height", -0.5)),
    Channel("AU10", "bs", _lr("mouthUpperUp"), (0.15, 0.25, 0.35, 0.45, 0.55, 0.65),
            explain=(_lr("mouthSmile"), 0.5)),
    Channel("AU11", "geo", ("upper_lip_lat", "upper_lip_lat"), (0.080, 0.095, 0.110, 0.125, 0.140, 0.155),
            extra=("lip_gap", -0.17)),
    Channel("AU12", "bs", _lr("mouthSmile"), (0.20, 0.35, 0.50, 0.65, 0.80, 0.95), weight=0.6,
            lateral=("commissure_height", 5.0)),
    Channel("AU12", "geo", ("commissure_height", "commissure_height"), (0.030, 0.050, 0.070, 0.090, 0.110, 0.130),
            weight=0.4),
    Channel("AU14", "bs", _lr("mouthDimple"), (0.08, 0.15, 0.25, 0.35, 0.45, 0.60)),
    Channel("AU15", "bs", _lr("mouthFrown"), (0.15, 0.25, 0.35, 0.45, 0.55, 0.70)),
    Channel("AU15", "geo", ("commissure_height", "commissure_height"), (0.030, 0.045, 0.060, 0.075, 0.090, 0.105),
            sign=-1),
    Channel("AU16", "bs", _lr("mouthLowerDown"), (0.20, 0.30, 0.45, 0.60, 0.75, 0.90)),
    Channel("AU17", "bs", "mouthShrugLower", (0.30, 0.40, 0.50, 0.60, 0.70, 0.85)),
    Channel("AU17", "geo", "chin", (0.0, 0.03, 0.06, 0.09, 0.12, 0.15), sign=-1, baseline_only=True),
    Channel("AU18", "bs", "mouthPucker", (0.30, 0.45, 0.60, 0.72, 0.84, 0.95)),
    Channel("AU20", "bs", _lr("mouthStretch"), (0.20, 0.30, 0.42, 0.55, 0.70, 0.85)),
    Channel("AU22", "bs", "mouthFunnel", (0.10, 0.18, 0.28, 0.40, 0.55, 0.70)),
    Channel("AU23", "geo", "vermilion", (-0.14, -0.12, -0.10, -0.08, -0.06, -0.04), sign=-1,
            extra=("lip_gap", -1.0)),
    Channel("AU24", "bs", _lr("mouthPress"), (0.45, 0.65, 0.75, 0.84, 0.91, 0.97)),
    Channel("AU25", "geo", "lip_gap", (0.02, 0.04, 0.08, 0.14, 0.22, 0.32), relative="state"),
    Channel("AU26", "bs", "jawOpen", (0.12, 0.20, 0.30, 0.42, 0.55, 0.70)),
    Channel("AU27", "bs", "jawOpen", (0.60, 0.68, 0.76, 0.84, 0.92, 0.98)),
    Channel("AU27", "geo", "lip_gap", (0.55, 0.62, 0.69, 0.76, 0.83, 0.90), relative="state"),
    Channel("AU28", "bs", ("mouthRollUpper", "mouthRollUpper"), (0.30, 0.40, 0.50, 0.60, 0.70, 0.85)),
    Channel("AU28", "bs", ("mouthRollLower", "mouthRollLower"), (0.30, 0.40, 0.50, 0.60, 0.70, 0.85)),
    Channel("AU43", "bs", _lr("eyeBlink"), (0.45, 0.55, 0.63, 0.71, 0.79, 0.87)),
    Channel("AU43", "geo", ("eye_aperture", "eye_aperture"), (-0.12, -0.09, -0.07, -0.05, -0.03, -0.01), sign=-1,
            relative="state"),
)
# fmt: on

#: AUs whose channels combine by maximum (any one channel is enough evidence); the others use a weighted mean.
MAX_COMBINE = frozenset({"AU09", "AU28"})

_AUS = FRAME_AUS
_AU_INDEX = {a: i for i, a in enumerate(_AUS)}
_KNOTS = np.array([c.knots for c in CHANNELS], dtype=np.float64)  # (C, 6)
_K0 = _KNOTS[:, :1]
_STEP = np.maximum(np.diff(_KNOTS, axis=1), 1e-9)  # (C, 5)
_BASELINE_ONLY = np.array([c.baseline_only for c in CHANNELS])
_STATE = np.array([c.mode == "state" for c in CHANNELS])
#: "delta" channels ignore changes up to half their first step (landmark jitter is ~0.005-0.01 IOD between frames)
DELTA_DEADZONE = 0.5
_DEADZONE = DELTA_DEADZONE * _STEP[:, :1]
_SIDED = np.array([AU_BY_CODE[a].sided for a in _AUS])


def _combination() -> tuple[np.ndarray, list[tuple[int, list[int]]]]:
    w = np.zeros((len(_AUS), len(CHANNELS)))
    maxes: dict[int, list[int]] = {}
    for c, ch in enumerate(CHANNELS):
        a = _AU_INDEX[ch.au]
        if ch.au in MAX_COMBINE:
            maxes.setdefault(a, []).append(c)
        else:
            w[a, c] = ch.weight
    return w, sorted(maxes.items())


_W, _MAX = _combination()


def raw_channels(face, frontal: np.ndarray | None = None) -> np.ndarray:
    """The raw value of every channel, ``(len(CHANNELS), 2)`` = per channel (left, right).

    ``frontal``: the face's :func:`mimetic.facs.geometry.frontal_points`, when already computed.
    """
    m = compute(frontal_points(face) if frontal is None else frontal)
    bs = face.blendshapes
    out = np.empty((len(CHANNELS), 2))
    for c, ch in enumerate(CHANNELS):
        name = ch.name
        if ch.source == "bs":
            if isinstance(name, str):
                v = bs.get(name, 0.0)
                left = right = v
            else:
                left, right = bs.get(name[0], 0.0), bs.get(name[1], 0.0)
            if ch.explain is not None:
                (el, er), k = ch.explain
                left -= k * bs.get(el, 0.0)
                right -= k * bs.get(er, 0.0)
            if ch.lateral is not None:
                g = m[ch.lateral[0]]
                d = ch.lateral[1] * 0.5 * (g[0] - g[1])
                left += d
                right -= d
        else:
            key = name if isinstance(name, str) else name[0]
            v = m[key]
            if np.ndim(v):
                left, right = ch.sign * v[0], ch.sign * v[1]
            else:
                left = right = ch.sign * v
            if ch.extra is not None:
                e = ch.extra[1] * m[ch.extra[0]]
                if np.ndim(e):  # a sided measure: each side gets its own
                    left += e[0]
                    right += e[1]
                else:
                    left += e
                    right += e
        out[c, 0] = left
        out[c, 1] = right
    return out


# the baseline's raw channels, computed once per baseline Face object
_BASELINE_CACHE: "weakref.WeakKeyDictionary[Any, np.ndarray]" = weakref.WeakKeyDictionary()


def _baseline_raw(baseline) -> np.ndarray:
    try:
        return _BASELINE_CACHE[baseline]
    except (KeyError, TypeError):
        raw = raw_channels(baseline)
        try:
            _BASELINE_CACHE[baseline] = raw
        except TypeError:
            pass
        return raw


_BASELINE_FIT: "weakref.WeakKeyDictionary[Any, np.ndarray]" = weakref.WeakKeyDictionary()


def _baseline_fitted(baseline, model: "AUModel") -> np.ndarray:
    """The baseline's fitted intensities (geometric models), cached per baseline for the shipped models."""
    if model is not DEFAULT:
        return fitted_intensities(features(baseline), model=model)
    try:
        return _BASELINE_FIT[baseline]
    except (KeyError, TypeError):
        fit = fitted_intensities(features(baseline))
        try:
            _BASELINE_FIT[baseline] = fit
        except TypeError:
            pass
        return fit


def _map(raw: np.ndarray) -> np.ndarray:
    """Piecewise-linear through each channel's knots, all channels at once: the sum of the clipped segments."""
    return np.clip((raw[:, :, None] - _KNOTS[:, None, :5]) / _STEP[:, None, :], 0.0, 1.0).sum(axis=2)  # (C, 2)


def intensities(raw: np.ndarray, baseline_raw: np.ndarray | None = None) -> np.ndarray:
    """AU intensities ``(len(FRAME_AUS), 2)`` (left, right; 0..5) from raw channel values."""
    if baseline_raw is None:
        x = _map(raw)
    else:
        delta = _map(_K0 + np.maximum(raw - baseline_raw - _DEADZONE, 0.0))
        state = np.maximum(_map(raw) - _map(baseline_raw), 0.0)
        x = np.where(_STATE[:, None], state, delta)
    if baseline_raw is None:
        x[_BASELINE_ONLY] = np.nan
    valid = ~np.isnan(x)
    xw = np.where(valid, x, 0.0)
    w = _W[:, :, None] * valid[None, :, :]  # (A, C, 2)
    den = w.sum(axis=1)
    au = (w * xw[None]).sum(axis=1) / np.where(den > 0, den, 1.0)
    for a, cs in _MAX:
        au[a] = xw[cs].max(axis=0)
    return au


#: The fitted AU models (``mimetic train aus``): per AU its region's features, weights, threshold and slope.
MODEL_PATH = Path(__file__).with_name("au_model.json")


def _load_model(path: Path = MODEL_PATH) -> dict:
    return json.loads(path.read_text(encoding="utf-8"))


class AUModel:
    """The fitted AU models of one ``au_model.json`` document as arrays (:func:`_fitted_arrays`), with the hand-set
    AUs' ``present`` thresholds. :data:`DEFAULT` is the shipped file; training code passes another (a model fitted
    without some subjects, for subject-wise cross-validation of what reads the AUs)."""

    def __init__(self, model: dict, path: Path | None = None):
        self.document = model
        self.path = path
        #: The AUs read from the fitted models; the others from their hand-set channels (:data:`CHANNELS`).
        self.fitted: tuple[str, ...] = tuple(a for a in _AUS if a in model["aus"])
        self.rows = np.array([_AU_INDEX[a] for a in self.fitted], dtype=np.int64)
        self.tex = _fitted_arrays(model, "texture", self.fitted)
        self.geo = _fitted_arrays(model, "geometric", self.fitted)
        #: Whether any fitted AU reads texture: without, the analyzer makes no crop for the AUs.
        self.reads_texture = bool(self.tex["tex"].any())
        #: Hand-set AUs' ``present`` threshold on their 0-5 intensity (no baseline).
        self.present_from = np.ones((len(_AUS), 1))
        for a, r in model.get("present_from", {}).items():
            self.present_from[_AU_INDEX[a]] = float(r)

    @classmethod
    def load(cls, path: str | Path) -> "AUModel":
        return cls(_load_model(Path(path)), Path(path))


def _fitted_arrays(model: dict, variant: str, fitted: tuple[str, ...]) -> dict[str, np.ndarray]:
    """One variant of the fitted models as arrays over all features (zero outside each AU's region): ``w``, ``w2``
    (A, F), ``tex`` (A, TEXTURE_SIZE: over :func:`mimetic.facs.texture.texture_vector`, zero outside the AU's
    region's slice), ``b``, ``t`` (threshold), ``k`` (slope) (A, 1). ``variant``: "texture" (the AU's own entry:
    features and texture) or "geometric" (its features alone)."""
    n = len(fitted)
    out = {"w": np.zeros((n, len(FEATURES))), "w2": np.zeros((n, len(FEATURES))), "tex": np.zeros((n, TEXTURE_SIZE))}
    b, t, k = np.zeros(n), np.zeros(n), np.zeros(n)
    for i, a in enumerate(fitted):
        entry = model["aus"][a]
        m = entry if variant == "texture" else entry.get("geometric", entry)  # (a file without texture models)
        cols = [FEATURE_INDEX[f] for f in entry["features"]]
        out["w"][i, cols] = m["coef"]
        out["w2"][i, cols] = m.get("coef_sq") or 0.0
        if variant == "texture" and m.get("texture"):
            sl = SLICES[entry["region"]]  # the region's HOG block, then its region network's features
            if len(m["texture"]) != sl.stop - sl.start:
                raise ValueError(f"{a}: {len(m['texture'])} texture weights for a region of {sl.stop - sl.start} "
                                 f"features (a model fitted before the AU region networks): refit with "
                                 f"`mimetic train aus`")
            out["tex"][i, sl] = m["texture"]
        b[i], t[i], k[i] = m["bias"], m["threshold"], m["slope"]
    out.update(b=b[:, None], t=t[:, None], k=k[:, None])
    return out


#: The shipped fitted models.
DEFAULT = AUModel.load(MODEL_PATH)
MODEL: dict = DEFAULT.document
FITTED: tuple[str, ...] = DEFAULT.fitted
#: Whether any shipped fitted AU reads texture: without, the analyzer makes no crop for the AUs (~0.25 ms per face).
READS_TEXTURE: bool = DEFAULT.reads_texture


def _rescale(au: np.ndarray, present_from: np.ndarray) -> np.ndarray:
    """Hand-set intensities with ``present`` moved to ``present_from`` (no baseline): ``0..r`` maps to ``0..1``
    and ``r..5`` to ``1..5``."""
    low = au / present_from
    high = 1.0 + 4.0 * (au - present_from) / np.maximum(5.0 - present_from, 1e-6)
    return np.clip(np.where(au < present_from, low, high), 0.0, 5.0)


def features(face, frontal: np.ndarray | None = None) -> np.ndarray:
    """Every feature of :data:`mimetic.facs.regions.FEATURES` for one face, ``(len(FEATURES), 2)``."""
    m = compute(frontal_points(face) if frontal is None else frontal)
    return feature_matrix(m, face.blendshapes)


def fitted_intensities(feats: np.ndarray, crop: np.ndarray | None = None, *,
                       model: AUModel | None = None) -> np.ndarray:
    """The fitted AUs' intensities ``(len(FITTED), 2)`` (left, right; 0..5) from :func:`features` and, when given,
    the face's texture crop (:func:`mimetic.facs.texture.face_crop`): ``clip(1 + slope × (z − threshold), 0, 5)``
    with ``z = W·x + W2·x² + T·texture + b`` per side. Without a crop (or when no model reads texture,
    :data:`READS_TEXTURE`) the geometric models (no texture) are used. ``model``: default the shipped one."""
    model = model or DEFAULT
    use_tex = crop is not None and model.reads_texture
    m = model.tex if use_tex else model.geo
    z = m["w"] @ feats + m["w2"] @ (feats * feats) + m["b"]
    if use_tex:
        z = z + m["tex"] @ texture_vector(crop)
    return np.clip(1.0 + m["k"] * (z - m["t"]), 0.0, 5.0)


def estimate_aus(face, baseline=None, *, frontal: np.ndarray | None = None, crop: np.ndarray | None = None,
                 model: AUModel | None = None) -> dict[str, AUValue]:
    """FACS AU estimates for one face: ``{"AU01": AUValue(intensity, left, right, present), ...}``.

    Every AU in :data:`mimetic.facs.catalogue.FRAME_AUS` (all catalogue AUs except the time-based AU45/AU46) is
    reported. Intensities are 0..5 (0 none, 1..5 = A..E), ``left``/``right`` are the **person's** sides,
    ``intensity = max(left, right)`` and ``present = intensity >= 1`` (A). With ``baseline`` (the same person's
    neutral face) they measure the change from that face (see the module docstring). ``frontal``: the face's
    frontal points when the caller already has them (saves ~0.03 ms). ``crop``: the face's texture crop
    (:func:`mimetic.facs.texture.face_crop`; the analyzer passes it): the fitted AUs then read their region's
    texture too; without it, or with a baseline, they read the landmarks and blendshapes alone. ``model``: the
    fitted models (default the shipped :data:`DEFAULT`).
    """
    model = model or DEFAULT
    if frontal is None:
        frontal = frontal_points(face)
    au = intensities(raw_channels(face, frontal), None if baseline is None else _baseline_raw(baseline))
    if baseline is None:
        fit = fitted_intensities(features(face, frontal), crop, model=model)
        au = _rescale(au, model.present_from)
    else:  # a state against the baseline: what rises above the baseline's own intensity (geometric models)
        fit = np.maximum(fitted_intensities(features(face, frontal), model=model) - _baseline_fitted(baseline, model),
                         0.0)
    au[model.rows] = fit
    return _values(au)


def knot_aus(face, *, frontal: np.ndarray | None = None) -> dict[str, AUValue]:
    """Every AU from the hand-set channels of :data:`CHANNELS` alone, without a baseline: **feature version 1 of
    the geometric expression model** (:func:`mimetic.expression.geometric.geometric_features`), which was
    trained on these values. Frozen with that model: change :data:`CHANNELS` only together with a new
    ``FEATURE_VERSION`` and a retrained model. The AUs a user sees come from :func:`estimate_aus`."""
    return _values(intensities(raw_channels(face, frontal)))


_ABSENT = AUValue(0.0, 0.0, 0.0, False)


def _values(au: np.ndarray) -> dict[str, AUValue]:
    # midline AUs: one value for both sides
    both = au.max(axis=1)
    au = np.where(_SIDED[:, None], au, both[:, None])
    out: dict[str, AUValue] = {}
    for code, (left, right) in zip(_AUS, np.round(au, 3).tolist()):
        top = max(left, right)
        out[code] = AUValue(top, left, right, top >= PRESENT_AT)
    # FACS scores AU27 instead of AU26 when the mouth is stretched open
    if out["AU27"].present:
        out["AU26"] = _ABSENT
    return out

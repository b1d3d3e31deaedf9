"""The geometric view of expression: a fixed-length feature vector from a ``Face``, and the small model on it.

:func:`geometric_features` is the one function that turns a face into the model's input, at training time (FER+
faces rebuilt from the landmarks, blendshapes and matrix cached by ``mimetic.train.prepare``) and at inference
(any ``Face`` from the ``Analyzer``). The vector (:data:`FEATURE_NAMES`, float32, :data:`N_FEATURES` = 287
values) is, in this order:

=====================  ==========  =======================================================================================
group                  values      what
=====================  ==========  =======================================================================================
``au_<AU>_l/_r``       24 × 2      FACS AU intensities 0..5, person's left then right, from the hand-set channels
                                   (:func:`mimetic.facs.estimate.knot_aus`, frozen with this feature version;
                                   no baseline: the model was trained on absolute values)
``bs_<name>``          52          MediaPipe blendshapes 0..1 in :data:`BLENDSHAPES` order (missing names: 0)
``x_<i>``, ``y_<i>``   68 × 2      the iBUG-68 points (``mimetic.face.ibug68``) in the pose-corrected frontal frame of
                                   :func:`mimetic.facs.geometry.frontal_points`: origin between the eyes, x = person's
                                   left, y up, unit = inter-ocular distance
``yaw``, ``pitch``,    3           head pose in degrees ÷ 45
``roll``
``est_<AU>_l/_r``      24 × 2      the AUs the analyzer reports without a baseline (:func:`mimetic.facs.estimate.estimate_aus`:
                                   the fitted models of ``au_model.json``, reading the face's texture crop when
                                   given, and the rescaled hand-set channels); added in feature version 2
=====================  ==========  =======================================================================================

Version 2 appends the ``est_`` block to version 1's vector, so a version-1 model still reads its prefix
(:data:`PREFIX`). Version 2 reads pixels only through the fitted AUs' texture (the same crop and values the analyzer reports), so a
model of this version is tied to the AU models it was trained with: its metadata records the SHA-256 of
``au_model.json`` (``au_model_sha256``), and :class:`GeometricModel` warns when the shipped file differs.

:func:`mirror_features` maps the vector of a face to the vector of its mirror image (left/right AUs and blendshapes
swapped, iBUG points mirrored, yaw and roll negated). The model (``expression_geometric.onnx``, trained by
``mimetic.train.geometric``) averages its predictions for a vector and its mirror, so a mirrored face gets the
same scores, and it standardises the features inside the graph: it takes the raw vector.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path

import numpy as np

from mimetic.errors import ModelNotFoundError
from mimetic.face.ibug68 import IBUG68_FROM_MEDIAPIPE
from mimetic.facs.catalogue import FRAME_AUS
from mimetic.types import EXPRESSIONS, AUValue

#: Bump when the feature vector changes (the model's metadata records the version it was trained on).
FEATURE_VERSION = 2

#: MediaPipe's 52 blendshapes, in the order the FaceLandmarker reports them.
BLENDSHAPES: tuple[str, ...] = (
    "_neutral", "browDownLeft", "browDownRight", "browInnerUp", "browOuterUpLeft", "browOuterUpRight", "cheekPuff",
    "cheekSquintLeft", "cheekSquintRight", "eyeBlinkLeft", "eyeBlinkRight", "eyeLookDownLeft", "eyeLookDownRight",
    "eyeLookInLeft", "eyeLookInRight", "eyeLookOutLeft", "eyeLookOutRight", "eyeLookUpLeft", "eyeLookUpRight",
    "eyeSquintLeft", "eyeSquintRight", "eyeWideLeft", "eyeWideRight", "jawForward", "jawLeft", "jawOpen", "jawRight",
    "mouthClose", "mouthDimpleLeft", "mouthDimpleRight", "mouthFrownLeft", "mouthFrownRight", "mouthFunnel",
    "mouthLeft", "mouthLowerDownLeft", "mouthLowerDownRight", "mouthPressLeft", "mouthPressRight", "mouthPucker",
    "mouthRight", "mouthRollLower", "mouthRollUpper", "mouthShrugLower", "mouthShrugUpper", "mouthSmileLeft",
    "mouthSmileRight", "mouthStretchLeft", "mouthStretchRight", "mouthUpperUpLeft", "mouthUpperUpRight",
    "noseSneerLeft", "noseSneerRight",
)

#: iBUG-68 index of each point's mirror image (the person's right ↔ left).
IBUG68_MIRROR: tuple[int, ...] = (
    *range(16, -1, -1),                 # jaw 0-16
    26, 25, 24, 23, 22, 21, 20, 19, 18, 17,  # brows 17-26
    27, 28, 29, 30,                     # nose bridge
    35, 34, 33, 32, 31,                 # nose base
    45, 44, 43, 42, 47, 46,             # right eye 36-41 ↔ left eye
    39, 38, 37, 36, 41, 40,             # left eye 42-47 ↔ right eye
    54, 53, 52, 51, 50, 49, 48,         # outer lip 48-54
    59, 58, 57, 56, 55,                 # outer lip 55-59
    64, 63, 62, 61, 60,                 # inner lip 60-64
    67, 66, 65,                         # inner lip 65-67
)

_IBUG = np.array(IBUG68_FROM_MEDIAPIPE, dtype=np.int64)
_BS_INDEX = {n: i for i, n in enumerate(BLENDSHAPES)}
POSE_SCALE = 45.0


def _names() -> tuple[str, ...]:
    names = [f"au_{a}_{s}" for a in FRAME_AUS for s in ("l", "r")]
    names += [f"bs_{b}" for b in BLENDSHAPES]
    names += [f"{c}_{i}" for i in range(68) for c in ("x", "y")]
    names += ["yaw", "pitch", "roll"]
    names += [f"est_{a}_{s}" for a in FRAME_AUS for s in ("l", "r")]
    return tuple(names)


#: Name of every feature, in vector order.
FEATURE_NAMES: tuple[str, ...] = _names()
N_FEATURES = len(FEATURE_NAMES)
#: Each version's vector is a prefix of the next (new groups are appended): a model of an older version reads the
#: first ``PREFIX[version]`` values.
PREFIX: dict[int, int] = {1: N_FEATURES - 2 * len(FRAME_AUS), 2: N_FEATURES}
_AU0, _BS0 = 0, 2 * len(FRAME_AUS)
_PT0 = _BS0 + len(BLENDSHAPES)
_POSE0 = _PT0 + 136
_EST0 = _POSE0 + 3


def _mirror_map() -> tuple[np.ndarray, np.ndarray]:
    """``(perm, sign)`` with ``mirror(v) = v[perm] * sign``."""
    perm = np.arange(N_FEATURES)
    sign = np.ones(N_FEATURES, np.float32)
    for a in range(len(FRAME_AUS)):  # swap left / right
        for o in (_AU0, _EST0):
            perm[o + 2 * a], perm[o + 2 * a + 1] = o + 2 * a + 1, o + 2 * a
    for i, n in enumerate(BLENDSHAPES):
        other = n[:-4] + "Right" if n.endswith("Left") else n[:-5] + "Left" if n.endswith("Right") else n
        perm[_BS0 + i] = _BS0 + _BS_INDEX[other]
    for i, j in enumerate(IBUG68_MIRROR):
        perm[_PT0 + 2 * i] = _PT0 + 2 * j
        perm[_PT0 + 2 * i + 1] = _PT0 + 2 * j + 1
        sign[_PT0 + 2 * i] = -1.0  # x = the person's left: mirrored, it changes sign
    sign[_POSE0] = sign[_POSE0 + 2] = -1.0  # yaw and roll change sign, pitch does not
    return perm, sign


MIRROR_PERM, MIRROR_SIGN = _mirror_map()


def mirror_features(x: np.ndarray) -> np.ndarray:
    """The feature vector(s) of the mirror image of the face(s) ``x`` ((D,) or (N, D))."""
    x = np.asarray(x, dtype=np.float32)
    return x[..., MIRROR_PERM] * MIRROR_SIGN


def geometric_features(face, *, aus: Mapping[str, AUValue] | None = None, frontal: np.ndarray | None = None,
                       reported: Mapping[str, AUValue] | None = None, crop: np.ndarray | None = None,
                       au_model=None) -> np.ndarray:
    """The geometric feature vector of one ``Face``: (:data:`N_FEATURES`,) float32, finite.

    May be passed when the caller already has them: ``aus`` (the face's :func:`mimetic.facs.estimate.knot_aus`,
    the frozen hand-set block), ``frontal`` (the face's :func:`mimetic.facs.geometry.frontal_points`) and
    ``reported`` (the face's :func:`mimetic.facs.estimate.estimate_aus` *without a baseline*; else computed here
    from ``crop``, the face's texture crop, with ``au_model``, default the shipped fitted models).
    """
    from mimetic.facs.estimate import estimate_aus, knot_aus
    from mimetic.facs.geometry import frontal_points

    if frontal is None:
        frontal = frontal_points(face)
    if aus is None:
        aus = knot_aus(face, frontal=frontal)
    if reported is None:
        reported = estimate_aus(face, frontal=frontal, crop=crop, model=au_model)
    out = np.zeros(N_FEATURES, np.float32)
    for a, code in enumerate(FRAME_AUS):
        for o, values in ((_AU0, aus), (_EST0, reported)):
            d = values.get(code)
            if d is not None:
                out[o + 2 * a] = d.left
                out[o + 2 * a + 1] = d.right
    bs = face.blendshapes or {}
    out[_BS0:_PT0] = [float(bs.get(n, 0.0)) for n in BLENDSHAPES]
    out[_PT0:_POSE0] = np.asarray(frontal, dtype=np.float64)[_IBUG, :2].reshape(-1)
    p = face.pose
    out[_POSE0:_EST0] = (p.yaw / POSE_SCALE, p.pitch / POSE_SCALE, p.roll / POSE_SCALE)
    return np.nan_to_num(out, nan=0.0, posinf=0.0, neginf=0.0)


# -- the model ---------------------------------------------------------------------------------------------------
#: Where the shipped geometric model lives.
DEFAULT_PATH = Path(__file__).resolve().parent.parent / "models" / "expression_geometric.onnx"


def default_path() -> Path:
    """``$MIMETIC_GEOMETRIC_MODEL`` if set (read by :meth:`mimetic.options.AnalyzerOptions.from_env`), else the
    shipped ``mimetic/models/expression_geometric.onnx``."""
    from mimetic.options import AnalyzerOptions

    return AnalyzerOptions.from_env().geometric_model or DEFAULT_PATH


def shipped_au_model_sha() -> str:
    """SHA-256 of the shipped fitted AU models (``mimetic/facs/au_model.json``), which feature version 2 reads."""
    from mimetic.face.model import sha256
    from mimetic.facs.estimate import MODEL_PATH

    return sha256(MODEL_PATH)


class GeometricModel:
    """The geometric expression model on onnxruntime: raw feature vectors → class probabilities."""

    def __init__(self, path: str | os.PathLike | None = None, *, threads: int = 1):
        self.path = Path(path or default_path())
        if not self.path.is_file():
            raise ModelNotFoundError(f"{self.path}: no geometric expression model (train one with "
                                     "`mimetic train geometric`, see docs/training.md)")
        from mimetic.expression.runtime import onnx_session

        self._session = onnx_session(self.path, threads=threads)
        meta = self._session.get_modelmeta().custom_metadata_map
        self.metadata: dict[str, str] = dict(meta)
        self.classes: tuple[str, ...] = tuple(json.loads(meta["classes"])) if "classes" in meta else EXPRESSIONS
        version = int(meta.get("feature_version", FEATURE_VERSION))
        self.n_features = int(meta.get("n_features", N_FEATURES))
        if PREFIX.get(version) != self.n_features:
            raise ValueError(f"{self.path}: trained on feature version {version} "
                             f"({meta.get('n_features')} features); this code makes version {FEATURE_VERSION} "
                             f"({N_FEATURES}): retrain it")
        self.au_model_sha256 = meta.get("au_model_sha256", "")
        if self.au_model_sha256 and self.au_model_sha256 != shipped_au_model_sha():
            import warnings

            warnings.warn(f"{self.path}: trained with other AU models (au_model.json sha256 "
                          f"{self.au_model_sha256[:12]}…) than the shipped ones: its AU inputs have shifted; retrain "
                          "it (`mimetic train geometric`)", RuntimeWarning, stacklevel=2)
        self._input = self._session.get_inputs()[0].name
        self._output = self._session.get_outputs()[0].name

    def predict(self, features: np.ndarray) -> np.ndarray:
        """(N, D) or (D,) raw feature vectors → (N, len(classes)) probabilities (float32)."""
        x = np.asarray(features, dtype=np.float32)
        if x.ndim == 1:
            x = x[None]
        if x.ndim != 2 or x.shape[1] != N_FEATURES:
            raise ValueError(f"expected features of shape (N, {N_FEATURES}), got {x.shape}")
        if len(x) == 0:
            return np.zeros((0, len(self.classes)), np.float32)
        return self._session.run([self._output], {self._input: np.ascontiguousarray(x[:, :self.n_features])})[0]

    def classify_face(self, face, **kw) -> dict[str, float]:
        """Class → probability for one ``Face`` (``kw``: see :func:`geometric_features`)."""
        p = self.predict(geometric_features(face, **kw))[0]
        return {c: float(v) for c, v in zip(self.classes, p)}

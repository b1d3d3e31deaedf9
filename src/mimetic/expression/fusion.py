"""The shipped expression model: the CNN on the aligned crop, the geometric model, and their fusion.

Fusion is a weighted sum of log-probabilities, then a softmax::

    z_c = scale · ((1 − w) · log p_cnn,c + w · log p_geo,c) + bias_c        p_fused = softmax(z)

``w`` = 0 (with ``scale`` 1 and no bias) gives the CNN alone, ``w`` = 1 the geometric model alone. ``w``,
``scale`` and ``bias`` are fitted on the FER+ validation split only (``mimetic.train.fuse``) and stored in
``models/expression_fusion.json`` together with the SHA-256 of the two model files they were fitted for; a model
file that does not match its hash is not fused (the CNN alone is used, with a warning). The JSON's ``mode`` says
what was shipped: ``"fused"``, or ``"cnn"`` when the fusion did not beat the CNN alone on validation.

>>> from mimetic import Analyzer
>>> model = Analyzer().expression_model  # the analyzer's own; None when no expression.onnx is shipped
>>> if model is not None:
...     scores = model.classify_face(rgb, face)   # {"neutral": …, "happiness": …, …}

Cost per face (one onnxruntime thread, warm): the crop and the CNN (~2 ms), the geometric features (reusing the
AUs and frontal points ``enrich_face`` already has) and the MLP (~0.1 ms).
"""

from __future__ import annotations

import json
import os
import warnings
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from mimetic.types import AUValue

FUSION_FORMAT = 1
MODELS_DIR = Path(__file__).resolve().parent.parent / "models"
#: Where the shipped fusion parameters live.
DEFAULT_PATH = MODELS_DIR / "expression_fusion.json"
_EPS = 1e-12


def fuse(p_cnn: np.ndarray, p_geo: np.ndarray, weight: float, scale: float = 1.0,
         bias: np.ndarray | list[float] | None = None, temperature: float = 1.0) -> np.ndarray:
    """Fused probabilities (same shape as the inputs: (C,) or (N, C)); see the module docstring. ``temperature``
    divides the fused logits (calibration: it never changes the answer)."""
    pc = np.log(np.clip(np.asarray(p_cnn, dtype=np.float64), _EPS, None))
    pg = np.log(np.clip(np.asarray(p_geo, dtype=np.float64), _EPS, None))
    z = scale * ((1.0 - weight) * pc + weight * pg)
    if bias is not None:
        z = z + np.asarray(bias, dtype=np.float64)
    z = z / float(temperature)
    z = z - z.max(axis=-1, keepdims=True)
    e = np.exp(z)
    return (e / e.sum(axis=-1, keepdims=True)).astype(np.float32)


def file_sha256(path: str | os.PathLike) -> str:
    """The file's SHA-256 (the same function ``mimetic models`` reports)."""
    from mimetic.face.model import sha256

    return sha256(path)


@dataclass(frozen=True)
class Fusion:
    """Fusion parameters, as stored in ``expression_fusion.json``."""

    classes: tuple[str, ...]
    weight: float  # w: weight of the geometric log-probabilities (0: CNN alone, 1: geometric alone)
    scale: float = 1.0
    bias: tuple[float, ...] | None = None
    mode: str = "fused"  # "fused" | "cnn": what was shipped
    cnn_sha256: str = ""
    geometric_sha256: str = ""
    cnn_file: str = "expression.onnx"
    geometric_file: str = "expression_geometric.onnx"
    info: dict[str, Any] = field(default_factory=dict)  # how it was fitted: data, validation metrics, decision
    #: the same fusion for the CNN's auxiliary head (FER2013 labels): {"classes", "weight", "scale", "bias",
    #: "mode"}; the geometric probabilities are restricted to those classes first. ``mode`` "head": the fusion
    #: did not beat the head alone on validation, so the head's probabilities are used as they are (files written
    #: before the decision existed have no ``mode`` and are fused). None: no auxiliary head.
    aux: dict[str, Any] | None = None
    #: divides the fused logits so the probabilities match how often the answer is right (majority label) on
    #: the validation split; 1.0 in files written before it existed
    temperature: float = 1.0

    def apply(self, p_cnn: np.ndarray, p_geo: np.ndarray) -> np.ndarray:
        return fuse(p_cnn, p_geo, self.weight, self.scale, self.bias, self.temperature)

    def apply_aux(self, p_aux: np.ndarray, p_geo: np.ndarray) -> np.ndarray:
        """Fused probabilities over the auxiliary head's classes, from its probabilities and the geometric
        model's (over :attr:`classes`)."""
        if not self.aux:
            raise ValueError("this fusion has no auxiliary-head parameters")
        if self.aux.get("mode", "fused") == "head":
            return np.asarray(p_aux, dtype=np.float32)
        idx = [list(self.classes).index(c) for c in self.aux["classes"]]
        pg = np.asarray(p_geo)[..., idx]
        pg = pg / np.maximum(pg.sum(-1, keepdims=True), _EPS)
        return fuse(p_aux, pg, self.aux["weight"], self.aux["scale"], self.aux.get("bias"))

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["classes"] = list(self.classes)
        d["bias"] = None if self.bias is None else [float(b) for b in self.bias]
        return {"format": FUSION_FORMAT, **d}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "Fusion":
        d = dict(d)
        fmt = d.pop("format", FUSION_FORMAT)
        if fmt != FUSION_FORMAT:
            raise ValueError(f"fusion format {fmt!r} is not supported (expected {FUSION_FORMAT})")
        d["classes"] = tuple(d["classes"])
        if d.get("bias") is not None:
            d["bias"] = tuple(float(b) for b in d["bias"])
        if d.get("mode", "fused") not in ("fused", "cnn"):
            raise ValueError(f"fusion mode must be 'fused' or 'cnn', not {d['mode']!r}")
        return cls(**{k: v for k, v in d.items() if k in cls.__dataclass_fields__})

    def save(self, path: str | os.PathLike) -> Path:
        from mimetic.media.atomic import atomic_write_text

        atomic_write_text(path, json.dumps(self.to_dict(), indent=2) + "\n")
        return Path(path)

    @classmethod
    def load(cls, path: str | os.PathLike) -> "Fusion":
        return cls.from_dict(json.loads(Path(path).read_text(encoding="utf-8")))


class FusedExpression:
    """The CNN, the geometric model and the fusion parameters, as shipped (onnxruntime, 2 non-spinning threads:
    the CNN takes 1.0 ms per face instead of 1.8 ms with one).

    ``cnn_path`` defaults to :func:`mimetic.expression.model.default_path` (the shipped ``expression.onnx`` or
    ``$MIMETIC_EXPRESSION_MODEL``); the geometric model and the fusion JSON are looked up in the shipped models
    folder (or ``$MIMETIC_GEOMETRIC_MODEL`` / ``$MIMETIC_FUSION``). An :class:`~mimetic.Analyzer` loads one for
    itself, from its options, when its expression stage first runs. Without a usable fusion the CNN runs alone;
    :attr:`mode` says which (``"fused"`` or ``"cnn"``) and :attr:`reason` why.
    """

    def __init__(self, cnn_path: str | os.PathLike | None = None, geometric_path: str | os.PathLike | None = None,
                 fusion_path: str | os.PathLike | None = None, *, threads: int = 2, check_hashes: bool = True):
        from mimetic.expression import geometric
        from mimetic.expression.model import ExpressionModel

        self.cnn = ExpressionModel(cnn_path, threads=threads)
        self.classes: tuple[str, ...] = self.cnn.classes
        self.geometric = None
        self.fusion: Fusion | None = None
        self.mode = "cnn"
        self.reason = ""
        fpath = Path(fusion_path or default_fusion_path())
        gpath = Path(geometric_path or geometric.default_path())
        if not fpath.is_file():
            self.reason = f"no fusion parameters ({fpath})"
            return
        try:
            fusion = Fusion.load(fpath)
        except (ValueError, KeyError, TypeError, OSError) as e:
            self.reason = f"{fpath}: unreadable fusion parameters ({e})"
            warnings.warn(self.reason + "; using the CNN alone", stacklevel=2)
            return
        self.fusion = fusion
        if fusion.mode != "fused":
            self.reason = "the fusion did not beat the CNN alone on validation when shipped"
            return
        problems = []
        if not gpath.is_file():
            problems.append(f"no geometric model at {gpath}")
        elif check_hashes:
            if fusion.cnn_sha256 and file_sha256(self.cnn.path) != fusion.cnn_sha256:
                problems.append(f"{self.cnn.path.name} is not the CNN the fusion was fitted for")
            if fusion.geometric_sha256 and file_sha256(gpath) != fusion.geometric_sha256:
                problems.append(f"{gpath.name} is not the geometric model the fusion was fitted for")
        if tuple(fusion.classes) != self.classes:
            problems.append(f"fusion classes {list(fusion.classes)} differ from the CNN's {list(self.classes)}")
        if not problems:
            geo = geometric.GeometricModel(gpath, threads=threads)
            if geo.classes != self.classes:
                problems.append(f"geometric classes {list(geo.classes)} differ from the CNN's {list(self.classes)}")
            else:
                self.geometric = geo
        if problems:
            self.reason = "; ".join(problems)
            warnings.warn(f"expression fusion disabled: {self.reason}; using the CNN alone", stacklevel=2)
            return
        self.mode = "fused"
        self.reason = f"fusion {fpath.name}: weight {fusion.weight:.3f}, scale {fusion.scale:.3f}"

    def predict(self, crops: np.ndarray, features: np.ndarray | None = None) -> np.ndarray:
        """(N, S, S) crops and (N, D) geometric features → (N, C) probabilities (CNN alone in ``"cnn"`` mode)."""
        p = self.cnn.predict(crops)
        if self.mode != "fused" or features is None:
            return p
        return self.fusion.apply(p, self.geometric.predict(features))

    def classify_face(self, rgb: np.ndarray, face, *, aus: Mapping[str, AUValue] | None = None,
                      frontal: np.ndarray | None = None, crop: np.ndarray | None = None,
                      reported: Mapping[str, AUValue] | None = None) -> dict[str, float]:
        """Class → probability for one ``Face`` of ``rgb``. When the caller has them already (see
        :func:`mimetic.expression.geometric.geometric_features`): ``aus`` (the hand-set block, ``knot_aus``),
        ``frontal``, ``crop`` (the network's aligned crop, ``self.cnn.crop(rgb, face)``) and ``reported`` (the
        face's ``estimate_aus`` without a baseline)."""
        crop = self.cnn.crop(rgb, face) if crop is None else crop
        feats = None
        if self.mode == "fused":
            from mimetic.expression.geometric import PREFIX, geometric_features

            texture = None
            if reported is None and self.geometric.n_features == PREFIX[1]:
                reported = {}  # a version-1 model does not read the reported AUs
            elif reported is None:
                from mimetic.facs.texture import CROP_DETAIL, CROP_SIZE, face_crop

                same = self.cnn.size == CROP_SIZE and self.cnn.detail == CROP_DETAIL
                texture = crop if same else face_crop(rgb, face)
            feats = geometric_features(face, aus=aus, frontal=frontal, reported=reported, crop=texture)[None]
        p = self.predict(crop[None], feats)[0]
        return {c: float(v) for c, v in zip(self.classes, p)}


def default_fusion_path() -> Path:
    """``$MIMETIC_FUSION`` if set (read by :meth:`mimetic.options.AnalyzerOptions.from_env`), else the shipped
    ``mimetic/models/expression_fusion.json``."""
    from mimetic.options import AnalyzerOptions

    return AnalyzerOptions.from_env().fusion or DEFAULT_PATH

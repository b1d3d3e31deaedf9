"""The expression CNN at inference: onnxruntime on the aligned grey crop (no torch).

>>> from mimetic.expression.model import ExpressionModel, available
>>> if available():
...     model = ExpressionModel()
...     scores = model.classify_face(rgb, face)   # {"neutral": 0.02, "happiness": 0.95, ...}

The model file is ``src/mimetic/models/expression.onnx`` unless a path is given. Its metadata names the classes and
the crop size (see ``mimetic.train.export``); the crop is :func:`mimetic.expression.crop.align_crop`. A model
with a second head (``aux_classes`` in its metadata: the original FER2013 7-class labels of the training images)
gives those probabilities through :meth:`ExpressionModel.predict_aux`; the product's expression is the main head.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np

from mimetic.errors import ModelNotFoundError
from mimetic.expression.crop import CROP_SIZE, align_crop
from mimetic.types import EXPRESSIONS

#: Where the shipped model lives.
DEFAULT_PATH = Path(__file__).resolve().parent.parent / "models" / "expression.onnx"


def default_path() -> Path:
    """``$MIMETIC_EXPRESSION_MODEL`` if set (read by :meth:`mimetic.options.AnalyzerOptions.from_env`), else the
    shipped ``mimetic/models/expression.onnx``."""
    from mimetic.options import AnalyzerOptions

    return AnalyzerOptions.from_env().expression_model or DEFAULT_PATH


def available(path: str | os.PathLike | None = None) -> bool:
    """True when the expression model file exists (at ``path``, or the default location)."""
    return Path(path or default_path()).is_file()


#: Crops per onnxruntime call when predicting many at once (evaluation, distillation).
BATCH = 512

class ExpressionModel:
    """An expression ONNX model on onnxruntime (1 intra-op thread by default).

    ``flip=True`` averages each crop with its mirror image (two crops per face, one run): slightly more accurate
    and left/right symmetric by construction, at twice the compute.
    """

    def __init__(self, path: str | os.PathLike | None = None, *, threads: int = 1, flip: bool = False):
        self.path = Path(path or default_path())
        if not self.path.is_file():
            raise ModelNotFoundError(
                f"{self.path}: no expression model file. Train and export one (see docs/training.md: "
                f"`mimetic train …`), or pass path= / set MIMETIC_EXPRESSION_MODEL.")
        from mimetic.expression.runtime import onnx_session

        self._session = onnx_session(self.path, threads=threads)
        meta = self._session.get_modelmeta().custom_metadata_map
        inp = self._session.get_inputs()[0]
        self._input = inp.name
        outputs = [o.name for o in self._session.get_outputs()]
        self._output = outputs[0]
        self._aux_output = "probs_aux" if "probs_aux" in outputs else None
        self.classes: tuple[str, ...] = tuple(json.loads(meta["classes"])) if "classes" in meta else EXPRESSIONS
        shape_size = inp.shape[-1] if isinstance(inp.shape[-1], int) else None
        self.size: int = int(meta.get("crop_size", shape_size or CROP_SIZE))
        detail = meta.get("crop_detail", "")
        #: finest detail of the training crops; photos are limited to it (see align_crop)
        self.detail: int | None = int(detail) if detail else None
        self.metadata: dict[str, str] = dict(meta)
        #: the auxiliary head's classes (empty: no such head)
        self.aux_classes: tuple[str, ...] = tuple(json.loads(meta["aux_classes"])) \
            if self._aux_output and "aux_classes" in meta else ()
        self.flip = flip

    def predict(self, crops: np.ndarray) -> np.ndarray:
        """(N, size, size) uint8 aligned grey crops → (N, len(classes)) probabilities (float32); any N (run in
        batches of :data:`BATCH` crops, so memory stays bounded on whole datasets)."""
        return self._run(crops, self._output, len(self.classes))

    def predict_aux(self, crops: np.ndarray) -> np.ndarray:
        """(N, size, size) crops → (N, len(aux_classes)) probabilities of the auxiliary head."""
        if not self._aux_output:
            raise ValueError(f"{self.path.name} has no auxiliary head")
        return self._run(crops, self._aux_output, len(self.aux_classes))

    def _run(self, crops: np.ndarray, output: str, k: int) -> np.ndarray:
        x = np.asarray(crops)
        if x.ndim == 2:
            x = x[None]
        if x.ndim != 3 or x.shape[1:] != (self.size, self.size):
            raise ValueError(f"expected crops of shape (N, {self.size}, {self.size}), got {x.shape}")
        if len(x) == 0:
            return np.zeros((0, k), np.float32)
        if len(x) > BATCH:
            return np.concatenate([self._run(x[i:i + BATCH], output, k) for i in range(0, len(x), BATCH)])
        n = len(x)
        batch = np.concatenate([x, x[:, :, ::-1]]) if self.flip else x
        probs = self._session.run([output], {self._input: batch[:, None].astype(np.float32)})[0]
        if self.flip:
            probs = (probs[:n] + probs[n:]) / 2
        return probs.astype(np.float32, copy=False)

    def crop(self, rgb: np.ndarray, face) -> np.ndarray:
        """The aligned crop this model reads, for one ``Face`` of ``rgb``."""
        return align_crop(rgb, np.asarray(face.landmarks)[:, :2], self.size, detail=self.detail)

    def classify_face(self, rgb: np.ndarray, face) -> dict[str, float]:
        """Class → probability for one ``Face`` found in ``rgb`` (the image its landmarks are in pixels of)."""
        p = self.predict(self.crop(rgb, face)[None])[0]
        return {c: float(v) for c, v in zip(self.classes, p)}

    def classify_faces(self, rgb: np.ndarray, faces) -> list[dict[str, float]]:
        """:meth:`classify_face` for several faces of one image, in one batch."""
        faces = list(faces)
        if not faces:
            return []
        probs = self.predict(np.stack([self.crop(rgb, f) for f in faces]))
        return [{c: float(v) for c, v in zip(self.classes, p)} for p in probs]

"""The shipped micro-expression recogniser at inference: onnxruntime, no torch.

>>> from mimetic.video.recognition.runtime import MicroRecognizer
>>> rec = MicroRecognizer()                        # src/mimetic/models/micro_expression.onnx
>>> r = rec.classify(onset_crop, apex_crop)        # aligned grey face crops (the spotter's)
>>> r.label, r.probabilities                       # "surprise", {"negative": 0.1, "positive": 0.05, "surprise": 0.85}

The input is the onset -> apex flow image of :func:`~.features.flow_image` (the MEGC 2019 composite recipe); the
model (:mod:`.flownet`, trained on all 442 clips of the composite) gives the probabilities of negative, positive and
surprise. The model card is the "Micro-expression recogniser" section of ``src/mimetic/models/MODEL_CARD.md``.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from mimetic.errors import ModelNotFoundError
from mimetic.video.recognition.features import FLOW_SIZE, apex_image, face_window, flow_image

__all__ = ["DEFAULT_PATH", "MicroRecognizer", "Recognition", "available"]

#: The shipped model.
DEFAULT_PATH = Path(__file__).resolve().parents[2] / "models" / "micro_expression.onnx"


def available(path: str | os.PathLike | None = None) -> bool:
    return Path(path or DEFAULT_PATH).is_file()


@dataclass(frozen=True)
class Recognition:
    """What the recogniser said about one micro-expression (``label`` None with a ``reason`` when it could not)."""

    label: str | None
    probabilities: dict[str, float]
    reason: str = ""
    cpu_ms: float = 0.0  # CPU time of the flow and the network


class MicroRecognizer:
    """The micro-expression ONNX model (one onnxruntime thread)."""

    def __init__(self, path: str | os.PathLike | None = None, *, threads: int = 1):
        self.path = Path(path or DEFAULT_PATH)
        if not self.path.is_file():
            raise ModelNotFoundError(f"{self.path}: no micro-expression model file (train one with "
                                     f"`mimetic train micro`, see docs/video.md)")
        from mimetic.expression.runtime import onnx_session

        self.session = onnx_session(self.path, threads=threads)
        meta = self.session.get_modelmeta().custom_metadata_map
        self.classes: tuple[str, ...] = tuple(json.loads(meta.get("classes", '["negative", "positive", "surprise"]')))
        #: True when the model also looks at the apex frame (a second input, fused inside the graph)
        self.uses_apex = any(i.name == "apex" for i in self.session.get_inputs())

    def predict(self, flows: np.ndarray, apexes: np.ndarray | None = None) -> np.ndarray:
        """(N, 3) probabilities of flow images (N, 28, 28, 3) uint8 (:func:`~.features.flow_image`) and, for a
        model that uses it, the apex images (N, 28, 28, 1) (:func:`~.features.apex_image`)."""
        def nchw(a, channels, what):
            a = np.asarray(a)
            if a.ndim == 3:
                a = a[None]
            if a.ndim != 4 or a.shape[1:] != (FLOW_SIZE, FLOW_SIZE, channels):
                raise ValueError(f"{what} images must be (N, {FLOW_SIZE}, {FLOW_SIZE}, {channels}), not {a.shape}")
            return np.ascontiguousarray(a.transpose(0, 3, 1, 2), dtype=np.float32)

        feed = {"flow": nchw(flows, 3, "flow")}
        if self.uses_apex:
            if apexes is None:
                raise ValueError("this model also needs the apex images")
            feed["apex"] = nchw(apexes, 1, "apex")
        return self.session.run(["probs"], feed)[0]

    def classify(self, onset: np.ndarray, apex: np.ndarray, *, canonical: int | None = None) -> Recognition:
        """Classify the movement from ``onset`` to ``apex``: grey face crops aligned with each other. With
        ``canonical`` (the side of a :func:`mimetic.video.spotting.canonical_matrix` crop, such as the spotter's
        80 px crops), the face is first cut out as the MEGC crops frame it (:func:`~.features.face_window`)."""
        t0 = time.process_time()
        if canonical:
            x0, y0, side = face_window(canonical)
            onset = onset[y0:y0 + side, x0:x0 + side]
            apex = apex[y0:y0 + side, x0:x0 + side]
        p = self.predict(flow_image(onset, apex), apex_image(apex) if self.uses_apex else None)[0]
        probs = {c: round(float(v), 4) for c, v in zip(self.classes, p)}
        return Recognition(self.classes[int(np.argmax(p))], probs, "", (time.process_time() - t0) * 1000.0)

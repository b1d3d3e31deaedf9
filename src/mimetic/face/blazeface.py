"""The face detector: the FaceLandmarker bundle's short-range BlazeFace, run fully convolutionally by onnxruntime.

The network was trained on 128x128 images: it finds faces of about 20-100 % of that (25-128 px of its input). The
bundle's ``face_detector.tflite`` is converted once (``tools/convert_blazeface.py``, card: the
"BlazeFace" section of ``src/mimetic/models/MODEL_CARD.md``) to ``mimetic/models/blazeface_short.onnx`` with its batch, height and width left free.
Since every layer is a convolution or a pool, the network run on a larger image is the 128x128 detector slid over
it at strides 8 and 16 — the tile search of :mod:`mimetic.face.search` without its half-overlapping tiles computing
the same pixels up to four times. So one call per pyramid level finds the faces of that level's size anywhere in
the image: the whole image scaled to fit 128 px (large faces), and the image scaled by ``128 / side`` for each
tile side of the small-face search.

Decoding as MediaPipe's ``face_detection_short_range`` graph does: anchors at the centres of the stride-8 grid
(2 per cell) and the stride-16 grid (6 per cell), box centre = anchor + offset, box size = the offsets (input
pixels), score = sigmoid of the clipped logit; then non-maximum suppression (IoU 0.3) per level. On the fixtures
its boxes agree with MediaPipe's FaceDetector task to a few pixels and its scores to about 0.05.
"""

from __future__ import annotations

import math
from concurrent.futures import Future, ThreadPoolExecutor
from functools import lru_cache
from pathlib import Path

import numpy as np

from mimetic.face.boxes import suppress

#: the network's training size (pixels)
SIZE = 128
#: the two anchor grids of the short-range graph: (stride, anchors per cell)
GRIDS = ((8, 2), (16, 6))
#: MediaPipe's TensorsToDetections score clipping
SCORE_CLIP = 100.0
#: the suppression within one level (MediaPipe's graph: 0.3)
NMS_IOU = 0.3
MODEL = Path(__file__).resolve().parents[1] / "models" / "blazeface_short.onnx"

Box = tuple[float, float, float, float, float]  # x, y, w, h (pixels of the image), score


@lru_cache(maxsize=32)
def anchors(height: int, width: int) -> np.ndarray:
    """(n, 2) anchor centres in input pixels, in the network's output order, for an input of that size."""
    out = []
    for stride, per_cell in GRIDS:
        gh, gw = height // stride, width // stride
        ys, xs = np.meshgrid((np.arange(gh) + 0.5) * stride, (np.arange(gw) + 0.5) * stride, indexing="ij")
        out.append(np.repeat(np.stack([xs.ravel(), ys.ravel()], axis=1), per_cell, axis=0))
    return np.concatenate(out).astype(np.float32)


def level_scales(width: int, height: int, tile_sides: list[int]) -> list[float]:
    """The pyramid: the whole image fitted into 128 px, then ``128 / side`` for each tile side."""
    return [SIZE / max(width, height)] + [SIZE / side for side in tile_sides]


class Detector:
    """Face boxes at one or several scales; one instance per thread that calls it (it keeps one helper thread for
    :meth:`submit`). A context manager, like the MediaPipe wrappers."""

    def __init__(self, model: str | Path | None = None, *, min_score: float = 0.5, threads: int = 1):
        from mimetic.expression.runtime import onnx_session

        self._session = onnx_session(model or MODEL, threads=threads)
        self.min_score = min_score
        self._pool: ThreadPoolExecutor | None = None

    def detect(self, rgb: np.ndarray, scales: list[float] | None = None) -> list[Box]:
        """Boxes in pixels of ``rgb``, at each of ``scales`` (default: the whole image fitted into 128 px), each
        level suppressed on its own (the caller merges levels)."""
        h, w = rgb.shape[:2]
        out: list[Box] = []
        for s in scales or [SIZE / max(w, h)]:
            out += self._level(rgb, s)
        return out

    def submit(self, rgb: np.ndarray, scales: list[float] | None = None) -> Future:
        """:meth:`detect` on the helper thread (onnxruntime releases the GIL): it runs beside the landmarker."""
        if self._pool is None:
            self._pool = ThreadPoolExecutor(1, thread_name_prefix="mimetic-detector")
        return self._pool.submit(self.detect, rgb, scales)

    def _level(self, rgb: np.ndarray, scale: float) -> list[Box]:
        import cv2

        h, w = rgb.shape[:2]
        nw, nh = max(1, round(w * scale)), max(1, round(h * scale))
        # at least the training size (a small image is letterboxed as MediaPipe does), a multiple of the stride
        iw, ih = max(SIZE, 16 * math.ceil(nw / 16)), max(SIZE, 16 * math.ceil(nh / 16))
        small = cv2.resize(np.ascontiguousarray(rgb[..., :3]), (nw, nh),
                           interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR)
        px, py = (iw - nw) // 2, (ih - nh) // 2
        canvas = np.zeros((ih, iw, 3), np.uint8)
        canvas[py:py + nh, px:px + nw] = small
        x = (canvas.astype(np.float32) * (2 / 255.0) - 1.0).transpose(2, 0, 1)[None]
        reg, cls = self._session.run(None, {"input": np.ascontiguousarray(x)})
        logits = np.clip(cls[0, :, 0].astype(np.float64), -SCORE_CLIP, SCORE_CLIP)
        score = 1.0 / (1.0 + np.exp(-logits))
        keep = np.flatnonzero(score >= self.min_score)
        if not len(keep):
            return []
        a = anchors(ih, iw)[keep]
        r = reg[0, keep]
        bw, bh = r[:, 2], r[:, 3]
        bx = (r[:, 0] + a[:, 0] - bw / 2 - px) / scale
        by = (r[:, 1] + a[:, 1] - bh / 2 - py) / scale
        boxes = [(float(bx[i]), float(by[i]), float(bw[i] / scale), float(bh[i] / scale)) for i in range(len(keep))]
        scores = [float(v) for v in score[keep]]
        return [(*boxes[i], scores[i]) for i in suppress(boxes, scores, threshold=NMS_IOU, metric="iou")]

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True)
            self._pool = None

    def __enter__(self) -> "Detector":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

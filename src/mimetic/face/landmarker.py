"""A thin wrapper over MediaPipe's Tasks API: the FaceLandmarker (478 points, 52 blendshapes, transformation
matrix). The bundle's face detector runs on its own through onnxruntime (:mod:`mimetic.face.blazeface`).

It is a context manager and must be closed: MediaPipe prints an exception at interpreter exit otherwise.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import sys
import threading
import weakref
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from mimetic.face.model import resolve_face_model

# MediaPipe's C++ logging goes to stderr; keep the CLI's output clean unless the user asks for it.
os.environ.setdefault("GLOG_minloglevel", "2")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


_OPEN: "weakref.WeakSet" = weakref.WeakSet()


_STDERR_LOCK = threading.RLock()


@contextlib.contextmanager
def native_stderr_silenced() -> Iterator[None]:
    """Hide what MediaPipe's C++ core prints straight to file descriptor 2 (graph set-up chatter, delegate
    notices) while it starts, first runs and closes. ``MIMETIC_DEBUG=1`` shows it. Threads take turns (two threads
    swapping fd 2 at once could leave it pointing at /dev/null)."""
    if os.environ.get("MIMETIC_DEBUG"):
        yield
        return
    with _STDERR_LOCK:
        try:
            sys.stderr.flush()
            saved = os.dup(2)
        except (OSError, ValueError):  # no real fd 2 (some embedded interpreters)
            yield
            return
        devnull = os.open(os.devnull, os.O_WRONLY)
        try:
            os.dup2(devnull, 2)
            yield
        finally:
            os.dup2(saved, 2)
            os.close(saved)
            os.close(devnull)


@atexit.register
def _close_all() -> None:
    """Close tasks the caller forgot: MediaPipe's own finaliser raises during interpreter shutdown."""
    for task in list(_OPEN):
        try:
            task.close()
        except Exception:
            pass


@dataclass
class RawFace:
    """One face as MediaPipe gives it, in the coordinates of the image it was run on (normalised)."""

    landmarks_norm: np.ndarray  # (478, 3) float32
    blendshapes: dict[str, float]
    matrix: np.ndarray  # (4, 4) float32
    score: float = 0.5


def _mp_image(rgb: np.ndarray):
    import mediapipe as mp

    return mp.Image(image_format=mp.ImageFormat.SRGB, data=np.ascontiguousarray(rgb))


class _Task:
    """Lifecycle shared by the MediaPipe wrappers: creation and first runs without native chatter, close once."""

    _task = None

    def _create(self, factory, options) -> None:
        with native_stderr_silenced():
            self._task = factory.create_from_options(options)
        self._calls = 0
        _OPEN.add(self)

    def _quiet(self):
        """The first runs print delegate notices from C++; later ones are quiet and need no fd juggling."""
        self._calls += 1
        return native_stderr_silenced() if self._calls <= 3 else contextlib.nullcontext()

    def close(self) -> None:
        if self._task is not None:
            with native_stderr_silenced():
                self._task.close()
            self._task = None

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __del__(self):  # pragma: no cover - best effort
        try:
            self.close()
        except Exception:
            pass


class Landmarker(_Task):
    """MediaPipe FaceLandmarker with blendshapes and the transformation matrix switched on.

    ``mode="image"`` treats every call independently; ``mode="video"`` uses MediaPipe's VIDEO running mode, which
    tracks faces between calls (timestamps must increase) and only re-runs detection when tracking is lost.
    """

    def __init__(self, model_path: str | os.PathLike | None = None, *, mode: str = "image", max_faces: int = 20,
                 min_detection: float = 0.5, min_presence: float = 0.5, min_tracking: float = 0.5):
        from mediapipe.tasks.python import BaseOptions, vision

        if mode not in ("image", "video"):
            raise ValueError(f"mode must be 'image' or 'video', not {mode!r}")
        self.model_path = Path(resolve_face_model(model_path))
        self.mode = mode
        running = vision.RunningMode.IMAGE if mode == "image" else vision.RunningMode.VIDEO
        options = vision.FaceLandmarkerOptions(
            base_options=BaseOptions(model_asset_path=str(self.model_path)),
            running_mode=running,
            num_faces=max_faces,
            min_face_detection_confidence=min_detection,
            min_face_presence_confidence=min_presence,
            min_tracking_confidence=min_tracking,
            output_face_blendshapes=True,
            output_facial_transformation_matrixes=True,
        )
        self._create(vision.FaceLandmarker, options)
        self._last_ts = -1
        self.presence = min_presence

    def detect(self, rgb: np.ndarray, timestamp_ms: int | None = None) -> list[RawFace]:
        image = _mp_image(rgb)
        with self._quiet():
            if self.mode == "image":
                result = self._task.detect(image)
            else:
                ts = int(timestamp_ms if timestamp_ms is not None else self._last_ts + 1)
                ts = max(ts, self._last_ts + 1)  # MediaPipe requires strictly increasing timestamps
                self._last_ts = ts
                result = self._task.detect_for_video(image, ts)
        faces = []
        for i, lms in enumerate(result.face_landmarks):
            pts = np.array([(p.x, p.y, p.z) for p in lms], dtype=np.float32)
            shapes = {c.category_name: float(c.score) for c in result.face_blendshapes[i]} if result.face_blendshapes else {}
            matrix = np.asarray(result.facial_transformation_matrixes[i], dtype=np.float32) \
                if result.facial_transformation_matrixes else np.eye(4, dtype=np.float32)
            faces.append(RawFace(pts, shapes, matrix, self.presence))
        return faces

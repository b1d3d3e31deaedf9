"""The one pipeline every entry point goes through: image, video and live modes.

>>> from mimetic import Analyzer
>>> with Analyzer() as a:
...     result = a.analyze_image("photo.jpg")
...     for face in result.faces:
...         print(face.box, face.pose.yaw, face.blendshapes["mouthSmileLeft"])
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np

from mimetic.face.boxes import box_of_points, overlap_of_smaller
from mimetic.face.landmarker import Detector, Landmarker, RawFace
from mimetic.face.pose import pose_from_matrix
from mimetic.face.search import find_faces
from mimetic.face.tracking import Tracker
from mimetic.types import Face, FrameResult

#: In video, the stand-alone detector runs on a frame only when a new track appears or every this many frames, to
#: give faces found by MediaPipe's tracking a detection score.
RESCORE_EVERY = 15


def build_face(raw: RawFace, width: int, height: int, track_id: int | None = None) -> Face:
    """Turn MediaPipe's normalised output into a ``Face`` in pixel coordinates."""
    norm = raw.landmarks_norm.astype(np.float32, copy=False)
    px = norm * np.array([width, height, width], dtype=np.float32)
    return Face(
        box=box_of_points(px),
        score=float(raw.score),
        landmarks=px,
        landmarks_norm=norm,
        pose=pose_from_matrix(raw.matrix),
        blendshapes=raw.blendshapes,
        matrix=raw.matrix,
        track_id=track_id,
    )


class Analyzer:
    """Runs every stage on images, videos and live frames. Create once, reuse: models load on first use.

    Parameters
    ----------
    max_faces: the most faces reported per image or frame (default 20).
    min_face: the smallest face, in pixels, that the still-image search looks for (default 48; ``None`` or 0 turns
        the tile search off, which is ~2.5x faster on single-face photos).
    model_path: a MediaPipe ``face_landmarker.task``; default: ``$MIMETIC_FACE_MODEL`` or the bundled copy.
    min_detection: detector confidence threshold (0..1; default 0.6: at 0.5 a blurred cartoon logo in
        face_then_noface.mov passes as a face).
    """

    def __init__(self, *, max_faces: int = 20, min_face: int | None = 48, model_path: str | os.PathLike | None = None,
                 min_detection: float = 0.6, max_pixels: int | None = None):
        if max_faces < 1:
            raise ValueError(f"max_faces must be at least 1, not {max_faces}")
        if min_face is not None and min_face < 0:
            raise ValueError(f"min_face must be >= 0 pixels, not {min_face}")
        if not 0.0 < min_detection < 1.0:
            raise ValueError(f"min_detection must be between 0 and 1, not {min_detection}")
        self.max_faces = max_faces
        self.min_face = min_face or None
        self.model_path = model_path
        self.min_detection = min_detection
        self.max_pixels = max_pixels
        self._landmarker: Landmarker | None = None
        self._detector: Detector | None = None
        #: the same person's neutral face; AU intensities and symmetry are then relative to it
        self.baseline: Face | None = None

    # -- model loading -------------------------------------------------------------------------------------------
    def _image_models(self) -> tuple[Landmarker, Detector]:
        if self._landmarker is None:
            self._landmarker = Landmarker(self.model_path, mode="image", max_faces=self.max_faces,
                                          min_detection=self.min_detection)
        if self._detector is None:
            self._detector = Detector(self.model_path, min_score=self.min_detection)
        return self._landmarker, self._detector

    def close(self) -> None:
        for m in (self._landmarker, self._detector):
            if m is not None:
                m.close()
        self._landmarker = self._detector = None

    def __enter__(self) -> "Analyzer":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # -- neutral baseline ----------------------------------------------------------------------------------------
    def set_baseline(self, source) -> Face:
        """Use the same person's neutral face as the reference for AU intensities and symmetry.

        ``source``: an image (path, bytes, array) whose largest face is taken, or a ``Face``. ``None`` clears it.
        Raises ``InputError`` when the image has no face.
        """
        from mimetic.clinic.baseline import main_face
        from mimetic.errors import InputError

        if source is None or isinstance(source, Face):
            self.baseline = source
            return source
        self.baseline = None  # measure the baseline image itself without a reference
        result = self.analyze_image(source)
        face = main_face(result.faces)
        if face is None:
            raise InputError(result.source, "no face found in the baseline image")
        self.baseline = face
        return face

    def video_baseline(self, path: str | os.PathLike, *, seconds: float = 5.0, fps: float = 10.0) -> Face:
        """Set the baseline to the calmest face in the first ``seconds`` of a video (sampled at ``fps``)."""
        from mimetic.clinic.baseline import calmest_face
        from mimetic.errors import InputError

        self.baseline = None
        face = calmest_face(self.analyze_video(path, fps=fps, end=seconds), seconds=seconds)
        if face is None:
            raise InputError(path, f"no face in the first {seconds:g} s to use as the neutral baseline")
        self.baseline = face
        return face

    # -- stages after the landmarks ------------------------------------------------------------------------------
    def _enrich(self, face: Face, rgb: np.ndarray) -> Face:
        """AUs, muscles, nerves, symmetry (and expression) for one face: see ``mimetic.stages``."""
        from mimetic.stages import enrich_face

        return enrich_face(face, rgb, baseline=self.baseline)

    # -- images --------------------------------------------------------------------------------------------------
    def analyze_image(self, source, *, name: str | None = None) -> FrameResult:
        """Analyse one still image: a path, encoded bytes, or an RGB array (H, W, 3) uint8."""
        from mimetic.media.images import MAX_PIXELS, read_image

        rgb = read_image(source, max_pixels=self.max_pixels or MAX_PIXELS, name=name)
        label = name or (str(source) if isinstance(source, (str, Path)) else "<array>" if isinstance(source, np.ndarray) else "<bytes>")
        return self.analyze_array(rgb, source=label)

    def analyze_array(self, rgb: np.ndarray, *, source: str = "<array>") -> FrameResult:
        landmarker, detector = self._image_models()
        h, w = rgb.shape[:2]
        raws = find_faces(rgb, landmarker, detector, max_faces=self.max_faces, min_face=self.min_face)
        faces = tuple(self._enrich(build_face(r, w, h), rgb) for r in raws)
        return FrameResult(source=source, width=w, height=h, faces=faces)

    # -- video ---------------------------------------------------------------------------------------------------
    def analyze_video(self, path: str | os.PathLike, *, fps: float | None = None, stride: int = 1,
                      start: float = 0.0, end: float | None = None,
                      on_frame: Callable[[int, float], None] | None = None) -> Iterator[FrameResult]:
        """Yield one ``FrameResult`` per sampled frame, streaming (constant memory).

        Uses MediaPipe's VIDEO mode (tracking between detections) and gives each face a ``track_id``. ``fps``
        samples at most that many frames per second; ``stride`` keeps every Nth frame.
        """
        from mimetic.media.video import READ_AHEAD, iter_frames

        session = self.live(source=str(path))
        try:
            for frame in iter_frames(path, fps=fps, stride=stride, start=start, end=end, read_ahead=READ_AHEAD):
                result = session.push(frame.image, timestamp=frame.timestamp, frame_index=frame.index)
                if on_frame is not None:
                    on_frame(frame.index, frame.timestamp)
                yield result
        finally:
            session.close()

    def live(self, *, source: str = "<live>") -> "LiveSession":
        """A session for frames pushed one at a time (webcam): tracking and track ids carry across pushes."""
        return LiveSession(self, source)


class LiveSession:
    """Frames pushed one at a time, in time order. Close it (or use ``with``) when the stream ends."""

    def __init__(self, analyzer: Analyzer, source: str = "<live>"):
        self.analyzer = analyzer
        self.source = source
        self._landmarker = Landmarker(analyzer.model_path, mode="video", max_faces=analyzer.max_faces,
                                      min_detection=analyzer.min_detection)
        self._detector: Detector | None = None
        self._tracker = Tracker()
        self._scores: dict[int, float] = {}
        self._count = 0
        self._t0 = time.monotonic()

    def push(self, rgb: np.ndarray, *, timestamp: float | None = None, frame_index: int | None = None) -> FrameResult:
        """Analyse the next frame. ``timestamp`` in seconds (default: wall-clock time since the session began)."""
        if self._landmarker is None:
            raise RuntimeError("this live session is closed")
        t = time.monotonic() - self._t0 if timestamp is None else float(timestamp)
        h, w = rgb.shape[:2]
        raws = self._landmarker.detect(rgb, int(round(t * 1000)))
        boxes = [box_of_points(r.landmarks_norm[:, :2] * (w, h)) for r in raws]
        ids = self._tracker.update(boxes, t)
        if any(i not in self._scores for i in ids) or (raws and self._count % RESCORE_EVERY == 0):
            self._rescore(rgb, boxes, ids)
        faces = []
        for raw, tid in zip(raws, ids):
            raw.score = self._scores.get(tid, raw.score)
            faces.append(self.analyzer._enrich(build_face(raw, w, h, tid), rgb))
        self._count += 1
        return FrameResult(source=self.source, width=w, height=h, faces=tuple(faces),
                           frame_index=self._count - 1 if frame_index is None else frame_index, timestamp=t)

    def _rescore(self, rgb: np.ndarray, boxes: list, ids: list[int]) -> None:
        if self._detector is None:
            self._detector = Detector(self.analyzer.model_path, min_score=0.3)
        dets = self._detector.detect(rgb)
        for b, tid in zip(boxes, ids):
            match = [d[4] for d in dets if overlap_of_smaller(b, d[:4]) > 0.5]
            if match:
                self._scores[tid] = max(match)
            else:
                self._scores.setdefault(tid, self._landmarker.presence)

    def close(self) -> None:
        for m in (self._landmarker, self._detector):
            if m is not None:
                m.close()
        self._landmarker = self._detector = None

    def __enter__(self) -> "LiveSession":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

"""The one pipeline every entry point goes through: image, video and live modes.

>>> from mimetic import Analyzer
>>> with Analyzer() as a:
...     result = a.analyze_image("photo.jpg")
...     for face in result.faces:
...         print(face.box, face.pose.yaw, face.blendshapes["mouthSmileLeft"])
"""

from __future__ import annotations

import dataclasses
import os
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Literal, overload

import numpy as np

from mimetic.face.boxes import box_of_points, overlap_of_smaller
from mimetic.face.blazeface import Detector
from mimetic.face.landmarker import Landmarker, RawFace
from mimetic.face.pose import pose_from_matrix
from mimetic.face.search import find_faces
from mimetic.face.tracking import Tracker
from mimetic.options import AnalyzerOptions
from mimetic.types import Face, FrameResult

#: In video, the stand-alone detector runs on a frame only when a new track appears or every this many frames, to
#: give faces found by MediaPipe's tracking a detection score.
RESCORE_EVERY = 15
#: In a video file, at most this many located frames wait for their per-face stages before the loop waits too.
STAGE_DEPTH = 3
#: frames queued on each video landmarker's thread (2: it starts the next one while the loop places the last)
LANDMARK_DEPTH = 2


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
    """Runs every stage on images, videos and live frames. Create once, reuse: models load on first use and
    belong to this instance (close it, or use ``with``, to free them).

    ``Analyzer(options)`` takes an :class:`~mimetic.options.AnalyzerOptions`; keyword settings override its fields
    (``Analyzer(max_faces=1, stages={"landmarks", "aus"})``). Without ``options`` they are built by
    :meth:`AnalyzerOptions.from_env`, the one place that reads ``MIMETIC_FACE_MODEL`` and the expression model
    variables. The running mode is the method: :meth:`analyze_image` / :meth:`analyze_array` (still images),
    :meth:`analyze_video` (a file, tracking between frames) and :meth:`live` (frames pushed one at a time).
    """

    def __init__(self, options: AnalyzerOptions | None = None, **settings):
        if options is None:
            options = AnalyzerOptions.from_env(**settings)
        elif settings:
            options = dataclasses.replace(options, **settings)
        self.options: AnalyzerOptions = options
        self._landmarker: Landmarker | None = None
        self._detector: Detector | None = None
        self._expression = None  # FusedExpression, loaded on first use when the stage runs
        self._expression_loaded = False
        self._lock = threading.Lock()
        #: the same person's neutral face; AU intensities and symmetry are then relative to it
        self.baseline: Face | None = None

    @property
    def max_faces(self) -> int:
        return self.options.max_faces

    @property
    def min_face(self) -> int | None:
        return self.options.min_face

    @property
    def stages(self) -> frozenset[str]:
        return self.options.stages

    # -- model loading -------------------------------------------------------------------------------------------
    def _image_models(self) -> tuple[Landmarker, Detector]:
        o = self.options
        if self._landmarker is None:
            self._landmarker = Landmarker(o.face_model, mode="image", max_faces=o.max_faces,
                                          min_detection=o.min_detection)
        if self._detector is None:
            self._detector = Detector(min_score=o.min_detection)
        return self._landmarker, self._detector

    @property
    def expression_model(self):
        """The expression model this analyzer uses (a :class:`mimetic.expression.fusion.FusedExpression`), loaded
        on first use; ``None`` when the ``"expression"`` stage is off or no model is shipped (the AU-prototype
        scores are then used)."""
        if not self._expression_loaded:
            with self._lock:
                if not self._expression_loaded:
                    self._expression = self._load_expression() if self.options.runs("expression") else None
                    self._expression_loaded = True
        return self._expression

    def _load_expression(self):
        import warnings

        from mimetic.expression.fusion import FusedExpression
        from mimetic.expression.model import default_path

        o = self.options
        cnn = o.expression_model or default_path()
        if not cnn.is_file():
            return None
        try:
            return FusedExpression(cnn, o.geometric_model, o.fusion)
        except Exception as e:  # a broken model file must not stop the analysis: AU prototypes instead
            warnings.warn(f"expression model {cnn} could not be loaded ({e}); using the AU-prototype scores",
                          stacklevel=3)
            return None

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
    def _enrich(self, face: Face, rgb: np.ndarray, stages: frozenset[str] | None = None) -> Face:
        """The switched-on stages (AUs, muscles, nerves, symmetry, expression) for one face: ``mimetic.stages``.
        ``stages``: this call's stages (a subset of the options' stages), default the options' own."""
        from mimetic.stages import enrich_face

        run = self.options.stages if stages is None else self.options.stages & frozenset(stages)
        return enrich_face(face, rgb, baseline=self.baseline, stages=run,
                           expression_model=self.expression_model if "expression" in run else None)

    # -- images --------------------------------------------------------------------------------------------------
    _KEEP = object()

    def analyze_image(self, source, *, name: str | None = None, min_face: int | None | object = _KEEP) -> FrameResult:
        """Analyse one still image: a path, encoded bytes, or an RGB array (H, W, 3) uint8. ``min_face`` (pixels;
        ``None`` or 0: no small-face search) overrides the option for this call only."""
        from mimetic.media.images import MAX_PIXELS, read_image

        rgb = read_image(source, max_pixels=self.options.max_pixels or MAX_PIXELS, name=name)
        label = name or (str(source) if isinstance(source, (str, Path)) else "<array>" if isinstance(source, np.ndarray) else "<bytes>")
        return self.analyze_array(rgb, source=label, min_face=min_face)

    def analyze_array(self, rgb: np.ndarray, *, source: str = "<array>",
                      min_face: int | None | object = _KEEP) -> FrameResult:
        """Analyse one RGB array (H, W, 3) uint8; ``min_face`` as in :meth:`analyze_image`."""
        landmarker, detector = self._image_models()
        h, w = rgb.shape[:2]
        smallest = self.options.min_face if min_face is Analyzer._KEEP else (min_face or None)
        raws = find_faces(rgb, landmarker, detector, max_faces=self.options.max_faces, min_face=smallest)
        faces = tuple(self._enrich(build_face(r, w, h), rgb) for r in raws)
        return FrameResult(source=source, width=w, height=h, faces=faces)

    # -- video ---------------------------------------------------------------------------------------------------
    @overload
    def analyze_video(self, path: str | os.PathLike, *, fps: float | None = ..., stride: int = ...,
                      start: float = ..., end: float | None = ..., pixels: Literal[False] = ...,
                      progress: Callable[[int, int | None], None] | None = ...,
                      cancel: Callable[[], bool] | None = ...) -> Iterator[FrameResult]: ...

    @overload
    def analyze_video(self, path: str | os.PathLike, *, fps: float | None = ..., stride: int = ...,
                      start: float = ..., end: float | None = ..., pixels: Literal[True],
                      progress: Callable[[int, int | None], None] | None = ...,
                      cancel: Callable[[], bool] | None = ...) -> Iterator[tuple[FrameResult, np.ndarray]]: ...

    def analyze_video(self, path, *, fps=None, stride=1, start=0.0, end=None, pixels=False, progress=None,
                      cancel=None):
        """Yield one ``FrameResult`` per sampled frame, streaming (constant memory): the one decode → analyse loop
        that every video entry point (CLI, :mod:`mimetic.video`, web jobs) goes through.

        Uses MediaPipe's VIDEO mode (tracking between detections) and gives each face a ``track_id``. ``fps``
        samples at most that many frames per second; ``stride`` keeps every Nth frame; ``start``/``end`` in
        seconds. ``pixels=True`` yields ``(result, rgb)`` pairs (the decoded frame, e.g. for an annotated copy).
        ``progress(done, total)`` is called after each frame (``total``: the expected number of frames, or
        ``None`` when the container does not say; a last call gives the true count when the estimate was off).
        ``cancel()`` is called before each frame: when it returns True
        the loop stops by raising :class:`mimetic.errors.Cancelled` (it may also raise an exception of its own).
        """
        from collections import deque
        from concurrent.futures import ThreadPoolExecutor

        from mimetic.errors import Cancelled
        from mimetic.media.video import READ_AHEAD, expected_frames, iter_frames

        total = expected_frames(path, fps=fps, stride=stride, start=start, end=end) if progress is not None else None
        done = 0
        # Pipelined and frame-parallel: options.video_landmarkers VIDEO-mode landmarkers take turns frame by frame,
        # each on its own thread with up to LANDMARK_DEPTH frames queued (so it never waits for this loop), and
        # each tracks at 1/n of the frame rate; tracking and track ids are assigned in frame order, each frame's
        # per-face stages run on one more thread while the next frames are located, and PyAV decodes ahead on
        # another; MediaPipe, onnxruntime and PyAV release the GIL. Results come out in order.
        o = self.options
        with self.live(source=str(path)) as session, \
                ThreadPoolExecutor(max(1, o.video_landmarkers - 1), thread_name_prefix="mimetic-open") as opening, \
                ThreadPoolExecutor(1, thread_name_prefix="mimetic-stages") as stages:
            stages.submit(lambda: self.expression_model)  # loads while the first frames are located
            landmarkers = [session._landmarker]
            coming = [opening.submit(Landmarker, o.face_model, mode="video", max_faces=o.max_faces,
                                     min_detection=o.min_detection) for _ in range(o.video_landmarkers - 1)]
            threads: dict[int, ThreadPoolExecutor] = {}  # one thread per landmarker: its calls stay in time order
            located: deque = deque()  # (frame, landmarker, future landmarks), in frame order
            try:
                frames = iter_frames(path, fps=fps, stride=stride, start=start, end=end, read_ahead=READ_AHEAD)
                staged: deque = deque()  # (future result, rgb), in frame order
                more, turn = True, 0
                while True:
                    landmarkers += [f.result() for f in coming if f.done()]
                    coming = [f for f in coming if not f.done()]
                    while more:  # frames go to the landmarkers in turn, as long as the next one has room
                        lm = landmarkers[turn % len(landmarkers)]
                        if sum(1 for _, m, _ in located if m is lm) >= LANDMARK_DEPTH:
                            break
                        frame = next(frames, None)
                        if frame is None:
                            more = False
                            break
                        if cancel is not None and cancel():
                            raise Cancelled(f"{path}: cancelled after {done} frames")
                        if id(lm) not in threads:
                            threads[id(lm)] = ThreadPoolExecutor(1, thread_name_prefix="mimetic-landmarks")
                        located.append((frame, lm, threads[id(lm)].submit(lm.detect, frame.image,
                                                                          int(round(frame.timestamp * 1000)))))
                        turn += 1
                    if located:
                        frame, _, raws = located.popleft()
                        result = session.place(raws.result(), frame.image, timestamp=frame.timestamp,
                                               frame_index=frame.index)
                        staged.append((stages.submit(session.finish, result, frame.image), frame.image))
                    if not staged:
                        break
                    if len(staged) > STAGE_DEPTH or (not more and not located) or staged[0][0].done():
                        future, rgb = staged.popleft()
                        result = future.result()
                        done += 1
                        if progress is not None:
                            progress(done, total)
                        yield (result, rgb) if pixels else result
            finally:
                # A caller that stops early (or an error) leaves frames in flight: a landmarker must not be closed
                # while another thread is inside its detect() (MediaPipe crashes the process then).
                for _, _, fut in located:
                    if not fut.cancel():
                        try:
                            fut.result()
                        except Exception:
                            pass
                for t in threads.values():
                    t.shutdown(wait=True)
                for f in coming:
                    landmarkers.append(f.result())
                for lm in landmarkers[1:]:
                    lm.close()
        if progress is not None and total != done:
            progress(done, done)  # the header's estimate was off: the last call says how many there were

    def live(self, *, source: str = "<live>") -> "LiveSession":
        """A session for frames pushed one at a time (webcam): tracking and track ids carry across pushes."""
        return LiveSession(self, source)


class LiveSession:
    """Frames pushed one at a time, in time order. Close it (or use ``with``) when the stream ends."""

    def __init__(self, analyzer: Analyzer, source: str = "<live>"):
        self.analyzer = analyzer
        self.source = source
        o = analyzer.options
        self._landmarker = Landmarker(o.face_model, mode="video", max_faces=o.max_faces,
                                      min_detection=o.min_detection)
        self._detector: Detector | None = None
        self._tracker = Tracker()
        self._scores: dict[int, float] = {}
        self._count = 0
        self._t0 = time.monotonic()

    def push(self, rgb: np.ndarray, *, timestamp: float | None = None, frame_index: int | None = None,
             stages=None) -> FrameResult:
        """Analyse the next frame. ``timestamp`` in seconds (default: wall-clock time since the session began).
        ``stages``: the stages this frame needs, when fewer than the analyzer's (e.g. practice needs the expression
        only while calibrating and in emotion exercises); a stage off costs nothing.

        The same as :meth:`finish` of :meth:`locate`; a video loop runs the two on different threads."""
        return self.finish(self.locate(rgb, timestamp=timestamp, frame_index=frame_index), rgb, stages)

    def finish(self, located: FrameResult, rgb: np.ndarray, stages=None) -> FrameResult:
        """The per-face stages (``stages``, default the analyzer's) on a :meth:`locate` result of ``rgb``. Needs
        nothing of the session's state, so it may run on another thread while the next frame is located."""
        return dataclasses.replace(located, faces=tuple(self.analyzer._enrich(f, rgb, stages)
                                                        for f in located.faces))

    def locate(self, rgb: np.ndarray, *, timestamp: float | None = None,
               frame_index: int | None = None) -> FrameResult:
        """The landmark stage only (landmarks, blendshapes, pose, track ids) for the next frame, in time order."""
        if self._landmarker is None:
            raise RuntimeError("this live session is closed")
        t = time.monotonic() - self._t0 if timestamp is None else float(timestamp)
        return self.place(self._landmarker.detect(rgb, int(round(t * 1000))), rgb, timestamp=t,
                          frame_index=frame_index)

    def place(self, raws: list[RawFace], rgb: np.ndarray, *, timestamp: float,
              frame_index: int | None = None) -> FrameResult:
        """Faces from a landmarker's output for the next frame, in time order: track ids, detection scores."""
        t = float(timestamp)
        h, w = rgb.shape[:2]
        boxes = [box_of_points(r.landmarks_norm[:, :2] * (w, h)) for r in raws]
        ids = self._tracker.update(boxes, t)
        if any(i not in self._scores for i in ids) or (raws and self._count % RESCORE_EVERY == 0):
            self._rescore(rgb, boxes, ids)
        faces = []
        for raw, tid in zip(raws, ids):
            raw.score = self._scores.get(tid, raw.score)
            faces.append(build_face(raw, w, h, tid))
        self._count += 1
        return FrameResult(source=self.source, width=w, height=h, faces=tuple(faces),
                           frame_index=self._count - 1 if frame_index is None else frame_index, timestamp=t)

    def _rescore(self, rgb: np.ndarray, boxes: list, ids: list[int]) -> None:
        if self._detector is None:
            self._detector = Detector(min_score=0.3)
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

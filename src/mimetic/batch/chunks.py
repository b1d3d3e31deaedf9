"""Long videos in time chunks: one recording on every worker (issue 19; docs/scale.md).

A video longer than ``chunk_seconds`` (when more than one worker runs) becomes several tasks, one per time chunk
(:func:`plan_chunks`). Chunk ``k`` analyses ``[start_k, end_k)`` with :meth:`mimetic.Analyzer.analyze_video` (the one
video loop) and spills its frame results to a file (:func:`analyze_chunk`); the chunks overlap by ``overlap``
seconds. The writer in the command's process stitches the chunks in order into the video's outputs
(:class:`Stitcher`, the same :class:`mimetic.batch.run.VideoOutputs` as a video analysed in one go):

- a frame in the overlap of chunks ``k`` and ``k+1`` is taken once: from chunk ``k`` before the overlap's midpoint,
  from chunk ``k+1`` from it on (chunk ``k+1``'s first half-overlap only warms its tracker up);
- chunk ``k+1``'s track ids are mapped to chunk ``k``'s by face-box IoU on the frames both analysed; a track not
  matched gets the next new id (ids count up in order of first appearance, as in one pass).

The chunk borders lie on the sampling grid (between two frames for ``--stride``, on the ``--fps`` grid), so the
frames analysed are the same as in one pass. What may differ near a border: the track ids (where matching and one
pass's tracker disagree) and whatever depends on a session's history (the per-track detection score).
"""

from __future__ import annotations

import math
import os
import pickle
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

#: Where chunk tasks spill their frame results, under ``--out`` (removed when the video is stitched).
SPILL_DIR = ".mimetic-chunks"
#: Smallest IoU of two face boxes on the same frame for two chunks' tracks to be the same face.
MIN_IOU = 0.3


@dataclass(frozen=True)
class Chunk:
    """One time chunk of a video: analyse ``[start, end)`` (``end=None``: to the video's end), keep the frames with
    ``keep_from <= timestamp < keep_to`` (``keep_to=None``: all from ``keep_from``)."""

    index: int
    count: int
    start: float
    end: float | None
    keep_from: float
    keep_to: float | None


def plan_chunks(path: str | os.PathLike[str], *, seconds: float, overlap: float, workers: int, start: float = 0.0,
                end: float | None = None, fps: float | None = None, stride: int = 1) -> list[Chunk]:
    """The chunks of a video longer than ``seconds`` (``[]``: one task). A multiple of ``workers`` chunks of at most
    ``seconds`` each, so that every worker gets an equal share."""
    from mimetic.errors import MimeticError
    from mimetic.media.video import probe_video

    if seconds <= 0 or workers <= 1 or (fps and stride > 1):
        return []
    try:
        info = probe_video(path)
    except (MimeticError, OSError, ValueError):
        return []  # its one task will say what is wrong with it
    rate, duration = info.fps, info.duration
    if not rate or not duration:
        return []
    stop = min(end, duration) if end is not None else duration
    if stop - start <= seconds:
        return []
    # The grid the borders lie on: the --fps grid (from start), or every stride-th frame (half a frame before it).
    if fps:
        unit, base, shift = 1.0 / fps, start, 0.0
    else:
        unit, base, shift = stride / rate, math.ceil(start * rate - 1e-6) / rate, -0.5 / rate
    steps = int((stop - base) / unit)  # grid points in the span
    n = workers * math.ceil((stop - start) / (seconds * workers))
    lap = max(2, round(overlap / unit))  # grid steps in the overlap
    borders = sorted({round(steps * k / n) for k in range(1, n)})
    borders = [b for b in borders if lap < b < steps - lap]
    borders = [b for i, b in enumerate(borders) if i == 0 or b - borders[i - 1] > lap]
    if not borders:
        return []
    at = [base + b * unit + shift for b in borders]  # chunk k+1 begins at at[k] - overlap
    begin = [base + (b - lap) * unit + shift for b in borders]
    mid = [base + (b - lap // 2) * unit + shift for b in borders]
    count = len(borders) + 1
    chunks = []
    for k in range(count):
        chunks.append(Chunk(index=k, count=count, start=start if k == 0 else max(start, begin[k - 1]),
                            end=at[k] if k < count - 1 else end, keep_from=start if k == 0 else mid[k - 1],
                            keep_to=mid[k] if k < count - 1 else None))
    return chunks


def spill_path(out: Path, name: str, chunk: Chunk) -> Path:
    return Path(out) / SPILL_DIR / f"{name}.{chunk.index:04d}.pkl"


def analyze_chunk(analyzer, path: Path, name: str, chunk: Chunk, out: Path, *, fps=None, stride: int = 1
                  ) -> tuple[int, int]:
    """Worker side: analyse one chunk, spill its frame results (pickled, in order, atomically) for the writer.
    Returns (frames, faces) of the frames it keeps."""
    from mimetic.media.atomic import atomic_path

    target = spill_path(out, name, chunk)
    target.parent.mkdir(parents=True, exist_ok=True)
    frames = faces = 0
    with atomic_path(target) as tmp, open(tmp, "wb") as f:
        for result in analyzer.analyze_video(path, fps=fps, stride=stride, start=chunk.start, end=chunk.end):
            pickle.dump(result, f, protocol=pickle.HIGHEST_PROTOCOL)
            if _kept(result, chunk):
                frames += 1
                faces += len(result.faces)
    return frames, faces


def _kept(result, chunk: Chunk) -> bool:
    t = result.timestamp
    return t >= chunk.keep_from - 1e-9 and (chunk.keep_to is None or t < chunk.keep_to - 1e-9)


def _read(path: Path) -> Iterator[Any]:
    with open(path, "rb") as f:
        while True:
            try:
                yield pickle.load(f)  # our own worker's file, under --out
            except EOFError:
                return


def match_tracks(before: dict[int, list], after: dict[int, list], min_iou: float = MIN_IOU) -> dict[int, int]:
    """Chunk ``k+1``'s track ids → chunk ``k``'s (already final) ids, from the frames both analysed.

    ``before`` / ``after``: frame index → [(track id, box)] of each chunk on the common frames. Faces on one frame
    are paired greedily by IoU (≥ ``min_iou``); a later id goes to the earlier id it was paired with most often
    (one to one, most votes first)."""
    from mimetic.face.boxes import match_greedy

    votes: dict[tuple[int, int], int] = {}
    for frame, faces in after.items():
        earlier = before.get(frame, ())
        for i, j, _ in match_greedy([b for _, b in faces], [b for _, b in earlier], threshold=min_iou):
            key = (faces[i][0], earlier[j][0])
            votes[key] = votes.get(key, 0) + 1
    mapping: dict[int, int] = {}
    taken: set[int] = set()
    for (tid, eid), _n in sorted(votes.items(), key=lambda kv: -kv[1]):
        if tid not in mapping and eid not in taken:
            mapping[tid] = eid
            taken.add(eid)
    return mapping


@dataclass
class Stitcher:
    """Writer side: the chunk results of one video, in any order, into that video's outputs, in order.

    :meth:`add` takes each chunk's :class:`~mimetic.batch.tasks.TaskResult`; once the last arrives it returns the
    video's own ``TaskResult`` (``ok`` with its frames and faces, or ``failed`` with the first failed chunk's
    error), else ``None``."""

    input: str
    name: str
    sha256: str
    chunks: list[Chunk]
    options: Any  # TaskOptions
    say: Any = None
    _results: dict[int, Any] = field(default_factory=dict)
    _next: int = 0
    _outputs: Any = None
    _ids: dict[int, int] = field(default_factory=dict)  # this chunk's track id → the video's
    _new: int = 0  # the next new track id
    _tail: dict[int, list] = field(default_factory=dict)  # the last chunk's faces on the frames after next's start
    _failed: Any = None
    _seconds: float = 0.0
    _workers: list[str] = field(default_factory=list)

    def add(self, result) -> Any:
        self._results[result.chunk.index] = result
        self._seconds += result.seconds
        if result.worker and result.worker not in self._workers:
            self._workers.append(result.worker)
        if not result.ok and self._failed is None:
            self._failed = result
            self._abort()
        while self._failed is None and self._next in self._results:
            try:
                self._stitch(self._results[self._next])
            except Exception as e:  # a full disk, a damaged spill: this video fails, the batch goes on
                from mimetic.batch.failures import fail

                failed = self._result(result)
                fail(failed, e)
                self._failed = failed
                self._abort()
            self._next += 1
        if len(self._results) < len(self.chunks):
            return None
        self._cleanup()
        done = self._result(result)
        if self._failed is not None:
            done.status, done.error, done.crashed, done.traceback = \
                "failed", self._failed.error, self._failed.crashed, self._failed.traceback
            return done
        run = self._outputs.finish()
        self._outputs.__exit__(None, None, None)
        self._outputs = None
        o = self.options
        if run.analysis is not None:
            from mimetic.batch.run import _write_video_analysis

            said: list[str] = []
            _write_video_analysis(run.analysis, self.name, o.out, timeline=o.timeline_for(self.name),
                                  report=None, window=o.window, say=self.say or said.append)
            done.said = said
        done.frames, done.faces = run.frames, run.faces
        done.lines.append(f"{self.input}: {run.frames} frames")
        done.notes = list(self._results[0].notes)
        return done

    def _result(self, chunk_result):
        """The video's own result (a TaskResult, made from one of its chunks')."""
        return replace(chunk_result, input=self.input, name=self.name, kind="video", sha256=self.sha256,
                       status="ok", error=None, crashed=False, traceback=None, faces=0, frames=0,
                       seconds=self._seconds, worker=",".join(self._workers), frame=None, lines=[], notes=[],
                       said=[], chunk=None, memory_mb=0.0)

    def _stitch(self, result) -> None:
        from mimetic.batch.run import VideoOutputs

        o, chunk = self.options, result.chunk
        if self._outputs is None:
            self._outputs = VideoOutputs(Path(self.input), self.name, o.out, o.formats, fps=o.fps, stride=o.stride,
                                         mesh=o.mesh, timeline=o.timeline_for(self.name))
        following = self.chunks[chunk.index + 1] if chunk.index + 1 < len(self.chunks) else None
        common: dict[int, list] = {}  # this chunk's faces on the frames the previous chunk analysed too
        waiting: list = []  # kept frames before the track ids are known
        mapped = chunk.index == 0
        tail: dict[int, list] = {}
        path = spill_path(o.out, self.name, chunk)
        for frame in _read(path):
            if not mapped:
                if frame.frame_index in self._tail:
                    common[frame.frame_index] = [(f.track_id, f.box) for f in frame.faces]
                    waiting.append(frame)
                    continue
                self._map(common)
                mapped = True
                for w in waiting:
                    self._emit(w, chunk)
                waiting = []
            self._emit(frame, chunk)
            if following is not None and frame.timestamp >= following.start - 1e-9:
                tail[frame.frame_index] = [(self._ids[f.track_id], f.box) for f in frame.faces
                                           if f.track_id in self._ids]
        if not mapped:
            self._map(common)
            for w in waiting:
                self._emit(w, chunk)
        self._tail = tail
        path.unlink(missing_ok=True)

    def _map(self, common: dict[int, list]) -> None:
        self._ids = match_tracks(self._tail, common)

    def _emit(self, frame, chunk: Chunk) -> None:
        """Give ``frame``'s faces the video's track ids; write it when it is this chunk's to keep."""
        for f in frame.faces:
            if f.track_id is not None and f.track_id not in self._ids and _kept(frame, chunk):
                self._ids[f.track_id] = self._new
                self._new += 1
        if _kept(frame, chunk):
            faces = tuple(replace(f, track_id=self._ids.get(f.track_id)) if f.track_id is not None else f
                          for f in frame.faces)
            self._outputs.add(replace(frame, faces=faces))

    def _abort(self) -> None:
        if self._outputs is not None:
            self._outputs.abort()
            self._outputs = None

    def _cleanup(self) -> None:
        for c in self.chunks:
            spill_path(self.options.out, self.name, c).unlink(missing_ok=True)
        d = Path(self.options.out) / SPILL_DIR
        try:
            d.rmdir()
        except OSError:
            pass  # other videos' chunks are still there

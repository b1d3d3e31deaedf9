"""One input, one task: :func:`analyze_input` is the unit of work of ``mimetic analyze``, the same function whether it
runs in the command's own process (``--workers 1``), in a local process pool or on a Dask cluster
(:mod:`mimetic.batch.executor`).

A task analyses one image or video, writes that input's own outputs (JSON, overlay, a video's table and JSON lines:
:mod:`mimetic.batch.run`, atomic) and returns a :class:`TaskResult`: plain, picklable data with the input's status,
its error line, its result for the image table and the lines to print. It never raises for a bad input: whatever goes
wrong with one input is that input's error, so one poison file never loses the batch. The table and the manifest
are written by the one writer in the command's process (:mod:`mimetic.batch.store`).

Every worker process builds its own :class:`~mimetic.Analyzer` once (on its first task) and keeps it.
"""

from __future__ import annotations

import hashlib
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class TaskOptions:
    """What every task of one run shares (picklable: it travels to the workers with each task)."""

    out: Path | None = None
    formats: tuple[str, ...] = ("json", "csv")
    json_out: Path | None = None
    single: bool = False  # one input only: ``--json x.json`` names a file
    overlay: bool = False
    landmarks: bool = False
    mesh: bool = False
    fps: float | None = None
    stride: int = 1
    max_faces: int = 20
    min_face: int = 48
    max_pixels: int = 0
    baseline: Any = None  # a mimetic.types.Face (computed once by the command), or None
    report: bool = False  # print the full per-face report
    summaries: bool = False  # print the short per-face summaries
    table: bool = True  # return the image's rows for the table
    # videos (``mimetic video``): the time span, and the per-video extras. ``annotate``/``timeline``/``report_html``: a
    # file when ``single``, else a folder that gets ``NAME.annotated.mp4`` / ``NAME.timeline.csv`` / ``NAME.html``
    # (``mimetic analyze --overlay`` writes ``out/NAME.annotated.mp4``).
    start: float = 0.0
    end: float | None = None
    annotate: Path | None = None
    timeline: Path | None = None
    report_html: Path | None = None
    spot: bool = False
    window: float = 1.0
    auto_baseline: bool = False  # each video's calmest face in its first 5 s is its baseline

    def analyzer_key(self) -> tuple:
        return (self.max_faces, self.min_face, self.max_pixels)

    def _per_video(self, where: Path | None, name: str, suffix: str) -> Path | None:
        if where is None:
            return None
        return where if self.single else where / f"{name}{suffix}"

    def annotate_for(self, name: str) -> Path | None:
        if self.annotate is None and self.overlay and self.out is not None:
            return self.out / f"{name}.annotated.mp4"
        return self._per_video(self.annotate, name, ".annotated.mp4")

    def timeline_for(self, name: str) -> Path | None:
        return self._per_video(self.timeline, name, ".timeline.csv")

    def report_for(self, name: str) -> Path | None:
        return self._per_video(self.report_html, name, ".html")

    def chunkable(self) -> bool:
        """Whether a long video may be split in time chunks: not when an output needs the pixels in frame order
        (an annotated copy, a report's face crops, spotting), and only where the chunks can spill (``out``)."""
        return (self.out is not None and self.annotate_for("x") is None and self.report_html is None
                and not self.spot)


@dataclass
class TaskResult:
    """What one task did. ``status``: ``"ok"`` or ``"failed"``; ``error``: the input's one error line (without the
    ``error:`` label); ``crashed``: it failed on a bug (an unexpected exception, ``traceback`` holds it)."""

    input: str
    name: str
    kind: str = "image"
    status: str = "ok"
    error: str | None = None
    crashed: bool = False
    traceback: str | None = None
    faces: int = 0
    frames: int = 0
    seconds: float = 0.0
    sha256: str = ""
    worker: str = ""
    frame: Any = None  # an image's FrameResult, for the table (None for videos, failures, or without a table)
    lines: list[str] = field(default_factory=list)  # what to print for this input (face summaries)
    notes: list[str] = field(default_factory=list)  # printed even with --quiet (the baseline a video chose)
    said: list[str] = field(default_factory=list)  # a video's messages (timeline: …), when no ``say`` was given
    chunk: Any = None  # a long video's time chunk (mimetic.batch.chunks.Chunk), or None: the whole input
    memory_mb: float = 0.0  # the worker's resident memory after the task (0: not measured)

    @property
    def ok(self) -> bool:
        return self.status == "ok"


def content_hash(path: str | os.PathLike[str]) -> str:
    """The SHA-256 of a file's bytes (hex): how a resumed run knows an input is unchanged. ``""`` when the file
    cannot be read (its task will say why)."""
    try:
        with open(path, "rb") as f:
            return hashlib.file_digest(f, "sha256").hexdigest()
    except OSError:
        return ""


_ANALYZERS: dict[tuple, tuple[Any, threading.Lock]] = {}
_ANALYZERS_LOCK = threading.Lock()


def _worker_analyzer(options: TaskOptions) -> tuple[Any, threading.Lock]:
    """This process's Analyzer for these options (built on the first task, then kept), with a lock: a Dask worker
    may run tasks on several threads, and one Analyzer analyses one input at a time."""
    from mimetic.analyzer import Analyzer

    key = options.analyzer_key()
    with _ANALYZERS_LOCK:
        if key not in _ANALYZERS:
            _ANALYZERS[key] = (Analyzer(max_faces=options.max_faces, min_face=options.min_face,
                                        max_pixels=options.max_pixels), threading.Lock())
        return _ANALYZERS[key]


def analyze_input(path: str, name: str, options: TaskOptions, *, sha256: str = "", analyzer=None,
                  progress: Callable[[int, int | None], None] | None = None,
                  say: Callable[[str], None] | None = None, chunk=None) -> TaskResult:
    """Analyse one input and write its own outputs; never raises for the input's sake (see the module's doc).

    ``analyzer``: the caller's (``--workers 1``); by default this process's own. ``progress`` and ``say``: a video's
    progress callback and message sink, only where the task runs in the command's process. ``chunk``: analyse only
    this time chunk of a long video and spill its frames for the writer (:mod:`mimetic.batch.chunks`)."""
    started = time.perf_counter()
    result = TaskResult(input=str(path), name=name, sha256=sha256, worker=f"{os.uname().nodename}:{os.getpid()}",
                        chunk=chunk)
    _test_hook(path)
    try:
        if analyzer is not None:
            _run(result, Path(path), name, options, analyzer, progress, say)
        else:
            analyzer, lock = _worker_analyzer(options)
            with lock:
                _run(result, Path(path), name, options, analyzer, progress, say)
    except Exception as e:
        from mimetic.batch.failures import fail

        fail(result, e)
    result.seconds = time.perf_counter() - started
    if not result.ok:
        result.frame, result.lines, result.faces, result.frames = None, [], 0, 0
    return result


def _test_hook(path) -> None:
    """Tests only: ``MIMETIC_TEST_KILL_ON=NAME`` kills a worker process (``os._exit(137)``, as the kernel's OOM
    killer would) when it starts on an input whose file name is ``NAME``; never the command's own process."""
    kill = os.environ.get("MIMETIC_TEST_KILL_ON")
    if kill and Path(path).name == kill and os.environ.get("MIMETIC_WORKER") == "1":
        os._exit(137)


def _run(result: TaskResult, path: Path, name: str, o: TaskOptions, analyzer, progress, say) -> None:
    from mimetic.batch.run import analyze_video_file, write_image_outputs
    from mimetic.media.discover import kind_of

    if analyzer.baseline is not o.baseline and not (o.auto_baseline and kind_of(path) == "video"):
        analyzer.set_baseline(o.baseline)  # this run's (None: none; a worker keeps its Analyzer between runs)
    if kind_of(path) == "video":
        result.kind = "video"
        if o.auto_baseline:
            face = analyzer.video_baseline(path)
            result.notes.append(f"baseline: the calmest face in the first 5 s (box {face.box[2]:.0f} px wide)")
        if result.chunk is not None:
            from mimetic.batch.chunks import analyze_chunk

            result.frames, result.faces = analyze_chunk(analyzer, path, name, result.chunk, o.out, fps=o.fps,
                                                        stride=o.stride)
            return
        said: list[str] = []
        run = analyze_video_file(analyzer, path, name, o.out, list(o.formats), annotate=o.annotate_for(name),
                                 fps=o.fps, stride=o.stride, start=o.start, end=o.end, mesh=o.mesh,
                                 progress=progress, say=say or said.append, timeline=o.timeline_for(name),
                                 report=o.report_for(name), spot=o.spot, window=o.window)
        result.frames, result.faces, result.said = run.frames, run.faces, said
        result.lines.append(f"{path}: {run.frames} frames")
        return
    from mimetic.media.images import read_image
    from mimetic.summary import face_report, face_summary

    rgb = read_image(path, max_pixels=o.max_pixels)
    res = analyzer.analyze_array(rgb, source=str(path))
    write_image_outputs(res, rgb, name, o.out, o.json_out, o.single, list(o.formats), o.overlay, o.landmarks)
    result.faces = len(res.faces)
    if o.table:
        result.frame = res  # its rows are built by the writer, many images at once (mimetic.batch.store)
    result.lines.append(f"{path}: {len(res.faces)} face{'s' * (len(res.faces) != 1)}")
    if o.report or o.summaries:
        result.lines += [face_report(f, k) if o.report else face_summary(f, k) for k, f in enumerate(res.faces, 1)]

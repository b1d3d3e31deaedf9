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

    def analyzer_key(self) -> tuple:
        return (self.max_faces, self.min_face, self.max_pixels)


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
                  say: Callable[[str], None] | None = None) -> TaskResult:
    """Analyse one input and write its own outputs; never raises for the input's sake (see the module's doc).

    ``analyzer``: the caller's (``--workers 1``); by default this process's own. ``progress`` and ``say``: a video's
    progress callback and message sink, only where the task runs in the command's process."""
    started = time.perf_counter()
    result = TaskResult(input=str(path), name=name, sha256=sha256, worker=f"{os.uname().nodename}:{os.getpid()}")
    try:
        if analyzer is not None:
            _run(result, Path(path), name, options, analyzer, progress, say)
        else:
            analyzer, lock = _worker_analyzer(options)
            with lock:
                _run(result, Path(path), name, options, analyzer, progress, say)
    except Exception as e:
        _fail(result, e)
    result.seconds = time.perf_counter() - started
    if not result.ok:
        result.frame, result.lines, result.faces, result.frames = None, [], 0, 0
    return result


def _fail(result: TaskResult, e: Exception) -> None:
    """The input's one error line, worded as the sequential command always worded it."""
    from mimetic.errors import write_failure
    from mimetic.errors import InputError, MimeticError

    result.status = "failed"
    if isinstance(e, InputError):
        result.error = str(e)
    elif isinstance(e, MimeticError):
        result.error = f"{result.input}: {e}"
    elif isinstance(e, OSError):  # an output could not be written (a full disk): this input's outputs are gone
        result.error = f"{result.input}: {write_failure(e)}"
    else:  # a bug: the batch goes on, the command exits with EXIT_CRASH
        import traceback

        result.crashed = True
        result.traceback = "".join(traceback.format_exception(e))
        result.error = f"{result.input}: unexpected {type(e).__name__}: {e}"


def _run(result: TaskResult, path: Path, name: str, o: TaskOptions, analyzer, progress, say) -> None:
    from mimetic.batch.run import analyze_video_file, write_image_outputs
    from mimetic.media.discover import kind_of

    if o.baseline is not None and analyzer.baseline is not o.baseline:
        analyzer.set_baseline(o.baseline)
    if kind_of(path) == "video":
        result.kind = "video"
        out = o.out
        run = analyze_video_file(analyzer, path, name, out, list(o.formats),
                                 annotate=(out / f"{name}.annotated.mp4") if (o.overlay and out) else None,
                                 fps=o.fps, stride=o.stride, mesh=o.mesh, progress=progress, say=say)
        result.frames, result.faces = run.frames, run.faces
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

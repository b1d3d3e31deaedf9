"""The bodies of ``mimetic analyze`` and ``mimetic video``: many inputs, progress bars, one error line per failed
input (the batch goes on), the summary line and the exit code. What one input writes is
:mod:`mimetic.batch.run`'s business.

Paths and messages are printed as plain text, never as rich markup (a file may be called ``b[/x].jpg``). Whatever
goes wrong with one input (a damaged file, a full disk, a bug) fails that input only; a crash outside the
per-input work exits with :data:`~mimetic.cli.common.EXIT_CRASH` and says where the good inputs' outputs are."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path

from mimetic.batch.run import NAME_ROOM, outputs_of
from mimetic.cli.common import EXIT_CRASH, EXIT_FAILED, EXIT_OK
from mimetic.errors import write_failure
from mimetic.errors import MimeticError


@dataclass
class Summary:
    ok: int = 0
    failed: list[str] = field(default_factory=list)
    faces: int = 0
    frames: int = 0
    crashed: int = 0  # inputs that failed on a bug (an unexpected exception), not on their content
    skipped: int = 0  # inputs done in an earlier run in the same --out (resumed)
    started: float = field(default_factory=time.perf_counter)

    def line(self) -> str:
        n = self.ok + len(self.failed) + self.skipped
        dt = time.perf_counter() - self.started
        parts = [f"{n} input{'s' * (n != 1)}: {self.ok} ok, {len(self.failed)} failed"
                 + (f", {self.skipped} done before" if self.skipped else ""),
                 f"{self.faces} face{'s' * (self.faces != 1)}"]
        if self.frames:
            parts.append(f"{self.frames} video frames")
        parts.append(f"{dt:.1f} s")
        return "; ".join(parts)



def _progress_callback(progress, description: str) -> Callable[[int, int | None], None]:
    """A rich progress bar's task, fed by ``progress(done, total)`` callbacks."""
    task = progress.add_task(description, total=None)

    def update(done: int, total: int | None) -> None:
        progress.update(task, completed=done, total=max(total, done) if total else None)

    return update


def _say(progress) -> Callable[[str], None] | None:
    if progress.disable:
        return None
    return lambda text: _print(progress.console, text)


class _Names:
    """Output names: the input's stem, made unique (``face``, ``face-2``) and short enough that every output's
    name fits the file system (``fit_name``: a long stem is cut and ends in a hash of the whole)."""

    def __init__(self):
        self._used: set[str] = set()

    def reserve(self, names) -> None:
        """Names taken already (an earlier run's, in the same --out)."""
        self._used.update(names)

    def __call__(self, path: Path) -> str:
        from mimetic.media.files import fit_name

        base, k = path.stem or "input", 1
        name = fit_name(base, NAME_ROOM)
        while name in self._used:
            k += 1
            name = fit_name(f"{base}-{k}", NAME_ROOM)
        self._used.add(name)
        return name


def _progress(quiet: bool):
    from rich.progress import (BarColumn, MofNCompleteColumn, Progress, ProgressColumn, TextColumn,
                               TimeElapsedColumn, TimeRemainingColumn)
    from rich.text import Text

    class Rate(ProgressColumn):  # inputs (or a video's frames) per second, across all workers
        def render(self, task) -> Text:
            return Text(f"{task.speed:.1f}/s" if task.speed else "", style="progress.data.speed")

    return Progress(TextColumn("{task.description}", markup=False), BarColumn(), MofNCompleteColumn(), Rate(),
                    TimeElapsedColumn(), TextColumn("eta"), TimeRemainingColumn(), disable=quiet, transient=False,
                    console=_console())


def _console():
    from rich.console import Console

    return Console(stderr=True, soft_wrap=True)  # one line per error, however long the path


def _print(console, text: str) -> None:
    """A line of plain text: paths and messages are never read as rich markup."""
    console.print(text, highlight=False, markup=False, emoji=False)


def _error(console, msg: str, label: str = "error:") -> None:
    """An ``error: …`` line (the label in red on a terminal, the message as plain text)."""
    from rich.text import Text

    console.print(Text.assemble((label, "red"), " ", msg), highlight=False)


def _report_error(progress, msg: str) -> None:
    if progress.disable:
        print(f"error: {msg}", file=sys.stderr)
    else:
        _error(progress.console, msg)


def _where(out: Path | None, json_out: Path | None, ok: int) -> str:
    """Where the outputs of the inputs that worked are, for the last line of a failed run."""
    places = [str(p) for p in (out, json_out) if p is not None]
    if not places:
        return "nothing was written (no --out or --json)"
    if not ok:
        return "no input was finished, so nothing was written"
    return f"the outputs of the {ok} input{'s' * (ok != 1)} that worked are in {' and '.join(places)}"


def _crash(console, exc: BaseException, where: str) -> int:
    """Report an unexpected exception (a bug): the traceback, one line saying so and where the outputs are."""
    import traceback

    traceback.print_exception(exc, file=sys.stderr)
    _error(console, f"mimetic crashed (a bug; please report it with the traceback above): "
                    f"{type(exc).__name__}: {exc}; {where}")
    return EXIT_CRASH


@contextmanager
def _record_on_interrupt(store, table_error: list[str]):
    """Ctrl-C: what finished is recorded (its rows and manifest lines) before the interrupt goes on."""
    try:
        yield
    except KeyboardInterrupt:
        if store is not None and not table_error:
            with suppress(Exception):
                store.close()
        raise


@contextmanager
def _cluster_errors(console, summary: Summary):
    """The Dask scheduler cannot be reached: one error line; what finished before is recorded as usual."""
    try:
        yield
    except MimeticError as e:
        summary.failed.append(str(e))
        _error(console, str(e))


#: ``--chunk-seconds`` and ``--chunk-overlap``: a video longer than this is split in time chunks (several workers).
CHUNK_SECONDS = 120.0
CHUNK_OVERLAP = 2.0


def _chunked(jobs: list[tuple], options, workers: int, seconds: float, overlap: float) -> tuple[list[tuple], dict]:
    """Every long video among ``jobs`` replaced by its chunks' jobs, and a stitcher for each (by input)."""
    from mimetic.batch.chunks import Stitcher, plan_chunks
    from mimetic.media.discover import kind_of

    out: list[tuple] = []
    stitchers: dict[str, Stitcher] = {}
    for job in jobs:
        path, name, sha = job
        chunks = plan_chunks(path, seconds=seconds, overlap=overlap, workers=workers, start=options.start,
                             end=options.end, fps=options.fps, stride=options.stride) \
            if kind_of(Path(path)) == "video" else []
        if not chunks:
            out.append(job)
            continue
        stitchers[path] = Stitcher(path, name, sha, chunks, options)
        out.extend((path, name, sha, c) for c in chunks)
    return out, stitchers


def run_batch(paths: list[str], *, out: Path | None, formats: list[str], json_out: Path | None, overlay: bool,
              max_faces: int, min_face: int, fps, stride: int, mesh: bool, landmarks: bool, max_pixels: int,
              quiet: bool, baseline: Path | None = None, report: bool = False, workers: int | None = None,
              scheduler: str | None = None, retry_failed: bool = False, manifest: bool = True,
              chunk_seconds: float = CHUNK_SECONDS, chunk_overlap: float = CHUNK_OVERLAP,
              max_memory_mb: float | None = None, video: dict | None = None) -> int:
    """Analyse every input; returns the exit status (:data:`~mimetic.cli.common.EXIT_OK`, ``EXIT_FAILED`` when an
    input failed or the table could not be written, ``EXIT_CRASH`` for a bug outside the per-input work).

    ``workers``: processes (default: the cores; 1: this process); ``scheduler``: a Dask scheduler's address
    (:mod:`mimetic.batch.executor`). With ``out`` and ``manifest``, the run is resumable
    (:mod:`mimetic.batch.store`); ``mimetic video`` runs without (its outputs are per video). ``chunk_seconds``:
    a video longer than this is split in time chunks over the workers (0: never; :mod:`mimetic.batch.chunks`).
    ``max_memory_mb``: the bound on a local worker's memory. ``video``: ``mimetic video``'s extras
    (:class:`~mimetic.batch.tasks.TaskOptions` fields: start, end, annotate, timeline, report_html, spot, window,
    auto_baseline)."""
    summary = Summary()
    console = _console()
    try:
        return _run_batch(summary, console, paths, out=out, formats=formats, json_out=json_out, overlay=overlay,
                          max_faces=max_faces, min_face=min_face, fps=fps, stride=stride, mesh=mesh,
                          landmarks=landmarks, max_pixels=max_pixels, quiet=quiet, baseline=baseline,
                          report=report, workers=workers, scheduler=scheduler, retry_failed=retry_failed,
                          manifest=manifest, chunk_seconds=chunk_seconds, chunk_overlap=chunk_overlap,
                          max_memory_mb=max_memory_mb, video=video or {})
    except Exception as e:  # a bug outside one input's work: say so, and where the good inputs' outputs are
        return _crash(console, e, _where(out, json_out, summary.ok))


def _run_batch(summary: Summary, console, paths: list[str], *, out: Path | None, formats: list[str],
               json_out: Path | None, overlay: bool, max_faces: int, min_face: int, fps, stride: int, mesh: bool,
               landmarks: bool, max_pixels: int, quiet: bool, baseline: Path | None, report: bool,
               workers: int | None, scheduler: str | None, retry_failed: bool, manifest: bool,
               chunk_seconds: float, chunk_overlap: float, max_memory_mb: float | None, video: dict) -> int:
    from contextlib import nullcontext

    from mimetic.batch.executor import default_workers, run_tasks, scheduler_address
    from mimetic.batch.tasks import TaskOptions, content_hash
    from mimetic.media.discover import expand_inputs

    notes: list[str] = []
    files, errors = expand_inputs(paths, notes=notes)
    for note in notes:
        _print(console, f"note: {note}")
    for e in errors:
        summary.failed.append(str(e))
        _error(console, str(e))
    if not files:
        _print(console, summary.line())
        return EXIT_FAILED
    scheduler = scheduler_address(scheduler)
    status = EXIT_OK

    # The run's shared outputs (table dataset, manifest) and what an earlier run in the same --out already did.
    store = None
    if out is not None and manifest:
        from mimetic.batch.store import RunStore

        store = RunStore(out, mesh=mesh)
    names = _Names()
    if store is not None:
        names.reserve(rec.name for rec in store.records.values())
    jobs: list[tuple[str, str, str]] = []
    earlier_failed: list[str] = []
    for path in files:
        key = str(path)
        sha = content_hash(path) if store is not None else ""
        rec = store.done(key, sha, retry_failed=retry_failed) if store is not None else None
        if rec is not None and rec.status == "ok" and not all(
                p.exists() for p in outputs_of(rec.name, rec.kind, out, formats, overlay)):
            rec = None  # done before, but an output is gone (deleted): done again
        if rec is not None:
            if rec.status == "ok":
                summary.skipped += 1
            else:
                earlier_failed.append(rec.error)
            continue
        known = store.records.get(key) if store is not None else None
        jobs.append((key, known.name if known is not None else names(path), sha))
    if store is not None and jobs:
        store.forget([j[0] for j in jobs])  # a changed file's old rows go before its new ones come
    if summary.skipped:
        _print(console, f"note: {summary.skipped} input{'s' * (summary.skipped != 1)} done in an earlier run in "
                        f"{out} (same content) skipped")
    for msg in earlier_failed:
        summary.failed.append(msg)
        _error(console, f"{msg} (in an earlier run; --retry-failed tries again)")

    options = TaskOptions(out=out, formats=tuple(formats), json_out=json_out, single=len(files) == 1,
                          overlay=overlay, landmarks=landmarks, mesh=mesh, fps=fps, stride=stride,
                          max_faces=max_faces, min_face=min_face, max_pixels=max_pixels, report=report,
                          summaries=report or len(files) <= 10, table=store is not None, **video)

    # A long video becomes one task per time chunk when there are several workers (mimetic.batch.chunks).
    requested = workers or default_workers()
    stitchers: dict[str, object] = {}
    if (requested > 1 or scheduler) and chunk_seconds > 0 and options.chunkable():
        jobs, stitchers = _chunked(jobs, options, requested if not scheduler else max(requested, 2),
                                   chunk_seconds, chunk_overlap)
    tasks = len(jobs)
    inputs = tasks - sum(len(st.chunks) - 1 for st in stitchers.values())
    workers = min(requested, max(1, tasks))
    inline = workers <= 1 and not scheduler

    # The baseline face is measured once, here, and travels to the workers with the tasks.
    analyzer = None
    if jobs and (inline or baseline is not None):
        from mimetic.analyzer import Analyzer

        try:
            analyzer = Analyzer(max_faces=max_faces, min_face=min_face, max_pixels=max_pixels)
            if baseline is not None:
                import dataclasses

                options = dataclasses.replace(options, baseline=analyzer.set_baseline(baseline))
        except (MimeticError, ValueError) as e:
            _error(console, f"baseline: {e}" if baseline is not None else str(e))
            return EXIT_FAILED
        if not inline:
            analyzer.close()
            analyzer = None
    table_error: list[str] = []

    def record(result) -> None:
        """The one writer: the table dataset and the manifest (a full disk stops the table, never the batch)."""
        if store is None or table_error:
            return
        try:
            store.add(result)
        except OSError as e:
            table_error.append(write_failure(e))

    with analyzer if analyzer is not None else nullcontext(), _progress(quiet) as progress, \
            _record_on_interrupt(store, table_error), _cluster_errors(console, summary):
        task = progress.add_task("inputs", total=inputs)
        for result in run_tasks(jobs, options, workers=workers, scheduler=scheduler, analyzer=analyzer,
                                progress_for=(lambda p: _progress_callback(progress, Path(p).name)) if inline else None,
                                say=_say(progress), max_memory_mb=max_memory_mb):
            for line in result.notes if result.chunk is None else ():
                _print(progress.console, line)
            if result.chunk is not None:  # a long video's chunk: its share of the bar; the video when all are in
                progress.advance(task, 1 / result.chunk.count)
                result = stitchers[result.input].add(result)
                if result is None:
                    continue
                for line in result.notes:
                    _print(progress.console, line)
            if not quiet:
                for line in result.said:
                    _print(progress.console, line)
            if result.ok:
                summary.ok += 1
                summary.faces += result.faces
                summary.frames += result.frames
                if report or not quiet:
                    for line in result.lines if (result.kind == "image" or not quiet) else ():
                        _print(progress.console, line)
            else:
                summary.failed.append(result.error)
                if result.crashed:
                    summary.crashed += 1
                    print(result.traceback, file=sys.stderr, end="")
                _report_error(progress, result.error)
            record(result)
            if result.chunk is None and result.input not in stitchers:
                progress.advance(task)
    if store is not None and not table_error:
        try:
            store.close()
        except OSError as e:
            table_error.append(write_failure(e))
    if table_error:  # a full disk: the per-input files written so far stay; a re-run redoes the unrecorded inputs
        _error(console, f"{table_error[0]}; {_where(out, json_out, summary.ok)}")
        status = EXIT_FAILED
        if store is not None and store.table_dir.is_dir() and not any(store.table_dir.iterdir()):
            store.table_dir.rmdir()
    if summary.failed:
        status = EXIT_FAILED
    if store is not None and not table_error:
        df = store.table(order=[str(f) for f in files])
        if store.dropped_columns:
            _print(console, f"note: the table keeps the first part's columns; {len(store.dropped_columns)} "
                            f"column{'s' * (len(store.dropped_columns) != 1)} seen later are only in the JSON: "
                            f"{', '.join(sorted(store.dropped_columns)[:10])}")
        for fmt in ("csv", "parquet"):
            if fmt in formats and df is not None:
                from mimetic.table import write_table

                target = out / f"images.{fmt}"
                try:
                    write_table(df, target)
                except OSError as e:  # a full disk: the per-image files written so far stay
                    _error(console, f"{write_failure(e, target)}; {_where(out, json_out, summary.ok)}")
                    status = EXIT_FAILED
    if summary.crashed:
        _error(console, f"mimetic crashed on {summary.crashed} input{'s' * (summary.crashed != 1)} (a bug; please "
                        f"report it with the traceback above); {_where(out, json_out, summary.ok)}")
        status = EXIT_CRASH
    _print(console, summary.line())
    return status


def run_video_command(files: list[str], *, out: Path | None, formats: list[str], annotate: Path | None, fps,
                      stride: int, start: float, end, max_faces: int, mesh: bool, quiet: bool,
                      baseline: str | None = None, timeline: Path | None = None, report: Path | None = None,
                      spot: bool = False, window: float = 1.0, workers: int | None = None,
                      scheduler: str | None = None, chunk_seconds: float = CHUNK_SECONDS,
                      chunk_overlap: float = CHUNK_OVERLAP, max_memory_mb: float | None = None) -> int:
    """``mimetic video``: :func:`run_batch` (the same tasks, workers and writer as ``mimetic analyze``) with the
    per-video extras, and no manifest or image table. With several files, ``annotate``, ``timeline`` and ``report``
    are folders (``NAME.annotated.mp4``, ``NAME.timeline.csv``, ``NAME.html`` in them)."""
    auto = baseline == "auto"
    return run_batch(files, out=out, formats=formats, json_out=None, overlay=False, max_faces=max_faces,
                     min_face=48, fps=fps, stride=stride, mesh=mesh, landmarks=True, max_pixels=100_000_000,
                     quiet=quiet, baseline=None if (auto or baseline is None) else Path(baseline), workers=workers,
                     scheduler=scheduler, manifest=False, chunk_seconds=chunk_seconds, chunk_overlap=chunk_overlap,
                     max_memory_mb=max_memory_mb,
                     video=dict(start=start, end=end, annotate=annotate, timeline=timeline, report_html=report,
                                spot=spot, window=window, auto_baseline=auto))

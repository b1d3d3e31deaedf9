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
from dataclasses import dataclass, field
from pathlib import Path

from mimetic.batch.run import NAME_ROOM, analyze_video_file, write_image_outputs
from mimetic.cli.common import EXIT_CRASH, EXIT_FAILED, EXIT_OK, write_failure
from mimetic.errors import InputError, MimeticError
from mimetic.summary import face_report, face_summary


@dataclass
class Summary:
    ok: int = 0
    failed: list[str] = field(default_factory=list)
    faces: int = 0
    frames: int = 0
    crashed: int = 0  # inputs that failed on a bug (an unexpected exception), not on their content
    started: float = field(default_factory=time.perf_counter)

    def line(self) -> str:
        n = self.ok + len(self.failed)
        dt = time.perf_counter() - self.started
        parts = [f"{n} input{'s' * (n != 1)}: {self.ok} ok, {len(self.failed)} failed",
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
    from rich.progress import (BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn,
                               TimeRemainingColumn)

    return Progress(TextColumn("{task.description}", markup=False), BarColumn(), MofNCompleteColumn(),
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


def run_batch(paths: list[str], *, out: Path | None, formats: list[str], json_out: Path | None, overlay: bool,
              max_faces: int, min_face: int, fps, stride: int, mesh: bool, landmarks: bool, max_pixels: int,
              quiet: bool, baseline: Path | None = None, report: bool = False) -> int:
    """Analyse every input; returns the exit status (:data:`~mimetic.cli.common.EXIT_OK`, ``EXIT_FAILED`` when an
    input failed or the table could not be written, ``EXIT_CRASH`` for a bug outside the per-input work)."""
    summary = Summary()
    console = _console()
    try:
        return _run_batch(summary, console, paths, out=out, formats=formats, json_out=json_out, overlay=overlay,
                          max_faces=max_faces, min_face=min_face, fps=fps, stride=stride, mesh=mesh,
                          landmarks=landmarks, max_pixels=max_pixels, quiet=quiet, baseline=baseline,
                          report=report)
    except Exception as e:  # a bug outside one input's work: say so, and where the good inputs' outputs are
        return _crash(console, e, _where(out, json_out, summary.ok))


def _run_batch(summary: Summary, console, paths: list[str], *, out: Path | None, formats: list[str],
               json_out: Path | None, overlay: bool, max_faces: int, min_face: int, fps, stride: int, mesh: bool,
               landmarks: bool, max_pixels: int, quiet: bool, baseline: Path | None, report: bool) -> int:
    from mimetic.analyzer import Analyzer
    from mimetic.media.discover import expand_inputs, kind_of
    from mimetic.media.images import read_image

    notes: list[str] = []
    files, errors = expand_inputs(paths, notes=notes)
    names = _Names()
    image_results = []
    for note in notes:
        _print(console, f"note: {note}")
    for e in errors:
        summary.failed.append(str(e))
        _error(console, str(e))
    if not files:
        _print(console, summary.line())
        return EXIT_FAILED
    single = len(files) == 1
    try:
        analyzer = Analyzer(max_faces=max_faces, min_face=min_face, max_pixels=max_pixels)
        if baseline is not None:
            analyzer.set_baseline(baseline)
    except (MimeticError, ValueError) as e:
        _error(console, f"baseline: {e}" if baseline is not None else str(e))
        return EXIT_FAILED
    with analyzer, _progress(quiet) as progress:
        task = progress.add_task("inputs", total=len(files))
        for path in files:
            try:
                name = names(path)
                if kind_of(path) == "video":
                    run = analyze_video_file(analyzer, path, name, out, formats,
                                             annotate=(out / f"{name}.annotated.mp4") if (overlay and out) else None,
                                             fps=fps, stride=stride, mesh=mesh,
                                             progress=_progress_callback(progress, path.name), say=_say(progress))
                    summary.frames += run.frames
                    summary.faces += run.faces
                    if not quiet:
                        _print(progress.console, f"{path}: {run.frames} frames")
                else:
                    rgb = read_image(path, max_pixels=max_pixels)
                    result = analyzer.analyze_array(rgb, source=str(path))
                    write_image_outputs(result, rgb, name, out, json_out, single, formats, overlay, landmarks)
                    image_results.append(result)
                    summary.faces += len(result.faces)
                    if report or not quiet:
                        _print(progress.console,
                               f"{path}: {len(result.faces)} face{'s' * (len(result.faces) != 1)}")
                        if report or len(files) <= 10:
                            for k, face in enumerate(result.faces, 1):
                                _print(progress.console, face_report(face, k) if report else face_summary(face, k))
                summary.ok += 1
            except InputError as e:
                summary.failed.append(str(e))
                _report_error(progress, str(e))
            except MimeticError as e:
                summary.failed.append(f"{path}: {e}")
                _report_error(progress, f"{path}: {e}")
            except OSError as e:  # an output could not be written (a full disk): this input's outputs are gone
                summary.failed.append(f"{path}: {write_failure(e)}")
                _report_error(progress, f"{path}: {write_failure(e)}")
            except Exception as e:  # a bug: never lose the rest of the batch to it, but exit with EXIT_CRASH
                import traceback

                summary.failed.append(f"{path}: {type(e).__name__}: {e}")
                summary.crashed += 1
                traceback.print_exception(e, file=sys.stderr)
                _report_error(progress, f"{path}: unexpected {type(e).__name__}: {e}")
            progress.advance(task)
    status = EXIT_FAILED if summary.failed else EXIT_OK
    if out is not None and image_results:
        from mimetic.table import frame_from_results, write_table

        df = frame_from_results(image_results, mesh=mesh)
        for fmt in ("csv", "parquet"):
            if fmt in formats:
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


def run_video_command(file: Path, *, out: Path | None, formats: list[str], annotate: Path | None, fps, stride: int,
                      start: float, end, max_faces: int, mesh: bool, quiet: bool, baseline: str | None = None,
                      timeline: Path | None = None, report: Path | None = None, spot: bool = False,
                      window: float = 1.0) -> int:
    from mimetic.analyzer import Analyzer

    console = _console()
    summary = Summary()
    try:
        with Analyzer(max_faces=max_faces) as analyzer, _progress(quiet) as progress:
            if baseline == "auto":
                face = analyzer.video_baseline(file)
                _print(progress.console, f"baseline: the calmest face in the first 5 s (box {face.box[2]:.0f} px wide)")
            elif baseline is not None:
                analyzer.set_baseline(baseline)
            run = analyze_video_file(analyzer, Path(file), _Names()(Path(file)), out, formats, annotate=annotate,
                                     fps=fps, stride=stride, start=start, end=end, mesh=mesh,
                                     progress=_progress_callback(progress, Path(file).name), say=_say(progress),
                                     timeline=timeline, report=report, spot=spot, window=window)
        summary.ok, summary.frames, summary.faces = 1, run.frames, run.faces
    except MimeticError as e:
        summary.failed.append(str(e))
        _error(console, str(e))
    except OSError as e:  # an output could not be written (a full disk); outputs are atomic: none is half-written
        summary.failed.append(f"{file}: {write_failure(e)}")
        _error(console, f"{file}: {write_failure(e)}")
    except Exception as e:  # a bug
        return _crash(console, e, "the outputs are written only when complete, so none is half-written")
    _print(console, summary.line())
    return EXIT_FAILED if summary.failed else EXIT_OK

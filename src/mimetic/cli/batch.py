"""The bodies of ``mimetic analyze`` and ``mimetic video``: many inputs, progress bars, one error line per failed
input (the batch goes on), the summary line and the exit code. What one input writes is
:mod:`mimetic.batch.run`'s business."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from mimetic.batch.run import analyze_video_file, write_image_outputs
from mimetic.errors import InputError, MimeticError
from mimetic.summary import face_report, face_summary


@dataclass
class Summary:
    ok: int = 0
    failed: list[str] = field(default_factory=list)
    faces: int = 0
    frames: int = 0
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
    return lambda text: progress.console.print(text, highlight=False, markup=False)


class _Names:
    def __init__(self):
        self._used: set[str] = set()

    def __call__(self, path: Path) -> str:
        base, name, k = path.stem or "input", path.stem or "input", 2
        while name in self._used:
            name, k = f"{base}-{k}", k + 1
        self._used.add(name)
        return name


def _progress(quiet: bool):
    from rich.progress import (BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn,
                               TimeRemainingColumn)

    return Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                    TextColumn("eta"), TimeRemainingColumn(), disable=quiet, transient=False,
                    console=_console())


def _console():
    from rich.console import Console

    return Console(stderr=True, soft_wrap=True)  # one line per error, however long the path


def _report_error(progress, msg: str) -> None:
    progress.console.print(f"[red]error:[/red] {msg}", highlight=False, markup=True) if not progress.disable \
        else print(f"error: {msg}", file=sys.stderr)



def run_batch(paths: list[str], *, out: Path | None, formats: list[str], json_out: Path | None, overlay: bool,
              max_faces: int, min_face: int, fps, stride: int, mesh: bool, landmarks: bool, max_pixels: int,
              quiet: bool, baseline: Path | None = None, report: bool = False) -> int:
    from mimetic.analyzer import Analyzer
    from mimetic.media.discover import expand_inputs, kind_of
    from mimetic.media.images import read_image

    files, errors = expand_inputs(paths)
    summary = Summary()
    names = _Names()
    image_results = []
    console = _console()
    for e in errors:
        summary.failed.append(str(e))
        console.print(f"[red]error:[/red] {e}", highlight=False)
    if not files:
        console.print(summary.line(), highlight=False)
        return 1
    single = len(files) == 1
    try:
        analyzer = Analyzer(max_faces=max_faces, min_face=min_face, max_pixels=max_pixels)
        if baseline is not None:
            analyzer.set_baseline(baseline)
    except (MimeticError, ValueError) as e:
        console.print(f"[red]error:[/red] baseline: {e}" if baseline is not None else f"[red]error:[/red] {e}",
                      highlight=False)
        return 1
    with analyzer, _progress(quiet) as progress:
        task = progress.add_task("inputs", total=len(files))
        for path in files:
            name = names(path)
            try:
                if kind_of(path) == "video":
                    run = analyze_video_file(analyzer, path, name, out, formats,
                                             annotate=(out / f"{name}.annotated.mp4") if (overlay and out) else None,
                                             fps=fps, stride=stride, mesh=mesh,
                                             progress=_progress_callback(progress, path.name), say=_say(progress))
                    summary.frames += run.frames
                    summary.faces += run.faces
                    if not quiet:
                        progress.console.print(f"{path}: {run.frames} frames", highlight=False, markup=False)
                else:
                    rgb = read_image(path, max_pixels=max_pixels)
                    result = analyzer.analyze_array(rgb, source=str(path))
                    write_image_outputs(result, rgb, name, out, json_out, single, formats, overlay, landmarks)
                    image_results.append(result)
                    summary.faces += len(result.faces)
                    if report or not quiet:
                        progress.console.print(f"{path}: {len(result.faces)} face{'s' * (len(result.faces) != 1)}",
                                               highlight=False)
                        if report or len(files) <= 10:
                            for k, face in enumerate(result.faces, 1):
                                text = face_report(face, k) if report else face_summary(face, k)
                                progress.console.print(text, highlight=False)
                summary.ok += 1
            except InputError as e:
                summary.failed.append(str(e))
                _report_error(progress, str(e))
            except MimeticError as e:
                summary.failed.append(f"{path}: {e}")
                _report_error(progress, f"{path}: {e}")
            except Exception as e:  # never lose the rest of the batch to one bad file
                summary.failed.append(f"{path}: {type(e).__name__}: {e}")
                _report_error(progress, f"{path}: unexpected {type(e).__name__}: {e}")
            progress.advance(task)
    if out is not None and image_results:
        from mimetic.table import frame_from_results, write_table

        df = frame_from_results(image_results, mesh=mesh)
        for fmt in ("csv", "parquet"):
            if fmt in formats:
                write_table(df, out / f"images.{fmt}")
    console.print(summary.line(), highlight=False)
    return 1 if summary.failed else 0


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
                progress.console.print(f"baseline: the calmest face in the first 5 s (box {face.box[2]:.0f} px wide)",
                                       highlight=False)
            elif baseline is not None:
                analyzer.set_baseline(baseline)
            run = analyze_video_file(analyzer, Path(file), _Names()(Path(file)), out, formats, annotate=annotate,
                                     fps=fps, stride=stride, start=start, end=end, mesh=mesh,
                                     progress=_progress_callback(progress, Path(file).name), say=_say(progress),
                                     timeline=timeline, report=report, spot=spot, window=window)
        summary.ok, summary.frames, summary.faces = 1, run.frames, run.faces
    except MimeticError as e:
        summary.failed.append(str(e))
        console.print(f"[red]error:[/red] {e}", highlight=False)
    console.print(summary.line(), highlight=False)
    return 1 if summary.failed else 0

"""``mimetic analyze`` and ``mimetic video``: images, folders and videos to JSON, tables, overlays and reports.

The command bodies are :func:`mimetic.cli.batch.run_batch` and :func:`mimetic.cli.batch.run_video_command` (the
same tasks, workers and writer).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

FORMATS = ("json", "csv", "parquet")


def _parse_formats(value: str) -> list[str]:
    fmts = [f.strip().lower() for f in value.split(",") if f.strip()]
    bad = [f for f in fmts if f not in FORMATS]
    if bad or not fmts:
        raise typer.BadParameter(f"unknown format {', '.join(bad) or value!r}; choose from {', '.join(FORMATS)}")
    return fmts


_CHUNK_HELP = ("With several workers, a video longer than this many seconds is split in time chunks analysed in "
               "parallel, track ids stitched across the borders (0: never split).")
_OVERLAP_HELP = "Seconds two time chunks of a video overlap (track ids are matched there)."
_MEMORY_HELP = ("Local workers: a worker process above this many MB after a task is replaced by a fresh one (one "
                "above twice this during a task is stopped; its input is retried once).")


def analyze(
    paths: Annotated[list[str], typer.Argument(help="Image or video files, folders (searched recursively) or "
                                                    "glob patterns such as 'photos/**/*.jpg'.")],
    out: Annotated[Optional[Path], typer.Option("--out", "-o", help="Output folder (created). Without it, only a "
                                                "summary is printed.")] = None,
    formats: Annotated[str, typer.Option("--format", "-f", help="Comma-separated outputs: json, csv, parquet.")] = "json,csv",
    json_out: Annotated[Optional[Path], typer.Option("--json", help="Write JSON here: a .json file for a single "
                                                     "image, else a folder.")] = None,
    overlay: Annotated[bool, typer.Option("--overlay", help="Also write images/videos with the mesh, boxes, "
                                          "pose axes and labels drawn.")] = False,
    max_faces: Annotated[int, typer.Option("--max-faces", min=1, help="Most faces per image or frame.")] = 20,
    min_face: Annotated[int, typer.Option("--min-face", min=0, help="Smallest face to search for in photos, in "
                                          "pixels (0: no tile search; faster).")] = 48,
    fps: Annotated[Optional[float], typer.Option("--fps", min=0.001, help="Videos: analyse at most this many frames "
                                                 "per second.")] = None,
    stride: Annotated[int, typer.Option("--stride", min=1, help="Videos: analyse every Nth frame.")] = 1,
    mesh: Annotated[bool, typer.Option("--mesh/--no-mesh", help="Tables: add all 478 mesh points as columns.")] = False,
    landmarks: Annotated[bool, typer.Option("--landmarks/--no-landmarks", help="JSON: include landmark arrays.")] = True,
    max_pixels: Annotated[int, typer.Option("--max-pixels", min=1, help="Refuse images larger than this many "
                                            "pixels (decompression-bomb guard).")] = 100_000_000,
    baseline: Annotated[Optional[Path], typer.Option("--baseline", help="The same person's neutral face (an "
                                                     "image): AU intensities and symmetry become relative to it.")] = None,
    report: Annotated[bool, typer.Option("--report", help="Print a readable report per face: AUs with left/right "
                                         "bars, nerve branches, symmetry.")] = False,
    workers: Annotated[Optional[int], typer.Option("--workers", "-j", min=1, envvar="MIMETIC_WORKERS",
                                                   help="Worker processes, each with its own analyser (default: "
                                                   "the number of cores; 1: all in this process).")] = None,
    scheduler: Annotated[Optional[str], typer.Option("--scheduler", envvar="MIMETIC_SCHEDULER",
                                                     help="A Dask scheduler (tcp://HOST:8786): run the inputs on "
                                                     "its workers (docs/scale.md).")] = None,
    retry_failed: Annotated[bool, typer.Option("--retry-failed", help="Resuming in the same --out: also re-try "
                                               "the inputs that failed before.")] = False,
    chunk_seconds: Annotated[float, typer.Option("--chunk-seconds", min=0.0, help=_CHUNK_HELP)] = 120.0,
    chunk_overlap: Annotated[float, typer.Option("--chunk-overlap", min=0.0, help=_OVERLAP_HELP)] = 2.0,
    max_memory: Annotated[float, typer.Option("--max-memory-per-worker", min=1.0, help=_MEMORY_HELP)] = 800.0,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar or per-file lines.")] = False,
) -> None:
    """Analyse images and videos; write JSON per input, a table (one row per face per frame) and overlays.

    With --out, the table is also a Parquet dataset (OUT/table/part-*.parquet) and OUT/manifest.csv lists every
    input's status; running again with the same --out skips the inputs already done."""
    fmts = _parse_formats(formats)
    from mimetic.cli.batch import run_batch

    code = run_batch(paths, out=out, formats=fmts, json_out=json_out, overlay=overlay, max_faces=max_faces,
                     min_face=min_face, fps=fps, stride=stride, mesh=mesh, landmarks=landmarks,
                     max_pixels=max_pixels, quiet=quiet, baseline=baseline, report=report, workers=workers,
                     scheduler=scheduler, retry_failed=retry_failed, chunk_seconds=chunk_seconds,
                     chunk_overlap=chunk_overlap, max_memory_mb=max_memory)
    raise typer.Exit(code)


def video(
    files: Annotated[list[Path], typer.Argument(help="Video files (mp4, mov, mkv, webm, avi, ...).")],
    out: Annotated[Optional[Path], typer.Option("--out", "-o", help="Output folder for the table and JSON lines.")] = None,
    formats: Annotated[str, typer.Option("--format", "-f", help="Comma-separated: json (JSON lines), csv, parquet.")] = "csv",
    annotate: Annotated[Optional[Path], typer.Option("--annotate", help="Write an annotated video here (.mp4; with "
                                                     "several files, a folder).")] = None,
    fps: Annotated[Optional[float], typer.Option("--fps", min=0.001, help="Analyse at most this many frames per second.")] = None,
    stride: Annotated[int, typer.Option("--stride", min=1, help="Analyse every Nth frame.")] = 1,
    start: Annotated[float, typer.Option("--start", min=0.0, help="Start time in seconds.")] = 0.0,
    end: Annotated[Optional[float], typer.Option("--end", min=0.0, help="End time in seconds.")] = None,
    max_faces: Annotated[int, typer.Option("--max-faces", min=1, help="Most faces per frame.")] = 20,
    mesh: Annotated[bool, typer.Option("--mesh/--no-mesh", help="Tables: add all 478 mesh points as columns.")] = False,
    baseline: Annotated[Optional[str], typer.Option("--baseline", help="Neutral reference: an image of the same "
                                                    "person, or 'auto' for the calmest face in the first 5 s.")] = None,
    timeline: Annotated[Optional[Path], typer.Option("--timeline", help="Write the per-track timeline here "
                                                     "(.csv or .parquet), with .windows, .changes (and .events) "
                                                     "tables beside it (several files: a folder).")] = None,
    report: Annotated[Optional[Path], typer.Option("--report", help="Write a self-contained HTML report here "
                                                   "(plots also as PNG in <name>_plots/ beside it; several "
                                                   "files: a folder).")] = None,
    spot: Annotated[bool, typer.Option("--spot", help="Spot micro- and macro-expressions (onset, apex, offset).")] = False,
    window: Annotated[float, typer.Option("--window", min=0.001, help="Seconds per row of the windowed "
                                          "timeline.")] = 1.0,
    workers: Annotated[Optional[int], typer.Option("--workers", "-j", min=1, envvar="MIMETIC_WORKERS",
                                                   help="Worker processes, each with its own analyser (default: "
                                                   "the number of cores; 1: all in this process).")] = None,
    scheduler: Annotated[Optional[str], typer.Option("--scheduler", envvar="MIMETIC_SCHEDULER",
                                                     help="A Dask scheduler (tcp://HOST:8786): run the videos on "
                                                     "its workers (docs/scale.md).")] = None,
    chunk_seconds: Annotated[float, typer.Option("--chunk-seconds", min=0.0, help=_CHUNK_HELP)] = 120.0,
    chunk_overlap: Annotated[float, typer.Option("--chunk-overlap", min=0.0, help=_OVERLAP_HELP)] = 2.0,
    max_memory: Annotated[float, typer.Option("--max-memory-per-worker", min=1.0, help=_MEMORY_HELP)] = 800.0,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar.")] = False,
) -> None:
    """Analyse videos as streams: per-frame table, JSON lines, an annotated copy, the expression timeline,
    micro-expression spotting and an HTML report (several videos: on several workers, as `mimetic analyze`)."""
    fmts = _parse_formats(formats)
    if end is not None and end <= start:
        raise typer.BadParameter("--end must be after --start")
    if len(files) == 1 and timeline is not None and timeline.suffix.lower() not in (".csv", ".parquet"):
        raise typer.BadParameter("--timeline must end in .csv or .parquet")
    if len(files) == 1 and report is not None and report.suffix.lower() not in (".html", ".htm"):
        raise typer.BadParameter("--report must end in .html")
    from mimetic.cli.batch import run_video_command

    raise typer.Exit(run_video_command([str(f) for f in files], out=out, formats=fmts, annotate=annotate, fps=fps,
                                       stride=stride, start=start, end=end, max_faces=max_faces, mesh=mesh,
                                       quiet=quiet, baseline=baseline, timeline=timeline, report=report,
                                       spot=spot, window=window, workers=workers, scheduler=scheduler,
                                       chunk_seconds=chunk_seconds, chunk_overlap=chunk_overlap,
                                       max_memory_mb=max_memory))

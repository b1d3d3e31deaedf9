"""The output writers behind ``mimetic analyze``, ``mimetic video`` and the web's video jobs (atomic outputs).

The command bodies (inputs, progress bars, per-file errors, exit codes) are in :mod:`mimetic.cli.batch`; this module
writes what one input produces. Output layout under ``--out DIR``:

- every image: ``DIR/<name>.json`` (one document); all images together: ``DIR/images.csv`` / ``.parquet``;
- every video: ``DIR/<name>.jsonl`` (one document per frame), ``DIR/<name>.csv`` / ``.parquet``;
- ``--overlay``: ``DIR/<name>.overlay.jpg`` for images, ``DIR/<name>.annotated.mp4`` for videos.

``<name>`` is the file's stem, made unique when two inputs share one (``face``, ``face-2``, ...), and shortened
with a hash when an output's name would pass the file system's 255-byte limit (:data:`NAME_ROOM`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any


#: The most bytes ``<name>`` may have: an output adds at most ``.annotated.mp4`` (14 bytes) to it.
NAME_ROOM = 255 - len(".annotated.mp4")


@dataclass
class VideoRun:
    """What :func:`analyze_video_file` did: frames analysed, faces found in them, and the per-video analysis
    (:class:`mimetic.video.analysis.VideoAnalysis`; ``None`` when no timeline, report or spotting was asked for)."""

    frames: int = 0
    faces: int = 0
    analysis: Any = None


def outputs_of(name: str, kind: str, out: Path | None, formats, overlay: bool) -> list[Path]:
    """The files under ``out`` that one input named ``name`` gets (the layout above): how a resumed run checks that
    an input done before still has its outputs."""
    if out is None:
        return []
    if kind == "video":
        paths = [out / f"{name}.{fmt}" for fmt in ("csv", "parquet") if fmt in formats]
        paths += [out / f"{name}.jsonl"] if "json" in formats else []
        return paths + ([out / f"{name}.annotated.mp4"] if overlay else [])
    return ([out / f"{name}.json"] if "json" in formats else []) + ([out / f"{name}.overlay.jpg"] if overlay else [])


def write_image_outputs(result, rgb, name: str, out: Path | None, json_out: Path | None, single: bool,
                         formats: list[str], overlay: bool, landmarks: bool) -> list[Path]:
    """Write one image's outputs; returns their paths. All or nothing: when one cannot be written (a full disk),
    those already written for this image are removed and the error is raised, so a failed input leaves no
    output behind."""
    from mimetic.export import write_json

    written: list[Path] = []
    try:
        if json_out is not None:
            target = json_out if (single and json_out.suffix.lower() == ".json") else json_out / f"{name}.json"
            written.append(write_json(result, target, landmarks=landmarks))
        if out is not None:
            if "json" in formats:
                written.append(write_json(result, out / f"{name}.json", landmarks=landmarks))
            if overlay:
                written.append(_write_overlay(rgb, result, out / f"{name}.overlay.jpg"))
    except BaseException:
        for path in written:
            path.unlink(missing_ok=True)
        raise
    return written


def _write_overlay(rgb, result, path: Path) -> Path:
    from mimetic.media.images import write_image
    from mimetic.render.overlay import draw_faces

    return write_image(draw_faces(rgb, result.faces), path, quality=90)


def analyze_video_file(analyzer, path: Path, name: str, out: Path | None, formats: list[str], *,
                       annotate: Path | None, fps, stride, start=0.0, end=None, mesh=False,
                       progress: Callable[[int, int | None], None] | None = None,
                       cancel: Callable[[], bool] | None = None, say: Callable[[str], None] | None = None,
                       timeline: Path | None = None, report: Path | None = None, spot: bool = False,
                       window: float = 1.0, source_name: str | None = None) -> VideoRun:
    """Stream one video through the analyser (:meth:`mimetic.Analyzer.analyze_video`, the one decode loop) into
    its outputs; returns a :class:`VideoRun` (frames and faces counted, and the per-video analysis).

    Besides the per-frame table/JSON lines and the annotated copy: ``timeline`` (a .csv/.parquet path: the
    per-track timeline and its siblings, see :mod:`mimetic.video.analysis`), ``report`` (an .html path: the
    self-contained report, plots also as PNG beside it), ``spot`` (micro-expression spotting: events in the
    timeline, the report, ``out/<name>.events.csv`` and the annotated video), ``window`` (seconds per row of the
    windowed timeline), ``source_name`` (the name the report shows instead of ``path``, e.g. an upload's own name).
    ``progress(done, total)`` and ``cancel()``: as in :meth:`mimetic.Analyzer.analyze_video`; ``say``: where
    one-line messages go (the CLI's console). The per-video analysis (timeline, segments, change log,
    statistics, events) is computed once, in memory, whenever a timeline, report or spotting is asked for.
    Only the small per-frame numbers are kept for it, so memory stays flat.
    """
    run = VideoRun()
    with VideoOutputs(path, name, out, formats, annotate=annotate, fps=fps, stride=stride, mesh=mesh,
                      timeline=timeline, report=report, spot=spot, source_name=source_name) as outputs:
        for result, rgb in analyzer.analyze_video(path, fps=fps, stride=stride, start=start, end=end, pixels=True,
                                                  progress=progress, cancel=cancel):
            outputs.add(result, rgb)
        run = outputs.finish()
    if run.analysis is not None:
        _write_video_analysis(run.analysis, name, out, timeline=timeline, report=report, window=window, say=say)
    return run


class VideoOutputs:
    """The per-video outputs of :func:`analyze_video_file`, fed one analysed frame at a time (in frame order):
    the table(s), the JSON lines, the annotated copy and the per-video analysis (timeline, spotting). The same
    writers serve a video analysed in one go and one stitched from time chunks (:mod:`mimetic.batch.chunks`,
    which has no pixels: ``rgb=None``, so no annotated copy, report crops or spotting there).

    A context manager: outputs are atomic; leaving the ``with`` on an exception (or :meth:`abort`) removes them."""

    def __init__(self, path: Path, name: str, out: Path | None, formats, *, annotate: Path | None = None,
                 fps=None, stride: int = 1, mesh: bool = False, timeline: Path | None = None,
                 report: Path | None = None, spot: bool = False, source_name: str | None = None):
        from contextlib import ExitStack

        from mimetic.batch.sinks import TableSink

        self.run = VideoRun()
        self.collector = None
        if timeline is not None or report is not None or spot:
            from mimetic.video.analysis import VideoCollector

            self.collector = VideoCollector(source_name or str(path), spot=spot, keep_crops=report is not None)
        self._stack = stack = ExitStack()
        try:
            self.sinks = []
            if out is not None:
                for fmt in ("csv", "parquet"):
                    if fmt in formats:
                        self.sinks.append(stack.enter_context(TableSink(out / f"{name}.{fmt}", mesh=mesh,
                                                                        include_empty=True)))
                if "json" in formats:
                    from mimetic.export import JsonLinesWriter

                    self.sinks.append(stack.enter_context(JsonLinesWriter(out / f"{name}.jsonl")))
            self.annotated = None
            if annotate is not None:
                from mimetic.media.video import VideoWriter, probe_video
                from mimetic.render.video_overlay import AnnotatedVideoWriter

                out_fps = fps if fps else probe_video(path).fps / max(stride, 1)
                writer = stack.enter_context(VideoWriter(annotate, out_fps))
                delay = 0.0
                if self.collector is not None and self.collector.spotter is not None:
                    cfg = self.collector.spotter.cfg
                    delay = cfg.window + cfg.micro_max + 0.1
                self.annotated = AnnotatedVideoWriter(writer, delay=delay)
        except BaseException:
            stack.close()
            raise

    def add(self, result, rgb=None) -> None:
        for s in self.sinks:
            (s.add if hasattr(s, "add") else s.write)(result)
        if self.collector is not None:
            new_events = self.collector.add(result, rgb)
            if self.annotated is not None and new_events:
                self.annotated.add_events(new_events)
        if self.annotated is not None:
            self.annotated.add(rgb, result)
        self.run.frames += 1
        self.run.faces += len(result.faces)

    def finish(self) -> VideoRun:
        """The per-video analysis, the annotated copy's last frames; the files are moved into place on leaving
        the ``with``."""
        self.run.analysis = self.collector.finish() if self.collector is not None else None
        if self.annotated is not None:
            self.annotated.close(self.run.analysis.events or () if self.run.analysis is not None else ())
        return self.run

    def abort(self) -> None:
        self._stack.__exit__(RuntimeError, RuntimeError("aborted"), None)

    def __enter__(self) -> "VideoOutputs":
        return self

    def __exit__(self, *exc) -> None:
        self._stack.__exit__(*exc)


def _write_video_analysis(analysis, name: str, out: Path | None, *, timeline: Path | None, report: Path | None,
                          window: float, say: Callable[[str], None] | None = None) -> None:
    from mimetic.video.analysis import events_frame, write_timeline

    say = say or (lambda _text: None)

    if timeline is not None:
        write_timeline(analysis, timeline, window=window)
        say(f"timeline: {timeline}")
    if analysis.events is not None and out is not None:
        from mimetic.table import write_table

        write_table(events_frame(analysis.events), out / f"{name}.events.csv")
    if report is not None:
        from mimetic.video.report import write_report

        write_report(analysis, report, window=window)
        say(f"report: {report}")
    stats = analysis.stats()
    line = f"{stats['tracks']} face track{'s' * (stats['tracks'] != 1)}, {stats['changes']} expression change" \
           f"{'s' * (stats['changes'] != 1)}"
    if analysis.events is not None:
        line += f", {stats['micro']} micro- and {stats['macro']} macro-expression event" \
                f"{'s' * (stats['macro'] != 1)}"
        for e in analysis.events[:20]:
            say(f"  {e.kind:5s} track {e.track_id}: {e.onset:7.2f}-{e.offset:7.2f} s (frames {e.onset_frame}-"
                f"{e.offset_frame}, apex {e.apex_frame}) {'+'.join(e.regions)} {'+'.join(e.aus)}")
        if len(analysis.events) > 20:
            say(f"  ... {len(analysis.events) - 20} more")
    say(line)



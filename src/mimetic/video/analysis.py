"""One video, analysed over time: the timeline, its segments and change log, spotted events, and the writers.

:class:`VideoCollector` is what a streaming loop feeds (``add(result, rgb)`` per analysed frame; constant memory
apart from the small per-frame numbers of the timeline); :meth:`VideoCollector.finish` returns a
:class:`VideoAnalysis`. :func:`analyze_video` runs the whole thing on a file.

Outputs of :func:`write_timeline` for ``out.csv`` (or ``out.parquet``):

- ``out.csv``: per frame and track (:meth:`Timeline.to_frame`);
- ``out.windows.csv``: per ``window`` seconds and track (:meth:`Timeline.windows`);
- ``out.changes.csv``: the expression segments / change log (:func:`segments_frame`);
- ``out.events.csv``: spotted events, when spotting ran.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from mimetic.video.segments import Segment, change_log, expression_stats, segments_frame
from mimetic.video.timeline import SMOOTHING, Timeline, TimelineBuilder

__all__ = ["VideoAnalysis", "VideoCollector", "analyze_video", "events_frame", "write_timeline"]


@dataclass
class VideoAnalysis:
    """Everything known about one video after it streamed through the analyser."""

    source: str
    timeline: Timeline
    events: list[Any] | None = None  # spotting Events, None when spotting did not run
    traces: dict[Any, np.ndarray] = field(default_factory=dict)
    thumbnails: dict[tuple[Any, int], dict[str, np.ndarray]] = field(default_factory=dict)
    width: int = 0
    height: int = 0
    elapsed: float = 0.0  # seconds the analysis took
    _segments: list[Segment] | None = None

    @property
    def segments(self) -> list[Segment]:
        if self._segments is None:
            self._segments = self.timeline.segments()
        return self._segments

    def change_log(self):
        return change_log(self.segments, max_gap=self.timeline.max_gap)

    def stats(self) -> dict[str, Any]:
        return expression_stats(self.timeline, self.segments, self.events)


class VideoCollector:
    """Feed every analysed frame; ``finish()`` gives the :class:`VideoAnalysis`.

    ``spot``: also run the micro-expression spotter (``spot_config``: a :class:`SpotConfig`). ``smoothing``:
    seconds of the timeline's moving average. ``keep_crops``: keep representative face crops (for reports).
    ``recognize``: give each spotted micro-expression its class (negative / positive / surprise) with the shipped
    recogniser (``micro_model``: another ONNX file); skipped when no model is shipped.
    """

    def __init__(self, source: str = "", *, spot: bool = False, spot_config=None, smoothing: float = SMOOTHING,
                 min_segment: float = 0.5, keep_crops: bool = True, recognize: bool = True, micro_model=None):
        self.source = source
        self.builder = TimelineBuilder(source=source, smoothing=smoothing, min_segment=min_segment,
                                       keep_crops=keep_crops)
        self.spotter = None
        if spot:
            from mimetic.video.spotting import Spotter

            recognizer = _micro_recognizer(micro_model) if recognize else None
            self.spotter = (Spotter(spot_config, recognizer=recognizer) if spot_config is not None
                            else Spotter(thumbnails=keep_crops, recognizer=recognizer))
        self.width = self.height = 0
        self._t0 = None

    def add(self, result, rgb: np.ndarray | None = None) -> list[Any]:
        """Add one frame's result (and its RGB image). Returns spotted events that became final."""
        import time

        if self._t0 is None:
            self._t0 = time.perf_counter()
        self.width, self.height = result.width, result.height
        self.builder.add(result, rgb)
        if self.spotter is not None:
            return self.spotter.push(result, rgb)
        return []

    def finish(self) -> VideoAnalysis:
        import time

        events = traces = thumbs = None
        if self.spotter is not None:
            events = self.spotter.finish()
            traces = self.spotter.traces()
            thumbs = self.spotter.thumbnails
        return VideoAnalysis(self.source, self.builder.finish(), events, traces or {}, thumbs or {}, self.width,
                             self.height, time.perf_counter() - self._t0 if self._t0 else 0.0)


def _micro_recognizer(path=None):
    """The micro-expression recogniser, or None when no model is shipped (or it cannot be loaded: a warning)."""
    from mimetic.video.recognition.runtime import MicroRecognizer, available

    if not available(path):
        return None
    try:
        return MicroRecognizer(path)
    except Exception as e:  # a broken model file must not stop the analysis
        import warnings

        warnings.warn(f"micro-expression model could not be loaded ({e}); events get no class", stacklevel=3)
        return None


def analyze_video(analyzer, path: str | os.PathLike, *, fps: float | None = None, stride: int = 1,
                  start: float = 0.0, end: float | None = None, spot: bool = True, spot_config=None,
                  smoothing: float = SMOOTHING, keep_crops: bool = True, progress=None,
                  cancel=None) -> VideoAnalysis:
    """Stream ``path`` through ``analyzer`` (a :class:`mimetic.Analyzer`) into a :class:`VideoAnalysis`.
    ``progress`` and ``cancel``: as in :meth:`mimetic.Analyzer.analyze_video`."""
    col = VideoCollector(str(path), spot=spot, spot_config=spot_config, smoothing=smoothing, keep_crops=keep_crops)
    for result, rgb in analyzer.analyze_video(path, fps=fps, stride=stride, start=start, end=end, pixels=True,
                                              progress=progress, cancel=cancel):
        col.add(result, rgb)
    return col.finish()


def events_frame(events) -> Any:
    """Spotted events as a table (one row per event; see :class:`mimetic.video.spotting.Event`)."""
    import pandas as pd

    cols = ["track_id", "onset_frame", "apex_frame", "offset_frame", "onset", "apex", "offset", "duration", "kind",
            "score", "motion", "regions", "aus", "label"]
    rows = []
    for e in events or []:
        d = e.to_dict()
        d["regions"] = "+".join(d["regions"])
        d["aus"] = "+".join(d["aus"])
        for name, p in d.pop("probabilities").items():
            d[f"p_{name}"] = p
            if f"p_{name}" not in cols:
                cols.append(f"p_{name}")
        rows.append(d)
    cols.append("label_note")
    df = pd.DataFrame(rows, columns=cols)
    df["track_id"] = df["track_id"].astype("Int64")
    return df


def sibling(path: Path, tag: str) -> Path:
    """``out.csv`` + ``windows`` -> ``out.windows.csv``."""
    return path.with_name(f"{path.stem}.{tag}{path.suffix}")


def write_timeline(analysis: VideoAnalysis, path: str | os.PathLike, *, window: float = 1.0) -> list[Path]:
    """Write the per-frame timeline to ``path`` (.csv or .parquet) and its siblings (module docstring)."""
    from mimetic.table import write_table

    path = Path(path)
    if path.suffix.lower() not in (".csv", ".parquet"):
        raise ValueError(f"{path}: the timeline must be a .csv or .parquet file")
    path.parent.mkdir(parents=True, exist_ok=True)
    tl = analysis.timeline
    written = [write_table(tl.to_frame(analysis.events or (), analysis.segments), path)]
    written.append(write_table(tl.windows(window), sibling(path, "windows")))
    written.append(write_table(segments_frame(analysis.segments), sibling(path, "changes")))
    if analysis.events is not None:
        written.append(write_table(events_frame(analysis.events), sibling(path, "events")))
    return written

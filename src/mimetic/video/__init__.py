"""Video over time: per-track timelines, expression segments and the change log, micro-expression spotting,
MEGC-style evaluation, a micro-expression recogniser (``mimetic.video.recognition``, needs torch to train) and the
HTML report.

Typical use (streaming, constant memory)::

    from mimetic import Analyzer
    from mimetic.video import TimelineBuilder, Spotter

    builder, spotter = TimelineBuilder(), Spotter()
    with Analyzer() as a, a.live(source="clip.mp4") as session:
        for frame in iter_frames("clip.mp4"):
            result = session.push(frame.image, timestamp=frame.timestamp, frame_index=frame.index)
            builder.add(result)
            spotter.push(result, frame.image)
    timeline = builder.finish()
    events = spotter.finish()
    segments = timeline.segments()

``mimetic.video.analysis.analyze_video(analyzer, path, spot=True)`` does the same in one call (see docs/video.md).
"""

from __future__ import annotations

import importlib

_EXPORTS = {
    "Change": "segments", "Segment": "segments", "change_log": "segments", "expression_stats": "segments",
    "segment_track": "segments", "Event": "spotting", "SpotConfig": "spotting", "Spotter": "spotting",
    "spot_from_table": "spotting", "Timeline": "timeline", "TimelineBuilder": "timeline",
    "TrackTimeline": "timeline", "VideoAnalysis": "analysis", "VideoCollector": "analysis",
    "analyze_video": "analysis",
}  # fmt: skip

__all__ = sorted(_EXPORTS)


def __getattr__(name: str):  # lazy: importing mimetic.video stays cheap (no OpenCV, no pandas)
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'mimetic.video' has no attribute {name!r}")
    return getattr(importlib.import_module(f"mimetic.video.{module}"), name)

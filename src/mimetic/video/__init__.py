"""Video over time: per-track timelines, expression segments and the change log, micro-expression spotting,
MEGC-style evaluation, a micro-expression recogniser (``mimetic.video.recognition``, needs torch to train) and the
HTML report.

Typical use (streaming, constant memory)::

    from mimetic import Analyzer
    from mimetic.video import analyze_video

    with Analyzer() as a:
        video = analyze_video(a, "clip.mp4", spot=True)   # a VideoAnalysis: the one per-video result
    video.segments, video.change_log(), video.stats(), video.events

It feeds :class:`VideoCollector` from :meth:`mimetic.Analyzer.analyze_video` (the one decode loop;
``pixels=True`` yields each frame's RGB array too, for the spotter's optical flow and the report's crops). To do
something of your own per frame, consume the same stream::

    collector = VideoCollector("clip.mp4", spot=True)
    for result, rgb in a.analyze_video("clip.mp4", pixels=True):
        collector.add(result, rgb)
        ...                                                # your per-frame work
    video = collector.finish()

See docs/video.md.
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

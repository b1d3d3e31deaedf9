"""Expression segments, the change log and summary statistics.

A **segment** is a stretch of contiguous frames of one track with the same smoothed expression label. It is built
in three steps (docs/video.md):

1. smooth the scores (:meth:`TrackTimeline.smoothed`) and label each frame by the argmax;
2. split at gaps (the face absent for more than ``max_gap`` seconds) and at every label change;
3. merge segments shorter than ``min_duration`` seconds (default 0.5 s) into a neighbour, shortest first: into
   the neighbour whose label scores higher, on average, over the short segment's frames (when both neighbours
   carry the same label the three become one). Brief flickers of the label are thus not reported as changes;
   brief *movements* are the spotter's business (:mod:`mimetic.video.spotting`);
4. label each merged segment with the most frequent smoothed label of its frames (ties: the higher mean smoothed
   score), so a segment never carries the label of a short run it swallowed, and join neighbours that end up
   with the same label. The change log, the time shares and the per-frame chart therefore agree.

A segment runs from the timestamp of its first frame to that of its last frame plus one frame interval, so
consecutive segments tile the time line and durations add up to the time the face was seen.

The **change log** lists every segment of a track in order as (start time, label, duration, previous label).
**Statistics** (:func:`expression_stats`): number of changes (consecutive segments of a track with different
labels), time share per expression (of the time the face was seen), and number and rate of micro- and
macro-expression events when spotting ran.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    import pandas as pd

    from mimetic.video.timeline import Timeline, TrackTimeline

__all__ = ["Change", "Segment", "change_log", "expression_stats", "segment_track", "segments_frame"]


@dataclass(frozen=True)
class Segment:
    """Contiguous frames of one track with one expression label. Times in seconds, frames inclusive."""

    track_id: Any
    label: str
    start_frame: int
    end_frame: int
    start: float
    end: float  # timestamp of the last frame + one frame interval
    mean_score: float  # mean smoothed score of ``label`` over the segment
    peak_score: float
    peak_frame: int

    @property
    def duration(self) -> float:
        return self.end - self.start

    def to_dict(self) -> dict[str, Any]:
        return {"track_id": self.track_id, "label": self.label, "start_frame": self.start_frame,
                "end_frame": self.end_frame, "start": round(self.start, 4), "end": round(self.end, 4),
                "duration": round(self.duration, 4), "mean_score": round(self.mean_score, 4),
                "peak_score": round(self.peak_score, 4), "peak_frame": self.peak_frame}


@dataclass(frozen=True)
class Change:
    """One entry of the change log: from ``time`` on, the track shows ``label`` for ``duration`` seconds."""

    track_id: Any
    time: float
    label: str
    duration: float
    frame: int
    previous: str  # the label before ("" for the first segment or after the face was absent)

    def to_dict(self) -> dict[str, Any]:
        return {"track_id": self.track_id, "time": round(self.time, 4), "label": self.label,
                "duration": round(self.duration, 4), "frame": self.frame, "previous": self.previous}


def _runs_of_labels(labels: np.ndarray, a: int, b: int) -> list[list[int]]:
    """[[start, stop, ...]] index ranges of equal labels within [a, b)."""
    out = []
    s = a
    for i in range(a + 1, b + 1):
        if i == b or labels[i] != labels[s]:
            out.append([s, i])
            s = i
    return out


def _plurality(labels: np.ndarray, scores: np.ndarray, cls_index: dict[str, int]) -> str:
    """The most frequent label of a merged segment's frames (ties: the higher mean smoothed score)."""
    names, counts = np.unique(labels[labels != ""], return_counts=True)
    best = counts.max()
    tied = [str(n) for n, c in zip(names, counts) if c == best]
    return max(tied, key=lambda n: float(scores[:, cls_index[n]].mean()))


def segment_track(track: TrackTimeline, *, smoothing: float = 0.5, min_duration: float = 0.5,
                  max_gap: float = 0.5) -> list[Segment]:
    """The expression segments of one track (see the module docstring)."""
    if not len(track) or not track.classes:
        return []
    sm = track.smoothed(smoothing, max_gap)
    labels = sm.labels()
    scores = np.nan_to_num(sm.scores, nan=0.0)
    times, dt = track.times, track.dt
    cls_index = {c: i for i, c in enumerate(track.classes)}
    out: list[Segment] = []
    for a, b in track.runs(max_gap):
        # [start, stop, label]: a merged segment takes the label of the neighbour it joins, never its own
        segs = [[s0, s1, labels[s0]] for s0, s1 in _runs_of_labels(labels, a, b) if labels[s0] != ""]
        if not segs:
            continue

        def dur(s):
            return times[s[1] - 1] - times[s[0]] + dt

        while len(segs) > 1:
            k = min(range(len(segs)), key=lambda i: dur(segs[i]))
            if dur(segs[k]) >= min_duration:
                break
            s = segs[k]
            prev = segs[k - 1] if k > 0 else None
            nxt = segs[k + 1] if k + 1 < len(segs) else None
            if prev is not None and nxt is not None and prev[2] == nxt[2]:
                segs[k - 1:k + 2] = [[prev[0], nxt[1], prev[2]]]
                continue

            def support(n):
                return float(scores[s[0]:s[1], cls_index[n[2]]].mean()) if n is not None else -1.0
            if support(prev) >= support(nxt):
                segs[k - 1:k + 1] = [[prev[0], s[1], prev[2]]]
            else:
                segs[k:k + 2] = [[s[0], nxt[1], nxt[2]]]
        for s0, s1, _ in segs:
            lab = _plurality(labels[s0:s1], scores[s0:s1], cls_index)
            col = scores[s0:s1, cls_index[lab]]
            j = int(np.argmax(col))
            # a segment ends where the next one of the same run starts (they tile the run), the last one a frame
            # interval after its last frame
            end = float(times[s1]) if s1 < b else float(times[s1 - 1] + dt)
            out.append(Segment(track.track_id, str(lab), int(track.frames[s0]), int(track.frames[s1 - 1]),
                               float(times[s0]), end, float(col.mean()), float(col[j]),
                               int(track.frames[s0 + j])))
    # relabelled merges can leave neighbours with equal labels: join them (only within a run)
    merged: list[Segment] = []
    for s in out:
        p = merged[-1] if merged else None
        if p is not None and p.label == s.label and abs(s.start - p.end) < 1e-6:
            n1 = p.end_frame - p.start_frame + 1
            n2 = s.end_frame - s.start_frame + 1
            merged[-1] = Segment(p.track_id, p.label, p.start_frame, s.end_frame, p.start, s.end,
                                 (p.mean_score * n1 + s.mean_score * n2) / (n1 + n2), max(p.peak_score, s.peak_score),
                                 p.peak_frame if p.peak_score >= s.peak_score else s.peak_frame)
        else:
            merged.append(s)
    return merged


def change_log(segments: Iterable[Segment], *, max_gap: float = 0.5) -> list[Change]:
    """The change log: each segment as a :class:`Change`, in time order per track."""
    out = []
    last: dict[Any, Segment] = {}
    for s in sorted(segments, key=lambda s: (str(s.track_id), s.start)):
        p = last.get(s.track_id)
        prev = p.label if p is not None and s.start - p.end <= max_gap + 1e-6 else ""
        out.append(Change(s.track_id, s.start, s.label, s.duration, s.start_frame, prev))
        last[s.track_id] = s
    return sorted(out, key=lambda c: (c.time, str(c.track_id)))


def expression_stats(timeline: Timeline, segments: Sequence[Segment] | None = None,
                     events: Sequence[Any] | None = None) -> dict[str, Any]:
    """Statistics of a video: overall and per track.

    ``{"duration": s, "frames": n, "fps": f, "tracks": n, "frames_with_face": n, "per_track": {id: {...}}}``
    where each track has ``seconds`` (time seen), ``changes`` (label changes between consecutive segments),
    ``segments``, ``time_share`` {label: fraction of ``seconds``}, ``dominant`` (largest share),
    ``micro``/``macro`` (event counts; ``None`` when spotting did not run) and ``micro_per_minute``. Overall also
    ``micro_share`` (micro events / all events) and ``micro_classes`` ({class: micro events recognised as it, plus
    ``"unclassified"``}; empty when no recogniser ran).
    """
    segs = timeline.segments() if segments is None else list(segments)
    per = {}
    for k in timeline.track_ids():
        tr = timeline.tracks[k]
        ts = sorted([s for s in segs if s.track_id == k], key=lambda s: s.start)
        seen = tr.present_seconds
        share: dict[str, float] = {c: 0.0 for c in timeline.classes}
        for s in ts:
            share[s.label] = share.get(s.label, 0.0) + s.duration
        total = sum(share.values()) or 1.0
        share = {c: v / total for c, v in share.items()}
        changes = sum(1 for a, b in zip(ts, ts[1:]) if a.label != b.label)
        d: dict[str, Any] = {"seconds": round(seen, 3), "frames": len(tr), "segments": len(ts), "changes": changes,
                             "time_share": {c: round(v, 4) for c, v in share.items()},
                             "dominant": max(share, key=share.get) if ts else None,
                             "micro": None, "macro": None, "micro_per_minute": None}
        if events is not None:
            mine = [e for e in events if e.track_id == k]
            d["micro"] = sum(e.kind == "micro" for e in mine)
            d["macro"] = sum(e.kind == "macro" for e in mine)
            d["micro_per_minute"] = round(d["micro"] / (seen / 60.0), 3) if seen > 0 else 0.0
        per[k] = d
    return {"source": timeline.source, "duration": round(timeline.duration, 3), "frames": int(len(timeline.frames)),
            "fps": round(timeline.fps, 3), "frames_with_face": int((timeline.faces_per_frame > 0).sum()),
            "tracks": len(timeline.tracks), "changes": sum(p["changes"] for p in per.values()),
            "micro": None if events is None else sum(e.kind == "micro" for e in events),
            "macro": None if events is None else sum(e.kind == "macro" for e in events),
            "micro_share": None if events is None else (
                round(sum(e.kind == "micro" for e in events) / len(events), 4) if events else 0.0),
            "micro_classes": _micro_classes(events),
            "per_track": per}


def _micro_classes(events: Sequence[Any] | None) -> dict[str, int]:
    """{class: count} of the micro events a recogniser labelled (and ``unclassified``); {} when none ran."""
    micro = [e for e in events or () if e.kind == "micro"]
    if not any(getattr(e, "label", None) or getattr(e, "label_note", "") for e in micro):
        return {}
    out: dict[str, int] = {}
    for e in micro:
        for name, _ in getattr(e, "probabilities", ()) or ():
            out.setdefault(name, 0)
    for e in micro:
        key = e.label or "unclassified"
        out[key] = out.get(key, 0) + 1
    return out


def segments_frame(segments: Iterable[Segment]) -> pd.DataFrame:
    """Segments (the change log with end times and scores) as a table."""
    import pandas as pd

    rows = [s.to_dict() for s in segments]
    cols = ["track_id", "label", "start_frame", "end_frame", "start", "end", "duration", "mean_score", "peak_score",
            "peak_frame"]
    df = pd.DataFrame(rows, columns=cols)
    df["track_id"] = df["track_id"].astype("Int64")
    return df

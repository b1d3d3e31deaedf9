"""The video page's view of one analysed video: built from the job's in-memory
:class:`~mimetic.video.analysis.VideoAnalysis`, never from a table re-read from disk.

Every number here comes from the same analysis the HTML report and the CSV files are written from, so the page, the
report and ``changes.csv`` agree by construction:

- the chart follows the **main track** (the face seen in the most frames) with the smoothed scores, AU intensities,
  pose and labels of :meth:`Timeline.to_frame <mimetic.video.timeline.Timeline.to_frame>`, thinned to at most
  ``max_points`` samples so a browser can draw it at once;
- the change log is :meth:`VideoAnalysis.change_log` (every track, at most ``MAX_ROWS`` rows; ``changes.csv`` has
  all) and the events are the spotter's (:meth:`Event.to_dict <mimetic.video.spotting.Event.to_dict>`);
- the statistics are :meth:`VideoAnalysis.stats` (:func:`mimetic.video.segments.expression_stats`): the time share
  and dominant expression are the main track's, from its segments, as in the report; ``changes`` counts every
  track's changes, as the report's summary does.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from mimetic.columns import AU_INTENSITY, EXPRESSION_SCORES, HEAD_ANGLES

MAX_POINTS = 2000
#: at most this many change-log rows and events go into the timeline JSON (the CSV files have all of them)
MAX_ROWS = 1000


def _clean(values, digits: int = 3) -> list[float | None]:
    out: list[float | None] = []
    for v in values:
        try:
            f = float(v)
        except (TypeError, ValueError):
            out.append(None)
            continue
        out.append(round(f, digits) if math.isfinite(f) else None)
    return out


def _num(v, digits: int = 4) -> float | None:
    return _clean([v], digits)[0]


def _track(track_id) -> int | None:
    return None if track_id is None else int(track_id)


def page_data(analysis, *, max_points: int = MAX_POINTS) -> tuple[dict[str, Any], dict[str, Any]]:
    """(timeline, stats) of ``analysis`` for the video page and the job's database row (see the module docstring)."""
    tl = analysis.timeline
    segments = analysis.segments
    stats = analysis.stats()
    ids = tl.track_ids()
    main = ids[0] if ids else None
    table = tl.to_frame(analysis.events or (), segments)
    # the main track's rows (with ``success = 0`` where it is absent), or one empty row per frame without a face
    rows = table[(table["track_id"] == main).fillna(False)] if main is not None else table
    step = max(1, math.ceil(len(rows) / max_points)) if len(rows) else 1
    thin = rows.iloc[::step]
    scores = EXPRESSION_SCORES.find(rows.columns)  # {class: column}, from the table schema (mimetic.columns)
    classes = [c for c in tl.classes if c in scores]
    au_cols = AU_INTENSITY.find(rows.columns)
    pose_cols = HEAD_ANGLES.find(rows.columns)
    timeline: dict[str, Any] = {
        "step": step,
        "track": _track(main),
        "t": _clean(thin["timestamp"], 4),
        "frame": [int(f) for f in thin["frame"]],
        "face": [bool(v) for v in thin["success"]],
        "expression": {
            "classes": classes,
            "scores": {c: _clean(thin[scores[c]]) for c in classes},
            "label": [v or None for v in thin["expression"]],
        },
        "aus": {a: _clean(thin[col], 2) for a, col in au_cols.items()},
        "pose": {p: _clean(thin[col], 1) for p, col in pose_cols.items()},
        "changes": change_rows(analysis)[:MAX_ROWS],
        "events": None if analysis.events is None else [_event(e) for e in analysis.events[:MAX_ROWS]],
    }
    n = stats["frames"]
    page: dict[str, Any] = {
        "frames": n,
        "frames_with_face": stats["frames_with_face"],
        "face_rate": round(stats["frames_with_face"] / n, 4) if n else 0.0,
        "max_faces": int(tl.faces_per_frame.max()) if len(tl.faces_per_frame) else 0,
        "duration_s": stats["duration"],
        "tracks": stats["tracks"],
        "segments": len(segments),
        "changes": stats["changes"],
    }
    if analysis.events is not None:
        page["events"] = {"micro": stats["micro"], "macro": stats["macro"], "micro_share": stats["micro_share"],
                          "micro_classes": stats["micro_classes"]}
    if main is not None:
        mine = stats["per_track"][main]
        share = {k: v for k, v in sorted(mine["time_share"].items(), key=lambda kv: -kv[1]) if v > 0}
        page["expression_share"] = share
        page["dominant_expression"] = mine["dominant"]
        present = rows[rows["success"] == 1]
        page["expression_mean"] = {c: _num(present[scores[c]].mean()) for c in classes}
        tr = tl.tracks[main]
        if tr.au_names and len(tr):
            page["aus"] = {a: {"mean": _num(np.nanmean(tr.aus[:, j]), 3), "max": _num(np.nanmax(tr.aus[:, j]), 3),
                               "present_share": _num(np.mean(tr.aus[:, j] >= 1.0), 4)}
                           for j, a in enumerate(tr.au_names)}
        if len(tr):
            page["pose"] = {p: {"mean": _num(tr.pose[:, j].mean(), 2), "sd": _num(tr.pose[:, j].std(), 2)}
                            for j, p in enumerate(HEAD_ANGLES.keys)}
    return timeline, page


def change_rows(analysis) -> list[dict[str, Any]]:
    """The change log with end times and frames, in time order: per segment the track, label, start/end/duration
    (seconds), start/end frame, mean score and the label before (``None`` at a track's start or after the face
    was absent)."""
    ends = {(s.track_id, s.start_frame): s for s in analysis.segments}
    out = []
    for c in analysis.change_log():
        s = ends[(c.track_id, c.frame)]
        out.append({"track": _track(c.track_id), "label": c.label, "start": _num(c.time), "end": _num(s.end),
                    "duration": _num(c.duration), "start_frame": c.frame, "end_frame": s.end_frame,
                    "mean_score": _num(s.mean_score, 3), "previous": c.previous or None})
    return out


def _event(e) -> dict[str, Any]:
    d = e.to_dict()
    return {"kind": d["kind"], "track": _track(d["track_id"]), "onset": d["onset"], "apex": d["apex"],
            "offset": d["offset"], "duration": d["duration"], "onset_frame": d["onset_frame"],
            "apex_frame": d["apex_frame"], "offset_frame": d["offset_frame"], "regions": d["regions"],
            "aus": d["aus"], "score": d["score"], "label": d.get("label"),
            "probabilities": d.get("probabilities") or {}, "label_note": d.get("label_note", "")}

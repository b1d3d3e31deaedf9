"""A finished video job's timeline and statistics, read back from its per-frame table (``frames.csv``).

The timeline follows the main face of each frame (``face_id`` 0, the most confident) and is thinned to at most
``max_points`` samples so a browser can draw it at once; the full data stays in the CSV / JSON lines. Columns that
a table lacks (an older AU set, no expression yet) are simply left out, never an error.

With the video module's change log and spotted events (``changes.csv``, ``events.csv``, see
:mod:`mimetic.video.analysis`), the timeline also carries ``changes`` and ``events`` as lists (every track, at most
``MAX_ROWS`` each) and the statistics their counts, so the page needs no CSV parsing.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from mimetic.types import EXPRESSIONS

MAX_POINTS = 2000
#: at most this many change-log rows and events go into the timeline JSON (the CSV files have all of them)
MAX_ROWS = 1000
#: AUs whose share of frames "present" is reported (all AUs in the table are in the timeline)
POSE = ("pose_yaw", "pose_pitch", "pose_roll")


def _clean(values, digits: int = 3) -> list[float | None]:
    out = []
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


def _int(v) -> int | None:
    f = _num(v, 0)
    return None if f is None else int(f)


def _parts(v) -> list[str]:
    return [p for p in str(v).split("+") if p] if isinstance(v, str) else []


def read_changes(path: Path, *, max_rows: int = MAX_ROWS) -> list[dict[str, Any]]:
    """The change log from the video module's segments table (``changes.csv``): per segment, in time order, the
    track, label, start/end/duration (seconds), start/end frame, mean score and the label before (``None`` at a
    track's start or after the face was absent; segments of a run tile it, so "before" is the segment ending
    where this one starts)."""
    import pandas as pd

    df = pd.read_csv(path)
    if df.empty:
        return []
    df = df.sort_values(["start", "track_id"], kind="stable")
    out: list[dict[str, Any]] = []
    last: dict[Any, dict[str, Any]] = {}
    for r in df.itertuples(index=False):
        track = _int(r.track_id)
        start, end = _num(r.start), _num(r.end)
        prev = last.get(track)
        before = prev["label"] if prev is not None and prev["end"] is not None and start is not None \
            and abs(prev["end"] - start) < 1e-3 else None
        row = {"track": track, "label": str(r.label), "start": start, "end": end, "duration": _num(r.duration),
               "start_frame": _int(r.start_frame), "end_frame": _int(r.end_frame),
               "mean_score": _num(r.mean_score, 3), "previous": before}
        last[track] = row
        out.append(row)
    return out[:max_rows]


def read_events(path: Path, *, max_rows: int = MAX_ROWS) -> list[dict[str, Any]]:
    """Spotted micro-/macro-expressions from ``events.csv``: kind, track, onset/apex/offset in seconds and frames,
    duration, the regions that moved and the AUs that changed most, the peak score; in onset order."""
    import pandas as pd

    df = pd.read_csv(path)
    if df.empty:
        return []
    df = df.sort_values(["onset", "track_id"], kind="stable")
    return [{"kind": str(r.kind), "track": _int(r.track_id),
             "onset": _num(r.onset), "apex": _num(r.apex), "offset": _num(r.offset), "duration": _num(r.duration),
             "onset_frame": _int(r.onset_frame), "apex_frame": _int(r.apex_frame), "offset_frame": _int(r.offset_frame),
             "regions": _parts(r.regions), "aus": _parts(r.aus), "score": _num(r.score, 3)}
            for r in df.head(max_rows).itertuples(index=False)]


def build_timeline(csv_path: Path, *, max_points: int = MAX_POINTS, changes: Path | None = None,
                   events: Path | None = None) -> tuple[dict[str, Any], dict[str, Any]]:
    """(timeline, stats) for the table at ``csv_path``; ``changes`` / ``events``: the video module's change log
    and events tables, when they were written (else the timeline's lists are ``None``)."""
    timeline, stats = _build(csv_path, max_points)
    timeline["changes"] = read_changes(changes) if changes is not None and changes.is_file() else None
    timeline["events"] = read_events(events) if events is not None and events.is_file() else None
    if timeline["changes"] is not None:
        import pandas as pd

        seg = pd.read_csv(changes, usecols=["track_id", "label"])
        stats["segments"] = int(len(seg))
        stats["changes"] = int(sum((g["label"] != g["label"].shift()).sum() - 1 for _, g in seg.groupby("track_id")))
    if timeline["events"] is not None:
        import pandas as pd

        kinds = pd.read_csv(events, usecols=["kind"])["kind"]
        stats["events"] = {"micro": int((kinds == "micro").sum()), "macro": int((kinds == "macro").sum())}
    return timeline, stats


def _build(csv_path: Path, max_points: int) -> tuple[dict[str, Any], dict[str, Any]]:
    import pandas as pd

    wanted = {"frame", "timestamp", "face_id", "success", "expression", *POSE}

    def keep(col: str) -> bool:
        return col in wanted or col.startswith("expr_") or (col.startswith("AU") and col.endswith("_r"))

    df = pd.read_csv(csv_path, usecols=keep)
    if df.empty or "frame" not in df.columns:
        return {"t": [], "frame": [], "face": [], "expression": {"classes": [], "scores": {}, "label": []},
                "aus": {}, "pose": {}, "step": 1}, {"frames": 0, "frames_with_face": 0}
    frames = df.groupby("frame", sort=True)
    n_frames = frames.ngroups
    faces_per_frame = frames["success"].sum() if "success" in df.columns else frames.size()
    main = df[(df["face_id"] == 0)] if "face_id" in df.columns else df
    main = main.drop_duplicates("frame").set_index("frame")
    per_frame = df.drop_duplicates("frame").set_index("frame")[["timestamp"]].join(
        main.drop(columns=["timestamp"], errors="ignore"), how="left")
    has_face = per_frame["expression"].notna() if "expression" in per_frame.columns else \
        per_frame.get("face_id", pd.Series(index=per_frame.index, dtype=float)).notna()
    step = max(1, math.ceil(len(per_frame) / max_points))
    thin = per_frame.iloc[::step]

    classes = [c for c in EXPRESSIONS if f"expr_{c}" in per_frame.columns]
    au_cols = sorted((c for c in per_frame.columns if c.startswith("AU") and c.endswith("_r")),
                     key=lambda c: int("".join(ch for ch in c[2:] if ch.isdigit()) or 0))
    timeline = {
        "step": step,
        "t": _clean(thin["timestamp"], 4),
        "frame": [int(i) for i in thin.index],
        "face": [bool(v) for v in has_face.iloc[::step]],
        "expression": {
            "classes": classes,
            "scores": {c: _clean(thin[f"expr_{c}"]) for c in classes},
            "label": [v if isinstance(v, str) else None for v in thin["expression"]] if "expression" in thin else [],
        },
        "aus": {c[:-2]: _clean(thin[c], 2) for c in au_cols},
        "pose": {c[5:]: _clean(thin[c], 1) for c in POSE if c in thin.columns},
    }

    with_face = per_frame[has_face]
    ts = per_frame["timestamp"].dropna()
    stats: dict[str, Any] = {
        "frames": int(n_frames),
        "frames_with_face": int(has_face.sum()),
        "face_rate": round(float(has_face.mean()), 4) if n_frames else 0.0,
        "max_faces": int(faces_per_frame.max()) if n_frames else 0,
        "duration_s": round(float(ts.max() - ts.min()), 3) if len(ts) > 1 else 0.0,
    }
    if "expression" in with_face.columns and len(with_face):
        share = with_face["expression"].value_counts(normalize=True)
        stats["expression_share"] = {str(k): round(float(v), 4) for k, v in share.items()}
        stats["dominant_expression"] = str(share.index[0])
        stats["expression_mean"] = {c: round(float(with_face[f"expr_{c}"].mean()), 4) for c in classes}
    if au_cols and len(with_face):
        stats["aus"] = {
            c[:-2]: {"mean": round(float(with_face[c].mean()), 3), "max": round(float(with_face[c].max()), 3),
                     "present_share": round(float((with_face[c] >= 1.0).mean()), 4)}
            for c in au_cols
        }
    if len(with_face):
        stats["pose"] = {c[5:]: {"mean": round(float(with_face[c].mean()), 2), "sd": round(float(with_face[c].std(ddof=0)), 2)}
                         for c in POSE if c in with_face.columns}
    return timeline, stats

"""A finished video job's timeline and statistics, read back from its per-frame table (``frames.csv``).

The timeline follows the main face of each frame (``face_id`` 0, the most confident) and is thinned to at most
``max_points`` samples so a browser can draw it at once; the full data stays in the CSV / JSON lines. Columns that
a table lacks (an older AU set, no expression yet) are simply left out, never an error.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from mimetic.types import EXPRESSIONS

MAX_POINTS = 2000
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


def build_timeline(csv_path: Path, *, max_points: int = MAX_POINTS) -> tuple[dict[str, Any], dict[str, Any]]:
    """(timeline, stats) for the table at ``csv_path``."""
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

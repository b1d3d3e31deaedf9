"""Plots of a video's timeline as PNG bytes (matplotlib, Agg backend; imported only here).

Every function returns the PNG file's bytes, so the same picture goes into the HTML report (base64) and to disk.

- :func:`expression_plot`: a track's smoothed expression scores over time, the segments as a coloured band, gaps
  shaded, spotted events marked (micro in red, macro in orange);
- :func:`au_plot`: a heat map of the smoothed AU intensities (FACS 0-5) over time;
- :func:`pose_plot`: yaw, pitch and roll over time;
- :func:`spotting_plot`: the spotter's score (1 = detection threshold) and the events;
- :func:`share_plot`: time share per expression, one bar per track.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from typing import Any

import numpy as np

#: One colour per expression class (the 8 classes of the output contract); other labels get grey.
COLORS = {
    "neutral": "#9e9e9e", "happiness": "#f2b705", "surprise": "#2a9df4", "sadness": "#3f51b5",
    "anger": "#d32f2f", "disgust": "#689f38", "fear": "#8e24aa", "contempt": "#ff7043",
}  # fmt: skip
EVENT_COLORS = {"micro": "#e53935", "macro": "#fb8c00"}


def _plt():
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    return plt


def _png(fig) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100, bbox_inches="tight")
    _plt().close(fig)
    return buf.getvalue()


def color(label: str) -> str:
    return COLORS.get(label, "#607d8b")


def _shade_gaps(ax, track, t0: float, t1: float) -> None:
    runs = track.runs()
    edges = [t0] + [x for a, b in runs for x in (track.times[a], track.times[b - 1] + track.dt)] + [t1]
    for a, b in zip(edges[0::2], edges[1::2]):
        if b - a > 1e-9:
            ax.axvspan(a, b, color="#eeeeee", zorder=0, lw=0)


def _events(ax, events: Sequence[Any], track_id) -> None:
    for e in events:
        if e.track_id == track_id:
            ax.axvspan(e.onset, e.offset + 1e-3, color=EVENT_COLORS.get(e.kind, "k"), alpha=0.25, lw=0, zorder=1)
            ax.axvline(e.apex, color=EVENT_COLORS.get(e.kind, "k"), lw=0.8, zorder=2)


def expression_plot(timeline, track_id, segments: Sequence[Any] = (), events: Sequence[Any] = (),
                    width: float = 11.0) -> bytes:
    plt = _plt()
    tr = timeline.tracks[track_id]
    sm = tr.smoothed(timeline.smoothing, timeline.max_gap)
    t0 = float(timeline.times[0]) if len(timeline.times) else 0.0
    t1 = t0 + timeline.duration
    fig, (band, ax) = plt.subplots(2, 1, figsize=(width, 3.6), sharex=True,
                                   gridspec_kw={"height_ratios": [1, 6], "hspace": 0.05})
    for s in segments:
        if s.track_id == track_id:
            band.axvspan(s.start, s.end, color=color(s.label), lw=0)
    band.set_yticks([])
    band.set_ylabel("label", rotation=0, ha="right", va="center", fontsize=8)
    _shade_gaps(ax, tr, t0, t1)
    _events(ax, events, track_id)
    for c, name in enumerate(tr.classes):
        y = np.full(len(timeline.times), np.nan)
        pos = np.searchsorted(timeline.frames, tr.frames)
        y[pos] = sm.scores[:, c]
        if np.nanmax(np.nan_to_num(y, nan=0.0)) < 0.05:
            continue
        ax.plot(timeline.times, y, color=color(name), lw=1.4, label=name)
    ax.set_ylim(-0.02, 1.02)
    ax.set_xlim(t0, t1)
    ax.set_xlabel("time (s)")
    ax.set_ylabel("probability (smoothed)")
    ax.legend(loc="upper left", ncol=4, fontsize=8, frameon=False)
    ax.grid(alpha=0.3)
    band.set_title(f"expression over time, track {track_id}", fontsize=10, loc="left")
    return _png(fig)


def au_plot(timeline, track_id, width: float = 11.0) -> bytes:
    plt = _plt()
    tr = timeline.tracks[track_id]
    sm = tr.smoothed(timeline.smoothing, timeline.max_gap)
    t0 = float(timeline.times[0]) if len(timeline.times) else 0.0
    grid = np.full((len(tr.au_names), len(timeline.times)), np.nan)
    pos = np.searchsorted(timeline.frames, tr.frames)
    if len(tr.au_names):
        grid[:, pos] = sm.aus.T
    fig, ax = plt.subplots(figsize=(width, 0.18 * max(len(tr.au_names), 4) + 1.0))
    cmap = plt.get_cmap("magma_r").with_extremes(bad="#eeeeee")
    im = ax.imshow(np.ma.masked_invalid(grid), aspect="auto", interpolation="nearest", cmap=cmap, vmin=0, vmax=5,
                   extent=(t0, t0 + timeline.duration, len(tr.au_names) - 0.5, -0.5))
    ax.set_yticks(range(len(tr.au_names)))
    ax.set_yticklabels(tr.au_names, fontsize=7)
    ax.set_xlabel("time (s)")
    ax.set_title(f"AU intensity (FACS 0-5, smoothed), track {track_id}", fontsize=10, loc="left")
    fig.colorbar(im, ax=ax, fraction=0.02, pad=0.01)
    return _png(fig)


def pose_plot(timeline, track_id, width: float = 11.0) -> bytes:
    plt = _plt()
    tr = timeline.tracks[track_id]
    sm = tr.smoothed(timeline.smoothing, timeline.max_gap)
    fig, ax = plt.subplots(figsize=(width, 2.2))
    pos = np.searchsorted(timeline.frames, tr.frames)
    for j, (name, c) in enumerate((("yaw", "#1e88e5"), ("pitch", "#43a047"), ("roll", "#e53935"))):
        y = np.full(len(timeline.times), np.nan)
        y[pos] = sm.pose[:, j]
        ax.plot(timeline.times, y, color=c, lw=1.2, label=name)
    ax.set_ylabel("degrees")
    ax.set_xlabel("time (s)")
    ax.legend(loc="upper left", ncol=3, fontsize=8, frameon=False)
    ax.grid(alpha=0.3)
    ax.set_title(f"head pose, track {track_id}", fontsize=10, loc="left")
    return _png(fig)


def spotting_plot(trace: np.ndarray, events: Sequence[Any], track_id, width: float = 11.0) -> bytes:
    """``trace``: (N, 4) frame, time, score, motion (from :meth:`Spotter.traces`)."""
    plt = _plt()
    fig, ax = plt.subplots(figsize=(width, 2.2))
    if len(trace):
        ax.plot(trace[:, 1], trace[:, 2], color="#37474f", lw=1.0, label="movement score")
    ax.axhline(1.0, color="#e53935", lw=0.8, ls="--", label="threshold")
    _events(ax, events, track_id)
    ax.set_xlabel("time (s)")
    ax.set_ylabel("score")
    ax.grid(alpha=0.3)
    ax.legend(loc="upper left", ncol=2, fontsize=8, frameon=False)
    ax.set_title(f"facial movement (spotting), track {track_id}", fontsize=10, loc="left")
    return _png(fig)


def share_plot(stats: dict[str, Any], width: float = 6.0) -> bytes:
    plt = _plt()
    per = stats.get("per_track", {})
    ids = list(per)
    fig, ax = plt.subplots(figsize=(width, 0.45 * max(len(ids), 1) + 1.0))
    for row, k in enumerate(ids):
        left = 0.0
        for label, v in per[k]["time_share"].items():
            if v > 0:
                ax.barh(row, v, left=left, color=color(label), edgecolor="white", lw=0.5,
                        label=label if row == 0 else None)
                if v > 0.08:
                    ax.text(left + v / 2, row, f"{label}\n{v:.0%}", ha="center", va="center", fontsize=7)
                left += v
    ax.set_yticks(range(len(ids)))
    ax.set_yticklabels([f"track {k}" for k in ids])
    ax.set_xlim(0, 1)
    ax.set_xlabel("share of the time the face was seen")
    ax.set_title("time share per expression", fontsize=10, loc="left")
    return _png(fig)

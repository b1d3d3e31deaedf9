"""Per-track timelines of a video: expression scores, AU intensities and head pose over time.

:class:`TimelineBuilder` collects, while a video streams, only the small numbers of each face (the 8 expression
scores, the AU intensities, yaw/pitch/roll and the box: ~40 numbers, 160 bytes per face per frame) and, per
track, a zoomed face crop of the strongest frame of each expression. :meth:`TimelineBuilder.finish` gives a
:class:`Timeline`, which smooths, segments and tabulates.

Smoothing (documented in docs/video.md): a **centred moving average over** ``smoothing`` **seconds** (default
0.5 s) of the expression scores, AU intensities and pose, computed separately on each run of frames in which the
track is present; a gap of more than ``max_gap`` seconds (default 0.5 s) ends a run, so values are never
averaged across an absence. The window is converted to frames with the track's median frame interval, so the
same setting means the same thing at 24, 30 or 200 fps; near the ends of a run the average uses the frames that
exist (it shrinks rather than padding). The smoothed label of a frame is the argmax of its smoothed scores.

Expression classes are whatever keys ``face.expression.scores`` has (the 8 of :data:`mimetic.types.EXPRESSIONS`
for the shipped models); nothing here depends on how the scores were made.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

import numpy as np

from mimetic.columns import AU_INTENSITY, EXPRESSION_SCORES, HEAD_ANGLES, WINDOWS, au_order
from mimetic.types import EXPRESSIONS

if TYPE_CHECKING:
    import pandas as pd

    from mimetic.video.segments import Segment

__all__ = ["Timeline", "TimelineBuilder", "TrackTimeline", "moving_average", "presence_runs"]

#: Default smoothing window (seconds) and the longest gap (seconds) bridged within one run.
SMOOTHING = 0.5
MAX_GAP = 0.5
#: Representative crops: side length (px) and margin around the face box (fraction of its size).
CROP_SIZE = 160
CROP_MARGIN = 0.25


class _Grow:
    """A float32 (or int64) matrix that grows by doubling: appends without per-row Python objects."""

    def __init__(self, width: int, dtype=np.float32):
        self.data = np.empty((64, width), dtype=dtype)
        self.n = 0

    def append(self, row) -> None:
        if self.n == len(self.data):
            self.data = np.concatenate([self.data, np.empty_like(self.data)])
        self.data[self.n] = row
        self.n += 1

    def array(self) -> np.ndarray:
        return self.data[: self.n].copy()


def moving_average(values: np.ndarray, width: int) -> np.ndarray:
    """Centred moving average over ``width`` rows (odd; shrinks at the ends), NaN-aware, along axis 0."""
    v = np.asarray(values, dtype=np.float64)
    if width <= 1 or len(v) < 2:
        return v.copy()
    half = width // 2
    ok = np.isfinite(v)
    z = np.where(ok, v, 0.0)
    cs = np.concatenate([np.zeros((1,) + v.shape[1:]), np.cumsum(z, axis=0)])
    cn = np.concatenate([np.zeros((1,) + v.shape[1:]), np.cumsum(ok, axis=0)])
    idx = np.arange(len(v))
    lo = np.clip(idx - half, 0, len(v))
    hi = np.clip(idx + half + 1, 0, len(v))
    s = cs[hi] - cs[lo]
    n = cn[hi] - cn[lo]
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(n > 0, s / np.maximum(n, 1), np.nan)


def presence_runs(times: np.ndarray, max_gap: float) -> list[tuple[int, int]]:
    """Index ranges ``[start, stop)`` of ``times`` with no step longer than ``max_gap`` seconds."""
    if len(times) == 0:
        return []
    breaks = np.flatnonzero(np.diff(times) > max_gap) + 1
    starts = np.concatenate([[0], breaks])
    stops = np.concatenate([breaks, [len(times)]])
    return list(zip(starts.tolist(), stops.tolist()))


@dataclass
class TrackTimeline:
    """One track's per-frame numbers (only the frames in which it was found), raw and unsmoothed."""

    track_id: int | None
    frames: np.ndarray  # (n,) int64 frame indices
    times: np.ndarray  # (n,) float64 seconds
    classes: tuple[str, ...]
    scores: np.ndarray  # (n, K) expression probabilities (NaN where a face had none)
    au_names: tuple[str, ...]
    aus: np.ndarray  # (n, A) AU intensities 0..5
    pose: np.ndarray  # (n, 3) yaw, pitch, roll (degrees)
    boxes: np.ndarray  # (n, 4) x, y, w, h (pixels)
    dt: float  # median frame interval of the video (seconds)
    representative: dict[str, dict[str, Any]] = field(default_factory=dict)  # label -> {frame, time, score, crop}

    def __len__(self) -> int:
        return len(self.frames)

    @property
    def present_seconds(self) -> float:
        """Time the track was seen: the sum of its presence runs, each counted as (last - first + one frame)."""
        return float(sum(self.times[b - 1] - self.times[a] + self.dt for a, b in self.runs()))

    def runs(self, max_gap: float = MAX_GAP) -> list[tuple[int, int]]:
        return presence_runs(self.times, max(max_gap, 1.5 * self.dt))

    def width(self, seconds: float) -> int:
        """A window of ``seconds`` in frames (odd, at least 1) at this track's frame rate."""
        if seconds <= 0 or self.dt <= 0:
            return 1
        w = int(round(seconds / self.dt))
        return max(1, w + (w % 2 == 0))

    def smoothed(self, seconds: float = SMOOTHING, max_gap: float = MAX_GAP) -> TrackTimeline:
        """A copy with scores, AUs and pose smoothed by a centred moving average (see the module docstring)."""
        w = self.width(seconds)
        if w <= 1 or len(self) < 2:
            return replace(self)
        out = {k: np.array(getattr(self, k), dtype=np.float64) for k in ("scores", "aus", "pose")}
        for a, b in self.runs(max_gap):
            for k in out:
                if out[k].shape[1]:
                    out[k][a:b] = moving_average(getattr(self, k)[a:b], w)
        return replace(self, **out)

    def labels(self) -> np.ndarray:
        """Per-frame argmax label of the (given) scores; ``""`` where there are none."""
        if not self.classes or not len(self):
            return np.array([""] * len(self), dtype=object)
        s = np.nan_to_num(self.scores, nan=-1.0)
        lab = np.array(self.classes, dtype=object)[np.argmax(s, axis=1)]
        lab[~np.isfinite(self.scores).any(axis=1)] = ""
        return lab

    def segments(self, smoothing: float = SMOOTHING, min_duration: float = 0.5,
                 max_gap: float = MAX_GAP) -> list[Segment]:
        from mimetic.video.segments import segment_track

        return segment_track(self, smoothing=smoothing, min_duration=min_duration, max_gap=max_gap)


@dataclass
class Timeline:
    """All tracks of one video, plus the times of every analysed frame (for gaps)."""

    source: str
    frames: np.ndarray  # every analysed frame index
    times: np.ndarray  # their timestamps
    faces_per_frame: np.ndarray  # number of faces in each analysed frame
    tracks: dict[Any, TrackTimeline]
    classes: tuple[str, ...]
    smoothing: float = SMOOTHING
    max_gap: float = MAX_GAP
    min_segment: float = 0.5

    @property
    def dt(self) -> float:
        d = np.diff(self.times)
        d = d[d > 0]
        return float(np.median(d)) if len(d) else 0.0

    @property
    def fps(self) -> float:
        return 1.0 / self.dt if self.dt > 0 else 0.0

    @property
    def duration(self) -> float:
        """Seconds covered by the analysed frames (last - first + one frame interval)."""
        if not len(self.times):
            return 0.0
        return float(self.times[-1] - self.times[0] + self.dt)

    def track_ids(self) -> list[Any]:
        """Tracks, most frames first."""
        return sorted(self.tracks, key=lambda k: (-len(self.tracks[k]), -1 if k is None else k))

    def segments(self) -> list[Segment]:
        out = []
        for k in self.track_ids():
            out += self.tracks[k].segments(self.smoothing, self.min_segment, self.max_gap)
        return out

    # -- tables -------------------------------------------------------------------------------------------------
    def to_frame(self, events: Sequence[Any] = (), segments: Sequence[Segment] | None = None) -> pd.DataFrame:
        """Per-frame timeline: one row per analysed frame per track (``success = 0`` where the track is absent,
        values NaN), or one ``success = 0`` row per frame when the video has no face at all. Columns:
        ``track_id, frame, timestamp, success, expression`` (smoothed label), ``expression_raw`` (the frame's
        own label), ``segment`` (index of the track's expression segment), ``event``/``event_kind`` (spotted
        movement covering the frame), ``expr_<class>`` (smoothed), ``AUxx_r`` (smoothed), ``pose_yaw/pitch/roll``
        (smoothed, degrees); the columns of :data:`mimetic.columns.TIMELINE`, documented in docs/tables.md."""
        import pandas as pd

        segs = self.segments() if segments is None else list(segments)
        au_names = _union(t.au_names for t in self.tracks.values())
        frames_all, times_all = self.frames, self.times
        parts = []
        ids = self.track_ids() or [None]
        for k in ids:
            tr = self.tracks.get(k)
            n = len(frames_all)
            cols: dict[str, Any] = {}
            present = np.zeros(n, bool)
            sm_scores = np.full((n, len(self.classes)), np.nan)
            aus = np.full((n, len(au_names)), np.nan)
            pose = np.full((n, 3), np.nan)
            label = np.full(n, "", dtype=object)
            raw = np.full(n, "", dtype=object)
            seg_idx = np.full(n, -1, dtype=np.int64)
            if tr is not None and len(tr):
                pos = np.searchsorted(frames_all, tr.frames)
                present[pos] = True
                sm = tr.smoothed(self.smoothing, self.max_gap)
                ci = [self.classes.index(c) for c in tr.classes if c in self.classes]
                sm_scores[np.ix_(pos, ci)] = sm.scores[:, [tr.classes.index(self.classes[c]) for c in ci]]
                ai = [au_names.index(a) for a in tr.au_names]
                if ai:
                    aus[np.ix_(pos, ai)] = sm.aus
                pose[pos] = sm.pose
                label[pos] = sm.labels()
                raw[pos] = tr.labels()
                for j, s in enumerate([s for s in segs if s.track_id == k]):
                    m = (frames_all >= s.start_frame) & (frames_all <= s.end_frame) & present
                    seg_idx[m] = j
            ev_id = np.full(n, -1, dtype=np.int64)
            ev_kind = np.full(n, "", dtype=object)
            for j, e in enumerate(events):
                if e.track_id == k:
                    m = (frames_all >= e.onset_frame) & (frames_all <= e.offset_frame)
                    ev_id[m] = j
                    ev_kind[m] = e.kind
            cols["track_id"] = pd.array([k if k is not None and tr is not None else None] * n, dtype="Int64")
            cols["frame"] = frames_all.astype(np.int64)
            cols["timestamp"] = times_all
            cols["success"] = present.astype(np.int8)
            cols["expression"] = label
            cols["expression_raw"] = raw
            cols["segment"] = pd.array(np.where(seg_idx >= 0, seg_idx, 0), dtype="Int64")
            cols["segment"][seg_idx < 0] = pd.NA
            cols["event"] = pd.array(np.where(ev_id >= 0, ev_id, 0), dtype="Int64")
            cols["event"][ev_id < 0] = pd.NA
            cols["event_kind"] = ev_kind
            for c, name in enumerate(self.classes):
                cols[EXPRESSION_SCORES.column(name)] = sm_scores[:, c]
            for a, name in enumerate(au_names):
                cols[AU_INTENSITY.column(name)] = aus[:, a]
            cols.update(zip(HEAD_ANGLES.names(), pose.T))
            parts.append(pd.DataFrame(cols))
        return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame()

    def windows(self, window: float = 1.0) -> pd.DataFrame:
        """Per-window table: one row per track per ``window`` seconds from the first analysed frame. Columns:
        ``track_id, window, start, end, frames`` (frames with the face), ``coverage`` (their share of the window's
        analysed frames), ``expression`` (argmax of the mean scores), ``expr_<class>`` (mean of the raw scores),
        ``AUxx_r`` (mean), ``pose_yaw/pitch/roll`` (mean). Windows without the face have NaN values. The columns of
        :data:`mimetic.columns.WINDOWS`, documented in docs/tables.md."""
        import pandas as pd

        if window <= 0:
            raise ValueError(f"window must be > 0 seconds, not {window!r}")
        au_names = _union(t.au_names for t in self.tracks.values())
        if not len(self.times):
            return pd.DataFrame(columns=WINDOWS.group("window_identity").names())
        t0 = float(self.times[0])
        nwin = max(1, int(math.ceil((self.duration - 1e-9) / window)))
        all_bin = np.minimum(((self.times - t0) / window).astype(np.int64), nwin - 1)
        analysed = np.bincount(all_bin, minlength=nwin)
        rows = []
        for k in self.track_ids() or [None]:
            tr = self.tracks.get(k)
            if tr is not None and len(tr):
                b = np.minimum(((tr.times - t0) / window).astype(np.int64), nwin - 1)
            else:
                b = np.zeros(0, np.int64)
            for w in range(nwin):
                m = b == w
                cnt = int(m.sum())
                row: dict[str, Any] = {"track_id": k if tr is not None else None, "window": w,
                                       "start": t0 + w * window, "end": t0 + (w + 1) * window, "frames": cnt,
                                       "coverage": cnt / analysed[w] if analysed[w] else 0.0}
                if cnt and tr is not None and tr.classes:
                    mean = np.nanmean(tr.scores[m], axis=0) if np.isfinite(tr.scores[m]).any() else None
                    row["expression"] = tr.classes[int(np.nanargmax(mean))] if mean is not None else ""
                    for c in self.classes:
                        row[EXPRESSION_SCORES.column(c)] = float(mean[tr.classes.index(c)]) \
                            if mean is not None and c in tr.classes else np.nan
                else:
                    row["expression"] = ""
                    for c in self.classes:
                        row[EXPRESSION_SCORES.column(c)] = np.nan
                for a in au_names:
                    if cnt and tr is not None and a in tr.au_names:
                        row[AU_INTENSITY.column(a)] = float(np.nanmean(tr.aus[m, tr.au_names.index(a)]))
                    else:
                        row[AU_INTENSITY.column(a)] = np.nan
                for j, p in enumerate(HEAD_ANGLES.names()):
                    row[p] = float(np.nanmean(tr.pose[m, j])) if cnt and tr is not None else np.nan
                rows.append(row)
        df = pd.DataFrame(rows)
        df["track_id"] = df["track_id"].astype("Int64")
        return df


def _union(groups: Iterable[Sequence[str]]) -> tuple[str, ...]:
    seen: dict[str, None] = {}
    for g in groups:
        seen.update(dict.fromkeys(g))
    return tuple(sorted(seen, key=au_order))


class _TrackRows:
    def __init__(self, classes: tuple[str, ...], au_names: tuple[str, ...]):
        self.classes = classes
        self.au_names = au_names
        self.frames = _Grow(1, np.int64)
        self.times = _Grow(1, np.float64)
        self.scores = _Grow(len(classes))
        self.aus = _Grow(len(au_names))
        self.pose = _Grow(3)
        self.boxes = _Grow(4)
        self.best: dict[str, dict[str, Any]] = {}


class TimelineBuilder:
    """Collect a video's per-track numbers while it streams; ``finish()`` returns the :class:`Timeline`.

    ``add(result, rgb)``: ``rgb`` (the frame) is optional; with it, the builder keeps per track and expression the
    zoomed face crop of the frame where that expression scored highest (at most one crop per track and class,
    ``CROP_SIZE`` px square) for the report's representative frames.
    """

    def __init__(self, *, source: str = "", smoothing: float = SMOOTHING, max_gap: float = MAX_GAP,
                 min_segment: float = 0.5, keep_crops: bool = True, max_tracks_with_crops: int = 20):
        if smoothing < 0:
            raise ValueError(f"smoothing must be >= 0 seconds, not {smoothing!r}")
        self.source = source
        self.smoothing, self.max_gap, self.min_segment = smoothing, max_gap, min_segment
        self.keep_crops = keep_crops
        self.max_tracks_with_crops = max_tracks_with_crops
        self._frames = _Grow(1, np.int64)
        self._times = _Grow(1, np.float64)
        self._nfaces = _Grow(1, np.int64)
        self._tracks: dict[Any, _TrackRows] = {}
        self._classes: tuple[str, ...] | None = None

    def add(self, result, rgb: np.ndarray | None = None) -> None:
        idx = result.frame_index if result.frame_index is not None else self._frames.n
        t = float(result.timestamp) if result.timestamp is not None else float(idx)
        self._frames.append(idx)
        self._times.append(t)
        self._nfaces.append(len(result.faces))
        seen = set()
        for face in result.faces:
            key = face.track_id
            if key in seen:  # two faces without track ids in one frame: keep the first (image mode)
                continue
            seen.add(key)
            tr = self._tracks.get(key)
            if tr is None:
                if self._classes is None:
                    self._classes = (tuple(face.expression.scores) if face.expression is not None
                                     and face.expression.scores else EXPRESSIONS)
                names = tuple(sorted(face.aus, key=au_order)) if face.aus else ()
                tr = self._tracks[key] = _TrackRows(self._classes, names)
            tr.frames.append(idx)
            tr.times.append(t)
            scores = face.expression.scores if face.expression is not None else {}
            srow = np.array([float(scores.get(c, np.nan)) for c in tr.classes], dtype=np.float32)
            tr.scores.append(srow)
            tr.aus.append([face.aus[a].intensity if a in face.aus else np.nan for a in tr.au_names])
            tr.pose.append((face.pose.yaw, face.pose.pitch, face.pose.roll))
            tr.boxes.append(face.box)
            if self.keep_crops and rgb is not None and scores and (
                    key in self._crop_tracks() or len(self._crop_tracks()) < self.max_tracks_with_crops):
                self._maybe_keep(tr, idx, t, srow, face.box, rgb)

    def _crop_tracks(self) -> set:
        return {k for k, tr in self._tracks.items() if tr.best}

    def _maybe_keep(self, tr: _TrackRows, idx: int, t: float, srow: np.ndarray, box, rgb: np.ndarray) -> None:
        if not np.isfinite(srow).any():
            return
        c = int(np.nanargmax(srow))
        label = tr.classes[c]
        score = float(srow[c])
        best = tr.best.get(label)
        if best is not None and score <= best["score"] + 1e-6:
            return
        tr.best[label] = {"frame": int(idx), "time": t, "score": score, "crop": face_crop(rgb, box)}

    def finish(self) -> Timeline:
        times = self._times.array().ravel()
        d = np.diff(times)
        d = d[d > 0]
        dt = float(np.median(d)) if len(d) else 0.0
        tracks = {}
        for key, tr in self._tracks.items():
            tracks[key] = TrackTimeline(
                key, tr.frames.array().ravel(), tr.times.array().ravel(), tr.classes, tr.scores.array(),
                tr.au_names, tr.aus.array(), tr.pose.array(), tr.boxes.array(), dt, dict(tr.best))
        return Timeline(self.source, self._frames.array().ravel(), times, self._nfaces.array().ravel(), tracks,
                        self._classes or EXPRESSIONS, self.smoothing, self.max_gap, self.min_segment)


def face_crop(rgb: np.ndarray, box, size: int = CROP_SIZE, margin: float = CROP_MARGIN) -> np.ndarray:
    """A square, zoomed crop of the face ``box`` (x, y, w, h) with ``margin``, resized to ``size`` px (RGB)."""
    import cv2

    h, w = rgb.shape[:2]
    x, y, bw, bh = (float(v) for v in box)
    side = max(bw, bh) * (1 + 2 * margin)
    cx, cy = x + bw / 2, y + bh / 2
    s = size / max(side, 1.0)
    m = np.float32([[s, 0, size / 2 - s * cx], [0, s, size / 2 - s * cy]])
    return cv2.warpAffine(np.asarray(rgb), m, (size, size), flags=cv2.INTER_AREA if s < 1 else cv2.INTER_LINEAR,
                          borderMode=cv2.BORDER_CONSTANT, borderValue=(0, 0, 0))

"""Spotting facial movements in video: onset, apex and offset of micro- and macro-expressions.

Method (after the MEGC "optical-flow feature difference" family of spotters; the full description, its parameters,
limits and evaluation are in docs/video.md):

1. **Alignment.** Each face is warped to a small canonical crop (``crop`` px square, eyes level, inter-ocular
   distance ``0.36 * crop``) by a similarity transform fitted to stable landmarks (:data:`STABLE`: canthi, nasal
   bridge and dorsum, forehead) against the track's first face: head translation, in-plane rotation and scale go.
2. **Flow.** Every frame ``t`` is compared with the frame ``window`` seconds earlier by dense optical flow
   (OpenCV Farnebäck, or DIS) between the two grey crops.
3. **Head motion removed.** A similarity motion is fitted robustly (IRLS, Tukey's biweight) to the flow averaged
   over a :data:`GRID` x :data:`GRID` grid of blocks inside the face, and subtracted: the moving part of the face
   gets no weight, so what is removed is the residual motion of the head.
4. **Regions.** The mean residual flow in landmark-anchored patches (:data:`REGIONS`: inner and outer brows, lower
   lids, nose wings, mouth corners, chin); a region's motion is its length, in crop pixels.
5. **Symmetric difference.** A frame's motion in a region is the *smaller* of its difference to the frame
   ``window`` seconds before and the frame ``window`` seconds after. A movement that starts and ends within the
   window differs from both and shows over its whole extent (onset to offset) with the shape of its intensity; a
   slow drift, or the echo that a one-sided difference leaves ``window`` seconds after each movement, differs from
   only one of them and is suppressed. The spotter streams ``window`` seconds behind the video.
6. **AU dynamics.** The same symmetric difference of the AU intensities (FACS 0-5) gives a second signal.
7. **Blinks** (``mask_blinks``): when an eye's lid gap drops below half its running median, that eye's region and
   AU43 are left out of the frames involved (MEGC annotations do not count blinks).
8. **Detection.** Each signal is divided by an adaptive threshold, ``max(floor, median + threshold * 1.4826 *
   MAD)`` over the last ``noise_window`` seconds; a frame whose score (the larger ratio) reaches 1 starts an event,
   which covers the contiguous frames around its peak scoring above ``boundary`` times the peak. **Onset** and
   **offset** are the still frames just before and after, the **apex** the peak frame.
9. **Kind.** Events shorter than ``micro_max`` seconds (0.5 s) are **micro**, longer ones **macro**; durations
   come from the timestamps, so any frame rate works.

Everything streams: per track the spotter keeps ``window + max_duration + 1`` seconds of small crops, so memory
does not grow with the video's length.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = ["REGIONS", "REGION_GROUPS", "Event", "SpotConfig", "Spotter", "spot_from_table"]

#: Landmark-anchored regions (MediaPipe indices; sides are the person's own): each region is a square patch around
#: the mean of its landmarks.
REGIONS: dict[str, tuple[int, ...]] = {
    "brow_inner_left": (336, 296, 285),
    "brow_inner_right": (107, 66, 55),
    "brow_outer_left": (334, 293, 300, 282),
    "brow_outer_right": (105, 63, 70, 52),
    "eye_left": (374, 380, 373),
    "eye_right": (145, 153, 144),
    "nose_left": (358, 279),
    "nose_right": (129, 49),
    "mouth_left": (291,),
    "mouth_right": (61,),
    "chin": (18, 200),
}
#: Region -> the coarse group named in events and reports.
REGION_GROUPS: dict[str, str] = {
    "brow_inner_left": "brows", "brow_inner_right": "brows", "brow_outer_left": "brows",
    "brow_outer_right": "brows", "eye_left": "eyes", "eye_right": "eyes", "nose_left": "nose",
    "nose_right": "nose", "mouth_left": "mouth", "mouth_right": "mouth", "chin": "chin",
}  # fmt: skip
#: Half-size of each region's patch, as a fraction of the inter-ocular distance.
REGION_RADIUS = 0.16
#: Flow is also sampled on a ``GRID`` x ``GRID`` grid of blocks over the face; the similarity motion that best
#: explains it (robustly: the moving part gets no weight) is the residual head motion, subtracted from every region.
GRID = 10
#: Landmarks that move little with expressions (canthi, nasal bridge and dorsum, forehead): the alignment.
STABLE: tuple[int, ...] = (33, 133, 362, 263, 6, 197, 195, 10, 151, 108, 337)
_EYE_CORNERS = ((263, 362), (33, 133))  # (person's left, right): outer, inner
_LIDS = ((386, 374), (159, 145))  # (upper, lower) per side (left, right)
_EYE_REGIONS = ("eye_left", "eye_right")
_BLINK_AUS = ("AU43", "AU45", "AU46")


@dataclass(frozen=True)
class SpotConfig:
    """Parameters of the spotter; the defaults suit 24-60 fps video of faces 100-400 px wide.

    ``window``: seconds between the compared frames (movements must begin and end within it to be seen whole;
    longer expressions show as their onset and offset movements). ``micro_max``: events shorter than this many
    seconds are micro-expressions. ``min_duration``/``max_duration``: events outside are dropped / cut.
    ``threshold``: robust z-score a frame's motion must reach. ``min_motion``: absolute floor of the motion
    threshold, as a fraction of the inter-ocular distance (0.01 = 1 % of the IOD, about 0.6 mm).
    ``au_threshold``: floor of the AU-change threshold (FACS intensity units). ``boundary``: onset and offset are
    where the score falls below this fraction of the apex score. ``flow``: ``"dis"`` (fast) or ``"farneback"``.
    """

    window: float = 1.0
    micro_max: float = 0.5
    min_duration: float = 0.08
    max_duration: float = 4.0
    threshold: float = 6.0
    min_motion: float = 0.012
    use_aus: bool = True
    au_threshold: float = 1.2
    boundary: float = 0.25
    noise_window: float = 30.0
    mask_blinks: bool = True
    crop: int = 80
    flow: str = "farneback"
    thumbnails: bool = True
    thumb_size: int = 72
    max_thumbnails: int = 120

    def __post_init__(self):
        if not self.window > 0:
            raise ValueError(f"window must be > 0 seconds, not {self.window!r}")
        if self.flow not in ("dis", "farneback"):
            raise ValueError(f"flow must be 'dis' or 'farneback', not {self.flow!r}")
        if not 0 < self.boundary < 1:
            raise ValueError(f"boundary must be between 0 and 1, not {self.boundary!r}")
        if self.crop < 48:
            raise ValueError(f"crop must be at least 48 px, not {self.crop!r}")


@dataclass(frozen=True)
class Event:
    """One spotted facial movement of one track. Frames are the video's frame indices; times in seconds."""

    track_id: int | None
    onset_frame: int
    apex_frame: int
    offset_frame: int
    onset: float
    apex: float
    offset: float
    duration: float  # offset - onset + one frame interval
    kind: str  # "micro" (< micro_max) or "macro"
    score: float  # peak score (1 = at the detection threshold)
    motion: float  # peak motion, fraction of the inter-ocular distance
    regions: tuple[str, ...] = ()  # region groups that moved most (brows, eyes, nose, mouth, chin)
    aus: tuple[str, ...] = ()  # AUs whose intensity changed most
    # micro-expressions, when a recogniser runs (mimetic.video.recognition.runtime): the class, its probabilities,
    # or why there is none (label None and a note)
    label: str | None = None
    probabilities: tuple[tuple[str, float], ...] = ()
    label_note: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {"track_id": self.track_id, "onset_frame": self.onset_frame, "apex_frame": self.apex_frame,
                "offset_frame": self.offset_frame, "onset": round(self.onset, 4), "apex": round(self.apex, 4),
                "offset": round(self.offset, 4), "duration": round(self.duration, 4), "kind": self.kind,
                "score": round(self.score, 3), "motion": round(self.motion, 5), "regions": list(self.regions),
                "aus": list(self.aus), "label": self.label, "probabilities": dict(self.probabilities),
                "label_note": self.label_note}


# -- geometry ---------------------------------------------------------------------------------------------------

def similarity(src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    """Least-squares similarity (rotation, uniform scale, translation) mapping ``src`` onto ``dst`` (N x 2), as a
    2 x 3 matrix (Umeyama)."""
    src = np.asarray(src, np.float64)
    dst = np.asarray(dst, np.float64)
    ms, md = src.mean(axis=0), dst.mean(axis=0)
    s, d = src - ms, dst - md
    var = (s * s).sum()
    if var < 1e-12:
        return np.array([[1.0, 0, md[0] - ms[0]], [0, 1.0, md[1] - ms[1]]])
    a = (s * d).sum()  # sum of dot products
    b = (s[:, 0] * d[:, 1] - s[:, 1] * d[:, 0]).sum()  # sum of cross products
    c, sn = a / var, b / var
    m = np.array([[c, -sn, 0.0], [sn, c, 0.0]])
    m[:, 2] = md - m[:, :2] @ ms
    return m


def _eye_centres(lm: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    left = lm[list(_EYE_CORNERS[0]), :2].mean(axis=0)
    right = lm[list(_EYE_CORNERS[1]), :2].mean(axis=0)
    return left, right


def canonical_matrix(landmarks: np.ndarray, crop: int) -> np.ndarray:
    """The similarity that puts the eye centres level at 40 % of the crop's height, 0.36 * crop apart."""
    left, right = _eye_centres(np.asarray(landmarks))
    iod = 0.36 * crop
    dst = np.array([[crop / 2 - iod / 2, 0.40 * crop], [crop / 2 + iod / 2, 0.40 * crop]])
    # image-left eye first: the person's right eye is on the image's left for a face looking at the camera
    src = np.array([right, left]) if right[0] <= left[0] else np.array([left, right])
    return similarity(src, dst)


def eye_aperture(landmarks: np.ndarray) -> tuple[float, float]:
    """Lid gap / eye width per eye (person's left, right)."""
    lm = np.asarray(landmarks)
    out = []
    for (up, lo), (outer, inner) in zip(_LIDS, _EYE_CORNERS):
        gap = float(np.hypot(*(lm[up, :2] - lm[lo, :2])))
        width = float(np.hypot(*(lm[outer, :2] - lm[inner, :2])))
        out.append(gap / width if width > 1e-6 else 0.0)
    return out[0], out[1]


def _rigid_motion(points: np.ndarray, vectors: np.ndarray, at: np.ndarray, iterations: int = 5) -> np.ndarray:
    """Fit a small similarity motion ``d(x) = [[a, -b], [b, a]] (x - c) + t`` to the flow ``vectors`` sampled at
    ``points`` and evaluate it ``at`` other points.

    Robust (iteratively reweighted least squares with Tukey's biweight, starting from the median translation):
    the moving part of the face (a smile moves perhaps a third of it) gets no weight, so what is fitted is the
    residual motion of the head. Each step is the closed-form weighted fit (weighted centroid, then the rotation
    and scale terms).
    """
    p = np.asarray(points, np.float64)
    v = np.asarray(vectors, np.float64)
    a = b = 0.0
    c = p.mean(axis=0)
    t = np.median(v, axis=0)
    for _ in range(iterations):
        q = p - c
        pred = np.stack([a * q[:, 0] - b * q[:, 1], b * q[:, 0] + a * q[:, 1]], axis=1) + t
        res = np.hypot(*(v - pred).T)
        scale = 1.4826 * float(np.median(res)) + 1e-3
        u = res / (4.685 * scale)
        w = np.where(u < 1.0, (1.0 - u * u) ** 2, 0.0)
        sw = w.sum()
        if sw < 1e-6 or np.count_nonzero(w) < 3:
            break
        c = (w[:, None] * p).sum(axis=0) / sw
        t = (w[:, None] * v).sum(axis=0) / sw
        q = p - c
        r = v - t
        var = float((w * (q * q).sum(axis=1)).sum())
        if var < 1e-9:
            a = b = 0.0
            continue
        a = float((w * (q * r).sum(axis=1)).sum()) / var
        b = float((w * (q[:, 0] * r[:, 1] - q[:, 1] * r[:, 0])).sum()) / var
    qa = np.asarray(at, np.float64) - c
    return np.stack([a * qa[:, 0] - b * qa[:, 1], b * qa[:, 0] + a * qa[:, 1]], axis=1) + t


# -- streaming state --------------------------------------------------------------------------------------------

@dataclass
class _Frame:
    index: int
    t: float
    grey: np.ndarray  # (crop, crop) uint8
    centres: np.ndarray  # (R, 2) region centres in crop pixels
    aus: np.ndarray  # AU intensities
    blink: tuple[bool, bool]
    paired: bool = False  # has served as the earlier frame of a pair


@dataclass
class _Pending:
    index: int
    t: float
    a: np.ndarray | None = None  # (R,) motion vs the frame `window` earlier (NaN where masked)
    b: np.ndarray | None = None  # (R,) motion vs the frame `window` later
    au_a: np.ndarray | None = None
    au_b: np.ndarray | None = None


@dataclass
class _Final:
    index: int
    t: float
    score: float
    motion: float  # crop px
    regions: np.ndarray  # (R,) crop px
    au: np.ndarray  # (A,) FACS units


class _TrackState:
    def __init__(self, track_id, cfg: SpotConfig, au_names: tuple[str, ...]):
        self.track_id = track_id
        self.cfg = cfg
        self.au_names = au_names
        self.template: np.ndarray | None = None
        self.mask: np.ndarray | None = None  # grid blocks inside the face (crop coordinates)
        self.frames: deque[_Frame] = deque()
        self.pending: deque[_Pending] = deque()
        self.history: deque[_Final] = deque()  # final scores, for onset search
        self.noise: dict[str, deque[tuple[float, float]]] = {"m": deque(), "a": deque()}
        self.since = {"m": 10**9, "a": 10**9}
        self.stats = {"m": (0.0, 0.0), "a": (0.0, 0.0)}
        self.aperture_ref: np.ndarray | None = None
        self.apertures: deque[tuple[float, float]] = deque(maxlen=150)
        self.thumbs: deque[tuple[int, np.ndarray]] = deque()
        self.active: list[_Final] | None = None
        self.n_final = 0
        self.peak: _Final | None = None
        self.last_t = -math.inf
        self.dt = None  # median frame interval (s)
        self._dts: list[float] = []
        # per-frame signal kept for plots: (frame, time, score, motion as IOD fraction)
        self.trace: list[tuple[int, float, float, float]] = []


class Spotter:
    """Streaming spotter: ``push`` every analysed frame (with its RGB image), then ``finish``.

    ``push`` returns the events that became final with this frame (they lag the video by about ``window`` plus the
    event's own duration); ``finish`` flushes the rest and returns every event of the video, ordered by onset.
    Thumbnails (aligned face crops at onset, apex and offset, RGB) are in ``thumbnails[(track_id, apex_frame)]``
    for up to ``max_thumbnails`` events (the strongest are kept).
    """

    def __init__(self, config: SpotConfig | None = None, *, recognizer=None, **overrides):
        """``recognizer``: a :class:`mimetic.video.recognition.runtime.MicroRecognizer` (or anything with its
        ``classify``) that gives each micro event its class from the onset and apex crops."""
        import cv2

        self.cfg = config or SpotConfig()
        if overrides:
            from dataclasses import replace

            self.cfg = replace(self.cfg, **overrides)
        self._cv2 = cv2
        self._tracks: dict[Any, _TrackState] = {}
        self.events: list[Event] = []
        self.thumbnails: dict[tuple[Any, int], dict[str, np.ndarray]] = {}
        self.recognizer = recognizer
        self.recognition_ms: list[float] = []  # CPU time of each recognition
        self._flow = None
        self._region_idx = [list(v) for v in REGIONS.values()]
        step = self.cfg.crop / GRID
        gx, gy = np.meshgrid((np.arange(GRID) + 0.5) * step, (np.arange(GRID) + 0.5) * step)
        self._grid_pts = np.stack([gx.ravel(), gy.ravel()], axis=1)
        self._region_names = tuple(REGIONS)
        self._eye_cols = [self._region_names.index(n) for n in _EYE_REGIONS]
        self._radius = max(2, int(round(REGION_RADIUS * 0.36 * self.cfg.crop)))

    # -- public ---------------------------------------------------------------------------------------------------
    @property
    def region_names(self) -> tuple[str, ...]:
        return self._region_names

    def push(self, result, rgb: np.ndarray | None) -> list[Event]:
        """Feed one ``FrameResult`` and its RGB frame (``None``: AU dynamics only). Returns newly final events."""
        new: list[Event] = []
        t = float(result.timestamp if result.timestamp is not None else 0.0)
        idx = int(result.frame_index if result.frame_index is not None else 0)
        seen = set()
        for face in result.faces:
            key = face.track_id
            if key in seen:
                continue
            seen.add(key)
            st = self._tracks.get(key)
            if st is None:
                names = tuple(sorted(face.aus)) if face.aus else ()
                st = self._tracks[key] = _TrackState(key, self.cfg, names)
            new += self._push_face(st, face, rgb, idx, t)
        for key, st in self._tracks.items():
            if key not in seen:  # let time pass for tracks that are not in this frame
                new += self._advance(st, t)
                if st.frames and t - st.last_t > self.cfg.window + self.cfg.max_duration + 2.0:
                    new += self._retire(st)  # gone for good: free its buffers (memory stays flat)
        return new

    def _retire(self, st: _TrackState) -> list[Event]:
        """Finish a track that has left: pair its last frames, flush, close any open event, drop the buffers (if the
        id comes back, the track starts afresh)."""
        self._pair_with_last(st)
        out = self._advance(st, math.inf)
        out += self._close_event(st)
        st.frames.clear()
        st.thumbs.clear()
        st.history.clear()
        st.template = None
        return out

    def finish(self) -> list[Event]:
        """Flush every track and return all events, ordered by onset."""
        for st in self._tracks.values():
            self._pair_with_last(st)
            self._advance(st, math.inf)
            self._close_event(st)
        self.events.sort(key=lambda e: (e.onset, -1 if e.track_id is None else e.track_id))
        return list(self.events)

    def traces(self) -> dict[Any, np.ndarray]:
        """Per track: (N, 4) array of frame index, time, score (1 = threshold), motion (fraction of the IOD)."""
        return {k: np.asarray(st.trace, dtype=np.float64).reshape(-1, 4) for k, st in self._tracks.items()}

    # -- per face ---------------------------------------------------------------------------------------------------
    def _push_face(self, st: _TrackState, face, rgb, idx: int, t: float) -> list[Event]:
        cv2 = self._cv2
        cfg = self.cfg
        lm = np.asarray(face.landmarks, dtype=np.float64)
        if st.last_t > -math.inf and t > st.last_t:
            st._dts.append(t - st.last_t)
            if len(st._dts) <= 32 or len(st._dts) % 64 == 0:
                st.dt = float(np.median(st._dts[-256:]))
                del st._dts[:-256]
        st.last_t = t
        aus = (np.array([face.aus[n].intensity if n in face.aus else 0.0 for n in st.au_names], dtype=np.float64)
               if st.au_names else np.zeros(0))
        ap = eye_aperture(lm)
        st.apertures.append(ap)
        if cfg.mask_blinks and len(st.apertures) >= 5:
            if st.aperture_ref is None or len(st.apertures) % 10 == 0 or len(st.apertures) < 30:
                st.aperture_ref = np.median(np.asarray(st.apertures), axis=0)
            med = st.aperture_ref
            blink = (bool(ap[0] < 0.5 * med[0]), bool(ap[1] < 0.5 * med[1]))
        else:
            blink = (False, False)
        frame = None
        if rgb is not None:
            if st.template is None:
                m0 = canonical_matrix(lm, cfg.crop)
                st.template = lm[list(STABLE), :2] @ m0[:, :2].T + m0[:, 2]
                st.mask = self._face_mask(lm[:, :2] @ m0[:, :2].T + m0[:, 2])
            m = similarity(lm[list(STABLE), :2], st.template)
            colour = cv2.warpAffine(np.asarray(rgb), m, (cfg.crop, cfg.crop), flags=cv2.INTER_LINEAR,
                                    borderMode=cv2.BORDER_REPLICATE)
            grey = cv2.cvtColor(colour, cv2.COLOR_RGB2GRAY)
            centres = np.array([lm[i, :2].mean(axis=0) for i in self._region_idx]) @ m[:, :2].T + m[:, 2]
            frame = _Frame(idx, t, grey, centres, aus, blink)
            if cfg.thumbnails:
                size = cfg.thumb_size
                st.thumbs.append((idx, cv2.resize(colour, (size, size), interpolation=cv2.INTER_AREA)))
        else:
            frame = _Frame(idx, t, np.zeros((0, 0), np.uint8), np.zeros((0, 2)), aus, blink)
        pend = _Pending(idx, t)
        ref = self._reference(st, t)
        if ref is not None:
            a, au = self._compare(ref, frame, st.au_names, st.mask)
            pend.a, pend.au_a = a, au
            if not ref.paired:
                ref.paired = True
                for p in st.pending:
                    if p.index == ref.index:
                        p.b, p.au_b = a, au
                        break
        st.frames.append(frame)
        st.pending.append(pend)
        horizon = t - cfg.window - 0.5 * (st.dt or 0.04) - 1.0
        while st.frames and st.frames[0].t < horizon:
            st.frames.popleft()
        # thumbnails are needed back to the onset of an event that may still be open: the oldest history entry
        while st.thumbs and st.history and st.thumbs[0][0] < st.history[0].index:
            st.thumbs.popleft()
        return self._advance(st, t)

    def _face_mask(self, points: np.ndarray) -> np.ndarray | None:
        """Grid blocks whose centre lies inside the face's outline (convex hull of its landmarks, crop pixels)."""
        hull = self._cv2.convexHull(points.astype(np.float32))
        inside = np.array([self._cv2.pointPolygonTest(hull, (float(x), float(y)), False) >= 0
                           for x, y in self._grid_pts])
        return inside if inside.sum() >= 8 else None

    def _min_separation(self, st: _TrackState) -> float:
        return max(0.25 * self.cfg.window, 2.5 * (st.dt or 0.0))

    def _reference(self, st: _TrackState, t: float) -> _Frame | None:
        """The latest buffered frame at least ``window`` seconds before ``t``; near the start of a track (or after a
        gap) the earliest buffered frame, when it is at least a quarter window earlier."""
        target = t - self.cfg.window + 1e-3 + 0.25 * (st.dt or 0.0)
        best = None
        for f in st.frames:
            if f.t <= target:
                best = f
            else:
                break
        if best is not None and t - best.t <= self.cfg.window + 1.0:
            return best
        first = next((f for f in st.frames if f.t >= target), None)
        if first is not None and t - first.t >= self._min_separation(st):
            return first
        return None

    def _pair_with_last(self, st: _TrackState) -> None:
        """At the end of a track, frames of its last window have no later partner: use the track's last frame."""
        if not st.frames:
            return
        last = st.frames[-1]
        frames = {f.index: f for f in st.frames}
        for p in st.pending:
            f = frames.get(p.index)
            if p.b is None and f is not None and last.t - f.t >= self._min_separation(st):
                p.b, p.au_b = self._compare(f, last, st.au_names, st.mask)

    def _flow_between(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        cv2 = self._cv2
        if self.cfg.flow == "dis":
            if self._flow is None:
                self._flow = cv2.DISOpticalFlow_create(cv2.DISOPTICAL_FLOW_PRESET_FAST)
            return self._flow.calc(a, b, None)
        return cv2.calcOpticalFlowFarneback(a, b, None, 0.5, 2, 9, 2, 5, 1.1, 0)

    def _compare(self, ref: _Frame, cur: _Frame, au_names: tuple[str, ...],
                 mask: np.ndarray | None = None) -> tuple[np.ndarray | None, np.ndarray]:
        cv2 = self._cv2
        au = np.abs(cur.aus - ref.aus) if cur.aus.shape == ref.aus.shape else np.zeros_like(cur.aus)
        if self.cfg.mask_blinks and len(au) and (any(ref.blink) or any(cur.blink)):
            for k, n in enumerate(au_names):
                if n in _BLINK_AUS:
                    au[k] = np.nan
        if ref.grey.size == 0 or cur.grey.size == 0:
            return None, au
        flow = self._flow_between(ref.grey, cur.grey)
        r = self._radius
        n = self.cfg.crop
        ii = cv2.integral(flow)  # (n + 1, n + 1, 2): box sums in four lookups
        x0 = np.clip(np.rint(ref.centres[:, 0]).astype(int) - r, 0, n - 2 * r - 1)
        y0 = np.clip(np.rint(ref.centres[:, 1]).astype(int) - r, 0, n - 2 * r - 1)
        x1, y1 = x0 + 2 * r + 1, y0 + 2 * r + 1
        vecs = (ii[y1, x1] - ii[y0, x1] - ii[y1, x0] + ii[y0, x0]) / float((2 * r + 1) ** 2)
        blocks = cv2.resize(flow, (GRID, GRID), interpolation=cv2.INTER_AREA).reshape(-1, 2)
        inside = mask if mask is not None else slice(None)
        rel = vecs - _rigid_motion(self._grid_pts[inside], blocks[inside], ref.centres)
        mag = np.hypot(rel[:, 0], rel[:, 1])
        if self.cfg.mask_blinks:
            for side, col in enumerate(self._eye_cols):
                if ref.blink[side] or cur.blink[side]:
                    mag[col] = np.nan
        return mag, au

    # -- finalising frames and detecting events -------------------------------------------------------------------
    def _advance(self, st: _TrackState, now: float) -> list[Event]:
        cfg = self.cfg
        out: list[Event] = []
        late = cfg.window + 2.0 * (st.dt or 0.04)
        while st.pending and (st.pending[0].b is not None or now - st.pending[0].t > late):
            p = st.pending.popleft()
            out += self._final(st, p)
        return out

    @staticmethod
    def _combine(a: np.ndarray | None, b: np.ndarray | None) -> np.ndarray | None:
        """Per region, the smaller of the two differences (NaN = masked: the other one). A frame with only one
        partner (the first and last quarter window of a track) has no symmetric difference: None."""
        if a is None or b is None:
            return None
        both = np.where(np.isnan(a), b, np.where(np.isnan(b), a, np.minimum(a, b)))
        return both

    def _robust(self, st: _TrackState, which: str, value: float, t: float) -> tuple[float, float]:
        """Running (median, MAD) of a signal over the last ``noise_window`` seconds (refreshed every 8 frames)."""
        q = st.noise[which]
        q.append((t, value))
        while q and q[0][0] < t - self.cfg.noise_window:
            q.popleft()
        st.since[which] += 1
        if st.since[which] >= 8 or len(q) < 40:
            st.since[which] = 0
            v = np.fromiter((x for _, x in q), dtype=np.float64, count=len(q))
            med = float(np.median(v))
            st.stats[which] = (med, float(np.median(np.abs(v - med))))
        return st.stats[which]

    def _final(self, st: _TrackState, p: _Pending) -> list[Event]:
        cfg = self.cfg
        m = self._combine(p.a, p.b)
        au = self._combine(p.au_a, p.au_b) if cfg.use_aus else None
        iod = 0.36 * cfg.crop
        motion = float(np.nanmax(m)) if m is not None and np.isfinite(m).any() else 0.0
        achange = float(np.nanmax(au)) if au is not None and len(au) and np.isfinite(au).any() else 0.0
        score = 0.0
        if m is not None:
            med, mad = self._robust(st, "m", motion, p.t)
            thr = max(cfg.min_motion * iod, med + cfg.threshold * 1.4826 * mad)
            score = motion / thr
        if au is not None and len(au):
            med, mad = self._robust(st, "a", achange, p.t)
            thr = max(cfg.au_threshold, med + cfg.threshold * 1.4826 * mad)
            score = max(score, achange / thr)
        regions = np.nan_to_num(m if m is not None else np.zeros(len(self._region_names)))
        fin = _Final(p.index, p.t, score, motion, regions,
                     np.nan_to_num(au) if au is not None else np.zeros(len(st.au_names)))
        st.trace.append((p.index, p.t, score, motion / iod))
        st.history.append(fin)
        while st.history and st.history[0].t < p.t - cfg.max_duration - 1.0:
            st.history.popleft()
        return self._detect(st, fin)

    def _detect(self, st: _TrackState, fin: _Final) -> list[Event]:
        cfg = self.cfg
        st.n_final += 1
        if st.active is None:
            # the adaptive threshold needs some history first (half a second, at least 8 frames)
            warm = st.n_final >= max(8, int(0.5 / st.dt) if st.dt else 8)
            if fin.score >= 1.0 and warm:
                st.active = [fin]
                st.peak = fin
            return []
        st.active.append(fin)
        if fin.score > st.peak.score:
            st.peak = fin
        too_long = fin.t - st.active[0].t > cfg.max_duration
        if fin.score < max(cfg.boundary * st.peak.score, 0.5) or too_long:
            return self._close_event(st)
        return []

    def _close_event(self, st: _TrackState) -> list[Event]:
        if st.active is None:
            return []
        cfg = self.cfg
        peak = st.peak
        level = max(cfg.boundary * peak.score, 0.5)
        hist = list(st.history)
        k = next(i for i, h in enumerate(hist) if h.index == peak.index)
        on = k
        while on > 0 and hist[on - 1].score >= level and peak.t - hist[on - 1].t <= cfg.max_duration:
            on -= 1
        off = k
        while off + 1 < len(hist) and hist[off + 1].score >= level and hist[off + 1].t - peak.t <= cfg.max_duration:
            off += 1
        st.active = None
        st.peak = None
        dt = st.dt or 0.0
        if hist[off].t - hist[on].t + dt < cfg.min_duration:  # a blip of a frame or two: noise
            return []
        # onset and offset are the last still frames around the movement (annotations count them)
        on = max(on - 1, 0) if on > 0 and peak.t - hist[on - 1].t <= cfg.max_duration else on
        off = off + 1 if off + 1 < len(hist) and hist[off + 1].t - peak.t <= cfg.max_duration else off
        first, last = hist[on], hist[off]
        duration = last.t - first.t + dt
        iod = 0.36 * cfg.crop
        regs = peak.regions
        groups: list[str] = []
        if regs.size and regs.max() > 0:
            for name, v in zip(self._region_names, regs):
                g = REGION_GROUPS[name]
                if v >= 0.5 * regs.max() and v >= cfg.min_motion * iod * 0.5 and g not in groups:
                    groups.append(g)
        aus: list[str] = []
        if peak.au.size and peak.au.max() > 0:
            order = np.argsort(-peak.au)
            for j in order[:4]:
                if peak.au[j] >= max(0.5, 0.5 * peak.au.max()):
                    aus.append(st.au_names[j])
        ev = Event(st.track_id, first.index, peak.index, last.index, first.t, peak.t, last.t, duration,
                   "micro" if duration < cfg.micro_max else "macro", float(peak.score), float(peak.motion / iod),
                   tuple(groups), tuple(aus))
        if self.recognizer is not None and ev.kind == "micro":
            ev = self._recognize(st, ev)
        self.events.append(ev)
        if cfg.thumbnails:
            self._keep_thumbnails(st, ev)
        return [ev]

    def _recognize(self, st: _TrackState, ev: Event) -> Event:
        """The event with its class, from the aligned crops of its onset and apex frames, or with the reason why
        it has none."""
        from dataclasses import replace

        frames = [f for f in st.frames if ev.onset_frame <= f.index <= ev.apex_frame]
        on = next((f for f in frames if f.index == ev.onset_frame), None)
        ap = next((f for f in frames if f.index == ev.apex_frame), None)
        gaps = np.diff([f.t for f in frames]) if len(frames) > 1 else np.zeros(0)
        if on is None or ap is None or on.grey.size == 0 or ap.grey.size == 0:
            note = "no face crops at onset and apex (frames not given, or no longer buffered)"
        elif ev.apex_frame <= ev.onset_frame:
            note = "too short for a flow: the apex is the onset frame"
        elif gaps.size and st.dt and gaps.max() > 2.5 * st.dt:
            note = "face lost between onset and apex"
        else:
            try:
                r = self.recognizer.classify(on.grey, ap.grey, canonical=self.cfg.crop)
            except Exception as e:  # a failed recognition must not lose the event
                note = f"recognition failed: {e}"
            else:
                self.recognition_ms.append(r.cpu_ms)
                return replace(ev, label=r.label, probabilities=tuple(r.probabilities.items()))
        return replace(ev, label_note=note)

    def _keep_thumbnails(self, st: _TrackState, ev: Event) -> None:
        got = {}
        for idx, img in st.thumbs:
            if idx == ev.onset_frame:
                got["onset"] = img
            elif idx == ev.apex_frame:
                got["apex"] = img
            elif idx == ev.offset_frame:
                got["offset"] = img
        if not got:
            return
        self.thumbnails[(ev.track_id, ev.apex_frame)] = got
        if len(self.thumbnails) > self.cfg.max_thumbnails:
            weakest = min(self.events, key=lambda e: e.score if (e.track_id, e.apex_frame) in self.thumbnails
                          else math.inf)
            self.thumbnails.pop((weakest.track_id, weakest.apex_frame), None)


def spot_from_table(df, *, config: SpotConfig | None = None) -> list[Event]:
    """Spot events from a results table alone (``AUxx_r`` columns of ``mimetic analyze``/``video`` output, one row
    per face per frame): AU dynamics only, no optical flow. Rows with ``success == 0`` are skipped."""
    from mimetic.columns import AU_INTENSITY
    from mimetic.facs.estimate import PRESENT_AT
    from mimetic.types import AUValue, Face, FrameResult, Pose

    cfg = config or SpotConfig()
    sp = Spotter(cfg, thumbnails=False)
    au_cols = list(AU_INTENSITY.find(df.columns).values())
    if "success" in df.columns:
        df = df[df["success"] == 1]
    tid_col = "track_id" if "track_id" in df.columns else None
    for (frame, ts), rows in df.groupby(["frame", "timestamp"], sort=True):
        faces = []
        for _, row in rows.iterrows():
            values = {c[:-2]: float(row[c]) if row[c] == row[c] else 0.0 for c in au_cols}
            aus = {k: AUValue(v, v, v, v >= PRESENT_AT) for k, v in values.items()}
            lm = np.zeros((478, 3), np.float32)
            faces.append(Face(box=(0, 0, 1, 1), score=1.0, landmarks=lm, landmarks_norm=lm, pose=Pose(0, 0, 0),
                              blendshapes={}, matrix=np.eye(4), aus=aus,
                              track_id=int(row[tid_col]) if tid_col and row[tid_col] == row[tid_col] else 0))
        sp.push(FrameResult("<table>", 0, 0, tuple(faces), int(frame), float(ts)), None)
    return sp.finish()


"""Synthetic test videos: a real fixture face, locally warped so that known movements happen at known frames.

A still portrait is turned into a clip in which facial regions (brows, lower lids, nose wings, mouth corners, chin)
move by a smooth displacement field with a raised-cosine time course (onset -> apex -> offset), optionally on top
of a global head motion (translation, rotation and scale of the whole frame) and sensor noise. The planted events
are the ground truth for the spotter.

Only numpy and OpenCV; the landmarks of the still face (MediaPipe indices) say where each region is.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import cv2
import numpy as np

#: region -> [(landmark indices whose mean is a centre, direction (dx, dy) in face units: x toward the image's
#: right, y down)]. Bilateral regions have one centre per side. Directions are scaled per side where needed.
REGIONS: dict[str, list[tuple[tuple[int, ...], tuple[float, float]]]] = {
    "brows": [((105, 66, 63), (0.0, -1.0)), ((334, 296, 293), (0.0, -1.0))],          # AU1+2: brows up
    "brow_inner": [((107, 55), (0.25, -1.0)), ((336, 285), (-0.25, -1.0))],          # AU1 (inner corners up)
    "frown": [((107, 55), (0.6, 0.8)), ((336, 285), (-0.6, 0.8))],                    # AU4: down and together
    "eyes": [((145, 153, 144), (0.0, -1.0)), ((374, 380, 373), (0.0, -1.0))],        # AU7: lower lids up
    "nose": [((129, 49), (0.2, -1.0)), ((358, 279), (-0.2, -1.0))],                  # AU9: nose wings up
    "mouth_corners": [((61,), (-0.7, -0.7)), ((291,), (0.7, -0.7))],                 # AU12: corners up and out
    "mouth_down": [((61,), (0.0, 1.0)), ((291,), (0.0, 1.0))],                       # AU15: corners down
    "chin": [((18, 200), (0.0, -1.0))],                                              # AU17: chin up
    "mouth_left": [((291,), (0.8, -0.6))],                                           # one-sided (AU12 on one side)
}


@dataclass(frozen=True)
class Planted:
    """One planted movement. Frames are inclusive; amplitude is the peak displacement in pixels."""

    region: str
    onset: int
    apex: int
    offset: int
    amplitude: float

    def interval(self) -> tuple[int, int]:
        return self.onset, self.offset


@dataclass
class HeadMotion:
    """Global motion of the whole frame: sinusoids (pixels, degrees, relative scale; periods in seconds)."""

    tx: float = 0.0
    ty: float = 0.0
    rot_deg: float = 0.0
    scale: float = 0.0
    periods: tuple[float, float, float, float] = (3.1, 2.3, 3.7, 4.3)

    def matrix(self, t: float, centre: tuple[float, float]) -> np.ndarray:
        p = self.periods
        tx = self.tx * math.sin(2 * math.pi * t / p[0])
        ty = self.ty * math.sin(2 * math.pi * t / p[1] + 1.0)
        ang = self.rot_deg * math.sin(2 * math.pi * t / p[2] + 0.5)
        s = 1.0 + self.scale * math.sin(2 * math.pi * t / p[3] + 2.0)
        m = cv2.getRotationMatrix2D(centre, ang, s)
        m[:, 2] += (tx, ty)
        return m


@dataclass
class WarpedVideo:
    """Frames of a still face with planted movements. ``frame(i)`` renders frame i (RGB uint8)."""

    base: np.ndarray  # (H, W, 3) RGB
    landmarks: np.ndarray  # (478, 2+) pixels in ``base``
    fps: float
    n_frames: int
    events: list[Planted] = field(default_factory=list)
    head: HeadMotion = field(default_factory=HeadMotion)
    noise: float = 1.5  # sensor noise, grey levels (sd)
    sigma: float = 0.06  # spatial extent of a movement, as a fraction of the face width
    seed: int = 0

    def __post_init__(self):
        h, w = self.base.shape[:2]
        self._grid = np.ascontiguousarray(np.mgrid[0:h, 0:w].astype(np.float32)[::-1])  # (2, H, W): x, y
        lm = np.asarray(self.landmarks, dtype=np.float32)[:, :2]
        self._face_w = float(lm[:, 0].max() - lm[:, 0].min())
        self._rng = np.random.default_rng(self.seed)
        s = self.sigma * self._face_w
        self._bumps = {}  # region -> list of (Gaussian weight (H, W), direction)
        for name, parts in REGIONS.items():
            bumps = []
            for idx, direction in parts:
                c = lm[list(idx)].mean(axis=0)
                g = np.exp(-((self._grid[0] - c[0]) ** 2 + (self._grid[1] - c[1]) ** 2) / (2 * s * s))
                d = np.asarray(direction, np.float32)
                bumps.append((g.astype(np.float32), d / max(np.linalg.norm(d), 1e-6)))
            self._bumps[name] = bumps

    @staticmethod
    def profile(i: int, ev: Planted) -> float:
        """Raised cosine 0 -> 1 at the apex -> 0; 0 outside [onset, offset]."""
        if i <= ev.onset or i >= ev.offset:
            return 0.0
        if i <= ev.apex:
            return 0.5 - 0.5 * math.cos(math.pi * (i - ev.onset) / max(ev.apex - ev.onset, 1))
        return 0.5 + 0.5 * math.cos(math.pi * (i - ev.apex) / max(ev.offset - ev.apex, 1))

    def displacement(self, i: int) -> np.ndarray | None:
        disp = None
        for ev in self.events:
            a = self.profile(i, ev) * ev.amplitude
            if a <= 0:
                continue
            for g, d in self._bumps[ev.region]:
                contrib = np.stack([g * (a * d[0]), g * (a * d[1])])
                disp = contrib if disp is None else disp + contrib
        return disp

    def frame(self, i: int) -> np.ndarray:
        h, w = self.base.shape[:2]
        img = self.base
        disp = self.displacement(i)
        if disp is not None:  # local movement, in the face's own (unmoved) coordinates: features at c move to c + d
            gx, gy = self._grid
            img = cv2.remap(self.base, gx - disp[0], gy - disp[1], cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)
        m = self.head.matrix(i / self.fps, (w / 2, h / 2))
        if np.any(m != np.array([[1, 0, 0], [0, 1, 0]])):  # then the head moves the whole frame
            img = cv2.warpAffine(img, m, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)
        if self.noise > 0:
            if not hasattr(self, "_noise"):
                self._noise = [self._rng.normal(0.0, self.noise, (h, w, 1)).astype(np.float32) for _ in range(16)]
            img = np.clip(img.astype(np.float32) + self._noise[(i * 7) % 16], 0, 255).astype(np.uint8)
        return img

    def __iter__(self):
        for i in range(self.n_frames):
            yield i, i / self.fps, self.frame(i)


def base_frame(rgb: np.ndarray, face_box, *, size=(480, 360), face_width: float = 170.0) -> np.ndarray:
    """Scale ``rgb`` so the face is ``face_width`` px wide and crop a ``size`` frame centred on it."""
    x, y, w, h = face_box
    s = face_width / w
    m = np.float32([[s, 0, size[0] / 2 - s * (x + w / 2)], [0, s, size[1] / 2 - s * (y + h / 2)]])
    return cv2.warpAffine(rgb, m, size, flags=cv2.INTER_AREA, borderMode=cv2.BORDER_REFLECT)


def schedule(specs, fps: float, *, start: float = 1.2, gap: float = 1.4) -> tuple[list[Planted], int]:
    """Events one after the other from ``specs`` = [(region, duration_s, amplitude_px), ...]: onset at ``start``,
    then ``gap`` seconds of stillness between events (and after the last). Apex at 45 % of the duration."""
    events, t = [], start
    for region, dur, amp in specs:
        on = int(round(t * fps))
        off = on + max(int(round(dur * fps)), 2)
        apex = on + max(int(round(0.45 * (off - on))), 1)
        events.append(Planted(region, on, apex, off, amp))
        t = off / fps + gap
    return events, int(round(t * fps))


# -- helpers shared by the video tests ----------------------------------------------------------------------------

from functools import lru_cache  # noqa: E402
from pathlib import Path  # noqa: E402

DATA = Path(__file__).resolve().parents[1] / "data"
IMAGES = DATA / "images"
VIDEOS = DATA / "videos"
ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts"


def load_rgb(name: str) -> np.ndarray:
    bgr = cv2.imread(str(IMAGES / name))
    return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)


def prepare_face(analyzer, image: str = "single_face.jpg", *, size=(480, 360), face_width: float = 170.0):
    """(base frame, its landmarks): the fixture face scaled and centred in a ``size`` frame."""
    rgb = load_rgb(image)
    face = analyzer.analyze_array(rgb).faces[0]
    base = base_frame(rgb, face.box, size=size, face_width=face_width)
    return base, analyzer.analyze_array(base).faces[0].landmarks


def run_video(analyzer, video: WarpedVideo, spotter, builder=None):
    """Stream a synthetic video through the analyser (VIDEO mode) into ``spotter`` (and ``builder``)."""
    with analyzer.live(source="<synthetic>") as session:
        for i, t, frame in video:
            result = session.push(frame, timestamp=t, frame_index=i)
            spotter.push(result, frame)
            if builder is not None:
                builder.add(result, frame)
    return spotter.finish()


@lru_cache(maxsize=4)
def cached_analysis(name: str, spot: bool = True):
    """A test video's :class:`VideoAnalysis`, computed once per test session (shared between test modules)."""
    from mimetic import Analyzer
    from mimetic.video.analysis import analyze_video

    with Analyzer() as analyzer:
        return analyze_video(analyzer, VIDEOS / name, spot=spot)

"""Inputs of the recogniser: the optical flow from onset to apex, and the apex face crop.

Both frames are aligned with the **same** similarity transform (from the onset frame's landmarks when an
analyser is given, else the images are taken as face crops already, as in CASME II's cropped release), so the
flow shows only the facial movement. The flow (Farnebäck) is computed on ``work`` px grey crops and reduced to
``flow_size``: channels horizontal flow ``u``, vertical flow ``v`` and the optical-strain magnitude (how much the
skin stretches, from the flow's spatial derivatives), in work-crop pixels. The apex input is the grey crop at
``apex_size``, scaled to 0..1.
"""

from __future__ import annotations

import numpy as np

__all__ = ["FeatureConfig", "flow_input", "apex_input", "sample_inputs", "align_pair", "flow_image", "face_window",
           "FLOW_SIZE", "FLOW_WORK", "FACE_EYE_Y", "FACE_IOD"]

#: Side of the shipped recogniser's flow image (MEGC 2019 composite / STSTNet input).
FLOW_SIZE = 28
#: Framing of the MEGC composite face crops, measured with MediaPipe landmarks on 25 of its apex frames (every
#: 18th): the eye centres at 0.305 of the crop's height, 0.50 of its width apart, centred; the chin at the bottom.
FACE_EYE_Y = 0.305
FACE_IOD = 0.50


class FeatureConfig:
    """Sizes of the two inputs and of the crop the flow is computed on."""

    def __init__(self, flow_size: int = 32, apex_size: int = 48, work: int = 96):
        self.flow_size, self.apex_size, self.work = int(flow_size), int(apex_size), int(work)


def _grey(rgb: np.ndarray) -> np.ndarray:
    import cv2

    a = np.asarray(rgb)
    return a if a.ndim == 2 else cv2.cvtColor(a, cv2.COLOR_RGB2GRAY)


def align_pair(onset_rgb: np.ndarray, apex_rgb: np.ndarray, work: int, analyzer=None) -> tuple[np.ndarray, np.ndarray]:
    """Grey ``work`` px crops of both frames, aligned by the onset frame's landmarks (or simply resized)."""
    import cv2

    if analyzer is not None:
        from mimetic.video.spotting import canonical_matrix

        faces = analyzer.analyze_array(np.ascontiguousarray(onset_rgb)).faces
        if faces:
            m = canonical_matrix(faces[0].landmarks, work)
            a = cv2.warpAffine(_grey(onset_rgb), m, (work, work), flags=cv2.INTER_AREA, borderMode=cv2.BORDER_REPLICATE)
            b = cv2.warpAffine(_grey(apex_rgb), m, (work, work), flags=cv2.INTER_AREA, borderMode=cv2.BORDER_REPLICATE)
            return a, b
    a = cv2.resize(_grey(onset_rgb), (work, work), interpolation=cv2.INTER_AREA)
    b = cv2.resize(_grey(apex_rgb), (work, work), interpolation=cv2.INTER_AREA)
    return a, b


def flow_input(onset_grey: np.ndarray, apex_grey: np.ndarray, size: int) -> np.ndarray:
    """(3, size, size) float32: u, v and optical-strain magnitude of the onset -> apex flow."""
    import cv2

    flow = cv2.calcOpticalFlowFarneback(onset_grey, apex_grey, None, 0.5, 3, 11, 3, 5, 1.1, 0)
    u, v = flow[..., 0], flow[..., 1]
    ux, uy = np.gradient(u, axis=1), np.gradient(u, axis=0)
    vx, vy = np.gradient(v, axis=1), np.gradient(v, axis=0)
    strain = np.sqrt(ux ** 2 + vy ** 2 + 0.5 * (uy + vx) ** 2)
    chans = [cv2.resize(c.astype(np.float32), (size, size), interpolation=cv2.INTER_AREA) for c in (u, v, strain)]
    return np.stack(chans).astype(np.float32)


def face_window(crop: int, eye_y: float = 0.40, iod: float = 0.36) -> tuple[int, int, int]:
    """``(x0, y0, side)`` of the square, inside a canonical crop of side ``crop`` (eyes level at ``eye_y * crop``,
    ``iod * crop`` apart: :func:`mimetic.video.spotting.canonical_matrix`), that frames the face as the MEGC
    composite crops do (:data:`FACE_EYE_Y`, :data:`FACE_IOD`)."""
    side = iod * crop / FACE_IOD
    y0 = eye_y * crop - FACE_EYE_Y * side
    x0 = crop / 2 - side / 2
    return max(0, int(round(x0))), max(0, int(round(y0))), int(round(side))


#: Side (px) the face crops are resized to before the flow: the TV-L1 flow costs about 10 ms of CPU at 42 px with
#: 3 scales and 2 warps, one thread (36 ms with OpenCV's defaults of 5 and 5; 57 ms at 58 px).
FLOW_WORK = 42


def flow_image(onset_grey: np.ndarray, apex_grey: np.ndarray, size: int = FLOW_SIZE, *,
               work: int | None = FLOW_WORK) -> np.ndarray:
    """The MEGC composite flow image of an onset -> apex pair of aligned grey face crops: (size, size, 3) uint8.

    Both crops resized to ``work`` px (``None``: as they are); TV-L1 optical flow (OpenCV contrib; 3 pyramid
    scales, 2 warps, otherwise OpenCV's defaults) from onset to apex; channels u (horizontal), v
    (vertical) and the optical-strain magnitude ``sqrt(ux² + vy² + ½(uy + vx)²)``; each resized to ``size`` (area
    average) and min-max normalised to 0..255 on its own (STSTNet's recipe). Raises ``ValueError`` on crops of
    different shapes or smaller than 8 px.
    """
    import cv2

    a, b = _grey(onset_grey), _grey(apex_grey)
    if a.shape != b.shape or min(a.shape) < 8:
        raise ValueError(f"onset and apex crops must have the same shape, at least 8 px ({a.shape}, {b.shape})")
    if work:
        a = cv2.resize(a, (work, work), interpolation=cv2.INTER_AREA)
        b = cv2.resize(b, (work, work), interpolation=cv2.INTER_AREA)
    tvl1 = cv2.optflow.DualTVL1OpticalFlow_create()
    tvl1.setScalesNumber(3)
    tvl1.setWarpingsNumber(2)
    flow = tvl1.calc(np.ascontiguousarray(a), np.ascontiguousarray(b), None)
    u, v = flow[..., 0], flow[..., 1]
    ux, uy = np.gradient(u, axis=1), np.gradient(u, axis=0)
    vx, vy = np.gradient(v, axis=1), np.gradient(v, axis=0)
    strain = np.sqrt(ux ** 2 + vy ** 2 + 0.5 * (uy + vx) ** 2)
    out = np.empty((size, size, 3), np.uint8)
    for k, c in enumerate((u, v, strain)):
        r = cv2.resize(c.astype(np.float32), (size, size), interpolation=cv2.INTER_AREA)
        lo, hi = float(r.min()), float(r.max())
        out[..., k] = np.round((r - lo) * (255.0 / (hi - lo))) if hi > lo else 0
    return out


def apex_image(crop: np.ndarray, size: int = FLOW_SIZE) -> np.ndarray:
    """The apex view of the shipped recogniser: the face crop, grey, resized to ``size`` (area average) and min-max
    normalised to 0..255 on its own; (size, size, 1) uint8."""
    import cv2

    g = cv2.resize(_grey(crop), (size, size), interpolation=cv2.INTER_AREA).astype(np.float32)
    lo, hi = float(g.min()), float(g.max())
    out = np.round((g - lo) * (255.0 / (hi - lo))) if hi > lo else np.zeros_like(g)
    return out.astype(np.uint8)[..., None]


def apex_input(apex_grey: np.ndarray, size: int) -> np.ndarray:
    """(1, size, size) float32 in 0..1."""
    import cv2

    return (cv2.resize(apex_grey, (size, size), interpolation=cv2.INTER_AREA).astype(np.float32) / 255.0)[None]


def sample_inputs(sample, config: FeatureConfig | None = None, analyzer=None) -> tuple[np.ndarray, np.ndarray]:
    """(flow input, apex input) of a :class:`MESample` (frames read from disk)."""
    from mimetic.media.images import read_image

    cfg = config or FeatureConfig()
    onset = read_image(sample.frame(sample.onset))
    apex = read_image(sample.frame(sample.apex))
    a, b = align_pair(onset, apex, cfg.work, analyzer)
    return flow_input(a, b, cfg.flow_size), apex_input(b, cfg.apex_size)

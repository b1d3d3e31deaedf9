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

__all__ = ["FeatureConfig", "flow_input", "apex_input", "sample_inputs", "align_pair"]


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

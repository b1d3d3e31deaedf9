"""Between the generator's 48-px faces and the expression network's 64-px aligned crops (numpy and OpenCV only)."""

from __future__ import annotations

import numpy as np

#: The generator's output side in pixels (FER2013's detail).
GAN_SIZE = 48


def to_crops(images: np.ndarray, size: int = 64) -> np.ndarray:
    """Generator output (N, 1, 48, 48) or (N, 48, 48) in [-1, 1] → uint8 crops (N, size, size), enlarged bilinearly
    as :func:`mimetic.expression.crop.align_crop` enlarges a 48-px-detail crop."""
    import cv2

    a = np.asarray(images, np.float32)
    if a.ndim == 4:
        a = a[:, 0]
    u8 = np.clip(np.rint((a + 1.0) * 127.5), 0, 255).astype(np.uint8)
    if u8.shape[-1] == size:
        return u8
    return np.stack([cv2.resize(im, (size, size), interpolation=cv2.INTER_LINEAR) for im in u8])


def shrink(crops: np.ndarray, size: int = GAN_SIZE) -> np.ndarray:
    """64-px training crops → the generator's side (area interpolation)."""
    import cv2

    if crops.shape[-1] == size:
        return np.asarray(crops, np.uint8)
    return np.stack([cv2.resize(c, (size, size), interpolation=cv2.INTER_AREA) for c in crops])

"""The expression network's input: a grey, fixed-size face crop aligned by a similarity transform.

Training (FER2013/FER+ 48×48 crops) and inference (any photo or video frame) both go through :func:`align_crop`,
so the network sees the same geometry either way.

The canonical geometry is FER2013's own: the anchor landmarks below sit where they sit, on average, in the FER2013
crops. They were measured by landmarking 1,451 FER+ ``train`` crops (1,500 drawn, 49 without a face; enlarged
4× with a 32-pixel grey margin, see :func:`crop_from_fer48`), taking the median of each point and making the set
left/right symmetric (so a horizontal flip of a crop is again a canonical crop); ``mimetic.train.prepare.
measure_fer_geometry`` repeats the measurement. In crop units (0..1 of the width and height):

- eye centres (mean of the two corners of each eye): x = 0.317 and 0.683, y = 0.397, inter-ocular distance 0.366;
  iris centres are at y ≈ 0.387, 0.375 apart;
- nose line (landmarks 168 → 4) from y = 0.381 to 0.585 on x = 0.5.

So a plain resize of a FER crop *is* the average alignment, and a face the landmarker cannot find in a FER crop
falls back to exactly that (:func:`fallback_crop`).

The transform is the least-squares similarity (Umeyama) that maps the 10 anchors (4 eye corners, 6 points of the
nose bridge) onto the template: closed form, deterministic, and steadier than two eye centres alone when the
head turns (the eye distance shrinks with yaw; the nose length does not).
"""

from __future__ import annotations

import numpy as np

#: Default crop side in pixels.
CROP_SIZE = 64

#: MediaPipe landmark index -> canonical (x, y) in crop units; measured on FER2013 crops (see the module doc).
CANONICAL: dict[int, tuple[float, float]] = {
    33: (0.239, 0.391),   # eye outer corner (subject's right eye, image left)
    133: (0.395, 0.404),  # eye inner corner (subject's right eye)
    362: (0.605, 0.404),  # eye inner corner (subject's left eye)
    263: (0.761, 0.391),  # eye outer corner (subject's left eye)
    168: (0.500, 0.381),  # nose bridge, between the eyes
    6: (0.500, 0.429),
    197: (0.500, 0.469),
    195: (0.500, 0.504),
    5: (0.500, 0.542),
    4: (0.500, 0.585),    # just above the nose tip
}
ANCHORS = np.array(list(CANONICAL), dtype=np.int64)
TEMPLATE = np.array(list(CANONICAL.values()), dtype=np.float64)

#: How a FER-style 48×48 crop is shown to the landmarker: enlarged this many times, with this grey margin (px).
FER_UPSCALE = 4
FER_MARGIN = 32
FER_PAD_VALUE = 128


def similarity(src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    """The least-squares similarity (rotation, uniform scale, translation) taking ``src`` (K, 2) onto ``dst``
    (K, 2), as a (2, 3) matrix (Umeyama 1991, without reflection)."""
    src = np.asarray(src, dtype=np.float64)
    dst = np.asarray(dst, dtype=np.float64)
    ms, md = src.mean(0), dst.mean(0)
    s, d = src - ms, dst - md
    var = (s ** 2).sum()
    if var <= 1e-12:
        raise ValueError("the anchor landmarks coincide: no alignment possible")
    # 2-D closed form: the rotation/scale as a complex number a + ib.
    a = (s[:, 0] * d[:, 0] + s[:, 1] * d[:, 1]).sum() / var
    b = (s[:, 0] * d[:, 1] - s[:, 1] * d[:, 0]).sum() / var
    m = np.array([[a, -b, 0.0], [b, a, 0.0]])
    m[:, 2] = md - m[:, :2] @ ms
    return m


def alignment_matrix(landmarks_xy: np.ndarray, size: int = CROP_SIZE) -> np.ndarray:
    """The (2, 3) matrix that maps image pixels to pixels of the ``size``×``size`` canonical crop."""
    pts = np.asarray(landmarks_xy, dtype=np.float64)
    if pts.ndim != 2 or pts.shape[0] != 478 or pts.shape[1] < 2:
        raise ValueError(f"landmarks_xy must be (478, 2) pixels, got shape {pts.shape}")
    return similarity(pts[ANCHORS, :2], TEMPLATE * size)


def _grey(image: np.ndarray) -> np.ndarray:
    import cv2

    if image.ndim == 2:
        return image
    if image.ndim == 3 and image.shape[2] == 1:
        return image[:, :, 0]
    if image.ndim == 3 and image.shape[2] == 3:
        return cv2.cvtColor(image, cv2.COLOR_RGB2GRAY)
    if image.ndim == 3 and image.shape[2] == 4:
        return cv2.cvtColor(image, cv2.COLOR_RGBA2GRAY)
    raise ValueError(f"expected a grey (H, W) or RGB (H, W, 3) image, got shape {image.shape}")


def align_crop(gray_or_rgb: np.ndarray, landmarks_xy: np.ndarray, size: int = CROP_SIZE, *,
               detail: int | None = None) -> np.ndarray:
    """The canonical grey crop, (size, size) uint8, of the face whose 478 landmarks (pixels of this image; x, y —
    a z column is ignored) are given.

    Shrinking is anti-aliased (warp to an intermediate 2^k multiple of ``size``, then area-resize); pixels outside
    the image repeat the border. ``detail``: when the face has more pixels than that across the crop, the crop is
    made at ``detail``×``detail`` and enlarged to ``size`` (bilinear), so that a sharp photo carries no finer
    detail than the training crops did (48 for a network trained on FER2013's 48×48 crops enlarged to 64).
    """
    import cv2

    image = np.asarray(gray_or_rgb)
    if image.dtype != np.uint8:
        raise ValueError(f"expected a uint8 image, got {image.dtype}")
    if detail is not None and detail < size:
        m = alignment_matrix(landmarks_xy, detail)
        if float(np.hypot(m[0, 0], m[1, 0])) < 1.0:  # the source is finer than `detail`: limit it
            small = align_crop(image, landmarks_xy, detail)
            return cv2.resize(small, (size, size), interpolation=cv2.INTER_LINEAR)
    m = alignment_matrix(landmarks_xy, size)
    scale = float(np.hypot(m[0, 0], m[1, 0]))  # crop pixels per image pixel
    factor = 1
    while scale * factor < 0.5 and factor < 8:  # each output pixel would skip source pixels: supersample
        factor *= 2
    out = size * factor
    m_big = m * factor
    warped = cv2.warpAffine(image, m_big, (out, out), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    grey = _grey(warped)
    if factor > 1:
        grey = cv2.resize(grey, (size, size), interpolation=cv2.INTER_AREA)
    return np.ascontiguousarray(grey, dtype=np.uint8)


def fallback_crop(gray_or_rgb: np.ndarray, size: int = CROP_SIZE) -> np.ndarray:
    """The crop used when no face is found in a FER-style crop: the whole image resized. Because the canonical
    geometry is FER2013's average, this is the average alignment."""
    import cv2

    grey = _grey(np.asarray(gray_or_rgb, dtype=np.uint8))
    interp = cv2.INTER_AREA if grey.shape[0] > size else cv2.INTER_LINEAR
    return cv2.resize(grey, (size, size), interpolation=interp)


def landmark_small(image: np.ndarray, landmarker, *, upscale: int = FER_UPSCALE, margin: int = FER_MARGIN):
    """Landmark a small, tightly cropped face (a FER 48×48 crop, a RAF-DB 100×100 aligned face, …).

    The image is enlarged ``upscale`` times (bicubic) and padded with a grey ``margin`` so that MediaPipe's
    detector sees a whole face with room around it. Returns ``(raw_face, landmarks)``: MediaPipe's ``RawFace``
    (for the enlarged image) and the (478, 3) landmarks in pixels of ``image`` (z in the same scale), or
    ``(None, None)`` when no face is found.
    """
    import cv2

    grey = np.asarray(image, dtype=np.uint8)
    h, w = grey.shape[:2]
    big = cv2.resize(grey, (w * upscale, h * upscale), interpolation=cv2.INTER_CUBIC)
    big = cv2.copyMakeBorder(big, margin, margin, margin, margin, cv2.BORDER_CONSTANT,
                             value=(FER_PAD_VALUE,) * 3 if big.ndim == 3 else FER_PAD_VALUE)
    rgb = np.repeat(big[:, :, None], 3, axis=2) if big.ndim == 2 else big[:, :, :3]
    faces = landmarker.detect(np.ascontiguousarray(rgb))
    if not faces:
        return None, None
    bh, bw = rgb.shape[:2]

    def size_of(f):
        p = f.landmarks_norm[:, :2] * (bw, bh)
        return float(np.ptp(p[:, 0]) * np.ptp(p[:, 1]))

    raw = max(faces, key=size_of)
    px = raw.landmarks_norm.astype(np.float64) * np.array([bw, bh, bw])
    px[:, :2] -= margin
    px /= upscale
    return raw, px.astype(np.float32)


def crop_from_fer48(img48: np.ndarray, landmarker=None, *, size: int = CROP_SIZE) -> tuple[np.ndarray | None, np.ndarray | None]:
    """Align a FER-style 48×48 grey crop: ``(aligned crop, landmarks (478, 3) in pixels of img48)``, or
    ``(None, None)`` when the landmarker finds no face (then use :func:`fallback_crop` and count it).

    ``landmarker``: an image-mode ``mimetic.face.landmarker.Landmarker`` to reuse (creating one costs ~0.1 s);
    when omitted a temporary one is made and closed.
    """
    if landmarker is None:
        from mimetic.face.landmarker import Landmarker

        with Landmarker(mode="image", max_faces=1) as lm:
            return crop_from_fer48(img48, lm, size=size)
    _, lms = landmark_small(img48, landmarker)
    if lms is None:
        return None, None
    return align_crop(img48, lms[:, :2], size), lms

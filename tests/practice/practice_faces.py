"""Real faces for the practice tests: the neutral fixture portrait, real photo edits of it (mouth corners lifted
by a local image warp, then analysed again by MediaPipe), and landmark sequences interpolated between them.

The image warp and landmark-edit helpers are the ones tests/test_facs.py uses for its one-sided AU tests.
"""

from __future__ import annotations

import numpy as np
import pytest

from test_facs import _edited, _iod, _load, _one, _warp

#: the person's right eye lids and the left eye lids (MediaPipe indices, as in tests/test_facs.py)
RIGHT_UPPER, RIGHT_LOWER = [246, 161, 160, 159, 158, 157, 173], [7, 163, 144, 145, 153, 154, 155]
LEFT_UPPER, LEFT_LOWER = [466, 388, 387, 386, 385, 384, 398], [249, 390, 373, 374, 380, 381, 382]


def blend(face, target, alpha: float):
    """``face`` with its landmarks moved ``alpha`` (0..1) of the way to ``target``'s (another analysis of the same
    person); blendshapes and pose matrix stay ``face``'s."""
    p0, p1 = face.landmarks.astype(float), target.landmarks.astype(float)
    return _edited(face, (1 - alpha) * p0 + alpha * p1)


def moved(face, centre: int, shift_iod, sigma_iod: float = 0.25, dz_iod: float = 0.0):
    """``face`` with the landmarks around ``centre`` moved by ``shift_iod`` (image dx, dy in IOD units) and ``dz_iod``
    (pixel z; negative = toward the camera), with a Gaussian falloff."""
    p = face.landmarks.astype(float)
    iod = _iod(face)
    w = np.exp(-((np.linalg.norm(p[:, :2] - p[centre, :2], axis=1) / (sigma_iod * iod)) ** 2))
    q = p.copy()
    q[:, 0] += shift_iod[0] * iod * w
    q[:, 1] += shift_iod[1] * iod * w
    q[:, 2] += dz_iod * iod * w
    return _edited(face, q)


def face_frame_edit(face, shifts: dict[int, tuple[float, float]], sigma_iod: float = 0.2):
    """``face`` with the landmarks around each centre moved by (out, up) in IOD units **in the face's frame**
    (out = away from the midline along the eye line, up = normal to it), with a Gaussian falloff."""
    p = face.landmarks.astype(float)
    iod = _iod(face)
    e = p[[263, 362], :2].mean(0) - p[[33, 133], :2].mean(0)
    e /= np.linalg.norm(e)
    up = np.array([e[1], -e[0]])
    mid = 0.5 * (p[[263, 362], :2].mean(0) + p[[33, 133], :2].mean(0))
    q = p.copy()
    for centre, (out, lift) in shifts.items():
        side = 1.0 if (p[centre, :2] - mid) @ e > 0 else -1.0
        w = np.exp(-((np.linalg.norm(p[:, :2] - p[centre, :2], axis=1) / (sigma_iod * iod)) ** 2))
        q[:, :2] += np.outer(w, iod * (side * out * e + lift * up))
    return _edited(face, q)


def narrowed(face, fraction: float, sides=("left", "right")):
    """``face`` with its eyes narrowed: both lids moved toward each other by ``fraction`` / 2 of the lid gap."""
    q = face.landmarks.astype(float).copy()
    for side in sides:
        up, lo = (LEFT_UPPER, LEFT_LOWER) if side == "left" else (RIGHT_UPPER, RIGHT_LOWER)
        gap = q[lo, 1] - q[up, 1]
        q[up, 1] += 0.5 * fraction * gap
        q[lo, 1] -= 0.5 * fraction * gap
    return _edited(face, q)




_CACHE: dict = {}


def real_faces(analyzer) -> dict:
    """name -> Face (computed once per process): "neutral" (biden_portrait), "smile" (both mouth corners warped up
    and out by ~0.13 IOD, re-analysed), "half_smile" (only the person's right corner, on the image's left),
    "happy" (astronaut_nasa, a real broad smile)."""
    if not _CACHE:
        img = _load("biden_portrait")
        neutral = _one(analyzer, img)
        iod = _iod(neutral)
        # shifts in the face's own frame (the portrait is rolled ~8°): out = along the eye line, up = normal to it
        p = neutral.landmarks[:, :2].astype(float)
        e = p[[263, 362]].mean(0) - p[[33, 133]].mean(0)
        e /= np.linalg.norm(e)  # toward the person's left, image coordinates
        up = np.array([e[1], -e[0]])
        right, left = p[61], p[291]  # person's right corner = image left
        up_out_r, up_out_l = iod * (-0.07 * e + 0.11 * up), iod * (0.07 * e + 0.11 * up)
        both = _warp(_warp(img, right, up_out_r, 0.15 * iod), left, up_out_l, 0.15 * iod)
        half = _warp(img, right, up_out_r, 0.15 * iod)
        _CACHE.update(neutral=neutral, smile=_one(analyzer, both), half_smile=_one(analyzer, half),
                      happy=_one(analyzer, _load("astronaut_nasa")))
    return _CACHE


@pytest.fixture(scope="module")
def faces(analyzer):
    return real_faces(analyzer)

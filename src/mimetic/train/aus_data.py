"""Landmark FACS-coded and neutral face crops once for the AU fit (``mimetic train aus``).

A small crop (CK+48, FER 48×48) is enlarged 4× with a 32-px grey margin before MediaPipe sees it
(:func:`mimetic.expression.crop.landmark_small`, the same recipe as the expression training). What is kept per
image: the 478 landmarks in pixels of the crop, the 52 blendshapes (in :data:`BLENDSHAPES` order) and MediaPipe's
matrix; ``found`` is False where no face was found. Written in checkpoints (every 250 images) so an interrupted run
carries on.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np


def landmark_crops(images: np.ndarray, out: str | Path, *, log=print, every: int = 250) -> Path:
    """Landmark every crop of ``images`` ((n, h, w) uint8) into ``out`` (.npz), resuming a partial file."""
    from mimetic.expression.crop import landmark_small
    from mimetic.expression.geometric import BLENDSHAPES
    from mimetic.face.landmarker import Landmarker
    from mimetic.media.atomic import atomic_path

    out = Path(out)
    n = len(images)
    lms = np.full((n, 478, 3), np.nan, np.float32)
    bss = np.full((n, len(BLENDSHAPES)), np.nan, np.float32)
    mats = np.full((n, 4, 4), np.nan, np.float32)
    found = np.zeros(n, bool)
    done = 0
    if out.is_file():
        with np.load(out) as z:
            if len(z["found"]) == n:
                lms, bss, mats, found, done = (z["landmarks"].copy(), z["blendshapes"].copy(), z["matrix"].copy(),
                                               z["found"].copy(), int(z["done"]))
    t0 = time.perf_counter()

    def save(k: int) -> None:
        with atomic_path(out) as tmp:
            with open(tmp, "wb") as fh:
                np.savez(fh, landmarks=lms, blendshapes=bss, matrix=mats, found=found, done=k)

    with Landmarker(mode="image", max_faces=1) as lm:
        for i in range(done, n):
            raw, px = landmark_small(images[i], lm)
            if raw is not None:
                lms[i] = px
                bss[i] = [raw.blendshapes.get(b, np.nan) for b in BLENDSHAPES]
                mats[i] = raw.matrix
                found[i] = True
            if (i + 1) % every == 0 or i + 1 == n:
                save(i + 1)
                rate = (i + 1 - done) / max(time.perf_counter() - t0, 1e-9)
                log(f"{out.name}: {i + 1}/{n} ({rate:.1f}/s), found {int(found[: i + 1].sum())}")
    return out

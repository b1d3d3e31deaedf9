"""Region texture features of the fitted AU models: histograms of oriented gradients (HOG) of fixed windows of the
aligned grey face crop, per side.

Landmarks miss what a movement does to the skin: the wrinkles across the nose root (AU9), the bunched chin (AU17),
the pressed, narrowed lips (AU23/24), the folds between the brows (AU4) and across the forehead (AU1/2). OpenFace
reads AUs from HOG of the aligned face for that reason. Here the crop is the expression stage's own
(:func:`mimetic.expression.crop.align_crop`, :data:`CROP_SIZE` px with the detail limited to :data:`CROP_DETAIL` px,
so a sharp photo shows no finer texture than the 48-px training crops); :func:`face_crop` makes it once per face
and the expression model reads the same array.

The crop is cut into 8×8-pixel cells (:data:`CELL`), each a 9-bin histogram of unsigned gradient orientation
weighted by gradient magnitude. Each region (:data:`WINDOWS`, the regions of :mod:`mimetic.facs.regions`) owns a
set of cells on the person's right (the image's left half); the same cells of the horizontally mirrored crop are
the person's left, so a mirrored face swaps the two sides exactly. The regions' cells are disjoint: a change of the
pixels of one region moves only that region's features. A region's cells are one block, L2-normalised, clipped at
0.2 and normalised again (Dalal-Triggs L2-Hys), so lighting and contrast cancel.

Learned region features
-----------------------
HOG sees edges; it does not know what a resting brow looks like across ten thousand people. Each region also has a
small CNN (``au_regions.onnx``, :data:`REGION_NET_PATH`; trained by :mod:`mimetic.train.au_regions`) that sees only
that region's cells of one side (:func:`region_patches`: the cells' bounding box, every pixel outside the region's
cells replaced by the mean of the region's own pixels) and was taught, on the 28,000 FER+ training faces, to predict
the shipped expression ensemble's probabilities for the whole face: the expression evidence visible in this region
alone. Its 8 log-probabilities and its 64 pooled features (:data:`LEARNED_SIZE`) follow the region's HOG block.
They read the same cells, so a change of the pixels of one region still moves only that region's features, and the
left side still comes from the mirrored crop.

Cost: ~0.1 ms per face for the HOG (the crop and its mirror image in one pass: gradients, one histogram, block
norms), ~0.25 ms for the four region networks (patches and one onnxruntime call, both sides in one batch; measured
idle, 2026-12-07, ``bench/au_stage.py``); the crop itself ~0.14 ms.
"""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np

from mimetic.errors import ModelNotFoundError

#: The crop the texture is read from: the expression stage's (``align_crop(rgb, landmarks, 64, detail=48)``).
CROP_SIZE = 64
CROP_DETAIL = 48
CELL = 8
BINS = 9
_GRID = CROP_SIZE // CELL

#: Per region, the (row, column) cells of the 8×8 grid on the person's right (columns 0-3 = image left half; the
#: midline columns 3/4 of the nose and mouth are read from each side). Rows: 0-1 forehead, 2 brows, 3 eyes,
#: 4 cheeks and nose (ala ≈ (25, 39)), 5 nostrils and upper lip, 6 lips, 7 chin (the canonical crop: eyes at
#: y ≈ 25 px, brows ≈ 17, mouth ≈ 49, chin ≈ 63; docs/training.md).
WINDOWS: dict[str, tuple[tuple[int, int], ...]] = {
    "brow": tuple((r, c) for r in (0, 1, 2) for c in (0, 1, 2, 3)),
    "eye": ((3, 0), (3, 1), (3, 2), (4, 0), (4, 1)),
    "nose": ((3, 3), (4, 2), (4, 3)),
    "mouth": tuple((r, c) for r in (5, 6, 7) for c in (1, 2, 3)),
}


#: The learned features of a region per side (:mod:`mimetic.train.au_regions`): 8 log-probabilities, 64 pooled.
LEARNED_LOGITS = 8
LEARNED_EMBED = 64
LEARNED_SIZE = LEARNED_LOGITS + LEARNED_EMBED
#: The region networks (one ONNX graph: input ``<region>`` patches, output ``<region>_features``).
REGION_NET_PATH = Path(__file__).resolve().parent.parent / "models" / "au_regions.onnx"


def texture_size(region: str) -> int:
    """The number of texture features of a region (per side): its HOG cells, then its learned features."""
    return len(WINDOWS.get(region, ())) * BINS + (LEARNED_SIZE if region in WINDOWS else 0)


def region_box(region: str) -> tuple[slice, slice, np.ndarray]:
    """The (rows, columns) of a region's bounding box in the crop (person's right side) and the mask of its own
    cells inside that box."""
    return _BOXES[region]


def _boxes() -> dict[str, tuple[slice, slice, np.ndarray]]:
    out = {}
    for r, cells in WINDOWS.items():
        rows, cols = [a for a, _ in cells], [c for _, c in cells]
        r0, c0 = min(rows), min(cols)
        mask = np.zeros(((max(rows) + 1 - r0) * CELL, (max(cols) + 1 - c0) * CELL), bool)
        for a, c in cells:
            mask[(a - r0) * CELL:(a - r0 + 1) * CELL, (c - c0) * CELL:(c - c0 + 1) * CELL] = True
        out[r] = (slice(r0 * CELL, (max(rows) + 1) * CELL), slice(c0 * CELL, (max(cols) + 1) * CELL), mask)
    return out


_BOXES = _boxes()


def region_patches(crops: np.ndarray, region: str) -> np.ndarray:
    """``(n, h, w)`` float32 patches of a region (person's right side) of grey crops ``(n, 64, 64)``: the bounding
    box of its cells, pixels outside its cells set to the mean of its own pixels (so nothing outside the region is
    read). Pass the mirrored crops for the person's left side."""
    rows, cols, mask = _BOXES[region]
    p = np.asarray(crops)[:, rows, cols].astype(np.float32)
    fill = (p * mask).sum(axis=(1, 2), dtype=np.float32) / np.float32(mask.sum())
    return np.where(mask[None], p, fill[:, None, None]).astype(np.float32)


_SESSION: dict = {}
_LOCK = threading.Lock()


def _region_session():
    if "s" in _SESSION:
        return _SESSION["s"]
    with _LOCK:
        if "s" not in _SESSION:
            if not REGION_NET_PATH.exists():
                raise ModelNotFoundError(f"the AU region networks are missing ({REGION_NET_PATH}); reinstall "
                                         f"Mimetic or refit them with `mimetic train au-regions`")
            import onnxruntime as ort

            opts = ort.SessionOptions()
            opts.intra_op_num_threads = 1
            opts.inter_op_num_threads = 1
            _SESSION["s"] = ort.InferenceSession(str(REGION_NET_PATH), opts, providers=["CPUExecutionProvider"])
        return _SESSION["s"]


def learned_features(crops: np.ndarray, session=None) -> dict[str, np.ndarray]:
    """Per region, the region network's features ``(n, LEARNED_SIZE)`` of grey crops ``(n, 64, 64)`` (each crop's
    person's right side; pass mirrored crops for the left). ``session``: an onnxruntime session of another region
    network file (default: the shipped :data:`REGION_NET_PATH`)."""
    sess = session or _region_session()
    feeds = {r: region_patches(crops, r)[:, None] for r in WINDOWS}
    outs = sess.run([f"{r}_features" for r in WINDOWS], feeds)
    return dict(zip(WINDOWS, outs))


def face_crop(rgb: np.ndarray, face) -> np.ndarray:
    """The aligned grey crop (``CROP_SIZE``², uint8) of one face of ``rgb`` that the texture features read."""
    from mimetic.expression.crop import align_crop

    return align_crop(rgb, np.asarray(face.landmarks)[:, :2], CROP_SIZE, detail=CROP_DETAIL)


_CELL_OF = np.arange(CROP_SIZE) // CELL
#: per pixel, the first histogram index of its cell (``cell × BINS``)
_CELL_KEY = ((_CELL_OF[:, None] * _GRID + _CELL_OF[None, :]) * BINS).astype(np.intp)
#: ``floor(angle × BINS/π) + BINS`` (angle of ``arctan2`` in [-π, π]) → unsigned orientation bin: [-π, 0) and
#: [0, π) fold onto the same bins, π onto bin 0.
_FOLD = np.array([*range(BINS), *range(BINS), 0], dtype=np.intp)
#: the region cells in :data:`WINDOWS` order, and each feature's region (for the per-region block normalisation)
_ROWS = np.array([r for cells in WINDOWS.values() for r, _ in cells], dtype=np.intp)
_COLS = np.array([c for cells in WINDOWS.values() for _, c in cells], dtype=np.intp)
_STARTS = np.cumsum([0] + [len(c) * BINS for c in WINDOWS.values()])[:-1]
_SEGMENT = np.repeat(np.arange(len(WINDOWS)), [len(c) * BINS for c in WINDOWS.values()])
_HOG_SIZE = int(sum(len(c) for c in WINDOWS.values()) * BINS)
#: each region's HOG block in the HOG vector
_HOG_SLICES = [slice(int(a), int(a) + len(c) * BINS) for a, c in zip(_STARTS, WINDOWS.values())]
_ENDS = np.cumsum([texture_size(r) for r in WINDOWS])
#: each region's slice of :func:`texture_vector`: its HOG block, then its learned features
SLICES: dict[str, slice] = {r: slice(int(e) - texture_size(r), int(e)) for r, e in zip(WINDOWS, _ENDS)}
TEXTURE_SIZE = int(_ENDS[-1])


def _cells(crops: np.ndarray) -> np.ndarray:
    """(n, 8, 8, BINS) orientation histograms of (n, 64, 64) grey crops: central differences (0 on the border),
    magnitude-weighted votes into 9 unsigned orientation bins of 20°."""
    g = crops.astype(np.float32)
    gx = np.zeros_like(g)
    gy = np.zeros_like(g)
    np.subtract(g[:, :, 2:], g[:, :, :-2], out=gx[:, :, 1:-1])
    np.subtract(g[:, 2:, :], g[:, :-2, :], out=gy[:, 1:-1, :])
    mag = np.sqrt(gx * gx + gy * gy)
    t = (np.arctan2(gy, gx) * np.float32(BINS / np.pi) + np.float32(BINS)).astype(np.intp)
    n = len(g)
    key = _FOLD[t] + _CELL_KEY
    if n > 1:
        key += (np.arange(n, dtype=np.intp) * (_GRID * _GRID * BINS))[:, None, None]
    h = np.bincount(key.ravel(), weights=mag.ravel(), minlength=n * _GRID * _GRID * BINS)
    return h.reshape(n, _GRID, _GRID, BINS)


def _block_norm(v: np.ndarray) -> np.ndarray:
    """L2-normalise each region's block of ``v`` (m, TEXTURE_SIZE) in place (+1e-3)."""
    norm = np.sqrt(np.add.reduceat(v * v, _STARTS, axis=1))
    v /= (norm + 1e-3)[:, _SEGMENT]
    return v


def texture_vector(crops: np.ndarray) -> np.ndarray:
    """Every region's texture features in :data:`WINDOWS` order (each region at :data:`SLICES`), per side:
    ``(n, TEXTURE_SIZE, 2)`` (person's left, right) of grey crops ``(n, 64, 64)``, or ``(TEXTURE_SIZE, 2)`` of one
    crop ``(64, 64)``. Both sides in one pass: the crop and its mirror image."""
    x = np.asarray(crops)
    one = x.ndim == 2
    if one:
        x = x[None]
    if x.shape[1:] != (CROP_SIZE, CROP_SIZE):
        raise ValueError(f"expected {CROP_SIZE}x{CROP_SIZE} grey crops, got shape {x.shape}")
    n = len(x)
    both = np.concatenate([x[:, :, ::-1], x])  # person's left (the mirrored crop), then right
    h = _cells(both)
    v = h[:, _ROWS, _COLS, :].reshape(2 * n, _HOG_SIZE)
    v = _block_norm(np.minimum(_block_norm(v), 0.2))  # L2-Hys
    learned = learned_features(both)
    out = np.concatenate([p for r, s in zip(WINDOWS, _HOG_SLICES) for p in (v[:, s], learned[r])], axis=1,
                         dtype=np.float32)
    f = np.stack([out[:n], out[n:]], axis=2)
    return f[0] if one else f


def texture_features(crops: np.ndarray) -> dict[str, np.ndarray]:
    """Per region, the texture features ``(n, texture_size(region), 2)`` (person's left, right) of grey crops
    ``(n, 64, 64)`` or one crop ``(64, 64)`` (then ``(texture_size, 2)``): the slices of :func:`texture_vector`."""
    v = texture_vector(crops)
    return {r: v[..., s, :] for r, s in SLICES.items()}

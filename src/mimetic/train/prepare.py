"""Landmark and align every image of a dataset once, and keep the aligned crops on disk.

The cache lives in ``$MIMETIC_CACHE`` or ``~/.cache/mimetic`` (or ``cache_dir``), one folder per source file and
crop recipe: ``<name>-<content hash>-s<size>-r<recipe>/part-NNNNN.npz``, each part holding ``chunk`` consecutive
images of the source (whatever the class set: labels are not cached). Parts are written atomically, so an
interrupted run loses at most one part and the next run carries on where it stopped.

A part holds ``crops`` (n, size, size) uint8, ``found`` (n,) bool (False: the landmarker found no face and the
crop is :func:`mimetic.expression.crop.fallback_crop`), ``landmarks`` (n, 478, 3) float16 in pixels of the
source image (NaN when not found), ``blendshapes`` (n, 52) float16 and ``matrix`` (n, 4, 4) float32 (MediaPipe's
facial transformation), so that geometric models can be trained without landmarking again.

``mimetic train prepare DATA [--size 64] [--cache-dir DIR]`` fills the cache from a shell.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import numpy as np

from mimetic.expression.crop import (CROP_SIZE, FER_MARGIN, FER_UPSCALE, align_crop, fallback_crop,
                                     landmark_small)
from mimetic.train.datasets import Source

#: Bump when the crop recipe (template, interpolation, landmarking) changes: old caches are then not reused.
RECIPE = 1
#: Images larger than this (longest side, px) are landmarked as photos; smaller ones as tight face crops.
SMALL_SIDE = 256
N_BLENDSHAPES = 52


def default_cache_dir() -> Path:
    return Path(os.environ.get("MIMETIC_CACHE") or Path.home() / ".cache" / "mimetic")


def landmark_any(image: np.ndarray, landmarker, *, small: bool):
    """``(raw_face, landmarks (478, 3) in pixels of image)`` of the largest face, or ``(None, None)``.

    Tight crops (``small`` sources, or images up to :data:`SMALL_SIDE`) are enlarged to about 192 px with a
    grey margin first, as :func:`mimetic.expression.crop.landmark_small` does for FER crops."""
    h, w = image.shape[:2]
    side = max(h, w)
    if side <= 48:
        return landmark_small(image, landmarker, upscale=FER_UPSCALE, margin=FER_MARGIN)
    if small or side <= SMALL_SIDE:
        up = max(1, round(192 / side))
        return landmark_small(image, landmarker, upscale=up, margin=max(8, side * up // 6))
    rgb = image if image.ndim == 3 else np.repeat(image[:, :, None], 3, axis=2)
    faces = landmarker.detect(np.ascontiguousarray(rgb[:, :, :3]))
    if not faces:
        return None, None
    raw = max(faces, key=lambda f: float(np.ptp(f.landmarks_norm[:, 0]) * np.ptp(f.landmarks_norm[:, 1])))
    px = raw.landmarks_norm.astype(np.float64) * np.array([w, h, w])
    return raw, px.astype(np.float32)


class CropCache:
    """The aligned crops of one source, in parts of ``chunk`` images."""

    def __init__(self, source: Source, cache_dir: str | os.PathLike | None = None, *, size: int = CROP_SIZE,
                 chunk: int = 500):
        self.source = source
        self.size = int(size)
        self.chunk = int(chunk)
        stem = Path(source.path).stem or source.kind
        self.dir = Path(cache_dir or default_cache_dir()) / f"{stem}-{source.fingerprint}-s{self.size}-r{RECIPE}"
        meta = self.dir / "meta.json"
        if meta.is_file():  # parts already made keep their chunking
            try:
                self.chunk = int(json.loads(meta.read_text())["chunk"])
            except (ValueError, KeyError, OSError):
                pass
        self.n_parts = (source.n_images + self.chunk - 1) // self.chunk

    def part_path(self, k: int) -> Path:
        return self.dir / f"part-{k:05d}.npz"

    def parts_for(self, indices: np.ndarray | None = None) -> list[int]:
        if indices is None:
            return list(range(self.n_parts))
        return sorted(set((np.asarray(indices, dtype=np.int64) // self.chunk).tolist()))

    def missing(self, indices: np.ndarray | None = None) -> list[int]:
        return [k for k in self.parts_for(indices) if not self.part_path(k).is_file()]

    # -- filling ---------------------------------------------------------------------------------------------
    def ensure(self, indices: np.ndarray | None = None, *, progress: bool = True, log=print) -> dict:
        """Landmark and align the parts holding ``indices`` (default: all) that are not cached yet.
        Returns counts: images processed now, faces not found among them, seconds."""
        todo = self.missing(indices)
        stats = {"images": 0, "not_found": 0, "seconds": 0.0, "parts": len(todo), "dir": str(self.dir)}
        if not todo:
            return stats
        from mimetic.face.landmarker import Landmarker

        self.dir.mkdir(parents=True, exist_ok=True)
        self._write_meta()
        total = sum(min(self.chunk, self.source.n_images - k * self.chunk) for k in todo)
        t0 = time.perf_counter()
        with Landmarker(mode="image", max_faces=1) as lm, _progress(progress, total, "aligning") as bar:
            for k in todo:
                part = self._make_part(k, lm, bar)
                stats["images"] += len(part["found"])
                stats["not_found"] += int((~part["found"]).sum())
                _save_npz_atomic(self.part_path(k), part)
                if log and not progress:
                    done = stats["images"]
                    rate = done / max(time.perf_counter() - t0, 1e-9)
                    log(f"part {k + 1}/{self.n_parts}: {done}/{total} images, {rate:.0f}/s, "
                        f"no face {stats['not_found']}")
        stats["seconds"] = time.perf_counter() - t0
        return stats

    def _make_part(self, k: int, lm, bar) -> dict[str, np.ndarray]:
        lo, hi = k * self.chunk, min((k + 1) * self.chunk, self.source.n_images)
        n = hi - lo
        crops = np.zeros((n, self.size, self.size), np.uint8)
        found = np.zeros(n, bool)
        lms = np.full((n, 478, 3), np.nan, np.float16)
        shapes = np.full((n, N_BLENDSHAPES), np.nan, np.float16)
        matrix = np.full((n, 4, 4), np.nan, np.float32)
        names = None
        t0 = time.perf_counter()
        for j, i in enumerate(range(lo, hi)):
            image = np.asarray(self.source.load(i), dtype=np.uint8)
            raw, px = landmark_any(image, lm, small=self.source.small)
            if raw is None:
                crops[j] = fallback_crop(image, self.size)
            else:
                crops[j] = align_crop(image, px[:, :2], self.size)
                found[j] = True
                lms[j] = px
                matrix[j] = raw.matrix
                if raw.blendshapes and len(raw.blendshapes) == N_BLENDSHAPES:
                    shapes[j] = list(raw.blendshapes.values())
                    names = names or list(raw.blendshapes)
            if bar is not None:
                bar.advance()
        return {"crops": crops, "found": found, "landmarks": lms, "blendshapes": shapes, "matrix": matrix,
                "blendshape_names": np.array(names or [], dtype=str),
                "seconds": np.float64(time.perf_counter() - t0)}

    def _write_meta(self) -> None:
        from mimetic.media.atomic import atomic_write_text

        meta = {"source": str(Path(self.source.path).resolve()), "kind": self.source.kind,
                "fingerprint": self.source.fingerprint, "images": self.source.n_images, "size": self.size,
                "chunk": self.chunk, "recipe": RECIPE}
        atomic_write_text(self.dir / "meta.json", json.dumps(meta, indent=2) + "\n")

    # -- reading ---------------------------------------------------------------------------------------------
    def load(self, indices: np.ndarray | None = None, keys: tuple[str, ...] = ("crops", "found")) -> dict:
        """Arrays ``keys`` for the images ``indices`` of the source (default: all), in that order. The parts must
        be cached (:meth:`ensure`)."""
        idx = np.arange(self.source.n_images) if indices is None else np.asarray(indices, dtype=np.int64)
        missing = self.missing(idx)
        if missing:
            raise FileNotFoundError(f"{self.dir}: parts {missing[:5]}{'…' if len(missing) > 5 else ''} are not "
                                    f"prepared yet (run prepare first)")
        out: dict[str, list] = {k: [] for k in keys}
        order = np.argsort(idx, kind="stable")
        sorted_idx = idx[order]
        for k in self.parts_for(idx):
            lo = k * self.chunk
            sel = sorted_idx[(sorted_idx >= lo) & (sorted_idx < lo + self.chunk)] - lo
            with np.load(self.part_path(k), allow_pickle=False) as part:
                for key in keys:
                    out[key].append(part[key][sel])
        result = {}
        inverse = np.empty_like(order)
        inverse[order] = np.arange(len(order))
        for key in keys:
            arr = np.concatenate(out[key]) if out[key] else np.zeros((0,))
            result[key] = arr[inverse]
        return result

    def stats(self) -> dict:
        """Found / not found counts and the landmarking time over the cached parts."""
        n = nf = 0
        secs = 0.0
        for k in range(self.n_parts):
            if self.part_path(k).is_file():
                with np.load(self.part_path(k)) as part:
                    n += len(part["found"])
                    nf += int((~part["found"]).sum())
                    secs += float(part["seconds"])
        return {"images": n, "not_found": nf, "seconds": secs, "parts_done": sum(
            self.part_path(k).is_file() for k in range(self.n_parts)), "parts": self.n_parts, "dir": str(self.dir)}


def _save_npz_atomic(path: Path, arrays: dict[str, np.ndarray]) -> None:
    from mimetic.media.atomic import atomic_path

    with atomic_path(path) as tmp:
        with open(tmp, "wb") as fh:
            np.savez(fh, **arrays)


class _progress:
    """A rich progress bar, or nothing."""

    def __init__(self, enabled: bool, total: int, label: str):
        self.enabled, self.total, self.label = enabled, total, label
        self._p = None

    def __enter__(self):
        if not self.enabled:
            return None
        from rich.progress import (BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn,
                                   TimeRemainingColumn)

        self._p = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                           TimeElapsedColumn(), TimeRemainingColumn())
        self._p.start()
        task = self._p.add_task(self.label, total=self.total)
        p = self._p

        class _Bar:
            def advance(self, n: int = 1) -> None:
                p.advance(task, n)

        return _Bar()

    def __exit__(self, *exc) -> None:
        if self._p is not None:
            self._p.stop()


def prepare(source: Source, cache_dir: str | os.PathLike | None = None, *, size: int = CROP_SIZE,
            splits: tuple[str, ...] | None = None, progress: bool = True) -> CropCache:
    """Fill the cache for ``source`` (only the parts holding rows of ``splits``, when given) and return it."""
    cache = CropCache(source, cache_dir, size=size)
    rows = source.rows if splits is None else source.rows[np.isin(source.split, splits)]
    cache.ensure(rows, progress=progress)
    return cache


def measure_fer_geometry(npz: str | os.PathLike, n: int = 1500, seed: int = 1) -> dict:
    """Where MediaPipe's anchor landmarks sit in FER2013 crops (crop units), as used for
    :data:`mimetic.expression.crop.CANONICAL`: medians over ``n`` random ``train`` crops, then made symmetric."""
    from mimetic.expression.crop import ANCHORS
    from mimetic.face.landmarker import Landmarker

    data = np.load(npz)
    train = np.flatnonzero(data["split"] == "train")
    pick = np.random.default_rng(seed).choice(train, min(n, len(train)), replace=False)
    pts = []
    with Landmarker(mode="image", max_faces=1) as lm:
        for i in pick:
            img = data["images"][i]
            _, px = landmark_small(img, lm)
            if px is not None:
                pts.append(px[ANCHORS, :2] / np.array(img.shape[::-1], dtype=np.float32))
    p = np.median(np.array(pts), axis=0)
    mirror = p.copy()
    swap = {0: 3, 1: 2, 2: 1, 3: 0}  # 33<->263, 133<->362; the nose points mirror onto themselves
    for a, b in swap.items():
        mirror[a] = p[b]
    mirror[:, 0] = 1 - mirror[:, 0]
    sym = (p + mirror) / 2
    eyes = np.array([sym[[0, 1]].mean(0), sym[[2, 3]].mean(0)])
    return {"found": len(pts), "tried": len(pick), "template": {int(a): tuple(np.round(s, 3)) for a, s in zip(ANCHORS, sym)},
            "eye_y": float(eyes[:, 1].mean()), "inter_ocular": float(eyes[1, 0] - eyes[0, 0])}

"""Sampling the generator (``mimetic synth sample``): class folders of aligned 64-px crops that training reads.

Needs only onnxruntime and OpenCV: the shipped generator (``mimetic/models/face_generator.onnx``, model card in
``MODEL_CARD.md``) or one exported by ``mimetic synth train``. A sample folder holds ``<class>/<n>.png`` (grey,
64×64, already in the expression crop's geometry: no landmarking needed) and ``synthetic.json`` (the generator,
seed and counts), which is what ``mimetic train fit --synthetic DIR`` checks before mixing the crops in.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from mimetic.expression.fusion import MODELS_DIR

DEFAULT_GENERATOR = MODELS_DIR / "face_generator.onnx"
MANIFEST = "synthetic.json"
#: The side of the crops written (the expression CNN's input).
CROP_SIDE = 64


@dataclass
class FaceGenerator:
    """An exported generator: ``generate(label, n)`` → (n, 64, 64) uint8 aligned crops."""

    path: Path
    classes: tuple[str, ...]
    z_dim: int
    size: int
    _session: object

    @classmethod
    def load(cls, path: str | os.PathLike | None = None, *, threads: int = 1) -> "FaceGenerator":
        import onnxruntime as ort

        p = Path(path) if path is not None else DEFAULT_GENERATOR
        if not p.is_file():
            raise FileNotFoundError(f"{p}: no generator there (train one with `mimetic synth train`)")
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = max(1, int(threads))
        opts.inter_op_num_threads = 1
        sess = ort.InferenceSession(str(p), opts, providers=["CPUExecutionProvider"])
        meta = sess.get_modelmeta().custom_metadata_map
        if "mimetic_generator" not in meta:
            raise ValueError(f"{p}: not a Mimetic face generator (no mimetic_generator metadata)")
        return cls(p, tuple(json.loads(meta["classes"])), int(meta["z_dim"]), int(meta["size"]), sess)

    def class_index(self, name: str) -> int:
        from mimetic.train.datasets import ALIASES

        key = ALIASES.get(name.strip().lower(), name.strip().lower())
        if key not in self.classes:
            raise ValueError(f"{name!r} is not a class of this generator (classes: {', '.join(self.classes)})")
        return self.classes.index(key)

    def raw(self, label: int, n: int, rng: np.random.Generator, *, truncation: float | None = None,
            batch: int = 256) -> np.ndarray:
        """(n, 1, size, size) float32 in [-1, 1]. ``truncation``: redraw |z| components above it (the truncation
        trick: more typical faces, less variety)."""
        out = []
        for i in range(0, n, batch):
            k = min(batch, n - i)
            z = rng.standard_normal((k, self.z_dim)).astype(np.float32)
            if truncation is not None:
                while (bad := np.abs(z) > truncation).any():
                    z[bad] = rng.standard_normal(int(bad.sum())).astype(np.float32)
            out.append(self._session.run(None, {"z": z, "label": np.full(k, label, np.int64)})[0])
        return np.concatenate(out) if out else np.zeros((0, 1, self.size, self.size), np.float32)

    def generate(self, label: str | int, n: int, *, seed: int = 0, truncation: float | None = None) -> np.ndarray:
        """(n, 64, 64) uint8 aligned crops of class ``label`` (a name or an index)."""
        from mimetic.synth.crops import to_crops

        k = self.class_index(label) if isinstance(label, str) else int(label)
        rng = np.random.default_rng([seed, k])
        return to_crops(self.raw(k, n, rng, truncation=truncation), CROP_SIDE)


def write_samples(out_dir: str | os.PathLike, n: int | dict[str, int], classes: list[str] | None = None, *,
                  generator: str | os.PathLike | None = None, seed: int = 0, truncation: float | None = None,
                  progress: bool = True) -> dict:
    """Write ``n`` crops per class (or ``{class: n}``) to ``out_dir/<class>/NNNNN.png`` and the manifest."""
    import cv2

    gen = FaceGenerator.load(generator)
    counts = dict(n) if isinstance(n, dict) else {c: int(n) for c in (classes or gen.classes)}
    out = Path(out_dir)
    manifest_path = out / MANIFEST
    old = json.loads(manifest_path.read_text()) if manifest_path.is_file() else {"counts": {}}
    bar = None
    if progress:
        from tqdm import tqdm

        bar = tqdm(total=sum(counts.values()), unit="face", dynamic_ncols=True)
    for name, k in counts.items():
        idx = gen.class_index(name)
        name = gen.classes[idx]
        d = out / name
        d.mkdir(parents=True, exist_ok=True)
        for i, crop in enumerate(gen.generate(idx, k, seed=seed, truncation=truncation)):
            if not cv2.imwrite(str(d / f"{seed:04d}-{i:05d}.png"), crop):
                raise OSError(f"could not write {d / f'{seed:04d}-{i:05d}.png'}")
            if bar is not None:
                bar.update(1)
        old["counts"][name] = len(list(d.glob("*.png")))
    if bar is not None:
        bar.close()
    manifest = {"generator": str(gen.path), "classes": list(gen.classes), "crop_size": CROP_SIDE, "aligned": True,
                "seed": seed, "truncation": truncation, "counts": old["counts"]}
    manifest_path.write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
    return manifest


def read_synthetic(folder: str | os.PathLike, classes: tuple[str, ...] | list[str]) -> tuple[np.ndarray, np.ndarray]:
    """``(crops (N, 64, 64) uint8, labels (N,) index into classes)`` of a ``write_samples`` folder; class folders
    outside ``classes`` are skipped. Raises ValueError when the folder is not a sample folder."""
    import cv2

    root = Path(folder)
    if not (root / MANIFEST).is_file():
        raise ValueError(f"{root}: no {MANIFEST}; --synthetic takes a folder written by `mimetic synth sample` "
                         f"(aligned {CROP_SIDE}-px crops)")
    crops, labels = [], []
    for k, name in enumerate(classes):
        for f in sorted((root / name).glob("*.png")) if (root / name).is_dir() else []:
            im = cv2.imread(str(f), cv2.IMREAD_GRAYSCALE)
            if im is None or im.shape != (CROP_SIDE, CROP_SIDE):
                raise ValueError(f"{f}: not a {CROP_SIDE}×{CROP_SIDE} grey crop")
            crops.append(im)
            labels.append(k)
    if not crops:
        raise ValueError(f"{root}: no crops of {', '.join(classes)}")
    return np.stack(crops), np.asarray(labels, np.int64)

"""A training run of the expression CNN, from a dataset to an exported model (what ``mimetic train fit`` calls).

:func:`load_training_data`: read the dataset, align and cache its crops (once), split off validation rows.
:func:`train`: that, then :func:`mimetic.train.loop.fit` with checkpoints, then export ``best.pt`` to ONNX and
check it; ``summary.json`` in the run folder.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path

import numpy as np


def _threads(n: int) -> None:
    import torch

    torch.set_num_threads(max(1, int(n)))


def load_training_data(data: str | os.PathLike, *, classes: str | None = None, fmt: str | None = None,
                       labels: str = "ferplus", size: int = 64, cache_dir: str | os.PathLike | None = None,
                       max_train: int | None = None, drop_unaligned: bool = False, valid_fraction: float = 0.1,
                       seed: int = 0, progress: bool = True, aux_labels: str | None = None,
                       synthetic: str | os.PathLike | None = None, synthetic_weight: float = 1.0):
    """A :class:`mimetic.train.loop.TrainData` from any supported dataset (crops cached by ``prepare``).

    Without a ``valid`` split, ``valid_fraction`` of the training rows (seeded) become the validation set.
    ``max_train`` keeps a random (seeded) subset of the training rows (smoke runs). ``aux_labels="fer2013"``
    (FER+ npz only) adds the original FER2013 7-class label of each crop for a second head. ``synthetic``: a
    folder of ``mimetic synth sample`` (aligned crops, no landmarking) whose crops are added to the training rows
    with one-hot targets scaled by ``synthetic_weight`` (each one counts that much in the loss; validation stays
    real)."""
    from mimetic.train.datasets import read_dataset
    from mimetic.train.loop import TrainData
    from mimetic.train.prepare import prepare

    src = read_dataset(data, classes, fmt=fmt, labels=labels)
    cache = prepare(src, cache_dir, size=size, splits=("train", "valid"), progress=progress)
    rng = np.random.default_rng(seed)
    train = np.flatnonzero(src.split == "train")
    valid = np.flatnonzero(src.split == "valid")
    if len(valid) == 0 and valid_fraction > 0:
        perm = rng.permutation(train)
        k = max(1, int(round(valid_fraction * len(train))))
        valid, train = np.sort(perm[:k]), np.sort(perm[k:])
    if max_train is not None and max_train < len(train):
        train = np.sort(rng.choice(train, max_train, replace=False))
    arrays = cache.load(src.rows[np.concatenate([train, valid])], keys=("crops", "found"))
    crops, found = arrays["crops"], arrays["found"]
    tx, vx = crops[:len(train)], crops[len(train):]
    ty, vy = src.targets[train], src.targets[valid]
    aux_classes, ta, va = (), None, None
    if aux_labels is not None:
        from mimetic.train.datasets import FER2013_CLASSES, FER2013_IDS

        if aux_labels != "fer2013" or src.kind != "ferplus" or "fer2013_label" not in src.extra:
            raise ValueError("aux_labels='fer2013' needs the FER+ npz with its fer2013_label array")
        lab = src.extra["fer2013_label"].astype(np.int64)
        aux = np.array([FER2013_CLASSES.index(FER2013_IDS[i]) if 0 <= i < 7 else -1 for i in lab], np.int64)
        aux_classes, ta, va = tuple(FER2013_CLASSES), aux[train], aux[valid]
    if drop_unaligned:
        keep = found[:len(train)]
        tx, ty = tx[keep], ty[keep]
        ta = ta[keep] if ta is not None else None
    if synthetic is not None:
        from mimetic.synth.sample import read_synthetic

        if not synthetic_weight > 0:
            raise ValueError(f"synthetic_weight must be > 0, not {synthetic_weight!r}")
        sx, sl = read_synthetic(synthetic, src.classes)
        if sx.shape[1:] != tx.shape[1:]:  # another training crop side: resize the generated crops to it
            import cv2

            sx = np.stack([cv2.resize(c, tx.shape[1:][::-1], interpolation=cv2.INTER_AREA) for c in sx])
        tx = np.concatenate([tx, sx])
        ty = np.concatenate([ty, synthetic_weight * np.eye(len(src.classes), dtype=np.float32)[sl]])
        if ta is not None:
            ta = np.concatenate([ta, np.full(len(sx), -1, np.int64)])
    side = max(np.asarray(src.load(int(src.rows[0]))).shape[:2]) if src.kind in ("ferplus", "fer2013csv") else None
    detail = side if side is not None and side < size else None
    return TrainData(classes=src.classes, train_x=tx, train_y=ty, valid_x=vx, valid_y=vy, source=str(data),
                     detail=detail, aux_classes=aux_classes, train_aux=ta, valid_aux=va), src


def train(data: str | os.PathLike, out_dir: str | os.PathLike, classes: str | None = None, epochs: int = 40,
          batch_size: int = 64, lr: float = 0.05, threads: int = 1, resume: bool = False, seed: int = 0, *,
          optimizer: str = "sgd", weight_decay: float = 5e-4, warmup_epochs: float = 1.0, balance: str = "sqrt",
          targets: str = "soft", labels: str = "ferplus", fmt: str | None = None, size: int = 64,
          cache_dir: str | os.PathLike | None = None, checkpoint_minutes: float = 10.0,
          max_train: int | None = None, max_steps: int | None = None, drop_unaligned: bool = False,
          export: bool = True, progress: bool = True, aux_labels: str | None = None, aux_weight: float = 1.0,
          init_from: str | os.PathLike | None = None, best_metric: str = "valid_acc", precision: str = "fp32",
          aux_balance: str | None = None, teacher: str | os.PathLike | None = None, teacher_weight: float = 0.5,
          synthetic: str | os.PathLike | None = None, synthetic_weight: float = 1.0, widths: tuple[int, ...] | None = None,
          blocks: tuple[int, ...] | None = None, domain_aug: bool = False,
          echo: Callable[[str], None] = print) -> dict:
    """Train the expression CNN on ``data`` into ``out_dir`` (checkpoints, log.jsonl, expression.onnx).

    ``classes``: ``8`` (default), ``7`` or a comma list such as ``neutral,happiness,sadness``. ``resume``:
    continue from ``out_dir/last.pt`` with the same arguments. ``aux_labels="fer2013"``: a second head learns the
    original FER2013 labels of the same images (weight ``aux_weight``). ``init_from``: start from another run's
    checkpoint (fine-tuning). ``precision="bf16"``: bfloat16 autocast (about 2× faster on CPUs with AVX-512
    BF16). ``aux_balance``: the auxiliary head's class balancing when it differs from ``balance``. ``teacher``:
    distillation from an exported model (``teacher_weight`` of its probabilities mixed into the targets).
    ``synthetic``/``synthetic_weight``: generated crops mixed into training (:func:`load_training_data`).
    ``widths``/``blocks``: another network size than the shipped members'. ``domain_aug``: add blur, sharpening
    and sensor noise to the augmentation (:data:`mimetic.train.loop.DOMAIN`). Returns a summary dict (also written to ``out_dir/summary.json``)."""
    from mimetic.media.atomic import atomic_write_text
    from mimetic.train.loop import DOMAIN, AugConfig, TrainConfig, fit

    _threads(threads)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    td, src = load_training_data(data, classes=classes, fmt=fmt, labels=labels, size=size, cache_dir=cache_dir,
                                 max_train=max_train, drop_unaligned=drop_unaligned, seed=seed, progress=progress,
                                 aux_labels=aux_labels, synthetic=synthetic, synthetic_weight=synthetic_weight)
    echo(f"{data}: {len(td.train_x)} training and {len(td.valid_x)} validation crops, classes "
         f"{', '.join(td.classes)}; {size}x{size}; {threads} thread(s)")
    cfg = TrainConfig(out_dir=str(out), epochs=epochs, batch_size=batch_size, lr=lr, optimizer=optimizer,
                      weight_decay=weight_decay, warmup_epochs=warmup_epochs, balance=balance, targets=targets,
                      threads=threads, seed=seed, checkpoint_minutes=checkpoint_minutes, progress=progress,
                      max_steps=max_steps, aux_weight=aux_weight,
                      init_from=str(init_from) if init_from else None, best_metric=best_metric,
                      precision=precision, aux_balance=aux_balance,
                      teacher=str(teacher) if teacher else None, teacher_weight=teacher_weight,
                      **({"widths": tuple(widths)} if widths else {}), **({"blocks": tuple(blocks)} if blocks else {}),
                      **({"aug": AugConfig(**DOMAIN)} if domain_aug else {}))
    result = fit(td, cfg, resume=resume, echo=echo)
    summary = {"data": str(data), "out_dir": str(out), "synthetic": str(synthetic) if synthetic else None,
               "synthetic_weight": synthetic_weight if synthetic else None, "classes": list(td.classes), "epochs_done": result["epoch"],
               "global_step": result["global_step"], "best": result["best_metric"],
               "last_checkpoint": str(result["last"]),
               "best_checkpoint": str(result["best"]) if result["best"] else None}
    if export and result["best"] is not None and not result["stopped_early"]:
        from mimetic.train.export import export_checkpoint

        onnx_path, diff = export_checkpoint(result["best"], out / "expression.onnx")
        summary.update(onnx=str(onnx_path), onnx_bytes=onnx_path.stat().st_size, torch_vs_onnxruntime=diff)
        echo(f"exported {onnx_path} ({onnx_path.stat().st_size / 1e6:.2f} MB); torch vs onnxruntime max |diff| "
             f"{diff:.2e}")
    atomic_write_text(out / "summary.json", json.dumps(summary, indent=2, default=str) + "\n")
    return summary

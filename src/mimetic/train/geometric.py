"""Train the geometric expression model: an MLP on :func:`mimetic.expression.geometric.geometric_features`.

The features of every image are computed once from what ``mimetic.train.prepare`` cached (landmarks,
blendshapes and MediaPipe's matrix per image: each cached face is rebuilt as a ``Face`` and goes through the same
``geometric_features`` as at inference), and kept next to the crops as ``geometric-v<FEATURE_VERSION>.npz``
(~20 s for the 35,710 FER+ images on one thread). Images where the landmarker found no face have no features
(NaN rows): they are left out of training, and at evaluation the model gives them the uniform distribution
(so the fusion falls back to the CNN there).

Recipe (defaults of :func:`train_geometric`): targets = the FER+ vote distribution (soft cross-entropy, like the
CNN), per-class loss weights ∝ 1/√frequency; features standardised with the training mean/std; an MLP
239 → 512 → 256 → C (ReLU, dropout 0.4; 256 → 128 with dropout 0.3 scored 0.7 points lower on FER+ valid, and
512 → 512 with dropout 0.5 no better); augmentation: a random mirror (:func:`mirror_features`, p 0.5) and
Gaussian noise (σ 0.15 in standard units); AdamW (lr 2e-3, weight decay 1e-2, batch 256), linear warm-up over
one epoch then cosine to 0, 60 epochs; the epoch with the best validation accuracy is kept. The exported ONNX
graph clips each raw feature to its 0.1-99.9 % training range (``clip``), standardises it and averages the
probabilities of a vector and its mirror.

Photos are not FER crops: MediaPipe reads some blendshapes differently on a sharp photo than on an enlarged
48-pixel crop (on the fixture portraits, browDown and mouthPress come out ~1 training standard deviation higher,
and the jaw contour ~1 s.d. lower, than on FER-style 48-pixel crops of the same faces). The clipping keeps the MLP
from extrapolating far outside the training range; ``exclude=("jaw",)`` drops the jaw contour (0.8 points lower
validation accuracy, no clear gain on the fixture portraits), so it is off by default.

``mimetic train geometric DATA --out DIR`` (or :func:`train_geometric`) writes
``DIR/expression_geometric.onnx``, ``DIR/geometric_log.jsonl`` and ``DIR/geometric_summary.json``.
"""

from __future__ import annotations

import json
import os
import time
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from mimetic.expression.geometric import (FEATURE_NAMES, FEATURE_VERSION, MIRROR_PERM, MIRROR_SIGN, N_FEATURES,
                                          geometric_features, mirror_features)


# -- features from the crop cache ------------------------------------------------------------------------------
def face_from_cache(landmarks: np.ndarray, blendshapes: np.ndarray, matrix: np.ndarray, names, *,
                    width: float, height: float):
    """A ``Face`` rebuilt from one cached row (landmarks in pixels of the source image, 52 blendshapes, matrix)."""
    from mimetic.face.boxes import box_of_points
    from mimetic.face.pose import pose_from_matrix
    from mimetic.types import Face

    px = np.asarray(landmarks, dtype=np.float32)
    norm = px / np.array([width, height, width], dtype=np.float32)
    m = np.asarray(matrix, dtype=np.float32)
    shapes = {str(n): float(v) for n, v in zip(names, np.asarray(blendshapes, dtype=np.float64))
              if np.isfinite(v)}
    return Face(box=box_of_points(px), score=1.0, landmarks=px, landmarks_norm=norm, pose=pose_from_matrix(m),
                blendshapes=shapes, matrix=m)


def compute_features(cache, indices: np.ndarray | None = None, *, width: float = 48.0, height: float = 48.0,
                     progress: bool = False, au_model=None) -> tuple[np.ndarray, np.ndarray]:
    """``(features (n, N_FEATURES) float32, found (n,) bool)`` for the cached images ``indices`` (default: all);
    rows without a face are NaN. The fitted AUs read the face's texture crop with ``au_model`` (a
    :class:`mimetic.facs.estimate.AUModel`; default the shipped one): the cached crop where it is that crop (a
    64-px cache of an image of at most 48 px, where the analyzer's detail limit changes nothing), else one made
    from the source image with :func:`mimetic.facs.texture.face_crop`'s recipe."""
    from mimetic.facs.texture import CROP_DETAIL, CROP_SIZE, face_crop

    def texture_crop(i: int, cached: np.ndarray, face) -> np.ndarray:
        image = np.asarray(cache.source.load(i), dtype=np.uint8)
        if cache.size == CROP_SIZE and max(image.shape[:2]) <= CROP_DETAIL:
            return cached
        return face_crop(image, face)

    idx = np.arange(cache.source.n_images) if indices is None else np.asarray(indices, dtype=np.int64)
    feats = np.full((len(idx), N_FEATURES), np.nan, np.float32)
    found = np.zeros(len(idx), bool)
    # part by part, to keep memory small (478 × 3 landmarks per image)
    for k in cache.parts_for(idx):
        lo = k * cache.chunk
        sel = np.flatnonzero((idx >= lo) & (idx < lo + cache.chunk))
        with np.load(cache.part_path(k), allow_pickle=False) as part:
            f = part["found"]
            names = part["blendshape_names"] if "blendshape_names" in part.files else None
            if names is None or len(names) == 0:
                from mimetic.expression.geometric import BLENDSHAPES as names
            lms, bss, mats, crops = part["landmarks"], part["blendshapes"], part["matrix"], part["crops"]
            for j in sel:
                r = idx[j] - lo
                if not f[r]:
                    continue
                face = face_from_cache(lms[r], bss[r], mats[r], names, width=width, height=height)
                x = geometric_features(face, crop=texture_crop(int(idx[j]), crops[r], face), au_model=au_model)
                if np.all(np.isfinite(x)):
                    feats[j] = x
                    found[j] = True
        if progress:
            print(f"\rfeatures: part {k + 1}/{cache.n_parts}", end="", flush=True)
    if progress:
        print()
    return feats, found


def au_model_of(au_model: str | os.PathLike | None):
    """``(AUModel, sha256 of its file)``: ``au_model`` (an ``au_model.json``) or the shipped one."""
    from mimetic.expression.geometric import shipped_au_model_sha
    from mimetic.face.model import sha256
    from mimetic.facs.estimate import DEFAULT, MODEL_PATH, AUModel

    if au_model is None or Path(au_model).resolve() == MODEL_PATH.resolve():
        return DEFAULT, shipped_au_model_sha()
    return AUModel.load(au_model), sha256(au_model)


def cached_features(data: str | os.PathLike, *, cache_dir: str | os.PathLike | None = None, size: int = 64,
                    progress: bool = False, log: Callable[[str], None] | None = print,
                    read_kw: dict | None = None, au_model: str | os.PathLike | None = None):
    """``(features (n_images, N_FEATURES), found (n_images,), cache)`` for every image of ``data``, computed once
    and stored in the crop cache's folder (``geometric-v<FEATURE_VERSION>-<AU model sha>.npz``). ``read_kw``:
    reader options (``label_map``, ``names_from``) of :func:`mimetic.train.datasets.read_dataset`. ``au_model``:
    the fitted AU models the ``est_`` block is read with (an ``au_model.json``; default the shipped one)."""
    from mimetic.media.atomic import atomic_path
    from mimetic.train.datasets import read_dataset
    from mimetic.train.prepare import CropCache

    model, sha = au_model_of(au_model)
    src = read_dataset(data, **(read_kw or {}))
    cache = CropCache(src, cache_dir, size=size)
    path = cache.dir / f"geometric-v{FEATURE_VERSION}-{sha[:12]}.npz"
    if path.is_file():
        with np.load(path, allow_pickle=False) as z:
            if z["features"].shape == (src.n_images, N_FEATURES):
                return z["features"], z["found"], cache
    if cache.missing():
        cache.ensure(progress=progress)
    h, w = (np.asarray(src.load(0)).shape[:2] if src.small else (1.0, 1.0))
    t0 = time.perf_counter()
    feats, found = compute_features(cache, width=float(w), height=float(h), progress=progress, au_model=model)
    if log:
        log(f"geometric features of {src.n_images} images in {time.perf_counter() - t0:.1f} s "
            f"({int(found.sum())} with a face) → {path}")
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as fh:
            np.savez(fh, features=feats, found=found, names=np.array(FEATURE_NAMES))
    return feats, found, cache


# -- the network -----------------------------------------------------------------------------------------------
def _torch():
    import torch

    return torch


def build_mlp(n_in: int, n_out: int, hidden=(512, 256), dropout: float = 0.4):
    from torch import nn

    layers: list = []
    c = n_in
    for h in hidden:
        layers += [nn.Linear(c, h), nn.ReLU(), nn.Dropout(dropout)]
        c = h
    layers.append(nn.Linear(c, n_out))
    return nn.Sequential(*layers)


def feature_mask(exclude: tuple[str, ...] = ()) -> np.ndarray:
    """1.0 for the features the model reads, 0.0 for the excluded groups: ``"jaw"`` (iBUG points 0-16),
    ``"blendshapes"``, ``"aus"``, ``"pose"``. The mask is mirror-symmetric."""
    names = FEATURE_NAMES
    keep = np.ones(N_FEATURES, np.float32)
    for group in exclude:
        if group == "jaw":
            hit = [n.startswith(("x_", "y_")) and int(n[2:]) <= 16 for n in names]
        elif group == "blendshapes":
            hit = [n.startswith("bs_") for n in names]
        elif group == "aus":
            hit = [n.startswith("au_") for n in names]
        elif group == "pose":
            hit = [n in ("yaw", "pitch", "roll") for n in names]
        else:
            raise ValueError(f"unknown feature group {group!r}: jaw, blendshapes, aus or pose")
        keep[np.array(hit)] = 0.0
    return keep


def _export_module(mlp, mean: np.ndarray, std: np.ndarray, lo: np.ndarray | None = None,
                   hi: np.ndarray | None = None, keep: np.ndarray | None = None):
    """The graph that is exported: raw features → clip to the training range [lo, hi] → standardise (excluded
    features: 0) → MLP on the vector and on its mirror → mean of the two probability vectors."""
    torch = _torch()
    from torch import nn

    big = np.full(N_FEATURES, 3e38, np.float32)
    lo = -big if lo is None else np.asarray(lo, np.float32)
    hi = big if hi is None else np.asarray(hi, np.float32)
    keep = np.ones(N_FEATURES, np.float32) if keep is None else np.asarray(keep, np.float32)

    class Symmetric(nn.Module):
        def __init__(self):
            super().__init__()
            self.mlp = mlp
            self.register_buffer("mean", torch.as_tensor(mean, dtype=torch.float32))
            self.register_buffer("scale", torch.as_tensor(keep / std, dtype=torch.float32))
            self.register_buffer("lo", torch.as_tensor(lo))
            self.register_buffer("hi", torch.as_tensor(hi))
            self.register_buffer("perm", torch.as_tensor(MIRROR_PERM, dtype=torch.int64))
            self.register_buffer("sign", torch.as_tensor(MIRROR_SIGN, dtype=torch.float32))

        def standardise(self, x):
            return (torch.minimum(torch.maximum(x, self.lo), self.hi) - self.mean) * self.scale

        def forward(self, x):
            m = torch.index_select(x, 1, self.perm) * self.sign
            both = torch.cat([x, m], 0)
            p = torch.softmax(self.mlp(self.standardise(both)), dim=1)
            n = x.shape[0]
            return 0.5 * (p[:n] + p[n:])

    return Symmetric().eval()


def export_geometric(module, path: str | os.PathLike, *, classes, metadata: dict[str, str] | None = None) -> Path:
    """Write the exported graph (input ``features`` (N, D) float32, output ``probs`` (N, C)) to ``path``."""
    import warnings

    from mimetic.media.atomic import atomic_path
    from mimetic.train.onnxmeta import write_metadata

    torch = _torch()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    dummy = torch.zeros(2, N_FEATURES)
    with atomic_path(path) as tmp, warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(module, (dummy,), str(tmp), opset_version=17, dynamo=False, input_names=["features"],
                          output_names=["probs"], dynamic_axes={"features": {0: "n"}, "probs": {0: "n"}},
                          do_constant_folding=True)
        write_metadata(tmp, {"classes": json.dumps(list(classes)), "feature_version": str(FEATURE_VERSION),
                             "n_features": str(N_FEATURES), "mimetic_format": "1", "kind": "geometric",
                             **(metadata or {})})
    return path


def check_geometric_agreement(module, path: str | os.PathLike, x: np.ndarray, atol: float = 1e-5) -> float:
    """Largest |torch − onnxruntime| over the rows ``x``; raises above ``atol``."""
    torch = _torch()
    from mimetic.expression.geometric import GeometricModel

    with torch.no_grad():
        ref = module(torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32))).numpy()
    with warnings.catch_warnings():  # trained with other AU models than the shipped ones (a CV fold's): expected
        warnings.simplefilter("ignore", RuntimeWarning)
        got = GeometricModel(path).predict(x)
    diff = float(np.abs(got - ref).max())
    if not np.isfinite(diff) or diff > atol:
        raise AssertionError(f"{path}: torch and onnxruntime differ by {diff:.3g}")
    return diff


# -- training --------------------------------------------------------------------------------------------------
def train_geometric(data: str | os.PathLike, out_dir: str | os.PathLike, *, classes: str | None = None,
                    epochs: int = 60, batch_size: int = 256, lr: float = 2e-3, weight_decay: float = 1e-2,
                    hidden: tuple[int, ...] = (512, 256), dropout: float = 0.4, noise: float = 0.15,
                    mirror: float = 0.5, balance: str = "sqrt", clip: float | None = 0.001,
                    exclude: tuple[str, ...] = (), seed: int = 0, threads: int = 1,
                    cache_dir: str | os.PathLike | None = None, onnx_name: str = "expression_geometric.onnx",
                    mix: Sequence[str | os.PathLike] = (), mix_weight: float = 1.0,
                    mix_keep: Sequence[np.ndarray | None] | None = None,
                    au_model: str | os.PathLike | None = None, echo: Callable[[str], None] = print) -> dict:
    """Train the geometric model on ``data``'s ``train`` split (rows with a face), keep the epoch with the best
    ``valid`` accuracy, export ``out_dir/expression_geometric.onnx``. Returns (and writes) a summary.

    ``mix``: more labelled sets (any :func:`mimetic.train.datasets.read_dataset` format, e.g. CK+48's posed
    faces) whose rows with a face join the training rows (all their rows, whatever their split), each row's
    loss weighted ``mix_weight`` (class weights still come from ``data`` alone). ``mix_keep``: per mixed set, a
    boolean mask over its rows (None = all) — subject-wise cross-validation leaves a fold out this way. The
    epoch is still chosen on ``data``'s ``valid`` split alone. ``au_model``: the fitted AU models of the features'
    ``est_`` block (default the shipped ``au_model.json``; its SHA-256 goes into the model's metadata)."""
    torch = _torch()

    from mimetic.media.atomic import atomic_write_text
    from mimetic.train.datasets import read_dataset
    from mimetic.train.metrics import metrics
    from mimetic.train.loop import class_weights, lr_factor, soft_cross_entropy

    torch.set_num_threads(max(1, int(threads)))
    torch.manual_seed(seed)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    t_start = time.perf_counter()
    _, au_sha = au_model_of(au_model)
    feats, found, _ = cached_features(data, cache_dir=cache_dir, log=echo, au_model=au_model)
    src = read_dataset(data, classes)
    ok = found[src.rows]
    tr = (src.split == "train") & ok
    va = (src.split == "valid") & ok
    if not va.any():  # no valid split: hold out 10 % of the training rows (seeded), as for the CNN
        rng = np.random.default_rng(seed)
        cand = np.flatnonzero(tr)
        pick = rng.choice(cand, max(1, len(cand) // 10), replace=False)
        va = np.zeros_like(tr)
        va[pick] = True
        tr &= ~va
    xtr, ytr = feats[src.rows[tr]], src.targets[tr]
    xva, yva = feats[src.rows[va]], src.targets[va]
    w = torch.from_numpy(class_weights(ytr, balance))
    mixed = []
    for j, other in enumerate(mix):
        f2, found2, _ = cached_features(other, cache_dir=cache_dir, log=echo, au_model=au_model)
        s2 = read_dataset(other, src.classes)
        k2 = found2[s2.rows]
        if mix_keep is not None and mix_keep[j] is not None:
            k2 = k2 & np.asarray(mix_keep[j], dtype=bool)
        xtr = np.concatenate([xtr, f2[s2.rows[k2]]])
        ytr = np.concatenate([ytr, mix_weight * s2.targets[k2]])
        mixed.append({"data": Path(other).name, "rows": int(k2.sum())})
    both = np.concatenate([xtr, mirror_features(xtr)])  # statistics of the mirror-symmetric training set
    mean = both.mean(0)
    std = both.std(0)
    std = np.where(std > 1e-6, std, 1.0).astype(np.float32)
    lo = hi = None
    if clip:
        lo, hi = np.quantile(both, clip, axis=0), np.quantile(both, 1 - clip, axis=0)
    keep = feature_mask(tuple(exclude))
    del both
    mlp = build_mlp(N_FEATURES, len(src.classes), hidden, dropout)
    opt = torch.optim.AdamW(mlp.parameters(), lr=lr, weight_decay=weight_decay)
    g = torch.Generator().manual_seed(seed)
    Xtr = torch.from_numpy(np.ascontiguousarray(xtr))
    Ytr = torch.from_numpy(np.ascontiguousarray(ytr))
    keep_t = torch.from_numpy(keep)
    perm_t, sign_t = torch.from_numpy(MIRROR_PERM), torch.from_numpy(MIRROR_SIGN)
    steps_per_epoch = (len(Xtr) + batch_size - 1) // batch_size
    total = epochs * steps_per_epoch
    best = (-1.0, None, -1)
    history = []
    log = open(out / "geometric_log.jsonl", "a", encoding="utf-8")
    log.write(json.dumps({"event": "start", "data": str(data), "classes": list(src.classes), "train": int(len(xtr)),
                          "valid": int(len(xva)), "epochs": epochs, "batch_size": batch_size, "lr": lr,
                          "weight_decay": weight_decay, "hidden": list(hidden), "dropout": dropout,
                          "noise": noise, "mirror": mirror, "balance": balance, "clip": clip,
                          "exclude": list(exclude), "seed": seed, "threads": threads, "mix": mixed,
                          "mix_weight": mix_weight}) + "\n")
    step = 0
    module = _export_module(mlp, mean, std, lo, hi, keep)
    for epoch in range(epochs):
        mlp.train()
        order = torch.randperm(len(Xtr), generator=g)
        tot, cnt = 0.0, 0
        for i in range(0, len(Xtr), batch_size):
            b = order[i:i + batch_size]
            x, y = Xtr[b], Ytr[b]
            if mirror > 0:
                flip = torch.rand(len(x), generator=g) < mirror
                x = torch.where(flip[:, None], torch.index_select(x, 1, perm_t) * sign_t, x)
            z = module.standardise(x)
            if noise > 0:
                z = z + noise * torch.randn(z.shape, generator=g) * keep_t
            for grp in opt.param_groups:
                grp["lr"] = lr * lr_factor(step, steps_per_epoch, total)
            loss = soft_cross_entropy(mlp(z), y, w)
            opt.zero_grad()
            loss.backward()
            opt.step()
            step += 1
            tot += float(loss.detach()) * len(b)
            cnt += len(b)
        mlp.eval()
        with torch.no_grad():
            pva = module(torch.from_numpy(xva)).numpy()
        m = metrics(yva.argmax(1), pva.argmax(1), src.classes)
        vloss = float(-(yva * np.log(np.clip(pva, 1e-7, 1))).sum(1).mean())
        row = {"event": "epoch", "epoch": epoch + 1, "train_loss": tot / max(cnt, 1), "valid_loss": vloss,
               "valid_acc": m["accuracy"], "valid_macro_f1": m["macro_f1"],
               "seconds": round(time.perf_counter() - t_start, 1)}
        history.append(row)
        log.write(json.dumps(row) + "\n")
        log.flush()
        if m["accuracy"] > best[0]:
            best = (m["accuracy"], {k: v.detach().clone() for k, v in mlp.state_dict().items()}, epoch + 1)
        if (epoch + 1) % 10 == 0 or epoch == 0:
            echo(f"epoch {epoch + 1}/{epochs}: train loss {row['train_loss']:.4f}, valid loss {vloss:.4f}, "
                 f"accuracy {100 * m['accuracy']:.2f} %, macro-F1 {100 * m['macro_f1']:.2f} %")
    log.close()
    mlp.load_state_dict(best[1])
    mlp.eval()
    config = {"epochs": epochs, "batch_size": batch_size, "lr": lr, "weight_decay": weight_decay,
              "hidden": list(hidden), "dropout": dropout, "noise": noise, "mirror": mirror, "balance": balance,
              "clip": clip, "exclude": list(exclude), "seed": seed, "threads": threads, "mix": mixed,
              "mix_weight": mix_weight}
    recipe = {"data": Path(data).name, "train": int(len(xtr)), "valid": int(len(xva)),
              "train_without_face": int(((src.split == "train") & ~ok).sum()), "best_epoch": best[2],
              "valid_accuracy": round(best[0], 6), "seconds": round(time.perf_counter() - t_start, 1),
              "config": config}
    onnx_path = export_geometric(module, out / onnx_name, classes=src.classes,
                                 metadata={"trained_epochs": str(best[2]), "valid_accuracy": f"{best[0]:.4f}",
                                           "recipe": json.dumps(recipe), "au_model_sha256": au_sha})
    diff = check_geometric_agreement(module, onnx_path, xva[:64])
    summary = {**recipe, "data": str(data), "classes": list(src.classes), "onnx": str(onnx_path),
               "onnx_bytes": onnx_path.stat().st_size, "torch_vs_onnxruntime": diff}
    atomic_write_text(out / "geometric_summary.json", json.dumps(summary, indent=2) + "\n")
    echo(f"best epoch {best[2]}: valid accuracy {100 * best[0]:.2f} %; exported {onnx_path} "
         f"({onnx_path.stat().st_size / 1e3:.0f} kB, torch vs onnxruntime {diff:.1e})")
    return summary

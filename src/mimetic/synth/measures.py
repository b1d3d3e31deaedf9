"""What generated faces are worth (``mimetic synth evaluate``): fidelity, class fidelity and copying.

- **Fréchet distance in the shipped expression CNN's feature space** (the pooled features of each ensemble member,
  concatenated; no downloaded Inception weights), per class: generated crops against real FER+ *test* crops, with
  the distance between two real sets (FER+ test against FER+ validation, never seen by the generator) as the
  floor. Both distances are taken between sets of the same size (the smaller of test and validation for the
  class), averaged over ``draws`` random draws, because the estimate's bias grows as sets shrink; the ratio
  ``generated / real`` is the figure (1 = as close as another real sample).
- **Class fidelity**: the shipped CNN's 8-way answer on generated faces of each class (its accuracy, and the
  confusion).
- **Copying**: for every generated face, the distance to its nearest FER+ *training* face (48 px, each image
  standardised to mean 0 and deviation 1, root-mean-square difference), against the same distance for real test
  faces (which are not copies of training faces, except FER2013's own near-duplicates); a generator that copies
  shows many generated faces nearer than test faces are.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path

import numpy as np


def cnn_features(crops: np.ndarray, model: str | os.PathLike | None = None, *, threads: int = 1) -> np.ndarray:
    """(N, members × F) pooled features of 64-px aligned crops under the shipped (or given) expression CNN."""
    from mimetic.expression.model import default_path
    from mimetic.train.heads import penultimate

    f = penultimate(model or default_path(), np.asarray(crops, np.uint8), threads=threads)
    return np.concatenate(list(f), axis=1).astype(np.float64)


def frechet_distance(a: np.ndarray, b: np.ndarray) -> float:
    """Fréchet distance between Gaussians fitted to the rows of ``a`` and ``b``."""
    mu = a.mean(0) - b.mean(0)
    ca, cb = np.atleast_2d(np.cov(a, rowvar=False)), np.atleast_2d(np.cov(b, rowvar=False))
    # tr sqrt(ca cb) = tr sqrt(ca^½ cb ca^½): symmetric eigenproblems only (fast, and real by construction)
    w, v = np.linalg.eigh(ca)
    half = (v * np.sqrt(np.clip(w, 0, None))) @ v.T
    inner = np.linalg.eigvalsh(half @ cb @ half)
    return float(mu @ mu + np.trace(ca) + np.trace(cb) - 2 * np.sqrt(np.clip(inner, 0, None)).sum())


def fd_ratio(gen: np.ndarray, test: np.ndarray, ref: np.ndarray, *, draws: int = 5, seed: int = 0,
             cap: int = 2000) -> dict:
    """``{"n", "fd_generated", "fd_real", "ratio"}``: mean Fréchet distances (features) over ``draws`` draws of
    equal-sized sets (``min(len(test), len(ref), cap)``)."""
    rng = np.random.default_rng(seed)
    k = int(min(len(test), len(ref), len(gen), cap))
    if k < 3:
        return {"n": k, "fd_generated": None, "fd_real": None, "ratio": None}
    fg, fr = [], []
    for _ in range(draws):
        t = test[rng.choice(len(test), k, replace=False)]
        fr.append(frechet_distance(t, ref[rng.choice(len(ref), k, replace=False)]))
        fg.append(frechet_distance(t, gen[rng.choice(len(gen), k, replace=False)]))
    g, r = float(np.mean(fg)), float(np.mean(fr))
    return {"n": k, "fd_generated": round(g, 2), "fd_real": round(r, 2), "ratio": round(g / r, 3) if r > 0 else None,
            "fd_generated_sd": round(float(np.std(fg)), 2), "fd_real_sd": round(float(np.std(fr)), 2)}


def _standardise(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, np.float32).reshape(len(x), -1)
    x = x - x.mean(1, keepdims=True)
    return x / np.maximum(x.std(1, keepdims=True), 1e-3)


def nearest_distances(queries: np.ndarray, pool: np.ndarray, batch: int = 512) -> tuple[np.ndarray, np.ndarray]:
    """``(distance, index)`` of each query's nearest pool image (standardised pixels, RMS difference)."""
    q, p = _standardise(queries), _standardise(pool)
    d = q.shape[1]
    pn = (p ** 2).sum(1)
    best = np.empty(len(q), np.float32)
    arg = np.empty(len(q), np.int64)
    for i in range(0, len(q), batch):
        qq = q[i:i + batch]
        d2 = (qq ** 2).sum(1)[:, None] + pn[None, :] - 2 * qq @ p.T
        j = d2.argmin(1)
        arg[i:i + batch] = j
        best[i:i + batch] = np.sqrt(np.maximum(d2[np.arange(len(qq)), j], 0) / d)
    return best, arg


def _tile(images: list[np.ndarray], cols: int, pad: int = 2, value: int = 255) -> np.ndarray:
    s = images[0].shape[0]
    rows = (len(images) + cols - 1) // cols
    out = np.full((rows * (s + pad) - pad, cols * (s + pad) - pad), value, np.uint8)
    for i, im in enumerate(images):
        r, c = divmod(i, cols)
        out[r * (s + pad):r * (s + pad) + s, c * (s + pad):c * (s + pad) + s] = im
    return out


def evaluate_generator(data: str | os.PathLike, out_dir: str | os.PathLike, *,
                       generator: str | os.PathLike | None = None, n_per_class: int = 1000, seed: int = 0,
                       truncation: float | None = None, draws: int = 5, threads: int = 1,
                       cache_dir: str | os.PathLike | None = None,
                       echo: Callable[[str], None] = print) -> dict:
    """Every measure above on ``data`` (the FER+ npz: its train, valid and test splits); writes ``report.json``,
    ``grid.png`` (8 faces per class, a row per class), ``nearest.png`` (the generated faces nearest to a training
    face, each beside that face) and returns the report."""
    import cv2

    from mimetic.expression.model import ExpressionModel
    from mimetic.synth.crops import shrink
    from mimetic.synth.sample import FaceGenerator
    from mimetic.train.datasets import read_dataset
    from mimetic.train.prepare import prepare

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    gen = FaceGenerator.load(generator, threads=threads)
    src = read_dataset(data, "8")
    if tuple(src.classes) != gen.classes:
        raise ValueError(f"the generator's classes {gen.classes} differ from the data's {src.classes}")
    cache = prepare(src, cache_dir, splits=("train", "valid", "test"), progress=False)
    sets = {}
    for split in ("train", "valid", "test"):
        rows = np.flatnonzero(src.split == split)
        sets[split] = (cache.load(src.rows[rows], keys=("crops",))["crops"], src.targets[rows].argmax(1))
    cnn = ExpressionModel(threads=threads)
    echo(f"generating {n_per_class} faces per class with {gen.path.name} …")
    fakes = {c: gen.generate(k, n_per_class, seed=seed, truncation=truncation) for k, c in enumerate(gen.classes)}
    echo("CNN features of the real and generated crops …")
    feats = {s: cnn_features(x, cnn.path, threads=threads) for s, (x, _) in sets.items() if s != "train"}
    fake_feats = {c: cnn_features(x, cnn.path, threads=threads) for c, x in fakes.items()}
    report: dict = {"generator": str(gen.path), "data": str(data), "n_per_class": n_per_class, "seed": seed,
                    "truncation": truncation, "draws": draws, "classes": {}}
    (tx, ty), (vx, vy) = sets["test"], sets["valid"]
    for k, c in enumerate(gen.classes):
        fd = fd_ratio(fake_feats[c], feats["test"][ty == k], feats["valid"][vy == k], draws=draws, seed=seed)
        p = cnn.predict(fakes[c])
        answers = np.bincount(p.argmax(1), minlength=len(gen.classes))
        report["classes"][c] = {**fd, "classifier_accuracy": round(float(answers[k] / len(p)), 4),
                                "classifier_answers": dict(zip(gen.classes, answers.tolist())),
                                "real_test": int((ty == k).sum())}
    # all classes together: as many generated faces of each class as the test set holds (other noise draws)
    mix = np.concatenate([cnn_features(gen.generate(k, int((ty == k).sum()), seed=seed + 1, truncation=truncation),
                                       cnn.path, threads=threads) for k in range(len(gen.classes))])
    report["all"] = fd_ratio(mix, feats["test"], feats["valid"], draws=draws, seed=seed)
    accs = [v["classifier_accuracy"] for v in report["classes"].values()]
    ratios = [v["ratio"] for v in report["classes"].values() if v["ratio"] is not None]
    report["mean_classifier_accuracy"] = round(float(np.mean(accs)), 4)
    report["mean_fd_ratio"] = round(float(np.mean(ratios)), 3) if ratios else None
    # copying: nearest training face of generated faces vs of real test faces
    echo("nearest training faces …")
    train48 = shrink(sets["train"][0])
    g48 = np.concatenate([shrink(fakes[c][:200]) for c in gen.classes])
    dg, ig = nearest_distances(g48, train48)
    dt, _ = nearest_distances(shrink(tx), train48)
    q = [1, 5, 50]
    report["nearest_train"] = {
        "generated_percentiles": dict(zip(map(str, q), np.round(np.percentile(dg, q), 4).tolist())),
        "test_percentiles": dict(zip(map(str, q), np.round(np.percentile(dt, q), 4).tolist())),
        "generated_below_test_p1": round(float((dg < np.percentile(dt, 1)).mean()), 4),
        "n_generated": int(len(dg)), "n_test": int(len(dt))}
    order = np.argsort(dg)[:12]
    pairs = []
    for i in order:
        pairs += [g48[i], train48[ig[i]]]
    cv2.imwrite(str(out / "nearest.png"), _tile(pairs, 8))
    cv2.imwrite(str(out / "grid.png"), _tile([shrink(fakes[c][j:j + 1])[0] for c in gen.classes for j in range(8)], 8))
    (out / "report.json").write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    return report


def report_markdown(report: dict) -> str:
    """The report as a Markdown table (the model card's and docs' form)."""
    lines = ["| class | real test faces | FD generated | FD real (floor) | ratio | classifier accuracy |",
             "|---|---:|---:|---:|---:|---:|"]
    for c, v in report["classes"].items():
        lines.append(f"| {c} | {v['real_test']} | {v['fd_generated']} | {v['fd_real']} | {v['ratio']} | "
                     f"{100 * v['classifier_accuracy']:.1f} % |")
    a = report["all"]
    lines.append(f"| **all** (test class mix) | {a['n']} | {a['fd_generated']} | {a['fd_real']} | **{a['ratio']}** | "
                 f"**{100 * report['mean_classifier_accuracy']:.1f} %** (mean over classes) |")
    return "\n".join(lines)

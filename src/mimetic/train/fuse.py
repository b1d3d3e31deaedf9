"""Fit the fusion of the CNN and the geometric model on the validation split, and evaluate all three.

- :func:`fit_fusion` computes both models' probabilities on the FER+ ``valid`` split (FER2013 PublicTest; never
  ``test``) and fits the weight ``w`` of the geometric log-probabilities, a common scale and (by default) a
  per-class bias by minimising the soft cross-entropy against the vote distribution (L-BFGS-B; ``w`` in [0, 1]),
  with a small L2 penalty on the bias. The decision "fused or CNN alone" compares the CNN's validation accuracy
  with the fusion's **out-of-fold** validation accuracy (5-fold cross-validation inside the validation split, so
  the fitted parameters are never scored on the rows they were fitted on).
- :func:`evaluate_all` reports the CNN alone, the geometric model alone and the fusion on FER+ test (8 classes,
  majority label) and FER2013 PrivateTest (7 classes; all and confident), with the metrics of
  ``mimetic.train.evaluate``: ``metrics.json``, ``results.md`` and ``confusion_<model>_<set>.png``.

Faces the landmarker did not find (3.6 % of FER+) have no geometric features: the geometric model gives them the
uniform distribution, so the fusion is the (rescaled) CNN there.

:func:`fit_and_evaluate` (``mimetic train fuse --cnn CNN.onnx --geo GEO.onnx --data ferplus.npz --out DIR``) fits
and evaluates; :func:`mimetic.train.ship.ship` (``mimetic train ship``) does that and ships the result.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from mimetic.expression.fusion import Fusion, file_sha256, fuse

MODELS = ("cnn", "geometric", "fused")
#: the fitted fusion's file name (in a run folder and in the models folder)
FUSION_NAME = "expression_fusion.json"
TITLES = {"cnn": "CNN", "geometric": "geometric", "fused": "fused"}
SET_TITLES = {"ferplus_test": "FER+ test (8 classes, majority label)",
              "fer2013_private": "FER2013 PrivateTest (7 classes, all)",
              "fer2013_private_confident": "FER2013 PrivateTest (7 classes, confident labels)",
              "ferplus_valid": "FER+ valid (8 classes, majority label)"}


def geometric_probs(model, features: np.ndarray, found: np.ndarray, n_classes: int = 8) -> np.ndarray:
    """The geometric model's probabilities of ``features`` rows, the uniform distribution where ``found`` is false
    (no landmarks: the fusion then falls back to the CNN)."""
    g = np.full((len(features), n_classes), 1.0 / n_classes, np.float32)
    if found.any():
        g[found] = model.predict(features[found])
    return g


class Predictions:
    """Both models' probabilities for images of a dataset (indices into its full image list), computed on
    demand and kept: CNN on the cached crops, geometric model on the cached features."""

    def __init__(self, cnn_onnx: str | os.PathLike, geo_onnx: str | os.PathLike, data: str | os.PathLike, *,
                 cache_dir: str | os.PathLike | None = None, threads: int = 1, progress: bool = False,
                 log: Callable[[str], None] | None = print, read_kw: dict | None = None):
        from mimetic.expression.geometric import GeometricModel
        from mimetic.expression.model import ExpressionModel
        from mimetic.train.geometric import cached_features

        self.cnn = ExpressionModel(cnn_onnx, threads=threads)
        self.geo = GeometricModel(geo_onnx, threads=threads)
        if self.cnn.classes != self.geo.classes:
            raise ValueError(f"the CNN's classes {list(self.cnn.classes)} differ from the geometric model's "
                             f"{list(self.geo.classes)}")
        self.classes = self.cnn.classes
        self.data = data
        self.features, self.found, self.cache = cached_features(data, cache_dir=cache_dir, size=self.cnn.size,
                                                                progress=progress, log=log, read_kw=read_kw)
        n = len(self.found)
        self._cnn = np.full((n, len(self.classes)), np.nan, np.float32)
        self._geo = np.full((n, len(self.classes)), np.nan, np.float32)
        #: the CNN's auxiliary head (FER2013 labels), if it has one
        self.aux_classes: tuple[str, ...] = self.cnn.aux_classes
        self._aux = np.full((n, len(self.aux_classes)), np.nan, np.float32) if self.aux_classes else None

    def _fill(self, rows: np.ndarray) -> None:
        rows = np.unique(np.asarray(rows, dtype=np.int64))
        todo = rows[np.isnan(self._cnn[rows, 0])]
        if len(todo):
            self.cache.ensure(todo, progress=False)
            crops = self.cache.load(todo)["crops"]
            self._cnn[todo] = self.cnn.predict(crops)
            if self._aux is not None:
                self._aux[todo] = self.cnn.predict_aux(crops)
            self._geo[todo] = geometric_probs(self.geo, self.features[todo], self.found[todo], len(self.classes))

    def cnn_probs(self, rows: np.ndarray) -> np.ndarray:
        self._fill(rows)
        return self._cnn[np.asarray(rows, dtype=np.int64)]

    def geo_probs(self, rows: np.ndarray) -> np.ndarray:
        self._fill(rows)
        return self._geo[np.asarray(rows, dtype=np.int64)]

    def aux_probs(self, rows: np.ndarray) -> np.ndarray:
        if self._aux is None:
            raise ValueError("the CNN has no auxiliary head")
        self._fill(rows)
        return self._aux[np.asarray(rows, dtype=np.int64)]


# -- fitting ---------------------------------------------------------------------------------------------------
def _objective(theta: np.ndarray, lc: np.ndarray, lg: np.ndarray, y: np.ndarray, l2: float, use_bias: bool):
    """Soft cross-entropy (+ L2 on the bias) and its gradient for theta = (w, scale, bias...)."""
    w, s = theta[0], theta[1]
    mix = (1.0 - w) * lc + w * lg
    z = s * mix
    if use_bias:
        z = z + theta[2:]
    z = z - z.max(1, keepdims=True)
    logp = z - np.log(np.exp(z).sum(1, keepdims=True))
    n = len(y)
    loss = -(y * logp).sum() / n
    d = (np.exp(logp) * y.sum(1, keepdims=True) - y) / n  # dL/dz
    grad = np.empty_like(theta)
    grad[0] = (d * s * (lg - lc)).sum()
    grad[1] = (d * mix).sum()
    if use_bias:
        b = theta[2:]
        loss += l2 * float(b @ b)
        grad[2:] = d.sum(0) + 2 * l2 * b
    return loss, grad


def fit_params(p_cnn: np.ndarray, p_geo: np.ndarray, targets: np.ndarray, *, bias: bool = True,
               l2: float = 1e-3) -> tuple[float, float, np.ndarray | None]:
    """``(weight, scale, bias)`` minimising the soft cross-entropy of :func:`mimetic.expression.fusion.fuse`
    against ``targets`` (rows summing to 1). Several starting weights; the best fit is kept."""
    from scipy.optimize import minimize

    lc = np.log(np.clip(p_cnn.astype(np.float64), 1e-12, None))
    lg = np.log(np.clip(p_geo.astype(np.float64), 1e-12, None))
    y = targets.astype(np.float64)
    k = y.shape[1]
    bounds = [(0.0, 1.0), (0.05, 20.0)] + ([(None, None)] * k if bias else [])
    best = None
    for w0 in (0.0, 0.25, 0.5, 0.75, 1.0):
        x0 = np.concatenate([[w0, 1.0], np.zeros(k if bias else 0)])
        r = minimize(_objective, x0, args=(lc, lg, y, l2, bias), jac=True, method="L-BFGS-B", bounds=bounds,
                     options={"maxiter": 500})
        if best is None or r.fun < best.fun:
            best = r
    th = best.x
    b = th[2:] - th[2:].mean() if bias else None  # the softmax ignores a common shift
    return float(th[0]), float(th[1]), b


def fit_temperature(probs: np.ndarray, labels: np.ndarray) -> float:
    """The temperature T minimising the negative log-likelihood of the majority ``labels`` under
    ``softmax(log probs / T)``: the fusion is fitted to the vote *distribution* (a face 6 of 10 annotators call
    happy is 60 % happy), while a user reads "happiness 0.6" as "right 60 % of the time"; T maps one onto the
    other without changing any answer."""
    from scipy.optimize import minimize_scalar

    z = np.log(np.clip(np.asarray(probs, dtype=np.float64), 1e-12, None))
    y = np.asarray(labels, dtype=np.int64)

    def nll(t: float) -> float:
        v = z / t
        v = v - v.max(1, keepdims=True)
        return float(-(v[np.arange(len(y)), y] - np.log(np.exp(v).sum(1))).mean())

    return float(minimize_scalar(nll, bounds=(0.2, 5.0), method="bounded").x)


def _out_of_fold(pc: np.ndarray, pg: np.ndarray, y: np.ndarray, *, folds: int, seed: int, bias: bool,
                 l2: float) -> np.ndarray:
    """Fused probabilities of each row from parameters fitted on the other folds (k-fold inside the split)."""
    order = np.random.default_rng(seed).permutation(len(pc))
    oof = np.zeros_like(pc)
    for k in range(folds):
        test = order[k::folds]
        train = np.setdiff1d(order, test)
        wk, sk, bk = fit_params(pc[train], pg[train], y[train], bias=bias, l2=l2)
        oof[test] = fuse(pc[test], pg[test], wk, sk, bk)
    return oof


def _accuracy(p: np.ndarray, labels: np.ndarray) -> float:
    return float((p.argmax(1) == labels).mean()) if len(labels) else float("nan")


def fit_fusion(cnn_onnx: str | os.PathLike, geo_onnx: str | os.PathLike, data: str | os.PathLike, *,
               bias: bool = True, l2: float = 1e-3, folds: int = 5, seed: int = 0,
               cache_dir: str | os.PathLike | None = None, threads: int = 1, predictions: Predictions | None = None,
               log: Callable[[str], None] = print) -> Fusion:
    """Fit the fusion on ``data``'s ``valid`` split (soft FER+ vote targets) and decide whether it ships.

    Returns a :class:`Fusion` whose ``mode`` is ``"fused"`` when the fusion's out-of-fold validation accuracy
    beats the CNN's validation accuracy, else ``"cnn"``; ``info`` holds the validation numbers and the decision.
    The model files' SHA-256 are recorded. Never reads the ``test`` split."""
    from mimetic.train.datasets import read_dataset
    from mimetic.train.metrics import calibration, metrics

    pred = predictions or Predictions(cnn_onnx, geo_onnx, data, cache_dir=cache_dir, threads=threads, log=log)
    src = read_dataset(data, pred.classes)
    va = src.split == "valid"
    if not va.any():
        raise ValueError(f"{data}: no 'valid' split to fit the fusion on (the test split is never used)")
    rows, y = src.rows[va], src.targets[va]
    labels = y.argmax(1)
    pc, pg = pred.cnn_probs(rows), pred.geo_probs(rows)
    w, s, b = fit_params(pc, pg, y, bias=bias, l2=l2)
    fused = fuse(pc, pg, w, s, b)
    oof = _out_of_fold(pc, pg, y, folds=folds, seed=seed, bias=bias, l2=l2)
    temperature = fit_temperature(fused, labels)
    m = {name: metrics(labels, p.argmax(1), pred.classes) for name, p in
         (("cnn", pc), ("geometric", pg), ("fused", fused), ("fused_out_of_fold", oof))}
    info = {
        "data": str(data), "split": "valid", "n": int(len(rows)), "without_face": int((~pred.found[rows]).sum()),
        "objective": "soft cross-entropy on the FER+ vote distribution" + (f" + {l2:g}·|bias|²" if bias else ""),
        "folds": folds, "seed": seed,
        "accuracy": {k: v["accuracy"] for k, v in m.items()},
        "macro_f1": {k: v["macro_f1"] for k, v in m.items()},
        "temperature": temperature,
        "ece": {"before_temperature": calibration(fused, labels)["ece"],
                "after_temperature": calibration(fuse(pc, pg, w, s, b, temperature), labels)["ece"]},
    }
    better = m["fused_out_of_fold"]["accuracy"] > m["cnn"]["accuracy"]
    mode = "fused" if better else "cnn"
    info["decision"] = (
        f"fused out-of-fold validation accuracy {100 * m['fused_out_of_fold']['accuracy']:.2f} % "
        f"{'>' if better else '<='} CNN alone {100 * m['cnn']['accuracy']:.2f} %: "
        f"{'ship the fusion' if better else 'ship the CNN alone'}")
    log(f"fusion on {len(rows)} validation images: weight {w:.3f}, scale {s:.3f}; accuracy CNN "
        f"{100 * m['cnn']['accuracy']:.2f} %, geometric {100 * m['geometric']['accuracy']:.2f} %, fused "
        f"{100 * m['fused']['accuracy']:.2f} % (out-of-fold {100 * m['fused_out_of_fold']['accuracy']:.2f} %) "
        f"→ {mode}; temperature {temperature:.3f} (ECE {100 * info['ece']['before_temperature']:.1f} % → "
        f"{100 * info['ece']['after_temperature']:.1f} %)")
    aux = _fit_aux(pred, data, bias=bias, l2=l2, folds=folds, seed=seed, log=log) if pred.aux_classes else None
    if aux is not None:
        info["aux"] = aux.pop("info")
    return Fusion(classes=tuple(pred.classes), weight=w, scale=s, bias=None if b is None else tuple(map(float, b)),
                  mode=mode, cnn_sha256=file_sha256(cnn_onnx), geometric_sha256=file_sha256(geo_onnx),
                  cnn_file=Path(cnn_onnx).name, geometric_file=Path(geo_onnx).name, info=info, aux=aux,
                  temperature=temperature)


def _fit_aux(pred: Predictions, data: str | os.PathLike, *, bias: bool, l2: float, folds: int, seed: int,
             log: Callable[[str], None]) -> dict:
    """The fusion parameters of the auxiliary (FER2013-label) head with the geometric model, on the ``valid``
    split's FER2013 labels (one-hot targets), and the decision between that fusion and the head alone (``mode``
    ``"fused"`` or ``"head"``), made like the main head's: the fusion's out-of-fold accuracy against the head's."""
    from mimetic.train.datasets import read_dataset
    from mimetic.train.evaluate import remap_probs

    classes = tuple(pred.aux_classes)
    full = read_dataset(data, classes, labels="fer2013")
    va = full.split == "valid"
    rows, y = full.rows[va], full.targets[va]
    pa = pred.aux_probs(rows)
    pg = remap_probs(pred.geo_probs(rows), pred.classes, classes)
    w, s, b = fit_params(pa, pg, y, bias=bias, l2=l2)
    fused = fuse(pa, pg, w, s, b)
    labels = y.argmax(1)
    oof = _out_of_fold(pa, pg, y, folds=folds, seed=seed, bias=bias, l2=l2)
    acc = {"cnn_aux": _accuracy(pa, labels), "geometric": _accuracy(pg, labels), "fused": _accuracy(fused, labels),
           "fused_out_of_fold": _accuracy(oof, labels)}
    better = acc["fused_out_of_fold"] > acc["cnn_aux"]
    mode = "fused" if better else "head"
    decision = (f"fused out-of-fold validation accuracy {100 * acc['fused_out_of_fold']:.2f} % "
                f"{'>' if better else '<='} head alone {100 * acc['cnn_aux']:.2f} %: "
                f"{'use the fusion' if better else 'use the head alone'}")
    log(f"auxiliary-head fusion on {len(rows)} validation images (FER2013 labels): weight {w:.3f}, scale {s:.3f}; "
        f"accuracy head {100 * acc['cnn_aux']:.2f} %, geometric {100 * acc['geometric']:.2f} %, fused "
        f"{100 * acc['fused']:.2f} % (out-of-fold {100 * acc['fused_out_of_fold']:.2f} %) → {mode}")
    return {"classes": list(classes), "weight": w, "scale": s, "bias": None if b is None else [float(v) for v in b],
            "mode": mode,
            "info": {"n": int(len(rows)), "labels": "FER2013 (original)", "folds": folds, "accuracy": acc,
                     "decision": decision}}


# -- evaluation ------------------------------------------------------------------------------------------------
def evaluate_all(cnn_onnx: str | os.PathLike, geo_onnx: str | os.PathLike, fusion: Fusion | str | os.PathLike,
                 data: str | os.PathLike, out_dir: str | os.PathLike, *, split: str = "test",
                 cache_dir: str | os.PathLike | None = None, threads: int = 1,
                 predictions: Predictions | None = None, log: Callable[[str], None] = print,
                 classes: Sequence[str] | None = None, read_kw: dict | None = None) -> dict:
    """CNN alone, geometric alone and fused on the test sets of ``data`` (FER+ test; FER2013 PrivateTest, all and
    confident). Writes ``metrics.json`` (``{model: {set: metrics}}``), ``results.md`` (one table) and
    ``confusion_<model>_<set>.png`` to ``out_dir``; returns the metrics dict. ``classes``: score on these classes
    only (the main heads' probabilities restricted to them; see :func:`mimetic.train.evaluate.evaluate_source`);
    ``data`` must then hold images of these classes only (its image list is the same whatever the class set)."""
    from mimetic.media.atomic import atomic_write_text
    from mimetic.train.evaluate import evaluate_rows, evaluation_sets

    if not isinstance(fusion, Fusion):
        fusion = Fusion.load(fusion)
    pred = predictions or Predictions(cnn_onnx, geo_onnx, data, cache_dir=cache_dir, threads=threads, log=log,
                                      read_kw=read_kw)
    out = Path(out_dir)
    sets = evaluation_sets(data, tuple(classes) if classes is not None else pred.classes, split=split,
                           **(read_kw or {}))
    producers = {"cnn": pred.cnn_probs, "geometric": pred.geo_probs,
                 "fused": lambda r: fusion.apply(pred.cnn_probs(r), pred.geo_probs(r))}
    # the FER2013 sets are scored with the head trained on their labels when the CNN has one
    aux_producers = {"cnn": pred.aux_probs,
                     "fused": lambda r: fusion.apply_aux(pred.aux_probs(r), pred.geo_probs(r))} \
        if pred.aux_classes and fusion.aux and classes is None else {}
    results: dict = {}
    for name, fn in producers.items():
        log(f"-- {TITLES[name]}")
        results[name] = {}
        for st in sets:
            on_aux = name in aux_producers and set(st["classes"]) <= set(pred.aux_classes)
            results[name].update(evaluate_rows(aux_producers[name] if on_aux else fn,
                                               pred.aux_classes if on_aux else pred.classes, [st], out,
                                               prefix=f"{name}_", log=log))
    results["sets"] = {s["name"]: {"n": int(len(s["rows"])), "without_face": int((~pred.found[s["rows"]]).sum()),
                                   "classes": list(s["classes"])} for s in sets}
    _write_predictions(out, sets, producers["fused"], pred, data, read_kw)
    results["fusion"] = fusion.to_dict()
    atomic_write_text(out / "metrics.json", json.dumps(results, indent=2, default=float) + "\n")
    atomic_write_text(out / "results.md", results_markdown(results) + "\n")
    log(results_markdown(results))
    return results


def _write_predictions(out: Path, sets: list[dict], fused, pred: "Predictions", data, read_kw: dict | None) -> None:
    """``predictions_<set>.csv``: per image its name (or index), true class, the fused answer and its probability,
    and whether a face was found — which faces a model gets wrong."""
    import csv

    from mimetic.media.atomic import atomic_path
    from mimetic.train.datasets import read_dataset
    from mimetic.train.evaluate import remap_probs

    try:
        src = read_dataset(data, **(read_kw or {}))
        names = {int(r): str(n) for r, n in zip(src.rows, src.names)} if src.names is not None else {}
    except Exception:  # noqa: BLE001 - names are a convenience; the metrics are written already
        names = {}
    for s in sets:
        p = remap_probs(np.asarray(fused(s["rows"])), tuple(pred.classes), s["classes"])
        with atomic_path(out / f"predictions_{s['name']}.csv") as tmp:
            with open(tmp, "w", newline="", encoding="utf-8") as fh:
                w = csv.writer(fh)
                w.writerow(["image", "true", "answer", "probability", "face_found"])
                for r, y, row in zip(s["rows"], s["labels"], p):
                    w.writerow([names.get(int(r), int(r)), s["classes"][y], s["classes"][int(row.argmax())],
                                f"{float(row.max()):.4f}", int(pred.found[r])])


def results_markdown(results: dict, *, validation: dict | None = None) -> str:
    """The accuracy / macro-F1 table of :func:`evaluate_all`'s result (optionally with the validation row)."""
    models = [m for m in MODELS if m in results]
    head = "| test set | images | " + " | ".join(f"{TITLES[m]} accuracy | {TITLES[m]} macro-F1" for m in models) + " |"
    sep = "|---|---:|" + "---:|---:|" * len(models)
    lines = [head, sep]
    val = validation if validation is not None else (results.get("fusion") or {}).get("info")
    if val and "accuracy" in val:
        acc, f1 = val["accuracy"], val["macro_f1"]
        cells = []
        for m in models:
            key = "fused_out_of_fold" if m == "fused" else m
            cells.append(f"{100 * acc[key]:.2f} % | {100 * f1[key]:.2f} %")
        lines.append(f"| FER+ valid (fitting split; fused: out-of-fold) | {val['n']:,} | " + " | ".join(cells) + " |")
    for name, info in results.get("sets", {}).items():
        cells = [f"{100 * results[m][name]['accuracy']:.2f} % | {100 * results[m][name]['macro_f1']:.2f} %"
                 for m in models]
        lines.append(f"| {SET_TITLES.get(name, name)} | {info['n']:,} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def fit_and_evaluate(cnn_onnx: str | os.PathLike, geo_onnx: str | os.PathLike, data: str | os.PathLike,
                     out_dir: str | os.PathLike, *, bias: bool = True, threads: int = 1,
                     cache_dir: str | os.PathLike | None = None,
                     log: Callable[[str], None] = print) -> tuple[Fusion, dict]:
    """:func:`fit_fusion` on the validation split, saved as ``out_dir/expression_fusion.json``, then
    :func:`evaluate_all` into ``out_dir/eval``. Returns the fusion and the test metrics."""
    pred = Predictions(cnn_onnx, geo_onnx, data, cache_dir=cache_dir, threads=threads, log=log)
    fusion = fit_fusion(cnn_onnx, geo_onnx, data, bias=bias, predictions=pred, log=log)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    fusion.save(out / FUSION_NAME)
    results = evaluate_all(cnn_onnx, geo_onnx, fusion, data, out / "eval", predictions=pred, log=log)
    return fusion, results


def evaluate_shipped(data: str | os.PathLike, out_dir: str | os.PathLike, *, split: str = "auto",
                     models_dir: str | os.PathLike | None = None, threads: int = 1,
                     cache_dir: str | os.PathLike | None = None, read_kw: dict | None = None,
                     progress: bool = False, log: Callable[[str], None] = print) -> dict:
    """:func:`evaluate_all` of the shipped models (``expression.onnx``, ``expression_geometric.onnx`` and
    ``expression_fusion.json`` in ``models_dir``, default the package's) on any labelled data: what
    ``mimetic evaluate DATA`` prints. Faces are landmarked and aligned as for training (tight crops enlarged with
    a margin), so the fused answer is the one ``Analyzer`` gives for the image's face."""
    from mimetic.expression.fusion import MODELS_DIR

    d = Path(models_dir) if models_dir is not None else MODELS_DIR
    cnn, geo, fusion = d / "expression.onnx", d / "expression_geometric.onnx", d / FUSION_NAME
    for f in (cnn, geo, fusion):
        if not f.is_file():
            raise FileNotFoundError(f"{f}: no shipped expression model there")
    pred = Predictions(cnn, geo, data, cache_dir=cache_dir, threads=threads, progress=progress, log=log,
                       read_kw=read_kw)
    return evaluate_all(cnn, geo, fusion, data, out_dir, split=split, predictions=pred, log=log, read_kw=read_kw)

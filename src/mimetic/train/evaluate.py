"""Evaluation: accuracy, macro-F1, per-class recall and a confusion-matrix PNG, on the standard test sets.

- FER+ test: the majority label (argmax of the 10 vote columns); rows whose majority is unknown / NF are dropped;
  classes the model does not have are dropped too.
- FER2013 PrivateTest (the ``test`` split; 7 classes): the original FER2013 labels, on all images and on the
  ``fer2013_confident`` subset. An 8-class model's output is mapped to 7 classes by dropping contempt and
  renormalising.
- Any other source (fer2013.csv, folder, CSV): its ``test`` split, with its own labels.

Metrics are computed with numpy (no scikit-learn needed); plots use matplotlib's Agg backend.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from mimetic.train.metrics import calibration, metrics


def confusion_png(confusion: np.ndarray | list, classes: Sequence[str], path: str | os.PathLike,
                  title: str = "") -> Path:
    """Row-normalised confusion matrix (true rows, predicted columns) with counts, as a PNG."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    cm = np.asarray(confusion, dtype=float)
    norm = cm / np.maximum(cm.sum(1, keepdims=True), 1)
    fig, ax = plt.subplots(figsize=(1.0 + 0.8 * len(classes), 0.6 + 0.7 * len(classes)), dpi=110)
    ax.imshow(norm, cmap="Blues", vmin=0, vmax=1)
    ax.set_xticks(range(len(classes)), classes, rotation=40, ha="right")
    ax.set_yticks(range(len(classes)), classes)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    for i in range(len(classes)):
        for j in range(len(classes)):
            ax.text(j, i, f"{norm[i, j]:.2f}\n{int(cm[i, j])}", ha="center", va="center", fontsize=7,
                    color="white" if norm[i, j] > 0.55 else "black")
    if title:
        ax.set_title(title, fontsize=9)
    fig.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    plt.close(fig)
    return path


def remap_probs(probs: np.ndarray, model_classes: Sequence[str], target_classes: Sequence[str]) -> np.ndarray:
    """Model probabilities restricted to ``target_classes`` (each must be a model class) and renormalised:
    e.g. 8 → 7 classes by dropping contempt."""
    missing = [c for c in target_classes if c not in model_classes]
    if missing:
        raise ValueError(f"the model has no class {missing}; its classes: {list(model_classes)}")
    p = probs[:, [list(model_classes).index(c) for c in target_classes]]
    return p / np.maximum(p.sum(1, keepdims=True), 1e-12)


def _evaluate_set(name: str, probs: np.ndarray, labels: np.ndarray, classes: Sequence[str], out_dir: Path,
                  log: Callable[[str], None]) -> dict:
    m = metrics(labels, probs.argmax(1), classes)
    m["name"] = name
    m["calibration"] = calibration(probs, labels)
    png = confusion_png(m["confusion"], classes, out_dir / f"confusion_{name}.png",
                        f"{name}: accuracy {100 * m['accuracy']:.2f} %, macro-F1 {100 * m['macro_f1']:.2f} % (n={m['n']})")
    m["confusion_png"] = str(png)
    log(format_metrics(m))
    return m


def format_metrics(m: dict) -> str:
    recall = "  ".join(f"{c} {100 * r:.1f}" for c, r in m["recall"].items())
    ece = f"  ECE {100 * m['calibration']['ece']:.1f} %" if "calibration" in m else ""
    return (f"{m.get('name', '')}: n={m['n']}  accuracy {100 * m['accuracy']:.2f} %  macro-F1 "
            f"{100 * m['macro_f1']:.2f} %{ece}\n  recall: {recall}")


def evaluate_source(predict: Callable[[np.ndarray], np.ndarray], model_classes: Sequence[str], data: str | os.PathLike,
                    out_dir: str | os.PathLike, *, size: int, cache_dir: str | os.PathLike | None = None,
                    split: str = "test", progress: bool = True, log: Callable[[str], None] = print,
                    predict_aux: Callable[[np.ndarray], np.ndarray] | None = None,
                    aux_classes: Sequence[str] = (), classes: Sequence[str] | None = None,
                    read_kw: dict | None = None) -> dict:
    """Run ``predict`` ((N, size, size) uint8 crops → (N, C) probabilities over ``model_classes``) on the test
    sets of ``data`` and write ``metrics.json`` and confusion PNGs to ``out_dir``. Returns the metrics.

    A model with a head trained on the FER2013 labels (``predict_aux`` over ``aux_classes``) is scored with that
    head on the FER2013 sets; otherwise the main head's probabilities are mapped to the 7 classes.

    ``classes``: score on these classes instead of the model's (each must be a model class): the data is read with
    them and the main head's probabilities are restricted to them and renormalised, so models with different class
    sets are scored on the same rows and labels (``mimetic annotate retrain``)."""
    from mimetic.train.datasets import detect_format, read_dataset
    from mimetic.train.prepare import CropCache

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    model_classes = tuple(model_classes)
    scored = tuple(classes) if classes is not None else model_classes
    if classes is not None:
        remap_probs(np.zeros((0, len(model_classes))), model_classes, scored)  # each must be a model class
        predict_aux = None  # the main head, on the classes asked for
    read_kw = read_kw or {}
    sets = evaluation_sets(data, scored, split=split, **read_kw)
    fmt = detect_format(data)
    # the crop cache holds the dataset's full image list whatever the class set; set rows index that list
    src = read_dataset(data, scored if fmt != "fer2013csv" else
                       tuple(c for c in scored if c != "contempt"), fmt=fmt, **read_kw)
    cache = CropCache(src, cache_dir, size=size)
    cache.ensure(np.unique(np.concatenate([st["rows"] for st in sets])), progress=progress)
    results: dict[str, dict] = {}
    for st in sets:
        on_aux = predict_aux is not None and set(st["classes"]) <= set(aux_classes)
        fn = predict_aux if on_aux else predict
        results.update(evaluate_rows(lambda rows, fn=fn: fn(cache.load(rows)["crops"]),
                                     tuple(aux_classes) if on_aux else model_classes, [st], out_dir, log=log))
    from mimetic.media.atomic import atomic_write_text

    atomic_write_text(out_dir / "metrics.json", json.dumps(results, indent=2) + "\n")
    return results


def _predictor(model: str | os.PathLike, threads: int):
    """``(predict, classes, size, predict_aux or None, aux_classes)`` for an ONNX file or a ``.pt`` checkpoint."""
    path = Path(model)
    if path.suffix == ".pt":
        import torch

        from mimetic.train.loop import model_from_checkpoint, predict_aux_probs, predict_probs

        torch.set_num_threads(max(1, int(threads)))
        net, state = model_from_checkpoint(path)
        aux = tuple(state["net"].get("aux_classes") or ())
        return ((lambda crops: predict_probs(net, crops)), tuple(state["net"]["classes"]), int(state["net"]["size"]),
                (lambda crops: predict_aux_probs(net, crops)) if aux else None, aux)
    from mimetic.expression.model import ExpressionModel

    m = ExpressionModel(path, threads=threads)
    return m.predict, m.classes, m.size, (m.predict_aux if m.aux_classes else None), m.aux_classes


def evaluate_model(model: str | os.PathLike, data: str | os.PathLike, out_dir: str | os.PathLike, *,
                   split: str = "test", threads: int = 1, cache_dir: str | os.PathLike | None = None,
                   progress: bool = True, log: Callable[[str], None] = print,
                   classes: Sequence[str] | None = None, read_kw: dict | None = None) -> dict:
    """Evaluate ``model`` (expression.onnx, or best.pt/last.pt) on ``data``'s ``split``: FER+ test (8 classes,
    majority label) and FER2013 PrivateTest (7 classes; all and confident) for the FER+ npz, the test split
    otherwise. Logs accuracy, macro-F1 and per-class recall; writes metrics.json and confusion_*.png; returns the
    metrics (``{set name: metrics}``, each with its ``confusion_png``). ``classes``: as :func:`evaluate_source`."""
    predict, model_classes, size, predict_aux, aux_classes = _predictor(model, threads)
    return evaluate_source(predict, model_classes, data, out_dir, size=size, cache_dir=cache_dir, split=split,
                           progress=progress, log=log, predict_aux=predict_aux, aux_classes=aux_classes,
                           classes=classes, read_kw=read_kw)


# -- evaluation of any per-image predictor (the geometric model, the fusion) ----------------------------------
def evaluation_sets(data: str | os.PathLike, model_classes: Sequence[str], *, split: str = "test",
                    label_map: str | dict[str, str] | None = None, names_from: str | None = None) -> list[dict]:
    """The test sets :func:`evaluate_source` reports, as plain rows: a list of ``{"name", "rows", "labels",
    "classes"}`` where ``rows`` index ``data``'s full image list (what the crop cache holds) and ``labels`` index
    ``classes`` (the set's class list; model outputs are mapped onto it with :func:`remap_probs`).

    FER+ npz: ``ferplus_<split>`` (majority label, unknown/NF dropped), ``fer2013_private`` and
    ``fer2013_private_confident`` (7 classes, original FER2013 labels); other formats: ``<stem>_<split>`` over the
    model's classes (the model's own answer, e.g. how often a posed face is called neutral) and, when the data
    lacks some of them, ``<stem>_<split>_present`` over the classes the data has (CK+: 7 classes, no neutral).
    ``split="all"``: every row; ``split="auto"``: ``test`` where the data has one, else every row (a folder of
    class folders, an npz without splits). ``label_map``/``names_from``: as
    :func:`mimetic.train.datasets.read_dataset`."""
    from mimetic.train.datasets import FER2013_CLASSES, detect_format, read_dataset

    model_classes = tuple(model_classes)
    fmt = detect_format(data)
    sets: list[dict] = []
    if fmt == "ferplus":
        split = "test" if split in ("auto", "all") else split
        src = read_dataset(data, model_classes)
        sel = src.split == split
        sets.append({"name": f"ferplus_{split}", "rows": src.rows[sel], "labels": src.labels[sel],
                     "classes": model_classes})
        fer7 = [c for c in FER2013_CLASSES if c in model_classes]
        if len(fer7) >= 2 and "fer2013_label" in src.extra:
            full = read_dataset(data, "7", labels="fer2013")
            sel7 = (full.split == split) & np.isin(full.labels, [FER2013_CLASSES.index(c) for c in fer7])
            names = np.array(FER2013_CLASSES)[full.labels[sel7]]
            y = np.array([fer7.index(n) for n in names], dtype=np.int64)
            tag = "fer2013_private" if split == "test" else f"fer2013_{split}"
            sets.append({"name": tag, "rows": full.rows[sel7], "labels": y, "classes": tuple(fer7)})
            if "fer2013_confident" in full.extra:
                conf = full.extra["fer2013_confident"][sel7].astype(bool)
                sets.append({"name": tag + "_confident", "rows": full.rows[sel7][conf], "labels": y[conf],
                             "classes": tuple(fer7)})
    else:
        src = read_dataset(data, model_classes if fmt != "fer2013csv" else
                           tuple(c for c in model_classes if c != "contempt"), fmt=fmt, label_map=label_map,
                           names_from=names_from)
        if split == "auto":
            split = "test" if (src.split == "test").any() else "all"
        sel = np.ones(len(src), bool) if split == "all" else src.split == split
        if not sel.any():
            raise ValueError(f"{data}: no rows in the {split!r} split (--split all scores every row)")
        name = f"{Path(data).stem}_{split}"
        sets.append({"name": name, "rows": src.rows[sel], "labels": src.labels[sel], "classes": tuple(src.classes)})
        have = np.unique(src.labels[sel])
        if 2 <= len(have) < len(src.classes):
            present = tuple(src.classes[i] for i in have)
            y = np.searchsorted(have, src.labels[sel])
            sets.append({"name": name + "_present", "rows": src.rows[sel], "labels": y, "classes": present})
    return sets


def evaluate_rows(probs_for: Callable[[np.ndarray], np.ndarray], model_classes: Sequence[str], sets: list[dict],
                  out_dir: str | os.PathLike, *, prefix: str = "", log: Callable[[str], None] = print) -> dict:
    """Metrics and confusion PNGs of a predictor on :func:`evaluation_sets`: ``probs_for(rows)`` gives the
    (len(rows), len(model_classes)) probabilities of the images ``rows``. Result names (and PNG names) are
    ``<prefix><set name>``, e.g. ``confusion_fused_ferplus_test.png``."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    results: dict[str, dict] = {}
    for s in sets:
        probs = remap_probs(np.asarray(probs_for(s["rows"])), tuple(model_classes), s["classes"])
        m = _evaluate_set(prefix + s["name"], probs, s["labels"], s["classes"], out, log)
        results[s["name"]] = m
    return results


def confusion_text(m: dict) -> str:
    """The confusion matrix of a metrics dict as a text table (rows: true class; columns: the answer)."""
    classes = list(m["recall"])
    cm = np.asarray(m["confusion"], dtype=np.int64)
    short = [c[:8] for c in classes]
    width = max(8, max(len(s) for s in short)) + 1
    lines = [" " * width + "".join(f"{s:>{width}}" for s in short) + f"{'recall':>{width}}"]
    for i, c in enumerate(short):
        if cm[i].sum() == 0:
            continue
        lines.append(f"{c:<{width}}" + "".join(f"{v:>{width}d}" for v in cm[i])
                     + f"{100 * m['recall'][classes[i]]:>{width - 2}.1f} %")
    return "\n".join(lines)

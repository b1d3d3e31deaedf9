"""Retrain the expression CNN on a labelling project and compare it with the shipped model (issue 20).

:func:`retrain` (``mimetic annotate retrain PROJECT --out RUN``):

1. exports the project's final labels to ``RUN/data/{train,test}/<label>/``
   (:func:`mimetic.annotate.exports.to_folders`): a stable ``valid_share`` of the items, image-wise (hash of the name) or subject-wise (hash of the item's
   subject), is **held out** as ``test``: never trained on and never used to pick the checkpoint (``mimetic
   train``'s own validation rows are a seeded 10 % of the training items);
2. trains with :func:`mimetic.train.run.train` into ``RUN`` (``best.pt``, ``expression.onnx``, ``summary.json``).
   By default the shipped CNN is the **teacher**: each training target is ``(1 − w)·label + w·teacher
   probabilities`` (``w = teacher_weight``, 0.5), the student starts from random weights (or ``init_from``) and has
   the teacher's classes, so it stays a drop-in 8-class model. Without a teacher the student has the project's
   labels as classes;
3. scores on the held-out items only, restricted to the project's labels (each model's probabilities over them,
   renormalised): the fine-tuned CNN, the shipped CNN, and the shipped model as the Analyzer runs it (the CNN fused
   with the geometric model, when the shipped fusion is active) with :mod:`mimetic.train.evaluate` and
   :func:`mimetic.train.fuse.evaluate_all`; writes ``RUN/comparison.json`` and ``RUN/comparison.md``.

Nothing is replaced: the shipped model stays what the Analyzer uses unless the user points it at
``RUN/expression.onnx`` (``MIMETIC_EXPRESSION_MODEL`` or ``Analyzer(expression_model=…)``). The shipped fusion is
fitted for the shipped CNN (its hash is checked), so a new CNN runs alone.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from mimetic.annotate.exports import SPLIT_BY, split_key, split_of, to_folders, trainable
from mimetic.annotate.items import Item

#: Fewer held-out items than this: the verdict says the difference cannot be told apart from chance.
MIN_TELL = 50
#: Accuracy differences (in points) below this are "no different".
SAME_POINTS = 1.0
#: At least this many training items (and two labels among them) are needed to train at all.
MIN_TRAIN = 2


def verdict(fine_tuned: float, shipped: float, n: int) -> str:
    """One line comparing two accuracies (0..1) on ``n`` held-out items."""
    d = 100 * (fine_tuned - shipped)
    if abs(d) < SAME_POINTS:
        s = f"the fine-tuned model is no different from the shipped one ({d:+.1f} points of accuracy)"
    else:
        s = f"the fine-tuned model is {'better' if d > 0 else 'worse'} than the shipped one by {abs(d):.1f} points"
    s += f" on {n} held-out item{'s' if n != 1 else ''}"
    if n < MIN_TELL:
        s += f" (too few to tell: fewer than {MIN_TELL})"
    return s


def _classes_of(labels: Sequence[str], shipped_classes: Sequence[str]) -> tuple[str, ...]:
    """The project's labels as the shipped model's class names (aliases such as ``happy`` accepted)."""
    from mimetic.train.datasets import ALIASES

    out = []
    for lab in labels:
        c = ALIASES.get(lab)
        if c is None or c not in shipped_classes:
            raise ValueError(f"label {lab!r} is not one of the shipped model's classes ({', '.join(shipped_classes)})"
                             f": retrain compares with the shipped model, so a project's labels must be among them")
        out.append(c)
    return tuple(out)


def _scores(m: dict, classes: Sequence[str], labels: Sequence[str]) -> dict[str, Any]:
    return {"n": m["n"], "accuracy": m["accuracy"], "macro_f1": m["macro_f1"],
            "recall": {lab: m["recall"][c] for c, lab in zip(classes, labels)},
            "support": {lab: m["support"][c] for c, lab in zip(classes, labels)},
            "confusion": m["confusion"], "confusion_png": m.get("confusion_png")}


def _one(results: dict) -> dict:
    (m,) = [v for k, v in results.items() if isinstance(v, dict) and "accuracy" in v]
    return m


def comparison_markdown(c: dict) -> str:
    """The report: one row per model, then the per-class recall, then the verdict."""
    labels = c["labels"]
    rows = ["| model | n | accuracy | macro-F1 | " + " | ".join(f"recall {lab}" for lab in labels) + " |",
            "|---|---|---|---|" + "---|" * len(labels)]
    for name, m in c["models"].items():
        rows.append(f"| {name} ({m['how']}) | {m['n']} | {100 * m['accuracy']:.1f} % | {100 * m['macro_f1']:.1f} % | "
                    + " | ".join(f"{100 * m['recall'][lab]:.1f} %" for lab in labels) + " |")
    h = c["held_out"]
    return "\n".join([
        f"# Retrain: {c['project']}", "",
        f"Held out ({c['split']}-wise, {100 * c['valid_share']:.0f} %): {h['n']} items "
        f"({', '.join(f'{k} {v}' for k, v in h['per_label'].items())}); trained on {c['train']['n']} items. "
        f"Scored on the project's labels only.", "",
        *rows, "",
        f"**Verdict:** {c['verdict']}.", "",
        f"Teacher: {c['teacher'] or 'none'}" + (f" (weight {c['teacher_weight']})" if c["teacher"] else "")
        + f"; {c['epochs']} epochs, seed {c['seed']}.", "",
        "The shipped model is unchanged. To use the new one: " + c["use"], ""])


def retrain(items: Sequence[Item], labels: Sequence[str], out_dir: str | os.PathLike, *, project: str = "",
            split: str = "image", valid_share: float = 0.2, epochs: int = 20, batch_size: int = 64,
            lr: float | None = None, teacher: str | os.PathLike | None = "shipped", teacher_weight: float = 0.5,
            init_from: str | os.PathLike | None = None, seed: int = 0, threads: int = 1,
            cache_dir: str | os.PathLike | None = None, progress: bool = True,
            log: Callable[[str], None] = print) -> dict[str, Any]:
    """Export ``items`` (a project's, with its ``labels``), train, compare with the shipped model on the held-out
    items; returns the comparison (also ``out_dir/comparison.json`` and ``comparison.md``).

    ``split``: ``image`` or ``subject`` (every item must carry ``meta["subject"]``). ``teacher``: ``"shipped"``
    (the Analyzer's default CNN), a path to an expression ONNX file, or None (no distillation). ``lr``: default
    0.01 with ``init_from``, else 0.05. ValueError for an empty project, too few labelled items, labels outside the
    project's or the shipped model's classes, or a non-empty ``out_dir``."""
    from mimetic.expression.model import ExpressionModel, default_path
    from mimetic.media.atomic import atomic_write_text

    out = Path(out_dir)
    labels = tuple(labels)
    if split not in SPLIT_BY:
        raise ValueError(f"split {split!r}: choose from {', '.join(SPLIT_BY)}")
    if not 0.0 < valid_share < 1.0:
        raise ValueError(f"the held-out share must be between 0 and 1, not {valid_share}")
    if out.exists() and any(out.iterdir()):
        raise ValueError(f"{out} is not empty: give a new folder (a run is never overwritten)")
    items = list(items)
    if not items:
        raise ValueError(f"project {project!r} has no items")
    pairs = trainable(items)
    if not pairs:
        raise ValueError(f"project {project!r}: none of its {len(items)} items has a final label (other than "
                         "not_a_face/unsure); label or review some first")
    if split == "subject" and any(not it.meta.get("subject") for it, _ in pairs):
        raise ValueError(f"project {project!r}: its items carry no subject (person) field, so a subject-wise split "
                         "is impossible; use the image-wise split (then frames of one person or one video may fall "
                         "on both sides, which flatters the fine-tuned model)")
    unknown = sorted({lab for _, lab in pairs if lab not in labels})
    if unknown:
        raise ValueError(f"final labels {unknown} are not among the project's labels ({', '.join(labels)})")
    shipped_path = default_path()
    shipped = ExpressionModel(shipped_path)
    classes = _classes_of(labels, shipped.classes)
    held = {it.name for it, _ in pairs if split_of(split_key(it, split), valid_share) == "valid"}
    train_labels = [lab for it, lab in pairs if it.name not in held]
    held_counts = {lab: sum(1 for it, la in pairs if la == lab and it.name in held) for lab in labels}
    if not held or len(train_labels) < MIN_TRAIN or len(set(train_labels)) < 2:
        raise ValueError(f"too few labelled items: {len(pairs)} with a final label, {len(train_labels)} to train on "
                         f"({len(set(train_labels))} label(s)) and {len(held)} held out; training needs at least "
                         f"{MIN_TRAIN} items of 2 labels and the comparison at least 1 held-out item (label more, "
                         f"or change the held-out share)")

    teacher_path = Path(shipped_path if teacher == "shipped" else teacher) if teacher else None
    train_classes = classes
    if teacher_path is not None:
        t = shipped if teacher_path == shipped_path else ExpressionModel(teacher_path)
        missing = [c for c in classes if c not in t.classes]
        if missing:
            raise ValueError(f"teacher {teacher_path}: no class {missing}; its classes: {list(t.classes)}")
        train_classes = tuple(t.classes)  # the student has the teacher's classes (distillation needs the same)
    present = {classes[labels.index(lab)] for lab in train_labels}
    balance = "sqrt" if set(train_classes) <= present else "none"
    if lr is None:
        lr = 0.01 if init_from else 0.05

    data = out / "data"
    log(f"[1/3] exporting {len(pairs)} labelled items of {project!r} to {data}: {len(train_labels)} to train on, "
        f"{len(held)} held out ({split}-wise, share {valid_share:g})")
    to_folders(items, data, valid_fraction=valid_share, by=split, held_out="test")

    from mimetic.train.run import train

    log(f"[2/3] training ({epochs} epochs, classes {', '.join(train_classes)}; "
        + (f"teacher {teacher_path}, weight {teacher_weight:g}" if teacher_path else "no teacher")
        + (f"; initialised from {init_from}" if init_from else "")
        + ("" if balance == "sqrt" else "; class balancing off: some classes have no labelled training item") + ")")
    summary = train(data, out, classes=",".join(train_classes), epochs=epochs, batch_size=batch_size, lr=lr,
                    threads=threads, seed=seed, fmt="folder", balance=balance, cache_dir=cache_dir,
                    progress=progress, init_from=init_from, teacher=teacher_path, teacher_weight=teacher_weight,
                    echo=log)
    new_path = out / "expression.onnx"
    if not summary.get("onnx") or not new_path.is_file():
        raise ValueError(f"training stopped without an exported model (see {out / 'log.jsonl'})")

    log(f"[3/3] scoring on the {len(held)} held-out items (the project's labels only)")
    models = _compare(new_path, shipped_path, data, out / "eval", classes, labels, threads=threads,
                      cache_dir=cache_dir, progress=progress, log=log)
    ns = {m["n"] for m in models.values()}
    if len(ns) != 1:
        raise ValueError(f"the models were scored on different numbers of items: {ns}")
    n = ns.pop()
    reference = models["shipped"]
    use = (f"MIMETIC_EXPRESSION_MODEL={new_path} mimetic analyze …, or "
           f"Analyzer(expression_model=\"{new_path}\") in Python")
    comparison = {
        "project": project, "labels": list(labels), "classes": list(classes), "split": split,
        "valid_share": valid_share, "seed": seed, "epochs": epochs, "lr": lr,
        "teacher": str(teacher_path) if teacher_path else None, "teacher_weight": teacher_weight,
        "init_from": str(init_from) if init_from else None, "balance": balance,
        "train": {"n": len(train_labels), "per_label": {lab: train_labels.count(lab) for lab in labels}},
        "held_out": {"n": n, "per_label": held_counts, "items": sorted(held)},
        "models": models,
        "verdict": verdict(models["fine_tuned"]["accuracy"], reference["accuracy"], n),
        "use": use,
    }
    atomic_write_text(out / "comparison.json", json.dumps(comparison, indent=1) + "\n")
    atomic_write_text(out / "comparison.md", comparison_markdown(comparison))
    return comparison


def _compare(new_path: Path, shipped_path: Path, data: Path, out: Path, classes: tuple[str, ...],
             labels: tuple[str, ...], *, threads: int, cache_dir, progress: bool,
             log: Callable[[str], None]) -> dict[str, dict]:
    """``{"fine_tuned", "shipped", ["shipped_cnn"]}`` scores on ``data``'s test split."""
    import warnings

    from mimetic.expression import geometric
    from mimetic.expression.fusion import FusedExpression, default_fusion_path
    from mimetic.train.evaluate import evaluate_model

    kw = dict(split="test", threads=threads, cache_dir=cache_dir, progress=progress, log=log, classes=classes)
    models: dict[str, dict] = {}
    log(f"-- fine-tuned CNN ({new_path})")
    models["fine_tuned"] = {"path": str(new_path), "how": "CNN alone, as the Analyzer runs a new CNN",
                            **_scores(_one(evaluate_model(new_path, data, out / "fine_tuned", **kw)), classes, labels)}
    log(f"-- shipped CNN ({shipped_path})")
    cnn = {"path": str(shipped_path), **_scores(_one(evaluate_model(shipped_path, data, out / "shipped_cnn", **kw)),
                                                 classes, labels)}
    geo_path, fusion_path = geometric.default_path(), default_fusion_path()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fe = FusedExpression(shipped_path, geo_path, fusion_path)
    if fe.mode != "fused":
        models["shipped"] = {**cnn, "how": f"CNN alone, as the Analyzer runs it ({fe.reason})"}
        return models
    from mimetic.train.fuse import evaluate_all

    log(f"-- shipped model as the Analyzer runs it (CNN fused with {geo_path.name})")
    res = evaluate_all(shipped_path, geo_path, fe.fusion, data, out / "shipped", split="test", cache_dir=cache_dir,
                       threads=threads, log=log, classes=classes)
    models["shipped"] = {"path": str(shipped_path), "how": "CNN fused with the geometric model, as the Analyzer "
                         "runs it", **_scores(_one(res["fused"]), classes, labels)}
    models["shipped_cnn"] = {**cnn, "how": "shipped CNN alone"}
    return models

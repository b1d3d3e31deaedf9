"""Classification metrics of hard labels, in numpy (no scikit-learn): used by the training loop's validation and
by every evaluation (:mod:`mimetic.train.evaluate`)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def metrics(y_true: np.ndarray, y_pred: np.ndarray, classes: Sequence[str]) -> dict:
    """Accuracy, macro-F1 and per-class recall/precision/F1 of hard labels (indices into ``classes``)."""
    y_true = np.asarray(y_true, dtype=np.int64)
    y_pred = np.asarray(y_pred, dtype=np.int64)
    k = len(classes)
    cm = np.zeros((k, k), dtype=np.int64)
    np.add.at(cm, (y_true, y_pred), 1)
    tp = np.diag(cm).astype(float)
    support = cm.sum(1)
    predicted = cm.sum(0)
    recall = np.divide(tp, support, out=np.zeros(k), where=support > 0)
    precision = np.divide(tp, predicted, out=np.zeros(k), where=predicted > 0)
    f1 = np.divide(2 * precision * recall, precision + recall, out=np.zeros(k), where=(precision + recall) > 0)
    present = support > 0
    return {
        "n": int(len(y_true)),
        "accuracy": float(tp.sum() / max(len(y_true), 1)),
        "macro_f1": float(f1[present].mean()) if present.any() else 0.0,
        "mean_recall": float(recall[present].mean()) if present.any() else 0.0,
        "recall": {c: float(r) for c, r in zip(classes, recall)},
        "precision": {c: float(p) for c, p in zip(classes, precision)},
        "f1": {c: float(f) for c, f in zip(classes, f1)},
        "support": {c: int(s) for c, s in zip(classes, support)},
        "confusion": cm.tolist(),
    }


def calibration(probs: np.ndarray, y_true: np.ndarray, bins: int = 15) -> dict:
    """Expected calibration error of the top answer: the confidences (max probability) are put in ``bins`` equal
    bins of [0, 1]; ECE = Σ (bin share) · |accuracy in the bin − mean confidence in the bin|. Also the bins
    themselves (for a reliability plot) and the mean confidence against the accuracy."""
    p = np.asarray(probs, dtype=np.float64)
    y = np.asarray(y_true, dtype=np.int64)
    conf = p.max(1)
    hit = (p.argmax(1) == y).astype(float)
    edges = np.linspace(0.0, 1.0, bins + 1)
    which = np.clip(np.digitize(conf, edges[1:-1], right=True), 0, bins - 1)
    ece = 0.0
    rows = []
    for b in range(bins):
        m = which == b
        if not m.any():
            continue
        acc, c = float(hit[m].mean()), float(conf[m].mean())
        ece += m.mean() * abs(acc - c)
        rows.append({"low": float(edges[b]), "high": float(edges[b + 1]), "n": int(m.sum()), "accuracy": acc,
                     "confidence": c})
    return {"ece": float(ece), "mean_confidence": float(conf.mean()) if len(conf) else 0.0,
            "accuracy": float(hit.mean()) if len(hit) else 0.0, "bins": rows}

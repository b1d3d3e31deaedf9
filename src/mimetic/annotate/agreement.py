"""Inter-annotator agreement: Cohen's κ (two annotators), Fleiss' κ (any number, items with at least two votes),
per-class agreement and the annotator-vs-model confusion matrix.

Fleiss' κ is written out here (statsmodels is not a dependency); with a varying number of votes per item it uses
the usual generalisation (per-item agreement over that item's pairs, class shares over all votes), which equals
Fleiss (1971) when every item has the same number of votes.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from itertools import combinations

import numpy as np

from mimetic.annotate.items import Item, votes_by_annotator
from mimetic.annotate.labels import UNSURE


def cohen_kappa(a: Sequence[str], b: Sequence[str]) -> float | None:
    """Cohen's κ of two annotators' labels on the same items (scikit-learn); None with fewer than 2 items.
    1.0 when both always agree on a single class (κ is undefined there; agreement is perfect)."""
    if len(a) != len(b):
        raise ValueError(f"{len(a)} and {len(b)} labels: Cohen's kappa needs the same items")
    if len(a) < 2:
        return None
    if len(set(a) | set(b)) == 1:
        return 1.0
    from sklearn.metrics import cohen_kappa_score

    return float(cohen_kappa_score(list(a), list(b)))


def fleiss_kappa(table: np.ndarray | Sequence[Sequence[int]]) -> float | None:
    """Fleiss' κ of an (items, classes) table of vote counts. Items with fewer than 2 votes are left out; None when
    no item is left or the expected agreement is 1."""
    t = np.asarray(table, dtype=float)
    if t.ndim != 2:
        raise ValueError(f"a (items, classes) table is needed, got shape {t.shape}")
    n = t.sum(1)
    t, n = t[n >= 2], n[n >= 2]
    if len(t) == 0:
        return None
    p_item = ((t * (t - 1)).sum(1)) / (n * (n - 1))
    p_class = t.sum(0) / t.sum()
    pbar, pe = p_item.mean(), float((p_class ** 2).sum())
    if pe >= 1.0:
        return 1.0 if pbar >= 1.0 else None
    return float((pbar - pe) / (1 - pe))


def per_class(table: np.ndarray | Sequence[Sequence[int]]) -> tuple[np.ndarray, np.ndarray]:
    """(specific agreement, Fleiss' per-category κ) per class of a vote-count table (items with ≥ 2 votes).

    Specific agreement of class j: of the pairs of votes on an item where one vote is j, the share where the other
    is j too (Uebersax's positive specific agreement). NaN where a class has no votes."""
    t = np.asarray(table, dtype=float)
    n = t.sum(1)
    t, n = t[n >= 2], n[n >= 2]
    with np.errstate(invalid="ignore", divide="ignore"):
        specific = (t * (t - 1)).sum(0) / (t * (n[:, None] - 1)).sum(0)
        p = t.sum(0) / t.sum() if t.sum() else np.full(t.shape[1], np.nan)
        disagree = (t * (n[:, None] - t) / (n[:, None] - 1)).sum(0)
        kappa = 1 - disagree / (n.sum() * p * (1 - p))
    return specific, kappa


@dataclass
class Agreement:
    """Agreement figures of a project (JSON-ready via :meth:`to_dict`)."""

    labels: tuple[str, ...]
    annotators: tuple[str, ...]
    items: int  # items with at least one vote
    items_multi: int  # items with at least two votes
    percent: float | None  # share of vote pairs that agree
    cohen: float | None  # when exactly two annotators (on the items both labelled)
    pairwise_cohen: dict[str, float | None] = field(default_factory=dict)  # "a|b" -> κ, for every pair
    fleiss: float | None = None
    specific: dict[str, float | None] = field(default_factory=dict)
    category_kappa: dict[str, float | None] = field(default_factory=dict)
    disagreements: int = 0  # items whose votes differ and have no review

    def to_dict(self) -> dict:
        return {k: (list(v) if isinstance(v, tuple) else v) for k, v in self.__dict__.items()}


def _nan_none(x: float) -> float | None:
    return None if x is None or not np.isfinite(x) else float(x)


def agreement(items: Iterable[Item], answers: Sequence[str], *, ignore: Sequence[str] = (UNSURE,)) -> Agreement:
    """Cohen's κ (two annotators, and every pair), Fleiss' κ, per-class agreement over ``answers`` (votes of
    ``ignore``, by default ``unsure``, are left out)."""
    items = list(items)
    answers = [a for a in answers if a not in ignore]
    idx = {a: i for i, a in enumerate(answers)}
    table = np.zeros((len(items), len(answers)), dtype=int)
    for r, it in enumerate(items):
        for v in it.votes:
            if v.label in idx:
                table[r, idx[v.label]] += 1
    n = table.sum(1)
    multi = table[n >= 2]
    pairs = (multi * (multi - 1)).sum()
    total_pairs = (multi.sum(1) * (multi.sum(1) - 1)).sum()
    by = votes_by_annotator(items)
    for a in by:
        by[a] = {k: v for k, v in by[a].items() if v not in ignore}
    names = tuple(sorted(by))
    pairwise: dict[str, float | None] = {}
    for a, b in combinations(names, 2):
        common = sorted(set(by[a]) & set(by[b]))
        pairwise[f"{a}|{b}"] = cohen_kappa([by[a][k] for k in common], [by[b][k] for k in common])
    specific, cat = per_class(table)
    from mimetic.annotate.items import needs_review

    return Agreement(
        labels=tuple(answers), annotators=names, items=int((n >= 1).sum()), items_multi=int(len(multi)),
        percent=float(pairs / total_pairs) if total_pairs else None,
        cohen=next(iter(pairwise.values())) if len(names) == 2 else None, pairwise_cohen=pairwise,
        fleiss=fleiss_kappa(table),
        specific={a: _nan_none(s) for a, s in zip(answers, specific)},
        category_kappa={a: _nan_none(k) for a, k in zip(answers, cat)},
        disagreements=sum(needs_review(it) for it in items),
    )


def model_confusion(items: Iterable[Item], labels: Sequence[str], annotator: str | None = None) -> dict:
    """The human label (the final one, or ``annotator``'s vote) against the model's top label, over the items that
    have both and whose labels are in ``labels``: ``{"labels", "matrix" (rows: human, columns: model), "n",
    "accuracy"}``."""
    from sklearn.metrics import confusion_matrix

    human, model = [], []
    for it in items:
        f = it.final if annotator is None else next((v.label for v in it.votes if v.annotator == annotator), None)
        p = it.predicted
        if f in labels and p in labels:
            human.append(f)
            model.append(p)
    m = confusion_matrix(human, model, labels=list(labels)) if human else np.zeros((len(labels),) * 2, int)
    n = int(m.sum())
    return {"labels": list(labels), "matrix": m.astype(int).tolist(), "n": n,
            "accuracy": float(np.trace(m) / n) if n else None}

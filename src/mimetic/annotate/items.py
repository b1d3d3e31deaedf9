"""Votes on one item and the item's final label: the reviewer's, else the strict majority of the votes."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from mimetic.annotate.labels import UNSURE


@dataclass(frozen=True)
class Vote:
    """One annotator's answer: a label of the set, ``not_a_face`` or ``unsure``; ``aus`` maps AU -> intensity
    letter ("" without intensities)."""

    annotator: str
    label: str
    aus: dict[str, str] = field(default_factory=dict)


@dataclass
class Item:
    """One image of a project. ``name``: unique within the project (the exported file name); ``path``: where the
    image is, when it is on disk; ``prediction``: the model's scores per label (pre-labelling), if any."""

    name: str
    votes: list[Vote] = field(default_factory=list)
    review: str | None = None
    reviewer: str | None = None
    path: str | None = None
    prediction: dict[str, float] | None = None
    prediction_aus: dict[str, float] | None = None
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def final(self) -> str | None:
        return final_label([v.label for v in self.votes], self.review)

    def counts(self) -> Counter:
        return Counter(v.label for v in self.votes)

    @property
    def predicted(self) -> str | None:
        """The model's top label (of the scores given), if pre-labelled."""
        if not self.prediction:
            return None
        return max(self.prediction.items(), key=lambda kv: kv[1])[0]


def majority(labels: Iterable[str]) -> str | None:
    """The most frequent label if it has more votes than any other (``unsure`` votes do not count); None on a tie
    or without votes."""
    top = Counter(x for x in labels if x != UNSURE).most_common(2)
    if not top or (len(top) == 2 and top[0][1] == top[1][1]):
        return None
    return top[0][0]


def final_label(labels: Iterable[str], review: str | None = None) -> str | None:
    """The reviewer's label when there is one, else :func:`majority`; None means it needs a review."""
    return review if review else majority(labels)


def needs_review(item: Item) -> bool:
    """Votes disagree and no review yet."""
    return item.review is None and len({v.label for v in item.votes}) > 1


def votes_by_annotator(items: Iterable[Item]) -> dict[str, dict[str, str]]:
    """annotator -> {item name: label}."""
    out: dict[str, dict[str, str]] = {}
    for it in items:
        for v in it.votes:
            out.setdefault(v.annotator, {})[it.name] = v.label
    return out


def counts_table(items: Iterable[Item], answers: Iterable[str]) -> tuple[list[str], list[list[int]]]:
    """(item names, rows of vote counts per answer in ``answers`` order)."""
    answers = list(answers)
    names, rows = [], []
    for it in items:
        c = it.counts()
        names.append(it.name)
        rows.append([int(c.get(a, 0)) for a in answers])
    return names, rows


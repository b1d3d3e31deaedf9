"""Exports of a labelled project, and the Label Studio import.

- :func:`to_folders`: ``OUT/<split>/<label>/<name>`` (``mimetic train``'s class-folder layout);
- :func:`to_csv`: ``OUT/labels.csv`` with ``path,label,split`` (paths relative to the CSV) and the images in
  ``OUT/images/``;
- :func:`to_votes`: ``OUT/votes.csv``, FER+-style: per image the vote count of every label, then ``unknown``
  (unsure) and ``NF`` (not a face), for soft-label training;
- :func:`to_labelstudio` / :func:`from_labelstudio`: Label Studio's JSON task list (one ``choices`` result named
  ``expression`` per annotation, AUs as a second ``choices`` result ``aus`` with values such as ``AU12:C``; the
  review is the annotation marked ``ground_truth``; the model's scores are a prediction).

Items without a final label, and those whose final label is ``not_a_face`` or ``unsure``, are left out of the
training exports (folders, CSV). The split is stable: a hash of the item's name (image-wise) puts
``valid_fraction`` of the items in ``valid``; :func:`to_folders` can also split subject-wise (a hash of the item's
``meta["subject"]``, so every image of one person falls on the same side) when the items carry one.
"""

from __future__ import annotations

import csv
import hashlib
import json
import os
import shutil
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

from mimetic.annotate.items import Item, Vote
from mimetic.annotate.labels import NOT_A_FACE, SPECIAL, UNSURE

#: FER+ column names of the two special answers.
FERPLUS_SPECIAL = {UNSURE: "unknown", NOT_A_FACE: "NF"}  # in FER+'s column order
LS_LABEL, LS_AUS, LS_IMAGE = "expression", "aus", "image"

ImageSource = Callable[[Item], Path]


def split_of(name: str, valid_fraction: float = 0.2) -> str:
    """``valid`` for a stable ``valid_fraction`` of names (by their BLAKE2 hash), else ``train``."""
    h = int.from_bytes(hashlib.blake2b(name.encode(), digest_size=8).digest(), "big") / 2 ** 64
    return "valid" if h < valid_fraction else "train"


#: What a split can be stable over: the image (its name) or the person (``Item.meta["subject"]``).
SPLIT_BY = ("image", "subject")


def split_key(item: Item, by: str = "image") -> str:
    """The string :func:`split_of` hashes for ``item``: its name (``by="image"``) or its subject (``"subject"``;
    ValueError when the item carries none)."""
    if by == "image":
        return item.name
    if by != "subject":
        raise ValueError(f"split by {by!r}: choose from {', '.join(SPLIT_BY)}")
    subject = item.meta.get("subject")
    if subject is None or str(subject) == "":
        raise ValueError(f"{item.name}: no subject (person) recorded, so a subject-wise split is impossible; "
                         f"split image-wise instead")
    return f"subject:{subject}"


def trainable(items: Iterable[Item]) -> list[tuple[Item, str]]:
    """(item, final label) for the items with a final label other than ``not_a_face``/``unsure``."""
    return [(it, f) for it in items if (f := it.final) and f not in SPECIAL]


def _src(it: Item, image: ImageSource | None) -> Path:
    p = image(it) if image else (Path(it.path) if it.path else None)
    if p is None or not Path(p).is_file():
        raise FileNotFoundError(f"{it.name}: image not found ({p})")
    return Path(p)


def _safe_name(name: str) -> str:
    base = os.path.basename(name.replace("\\", "/"))
    if not base or base in (".", ".."):
        raise ValueError(f"bad item name {name!r}")
    return base


def _copy(src: Path, dst: Path) -> None:
    dst.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(src, dst)


def to_folders(items: Iterable[Item], out: str | os.PathLike, *, image: ImageSource | None = None,
               valid_fraction: float = 0.2, by: str = "image", held_out: str = "valid") -> dict[str, int]:
    """Copy each trainable image to ``OUT/<split>/<label>/<name>``; returns the count per label.

    ``by``: ``image`` (hash of the name) or ``subject`` (hash of ``meta["subject"]``: every item must carry one);
    ``held_out``: the folder name of the held-out share (``valid``, or ``test`` to keep it out of training and
    checkpoint selection altogether)."""
    out = Path(out)
    pairs = trainable(items)
    keys = [split_key(it, by) for it, _ in pairs]  # all checked before anything is copied
    counts: dict[str, int] = {}
    for (it, lab), key in zip(pairs, keys):
        split = held_out if split_of(key, valid_fraction) == "valid" else "train"
        _copy(_src(it, image), out / split / lab / _safe_name(it.name))
        counts[lab] = counts.get(lab, 0) + 1
    return counts


def to_csv(items: Iterable[Item], out: str | os.PathLike, *, image: ImageSource | None = None,
           valid_fraction: float = 0.2) -> Path:
    """``OUT/labels.csv`` (``path,label,split``) and the images in ``OUT/images/``; returns the CSV's path."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    path = out / "labels.csv"
    with open(path, "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["path", "label", "split"])
        for it, lab in trainable(items):
            rel = f"images/{_safe_name(it.name)}"
            _copy(_src(it, image), out / rel)
            w.writerow([rel, lab, split_of(it.name, valid_fraction)])
    return path


def to_votes(items: Iterable[Item], labels: Sequence[str], out: str | os.PathLike, *,
             valid_fraction: float = 0.2) -> Path:
    """``OUT/votes.csv``: ``path,split,<labels…>,unknown,NF,final`` with vote counts (FER+'s layout, plus the
    final label); ``path`` is the item's name (as in the CSV export's ``images/``)."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    path = out / "votes.csv"
    answers = list(labels) + list(FERPLUS_SPECIAL)
    with open(path, "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["path", "split", *labels, *FERPLUS_SPECIAL.values(), "final"])
        for it in items:
            c = it.counts()
            w.writerow([f"images/{_safe_name(it.name)}", split_of(it.name, valid_fraction),
                        *(int(c.get(a, 0)) for a in answers), it.final or ""])
    return path


def read_votes(path: str | os.PathLike) -> tuple[list[str], list[str], list[list[int]]]:
    """(answers as in the header, paths, count rows) of a :func:`to_votes` table."""
    with open(path, newline="", encoding="utf-8") as fh:
        r = csv.reader(fh)
        head = next(r)
        answers = head[2:-1]
        paths, rows = [], []
        for row in r:
            paths.append(row[0])
            rows.append([int(x) for x in row[2:-1]])
    return answers, paths, rows


# -- Label Studio --------------------------------------------------------------------------------------------------
def _ls_results(label: str, aus: dict[str, str]) -> list[dict[str, Any]]:
    res = [{"from_name": LS_LABEL, "to_name": LS_IMAGE, "type": "choices", "value": {"choices": [label]}}]
    if aus:
        res.append({"from_name": LS_AUS, "to_name": LS_IMAGE, "type": "choices",
                    "value": {"choices": [f"{a}:{lv}" if lv else a for a, lv in sorted(aus.items())]}})
    return res


def to_labelstudio(items: Iterable[Item], *, image_url: Callable[[Item], str] | None = None) -> list[dict[str, Any]]:
    """Label Studio's task list (``json.dump`` it). ``image_url(item)`` gives ``data.image`` (default: the item's
    name, e.g. for Label Studio's local-files storage)."""
    tasks = []
    for i, it in enumerate(items, start=1):
        anns = [{"completed_by": {"email": v.annotator}, "ground_truth": False, "was_cancelled": False,
                 "result": _ls_results(v.label, v.aus)} for v in it.votes]
        if it.review:
            anns.append({"completed_by": {"email": it.reviewer or "reviewer"}, "ground_truth": True,
                         "was_cancelled": False, "result": _ls_results(it.review, {})})
        task: dict[str, Any] = {"id": i, "data": {LS_IMAGE: image_url(it) if image_url else it.name,
                                                  "name": it.name}, "annotations": anns}
        if it.prediction:
            top = max(it.prediction, key=it.prediction.get)
            task["predictions"] = [{"model_version": "mimetic", "score": float(it.prediction[top]),
                                    "result": _ls_results(top, {}), "meta": {"scores": dict(it.prediction)}}]
        tasks.append(task)
    return tasks


def _who(completed_by: Any) -> str:
    if isinstance(completed_by, dict):
        return str(completed_by.get("email") or completed_by.get("id") or "")
    return str(completed_by if completed_by is not None else "")


def _choices(results: list[dict[str, Any]], name: str) -> list[str]:
    for r in results or []:
        if r.get("from_name") == name and r.get("type") == "choices":
            return list((r.get("value") or {}).get("choices") or [])
    return []


def from_labelstudio(tasks: list[dict[str, Any]] | str | os.PathLike, *, label_name: str | None = None,
                     aus_name: str = LS_AUS) -> list[Item]:
    """Items from a Label Studio JSON export (a task list, or the path of one). Each task's first ``choices``
    result (or the one named ``label_name``) is the label; cancelled annotations are skipped; an annotation marked
    ``ground_truth`` is the review. Image names: ``data.name`` if present, else the basename of ``data.image``."""
    if not isinstance(tasks, list):
        with open(tasks, encoding="utf-8") as fh:
            tasks = json.load(fh)
    if not isinstance(tasks, list):
        raise ValueError("a Label Studio export is a JSON list of tasks")
    items: list[Item] = []
    for t in tasks:
        data = t.get("data") or {}
        img = str(data.get(LS_IMAGE) or next((v for v in data.values() if isinstance(v, str)), ""))
        name = str(data.get("name") or os.path.basename(img.split("?d=")[-1].replace("\\", "/")))
        if not name:
            raise ValueError(f"task {t.get('id')}: no image")
        it = Item(name=name, path=None)
        for a in t.get("annotations") or []:
            if a.get("was_cancelled"):
                continue
            res = a.get("result") or []
            lab = _choices(res, label_name) if label_name else next(
                (r["value"]["choices"] for r in res if r.get("type") == "choices" and r.get("from_name") != aus_name),
                [])
            if not lab:
                continue
            who = _who(a.get("completed_by"))
            if a.get("ground_truth"):
                it.review, it.reviewer = lab[0], who
                continue
            aus = {}
            for c in _choices(res, aus_name):
                au, _, lv = c.partition(":")
                aus[au] = lv
            it.votes.append(Vote(who, lab[0], aus))
        for p in t.get("predictions") or []:
            scores = (p.get("meta") or {}).get("scores")
            if scores:
                it.prediction = {k: float(v) for k, v in scores.items()}
        items.append(it)
    return items

"""Annotation core (issue 20): κ against published worked examples, the final label, the exports."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest

from testdata import IMAGES

from mimetic.annotate import Item, LabelSet, Vote, final_label, majority
from mimetic.annotate.agreement import agreement, cohen_kappa, fleiss_kappa, model_confusion, per_class
from mimetic.annotate.exports import from_labelstudio, read_votes, to_csv, to_folders, to_labelstudio, to_votes
from mimetic.types import EXPRESSIONS

#: Fleiss (1971) as worked on Wikipedia's "Fleiss' kappa" page: 10 subjects, 14 raters, 5 categories; κ = 0.210.
FLEISS_EXAMPLE = [[0, 0, 0, 0, 14], [0, 2, 6, 4, 2], [0, 0, 3, 5, 6], [0, 3, 9, 2, 0], [2, 2, 8, 1, 1],
                  [7, 7, 0, 0, 0], [3, 2, 6, 3, 0], [2, 5, 3, 2, 2], [6, 5, 2, 1, 0], [0, 2, 2, 3, 7]]


def test_fleiss_kappa_worked_example():
    assert fleiss_kappa(FLEISS_EXAMPLE) == pytest.approx(0.2099, abs=5e-4)


def test_fleiss_kappa_edges():
    assert fleiss_kappa([[3, 0], [0, 3]]) == pytest.approx(1.0)
    assert fleiss_kappa([[1, 0], [0, 1]]) is None  # no item has two votes
    assert fleiss_kappa([[2, 0], [2, 0]]) == 1.0  # everyone always says the same class


def test_per_category_kappa_averages_to_fleiss():
    # Fleiss (1971): the overall κ is the p_j q_j-weighted mean of the per-category κ_j.
    t = np.array(FLEISS_EXAMPLE, float)
    spec, cat = per_class(t)
    p = t.sum(0) / t.sum()
    assert (cat * p * (1 - p)).sum() / (p * (1 - p)).sum() == pytest.approx(fleiss_kappa(t))
    assert spec[4] == pytest.approx((14 * 13 + 2 + 30 + 2 + 42) / ((14 + 2 + 6 + 1 + 2 + 7) * 13))


def test_cohen_kappa_worked_example():
    # Wikipedia's "Cohen's kappa" example: 50 proposals, 20 yes/yes, 5 yes/no, 10 no/yes, 15 no/no: κ = 0.4.
    a = ["yes"] * 25 + ["no"] * 25
    b = ["yes"] * 20 + ["no"] * 5 + ["yes"] * 10 + ["no"] * 15
    assert cohen_kappa(a, b) == pytest.approx(0.4)
    assert cohen_kappa(["x", "x"], ["x", "x"]) == 1.0
    assert cohen_kappa(["x"], ["y"]) is None


def test_majority_and_review():
    assert majority(["happiness", "happiness", "neutral"]) == "happiness"
    assert majority(["happiness", "neutral"]) is None  # a tie needs a review
    assert majority(["unsure", "unsure", "neutral"]) == "neutral"  # unsure votes do not count
    assert majority([]) is None
    assert final_label(["happiness", "neutral"], "neutral") == "neutral"
    assert final_label(["happiness", "happiness"], "anger") == "anger"  # the review wins


def test_label_sets():
    assert LabelSet().labels == EXPRESSIONS
    ls = LabelSet.parse("smile, frown", aus="AU6,AU12")
    assert ls.labels == ("smile", "frown") and ls.answers[-2:] == ("not_a_face", "unsure")
    assert ls.check_vote("Smile", {"au12": "c"}) == ("smile", {"AU12": "C"})
    for bad in (lambda: ls.check_vote("anger"), lambda: ls.check_vote("smile", {"AU1": "A"}),
                lambda: ls.check_vote("smile", {"AU6": "F"}), lambda: LabelSet(("a",)),
                lambda: LabelSet(("a", "unsure")), lambda: LabelSet(("a", "a"))):
        with pytest.raises(ValueError):
            bad()
    assert LabelSet.from_dict(ls.to_dict()) == ls


def _items() -> list[Item]:
    files = sorted(IMAGES.glob("*.jpg"))
    votes = [("happiness", "happiness", "happiness"), ("neutral", "neutral", "sadness"),
             ("anger", "disgust", None), ("surprise", "surprise", "surprise"), ("not_a_face", "not_a_face", None),
             ("neutral", "happiness", "unsure")]
    items = []
    for f, vs in zip(files, votes):
        it = Item(name=f.name, path=str(f), votes=[Vote(w, v) for w, v in zip("abc", vs) if v],
                  prediction={"happiness": 0.7, "neutral": 0.3} if "portrait" in f.name else None)
        items.append(it)
    items[2].review, items[2].reviewer = "disgust", "r"
    items[0].votes[0] = Vote("a", "happiness", {"AU6": "B", "AU12": "D"})
    return items


def test_agreement_of_a_project():
    items = _items()
    ag = agreement(items, LabelSet().answers)
    assert ag.annotators == ("a", "b", "c") and ag.items == 6 and ag.items_multi == 6
    assert ag.cohen is None and set(ag.pairwise_cohen) == {"a|b", "a|c", "b|c"}
    ab = [("happiness", "happiness"), ("neutral", "neutral"), ("anger", "disgust"), ("surprise", "surprise"),
          ("not_a_face", "not_a_face"), ("neutral", "happiness")]
    assert ag.pairwise_cohen["a|b"] == pytest.approx(cohen_kappa(*zip(*ab)))
    assert -1 <= ag.fleiss <= 1 and ag.disagreements == 2  # items 2 and 6 (3 is reviewed)
    two = agreement([Item(it.name, [v for v in it.votes if v.annotator != "c"]) for it in items], LabelSet().answers)
    assert two.cohen == pytest.approx(ag.pairwise_cohen["a|b"])


def test_model_confusion():
    items = _items()
    conf = model_confusion(items, EXPRESSIONS)
    # biden: final neutral (2 of 3), model happiness; obama: surprise, model happiness
    assert conf["n"] == 2 and conf["accuracy"] == 0.0
    assert conf["matrix"][EXPRESSIONS.index("neutral")][EXPRESSIONS.index("happiness")] == 1


def test_folder_and_csv_exports_read_by_mimetic_train(tmp_path):
    from mimetic.train.datasets import read_csv, read_folder

    items = _items()
    counts = to_folders(items, tmp_path / "folders", valid_fraction=0.5)
    assert counts == {"happiness": 1, "neutral": 1, "disgust": 1, "surprise": 1}  # not a face / tie left out
    src = read_folder(tmp_path / "folders")
    assert len(src) == 4 and set(src.split) <= {"train", "valid"}
    path = to_csv(items, tmp_path / "csv", valid_fraction=0.5)
    src2 = read_csv(path)
    assert len(src2) == 4 and src2.counts() == read_folder(tmp_path / "folders").counts()


def test_vote_table(tmp_path):
    items = _items()
    answers, paths, rows = read_votes(to_votes(items, EXPRESSIONS, tmp_path))
    assert answers == [*EXPRESSIONS, "unknown", "NF"]
    assert rows[0][EXPRESSIONS.index("happiness")] == 3 and rows[4][-1] == 2 and rows[5][-2] == 1
    with open(tmp_path / "votes.csv") as fh:
        finals = [r["final"] for r in csv.DictReader(fh)]
    assert finals[2] == "disgust" and finals[5] == ""


def test_labelstudio_round_trip(tmp_path):
    items = _items()
    tasks = to_labelstudio(items)
    (tmp_path / "ls.json").write_text(json.dumps(tasks))
    back = from_labelstudio(tmp_path / "ls.json")
    strip = [Item(it.name, it.votes, it.review, it.reviewer, None, it.prediction) for it in items]
    assert back == strip


def test_labelstudio_import_of_its_own_shape():
    # As Label Studio writes it: completed_by as a user id, local-files URLs, a cancelled annotation.
    tasks = [{"id": 7, "data": {"image": "/data/local-files/?d=faces/a.jpg"}, "annotations": [
        {"completed_by": 3, "was_cancelled": False, "result": [
            {"from_name": "emotion", "to_name": "img", "type": "choices", "value": {"choices": ["happiness"]}}]},
        {"completed_by": 4, "was_cancelled": True, "result": []}]}]
    (it,) = from_labelstudio(tasks)
    assert it.name == "a.jpg" and it.votes == [Vote("3", "happiness")]

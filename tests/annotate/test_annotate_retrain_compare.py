"""``mimetic annotate retrain``: a project's labels train a model that is compared with the shipped one on the
project's held-out items (issue 20)."""

from __future__ import annotations

import json

import pytest
from testdata import IMAGES
from typer.testing import CliRunner

from mimetic.annotate import Item, Vote
from mimetic.annotate.labels import LabelSet

pytest.importorskip("torch")

runner = CliRunner()
# image-wise at the default share, obama_portrait and multi_face are held out (a hash of the name)
LABELS = {"single_face.jpg": "happiness", "obama_portrait.jpg": "neutral", "biden_portrait.jpg": "happiness",
          "astronaut_nasa.jpg": "neutral", "multi_face.jpg": "happiness", "two_people.jpg": "neutral"}


def _project(store, owner, name="Clinic", labels="neutral,happiness", which=LABELS):
    from mimetic.media.images import read_image

    p = store.create_project(owner.id, name, LabelSet.parse(labels))
    items = [Item(n, [Vote("a", lab), Vote("b", lab)]) for n, lab in which.items()]
    store.import_items(owner.id, p.id, items, lambda it: read_image(IMAGES / it.name))
    return p


def test_retrain_compares_with_the_shipped_model(tmp_path, monkeypatch, data_dir, store, people):
    from mimetic.cli import app

    monkeypatch.setenv("MIMETIC_CACHE", str(tmp_path / "cache"))
    _project(store, people["ana"])
    run = tmp_path / "run"
    dd = ["--data-dir", str(data_dir)]
    r = runner.invoke(app, ["annotate", "retrain", "Clinic", "--out", str(run), "--epochs", "1", "--batch-size", "2",
                            "--quiet", *dd])
    assert r.exit_code == 0, r.output
    assert "[3/3]" in r.output and "verdict: the fine-tuned model is" in r.output
    assert "MIMETIC_EXPRESSION_MODEL" in r.output
    c = json.loads((run / "comparison.json").read_text())
    assert c["held_out"]["items"] == ["multi_face.jpg", "obama_portrait.jpg"]
    assert c["held_out"]["n"] == 2 and c["train"]["n"] == 4
    assert c["held_out"]["per_label"] == {"neutral": 1, "happiness": 1}
    # the held-out images were never trained on: they are the export's test split only
    assert sorted(f.name for f in (run / "data" / "test").rglob("*.jpg")) == c["held_out"]["items"]
    assert not {f.name for f in (run / "data" / "train").rglob("*.jpg")} & set(c["held_out"]["items"])
    assert c["teacher"] and c["teacher"].endswith("expression.onnx")  # distilled from the shipped CNN by default
    models = c["models"]
    assert {"fine_tuned", "shipped"} <= set(models)
    for m in models.values():
        assert m["n"] == 2
        assert 0.0 <= m["accuracy"] <= 1.0 and 0.0 <= m["macro_f1"] <= 1.0
        assert list(m["recall"]) == ["neutral", "happiness"] and m["support"] == {"neutral": 1, "happiness": 1}
        assert all(0.0 <= v <= 1.0 for v in m["recall"].values())
        # accuracy is the diagonal of the confusion over the held-out items, as the recalls are its rows
        assert m["accuracy"] == pytest.approx(sum(m["confusion"][i][i] for i in range(2)) / 2)
        assert m["recall"]["neutral"] == m["confusion"][0][0] / 1
    assert "(too few to tell" in c["verdict"] and c["verdict"] in (run / "comparison.md").read_text()
    # the new model is a drop-in 8-class model (the shipped teacher's classes); the shipped file is untouched
    from mimetic.expression.model import ExpressionModel, default_path

    assert len(ExpressionModel(run / "expression.onnx").classes) == 8
    assert c["models"]["shipped"]["path"] == str(default_path()) != str(run / "expression.onnx")
    # a run folder is never overwritten
    r = runner.invoke(app, ["annotate", "retrain", "Clinic", "--out", str(run), "--epochs", "1", *dd])
    assert r.exit_code == 1 and "is not empty" in r.output


def test_retrain_refuses_bad_input(tmp_path, data_dir, store, people):
    from mimetic.cli import app

    dd = ["--data-dir", str(data_dir)]
    _project(store, people["ana"])
    r = runner.invoke(app, ["annotate", "retrain", "Clinic", "--out", str(tmp_path / "a"), "--split", "subject", *dd])
    assert r.exit_code == 1 and "no subject (person) field" in r.output, r.output
    _project(store, people["ana"], "Two", which={"single_face.jpg": "happiness", "obama_portrait.jpg": "neutral"})
    r = runner.invoke(app, ["annotate", "retrain", "Two", "--out", str(tmp_path / "b"), *dd])
    assert r.exit_code == 1 and "too few labelled items" in r.output, r.output
    store.create_project(people["ana"].id, "Empty", LabelSet.parse("8"))
    r = runner.invoke(app, ["annotate", "retrain", "Empty", "--out", str(tmp_path / "c"), *dd])
    assert r.exit_code == 1 and "has no items" in r.output, r.output
    _project(store, people["ana"], "Pain", labels="pain,calm", which={"single_face.jpg": "pain"})
    r = runner.invoke(app, ["annotate", "retrain", "Pain", "--out", str(tmp_path / "d"), *dd])
    assert r.exit_code == 1 and "'pain' is not one of the shipped model's classes" in r.output, r.output
    r = runner.invoke(app, ["annotate", "retrain", "Clinic", "--out", str(tmp_path / "e"), "--no-teacher",
                            "--teacher", "x.onnx", *dd])
    assert r.exit_code == 2
    assert not any((tmp_path / d).exists() for d in "abcd")  # refused before anything is written


def test_subject_wise_split_keeps_a_person_on_one_side(tmp_path):
    from mimetic.annotate.exports import to_folders

    items = [Item(f"p{s}_{k}.jpg", [Vote("a", "happiness")], path=str(IMAGES / "single_face.jpg"),
                  meta={"subject": f"p{s}"}) for s in range(8) for k in range(3)]
    to_folders(items, tmp_path, valid_fraction=0.3, by="subject", held_out="test")
    sides = {}
    for f in tmp_path.rglob("*.jpg"):
        sides.setdefault(f.name.split("_")[0], set()).add(f.relative_to(tmp_path).parts[0])
    assert len(sides) == 8 and all(len(v) == 1 for v in sides.values())
    assert {next(iter(v)) for v in sides.values()} == {"train", "test"}
    with pytest.raises(ValueError, match="no subject"):
        to_folders([Item("x.jpg", [Vote("a", "happiness")], path=str(IMAGES / "single_face.jpg"))], tmp_path / "n",
                   by="subject")

"""``mimetic annotate import / export / agreement`` on a data directory (issue 20)."""

from __future__ import annotations

import json
import shutil

from testdata import IMAGES
from typer.testing import CliRunner

from mimetic.cli import app

runner = CliRunner()


def test_import_export_agreement(tmp_path, data_dir, store, people):
    src = tmp_path / "faces"
    src.mkdir()
    for name in ("single_face.jpg", "obama_portrait.jpg"):
        shutil.copy(IMAGES / name, src / name)
    (src / "readme.txt").write_text("not an image")
    dd = ["--data-dir", str(data_dir)]
    r = runner.invoke(app, ["annotate", "import", "Clinic", str(src), "--owner", "ana@example.org", *dd])
    assert r.exit_code == 1 and "2 images added" in r.output and "readme.txt: not an image" in r.output, r.output
    p = store.lookup("Clinic")
    q = store.queue(people["ana"].id, p.id)
    pre = q["items"][0]["prelabel"]
    assert pre["face"] and set(pre["scores"]) == set(p.label_set.labels) and pre["aus"]  # one Analyzer pass
    store.set_member(people["ana"].id, p.id, "bo@example.org", "annotator")
    for who, labs in ((people["ana"].id, ("happiness", "neutral")), (people["bo"].id, ("happiness", "sadness"))):
        for d, lab in zip(q["items"], labs):
            store.vote(who, p.id, d["id"], lab)
    r = runner.invoke(app, ["annotate", "agreement", "Clinic", "--json", *dd])
    assert r.exit_code == 0, r.output
    ag = json.loads(r.output)["agreement"]
    assert ag["annotators"] == ["ana@example.org", "bo@example.org"] and ag["disagreements"] == 1
    assert runner.invoke(app, ["annotate", "agreement", "Clinic", *dd]).exit_code == 0
    store.review(people["ana"].id, p.id, q["items"][1]["id"], "neutral")
    for fmt in ("folders", "csv", "votes", "labelstudio"):
        r = runner.invoke(app, ["annotate", "export", "Clinic", "--format", fmt, "--out", str(tmp_path / fmt), *dd])
        assert r.exit_code == 0, r.output
    from mimetic.train.datasets import read_csv, read_folder

    assert read_folder(tmp_path / "folders").counts() == read_csv(tmp_path / "csv" / "labels.csv").counts()
    assert sum(read_folder(tmp_path / "folders").counts().values()) == 2
    # Label Studio back into a new project
    r = runner.invoke(app, ["annotate", "import", "Copy", str(tmp_path / "labelstudio" / "labelstudio.json"),
                            "--owner", "ana@example.org", "--images", str(tmp_path / "csv" / "images"), *dd])
    assert r.exit_code == 0 and "2 items and 4 votes imported" in r.output, r.output
    assert runner.invoke(app, ["annotate", "export", "Nope", "--out", str(tmp_path / "x"), *dd]).exit_code == 1

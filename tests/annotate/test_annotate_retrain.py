"""A project's export trains (and fine-tunes) a tiny expression model with ``mimetic train fit`` (issue 20)."""

from __future__ import annotations

import pytest
from testdata import IMAGES
from typer.testing import CliRunner

from mimetic.annotate import Item, Vote
from mimetic.annotate.exports import to_folders

pytest.importorskip("torch")


def test_export_trains_and_fine_tunes(tmp_path, monkeypatch):
    from mimetic.cli import app

    monkeypatch.setenv("MIMETIC_CACHE", str(tmp_path / "cache"))
    labels = {"single_face.jpg": "happiness", "obama_portrait.jpg": "neutral", "biden_portrait.jpg": "happiness",
              "astronaut_nasa.jpg": "neutral"}
    items = [Item(n, [Vote("a", lab), Vote("b", lab)], path=str(IMAGES / n)) for n, lab in labels.items()]
    # the default image-wise split (by name hash) puts 3 of these in train, 1 in valid
    assert sum(to_folders(items, tmp_path / "exp").values()) == 4
    runner = CliRunner()
    common = ["--classes", "neutral,happiness", "--epochs", "1", "--batch-size", "2", "--quiet"]
    r = runner.invoke(app, ["train", "fit", str(tmp_path / "exp"), "--out", str(tmp_path / "run"), *common])
    assert r.exit_code == 0, r.output
    r = runner.invoke(app, ["train", "fit", str(tmp_path / "exp"), "--out", str(tmp_path / "ft"), "--lr", "0.01",
                            "--init-from", str(tmp_path / "run" / "best.pt"), *common])
    assert r.exit_code == 0 and "initialised from" in r.output, r.output
    assert (tmp_path / "ft" / "expression.onnx").is_file()

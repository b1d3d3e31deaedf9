"""The ``mimetic`` command end to end: outputs, exit codes, bad inputs, help."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from badinputs import make_bad_inputs
from testdata import IMAGES, VIDEOS
from mimetic.cli import app
from mimetic.schema import validate

runner = CliRunner()


def run(*args: str):
    return runner.invoke(app, [str(a) for a in args])


COMMANDS = ("analyze", "video", "muscles", "explain", "evaluate-aus", "evaluate", "models", "serve", "train")
TRAIN_COMMANDS = ("fit", "prepare", "geometric", "export", "quantize", "fuse", "ship")


def test_help_is_complete_for_every_command():
    r = run("--help")
    assert r.exit_code == 0
    for cmd in COMMANDS:
        assert cmd in r.output
        sub = run(cmd, "--help")
        assert sub.exit_code == 0, sub.output
    assert "--max-faces" in run("analyze", "--help").output
    assert "--annotate" in run("video", "--help").output
    group = run("train", "--help").output
    for cmd in TRAIN_COMMANDS:
        assert cmd in group
        sub = run("train", cmd, "--help")
        assert sub.exit_code == 0, sub.output
    assert "--resume" in run("train", "fit", "--help").output
    assert "--int8" in run("train", "export", "--help").output


def test_one_cli_without_heavy_imports():
    """Every command is a Typer command of the one app (no argparse entry points in the package), and importing
    the app loads no heavy library: those load inside the commands, so `mimetic --help` starts fast."""
    import mimetic

    package = Path(mimetic.__file__).parent
    assert not [p for p in package.rglob("*.py") if "argparse" in p.read_text(encoding="utf-8")]
    assert not [p for p in package.rglob("*.py") if 'if __name__ == "__main__"' in p.read_text(encoding="utf-8")]
    code = ("import sys, mimetic.cli; print(','.join(m for m in ('numpy', 'cv2', 'torch', 'mediapipe', "
            "'onnxruntime', 'pandas', 'PIL', 'matplotlib', 'fastapi') if m in sys.modules))")
    loaded = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert loaded == "", loaded


def test_analyze_folder_writes_json_table_and_overlays(tmp_path):
    src = tmp_path / "in"
    src.mkdir()
    for name in ("astronaut_nasa.jpg", "two_people.jpg"):
        (src / name).write_bytes((IMAGES / name).read_bytes())
    out = tmp_path / "out"
    r = run("analyze", src, "--out", out, "--format", "json,csv,parquet", "--overlay", "-q")
    assert r.exit_code == 0, r.output
    docs = {p.stem: json.loads(p.read_text()) for p in out.glob("*.json")}
    assert set(docs) == {"astronaut_nasa", "two_people"}
    for d in docs.values():
        validate(d)
    assert len(docs["two_people"]["faces"]) == 2
    table = pd.read_csv(out / "images.csv")
    assert len(table) == 3 and {"AU12_r", "pose_Rx", "x_0", "confidence"} <= set(table.columns) | {"AU12_r"}
    assert len(pd.read_parquet(out / "images.parquet")) == 3
    assert (out / "astronaut_nasa.overlay.jpg").stat().st_size > 1000
    assert not list(out.glob(".*partial*"))  # no temp files left


def test_json_option_single_file(tmp_path):
    target = tmp_path / "astro.json"
    r = run("analyze", IMAGES / "astronaut_nasa.jpg", "--json", target, "-q")
    assert r.exit_code == 0, r.output
    doc = json.loads(target.read_text())
    validate(doc)
    assert doc["schema_version"] and len(doc["faces"]) == 1 and len(doc["faces"][0]["landmarks"]) == 478


def test_glob_input(tmp_path):
    r = run("analyze", str(IMAGES / "*_portrait.jpg"), "--out", tmp_path, "--format", "csv", "-q")
    assert r.exit_code == 0, r.output
    assert len(pd.read_csv(tmp_path / "images.csv")) == 2  # obama and biden


def test_every_bad_input_is_reported_and_the_batch_goes_on(tmp_path):
    bad = make_bad_inputs(tmp_path / "bad")
    good = IMAGES / "astronaut_nasa.jpg"
    out = tmp_path / "out"
    args = [p for p, _ in bad.values()] + [good]
    r = run("analyze", *args, "--out", out, "--format", "json,csv", "-q")
    assert r.exit_code == 1, r.output
    lines = [ln for ln in r.output.splitlines() if ln.startswith("error:")]
    for kind, (path, words) in bad.items():
        hit = [ln for ln in lines if path.name in ln]
        assert len(hit) == 1, (kind, lines)
        assert words in hit[0].lower(), (kind, hit[0])
    # the good file was still analysed, and nothing half-written exists for the bad ones
    assert json.loads((out / "astronaut_nasa.json").read_text())["faces"]
    assert len(pd.read_csv(out / "images.csv")) == 1
    names = {p.name for p in out.iterdir()}
    assert not any(n.startswith(".") for n in names), names
    assert not any(n.startswith(("blank", "oddcodec", "truncated", "notes", "empty", "huge")) for n in names), names
    assert f"{len(args)} inputs: 1 ok, {len(bad)} failed" in r.output


def test_usage_errors_exit_2(tmp_path):
    assert run("analyze").exit_code == 2
    assert run("analyze", IMAGES / "astronaut_nasa.jpg", "--format", "xml").exit_code == 2
    assert run("analyze", IMAGES / "astronaut_nasa.jpg", "--max-faces", "0").exit_code == 2
    assert run("video", VIDEOS / "single_face.mp4", "--start", "2", "--end", "1").exit_code == 2
    assert run("frobnicate").exit_code == 2


def test_video_command_table_jsonl_and_annotation(tmp_path):
    out = tmp_path / "out"
    ann = tmp_path / "ann.mp4"
    r = run("video", VIDEOS / "single_face.mp4", "--out", out, "--format", "csv,json", "--annotate", ann,
            "--stride", "2", "-q")
    assert r.exit_code == 0, r.output
    table = pd.read_csv(out / "single_face.csv")
    assert len(table) == 36 and table["track_id"].nunique() == 1
    assert table["frame"].tolist() == list(range(0, 72, 2))
    lines = (out / "single_face.jsonl").read_text().splitlines()
    assert len(lines) == 36 and json.loads(lines[0])["frame"] == 0
    from mimetic.media.video import probe_video

    info = probe_video(ann)
    assert info.frame_count == 36 and (info.width, info.height) == (640, 360)


def test_video_with_no_frames_fails_cleanly(tmp_path):
    bad = make_bad_inputs(tmp_path / "bad")
    out = tmp_path / "out"
    r = run("video", bad["no_frames"][0], "--out", out, "--annotate", tmp_path / "a.mp4", "-q")
    assert r.exit_code == 1
    assert "no frames" in r.output
    assert not (tmp_path / "a.mp4").exists() and not any(out.glob("*")) if out.exists() else True


def test_models_lists_the_bundle_with_hash():
    r = run("models", "--json")
    assert r.exit_code == 0, r.output
    rows = json.loads(r.output)
    bundle = rows[0]
    assert bundle["name"] == "face_landmarker.task" and bundle["size"] > 1_000_000
    assert len(bundle["sha256"]) == 64 and Path(bundle["path"]).is_file()


def test_missing_model_gives_a_clear_error(tmp_path, monkeypatch):
    monkeypatch.setenv("MIMETIC_FACE_MODEL", str(tmp_path / "nowhere.task"))
    r = run("analyze", IMAGES / "astronaut_nasa.jpg", "-q")
    assert r.exit_code == 1
    assert "MIMETIC_FACE_MODEL" in r.output and "nowhere.task" in r.output


def test_real_process_exit_codes_and_clean_output(tmp_path):
    """A real subprocess: exit status and no MediaPipe noise on stdout."""
    exe = Path(sys.executable).with_name("mimetic")
    ok = subprocess.run([exe, "analyze", IMAGES / "astronaut_nasa.jpg", "-q"], capture_output=True, text=True)
    assert ok.returncode == 0, ok.stderr
    assert "1 input: 1 ok, 0 failed" in ok.stderr
    assert "Traceback" not in ok.stderr and "Exception ignored" not in ok.stderr
    bad = subprocess.run([exe, "analyze", tmp_path / "nope.jpg", "-q"], capture_output=True, text=True)
    assert bad.returncode == 1 and "nope.jpg" in bad.stderr


def test_report_prints_aus_by_side_and_symmetry():
    r = run("analyze", IMAGES / "astronaut_nasa.jpg", "--report", "-q")
    assert r.exit_code == 0, r.output
    assert "AU12  Lip corner puller" in r.output and "present" in r.output
    assert "symmetry:" in r.output and "nerve branch" in r.output
    assert "expression: happiness" in r.output


def test_baseline_makes_intensities_relative(tmp_path):
    target = tmp_path / "a.json"
    r = run("analyze", IMAGES / "astronaut_nasa.jpg", "--baseline", IMAGES / "astronaut_nasa.jpg", "--json", target, "-q")
    assert r.exit_code == 0, r.output
    aus = json.loads(target.read_text())["faces"][0]["aus"]
    assert aus["AU12"]["intensity"] < 1.0  # the smile is the baseline itself: no movement relative to it
    bad = run("analyze", IMAGES / "astronaut_nasa.jpg", "--baseline", VIDEOS / "no_face.mp4", "-q")
    assert bad.exit_code == 1 and "baseline" in bad.output


def test_video_auto_baseline(tmp_path):
    r = run("video", VIDEOS / "single_face.mp4", "--baseline", "auto", "--out", tmp_path, "--stride", "6", "-q")
    assert r.exit_code == 0, r.output
    assert "baseline: the calmest face" in r.output
    table = pd.read_csv(tmp_path / "single_face.csv")
    assert "AU12_r" in table.columns and len(table) == 12


def test_muscles_command_writes_map_and_bars(tmp_path):
    from PIL import Image

    m, b = tmp_path / "map.png", tmp_path / "bars.png"
    r = run("muscles", IMAGES / "two_people.jpg", "--face", "2", "--out", m, "--bars", b)
    assert r.exit_code == 0, r.output
    assert Image.open(m).size == Image.open(IMAGES / "two_people.jpg").size
    assert Image.open(b).size[0] > 300
    r = run("muscles", IMAGES / "astronaut_nasa.jpg", "--face", "3", "--out", m)
    assert r.exit_code == 1 and "no face #3" in r.output


def test_the_muscle_map_draws_a_result_and_never_runs_the_pipeline(analyzer):
    """The renderer takes the analyzer's result: the activations drawn are the face's own (or those passed), and a
    face without activations is refused rather than analysed again."""
    import dataclasses

    import numpy as np

    from mimetic.media.images import read_image
    from mimetic.render.musclemap import muscle_map

    rgb = read_image(IMAGES / "astronaut_nasa.jpg")
    face = analyzer.analyze_array(rgb).faces[0]
    drawn = muscle_map(face, rgb, legend=False)
    bare = dataclasses.replace(face, muscles={})
    with pytest.raises(ValueError, match="no muscle activations"):
        muscle_map(bare, rgb)
    assert np.array_equal(muscle_map(bare, rgb, muscles=face.muscles, legend=False), drawn)
    calm = muscle_map(bare, rgb, muscles={}, legend=False)  # nothing active: outlines only
    assert not np.array_equal(calm, drawn)


def test_evaluate_aus_on_a_small_labelled_sample(tmp_path):
    for name in ("astronaut_nasa.jpg", "biden_portrait.jpg"):
        (tmp_path / name).write_bytes((IMAGES / name).read_bytes())
    (tmp_path / "labels.csv").write_text("path,facs\nastronaut_nasa.jpg,6+12D+25\nbiden_portrait.jpg,0\nmissing.jpg,4\n")
    report = tmp_path / "report.json"
    r = run("evaluate-aus", tmp_path / "labels.csv", "--out", report)
    assert r.exit_code == 1  # one image is missing: reported, the rest scored
    assert "missing.jpg" in r.output
    doc = json.loads(report.read_text())
    assert doc["n_scored"] == 2 and doc["per_au"]["AU12"]["recall"] == 1.0

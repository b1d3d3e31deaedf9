"""The ``mimetic`` command end to end: outputs, exit codes, bad inputs, help."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from badinputs import file_size_limit, make_bad_inputs, make_hostile_good_inputs, make_link_loops
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
    assert {"--workers", "--scheduler", "--retry-failed"} <= set(run("analyze", "--help").output.split())
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
    assert not any(n.startswith(("blank", "oddcodec", "truncated", "notes", "empty", "huge", "x]bad", "cut", "pipe"))
                   for n in names), names
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


# -- hostile inputs and a full disk (#18) -------------------------------------------------------------------------
def _names_fit(folder: Path) -> None:
    assert all(len(p.name.encode()) <= 255 for p in folder.iterdir())
    assert not [p.name for p in folder.iterdir() if ".partial" in p.name]


def test_paths_print_literally_never_as_markup_and_long_names_fit(tmp_path):
    """R1: `in/b[/x]bad.jpg` crashed `analyze` (rich MarkupError) and the batch was lost; `[red]tag.jpg` printed
    as "tag.jpg". R6: a 240-byte name failed (temporary name over 255 bytes); a 255-byte one's outputs would."""
    src = tmp_path / "in"
    good = make_hostile_good_inputs(src)
    bad = make_bad_inputs(tmp_path / "bad")["markup_path"][0]
    (src / "b[").mkdir()
    (src / "b[" / bad.name).write_bytes(bad.read_bytes())
    (src / "astronaut_nasa.jpg").write_bytes((IMAGES / "astronaut_nasa.jpg").read_bytes())
    out = tmp_path / "out"
    r = run("analyze", src, "--out", out, "--format", "json,csv", "--overlay")  # without -q: every line printed
    assert r.exit_code == 1, r.output
    assert f"error: {src / 'b[' / 'x]bad.jpg'}: not an image" in r.output
    assert f"{good['markup_name']}: 1 face" in r.output
    assert "5 inputs: 4 ok, 1 failed" in r.output
    table = pd.read_csv(out / "images.csv")
    assert len(table) == 4
    _names_fit(out)
    for p in list(good.values()) + [src / "astronaut_nasa.jpg"]:
        from mimetic.media.files import fit_name

        name = fit_name(p.stem, 255 - len(".annotated.mp4"))
        assert json.loads((out / f"{name}.json").read_text())["faces"], name
        assert (out / f"{name}.overlay.jpg").stat().st_size > 1000
    assert (out / f"{good['long_name'].stem}.json").exists()  # short enough: kept as it was
    assert not (out / f"{good['longest_name'].stem}.json").exists()  # shortened with a hash


def test_video_paths_with_markup(tmp_path):
    """R1 for `mimetic video`: the error line of `v[/x]cut.mp4` crashed it; `[bold]` vanished from a name."""
    folder = tmp_path / "v["
    folder.mkdir()
    clip = folder / "x]y [bold]z.mp4"
    clip.write_bytes((VIDEOS / "single_face.mp4").read_bytes())
    r = run("video", clip, "--stride", "12", "--out", tmp_path / "out")
    assert r.exit_code == 0, r.output
    assert "x]y [bold]z.mp4" in r.output and "1 input: 1 ok, 0 failed" in r.output
    assert len(pd.read_csv(tmp_path / "out" / "x]y [bold]z.csv")) == 6
    cut = folder / "x]cut.mp4"
    cut.write_bytes(make_bad_inputs(tmp_path / "bad")["truncated_mp4"][0].read_bytes())
    r = run("video", cut)
    assert r.exit_code == 1 and f"error: {cut}: truncated" in r.output, r.output


def test_star_star_glob_with_link_loops_finds_each_file_once(tmp_path):
    """R2: `ln -s .. fan/sub/l1` (three such links): `fan/**/*.jpg` analysed the file 41 times or never ended."""
    import signal

    fan = make_link_loops(tmp_path)

    def endless(*_):
        raise TimeoutError("the input walk did not end")

    old = signal.signal(signal.SIGALRM, endless)
    signal.alarm(60)
    try:
        r = run("analyze", str(fan / "**" / "*.jpg"), "-q")
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)
    assert r.exit_code == 0, r.output
    assert "1 input: 1 ok, 0 failed" in r.output
    assert sum("(a loop): not followed" in ln for ln in r.output.splitlines()) == 3


def test_a_full_disk_fails_the_input_and_the_batch_goes_on(tmp_path):
    """R4: with a full disk a cut-off overlay JPEG was published and reported fine. The file-size limit stands in
    for the full disk (the kernel cuts a write short, then fails it; checked against a real 2 MB tmpfs by hand)."""
    from PIL import Image

    out = tmp_path / "out"
    with file_size_limit(100_000):  # two_people's overlay (~177 kB) cannot be written; the rest can
        r = run("analyze", IMAGES / "astronaut_nasa.jpg", IMAGES / "two_people.jpg", "--out", out,
                "--format", "json,csv", "--overlay", "-q")
    assert r.exit_code == 1, r.output
    err = [ln for ln in r.output.splitlines() if ln.startswith("error:")]
    assert "two_people.jpg: cannot write" in err[0] and "two_people.overlay.jpg" in err[0], err
    # the table's Parquet part (~250 kB, mostly its schema) cannot be written either: one line, and where the
    # outputs that worked are
    assert len(err) == 2 and f"cannot write {out / 'table' / 'part-00000.parquet'}: " in err[1], err
    assert "(over the file size limit)" in err[1], err
    assert f"the outputs of the 1 input that worked are in {out}" in err[1]
    assert sorted(p.name for p in out.iterdir()) == ["astronaut_nasa.json", "astronaut_nasa.overlay.jpg",
                                                     "manifest.csv"]  # nothing of the failed input, no temp files
    Image.open(out / "astronaut_nasa.overlay.jpg").load()  # complete
    manifest = pd.read_csv(out / "manifest.csv")  # the failure is recorded; the unrecorded input is redone later
    assert manifest["name"].tolist() == ["two_people"] and manifest["status"].tolist() == ["failed"]
    assert "two_people.overlay.jpg" in manifest["error"][0]
    assert "2 inputs: 1 ok, 1 failed" in r.output
    # room again: the same command with --retry-failed finishes the batch, each row once
    r = run("analyze", IMAGES / "astronaut_nasa.jpg", IMAGES / "two_people.jpg", "--out", out,
            "--format", "json,csv", "--overlay", "-q", "--retry-failed")
    assert r.exit_code == 0 and "2 inputs: 2 ok, 0 failed" in r.output, r.output
    assert pd.read_csv(out / "images.csv")["source"].str.endswith(("astronaut_nasa.jpg", "two_people.jpg")).sum() == 3
    Image.open(out / "two_people.overlay.jpg").load()


def test_a_table_that_cannot_be_written_is_a_clear_error(tmp_path):
    out = tmp_path / "out"
    with file_size_limit(50_000):  # each JSON (~31 kB) fits, the table with mesh columns does not
        r = run("analyze", IMAGES / "astronaut_nasa.jpg", IMAGES / "biden_portrait.jpg", "--out", out,
                "--format", "json,csv", "--mesh", "-q")
    assert r.exit_code == 1, r.output
    assert f"error: cannot write {out / 'table' / 'part-00000.parquet'}: " in r.output
    assert "(over the file size limit)" in r.output
    assert f"the outputs of the 2 inputs that worked are in {out}" in r.output
    assert sorted(p.name for p in out.iterdir()) == ["astronaut_nasa.json", "biden_portrait.json"]


def test_a_crash_has_its_own_exit_status_and_says_where_the_outputs_are(tmp_path, monkeypatch):
    import mimetic.cli
    import mimetic.table

    def boom(*a, **k):
        raise RuntimeError("boom")

    monkeypatch.setattr(mimetic.table, "frame_from_results", boom)
    out = tmp_path / "out"
    r = run("analyze", IMAGES / "astronaut_nasa.jpg", "--out", out, "-q")
    assert r.exit_code == 70, r.output
    assert "mimetic crashed" in r.output and "RuntimeError: boom" in r.output
    assert f"the outputs of the 1 input that worked are in {out}" in r.output
    assert json.loads((out / "astronaut_nasa.json").read_text())["faces"]
    # a bug met by one input: the batch goes on, and the exit status still says it was a bug
    monkeypatch.undo()
    import mimetic.batch.run as batch

    real = batch.write_image_outputs

    def bug_on_two_people(result, rgb, name, *a, **k):
        if name == "two_people":
            raise TypeError("a bug")
        return real(result, rgb, name, *a, **k)

    monkeypatch.setattr(batch, "write_image_outputs", bug_on_two_people)
    out = tmp_path / "out2"
    r = run("analyze", IMAGES / "two_people.jpg", IMAGES / "astronaut_nasa.jpg", "--out", out, "-q",
            "--workers", "1")  # the patched function runs in this process
    assert r.exit_code == 70, r.output
    assert "two_people.jpg: unexpected TypeError: a bug" in r.output and "2 inputs: 1 ok, 1 failed" in r.output
    assert f"mimetic crashed on 1 input (a bug; please report it with the traceback above); the outputs of the 1 " \
           f"input that worked are in {out}" in r.output
    assert len(pd.read_csv(out / "images.csv")) == 1
    # any other command: the entry point turns a crash into the same status
    monkeypatch.setattr(mimetic.cli, "app", boom)
    with pytest.raises(SystemExit) as e:
        mimetic.cli.main()
    assert e.value.code == 70


def test_a_cut_off_mp4_gives_the_web_cause(tmp_path):
    """R7: the CLI said "not a video" for a truncated MP4 where the web said truncated: one cause now."""
    from mimetic.media.container import damage

    cut = make_bad_inputs(tmp_path)["truncated_mp4"][0]
    r = run("video", cut, "-q")
    assert r.exit_code == 1
    assert f"error: {cut}: {damage(cut)}" in r.output and "the file is truncated" in r.output

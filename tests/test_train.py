"""Training tools on a tiny sample made here: readers, a short run, checkpoint + exact resume, ONNX export.

Needs the ``train`` extra (torch); skipped without it. Never touches ../shared/datasets.
"""

from __future__ import annotations

import dataclasses
import json

import cv2
import numpy as np
import pytest

torch = pytest.importorskip("torch")

from testdata import IMAGES  # noqa: E402
from mimetic.expression.crop import align_crop  # noqa: E402
from mimetic.media.images import read_image  # noqa: E402
from mimetic.train import datasets as ds  # noqa: E402
from mimetic.types import EXPRESSIONS  # noqa: E402

torch.set_num_threads(1)
SIZE = 56  # crop side for the tests: smaller = faster (the code is size-agnostic); > 48 exercises `detail`


# -- a tiny FER+-format npz from the fixture photos ------------------------------------------------------------
@pytest.fixture(scope="module")
def tiny_npz(tmp_path_factory, analyzer):
    """48×48 FER-style crops of every fixture face, plus flips and noisy copies; votes give each face one class."""
    rng = np.random.default_rng(0)
    crops, faces_seen = [], 0
    for path in sorted(IMAGES.glob("*.jpg")):
        rgb = read_image(path)
        for face in analyzer.analyze_array(rgb).faces:
            base = align_crop(rgb, face.landmarks[:, :2], 48)
            cls = faces_seen % 8
            faces_seen += 1
            for k in range(6):
                img = (base[:, ::-1] if k % 2 else base).astype(np.float64)
                if k in (2, 3):
                    img = img + rng.normal(0, 4, img.shape)
                elif k == 4:
                    img = img + 20
                elif k == 5:
                    img = (img - img.mean()) * 0.8 + img.mean()
                img = np.clip(img, 0, 255)
                crops.append((np.ascontiguousarray(img, dtype=np.uint8), cls))
    n = len(crops)
    votes = np.zeros((n + 2, 10), np.uint8)
    for i, (_, c) in enumerate(crops):
        votes[i, c] = 7
        votes[i, (c + 1) % 8] = 3
    votes[n, 8] = 10      # majority unknown: dropped
    votes[n + 1, 9] = 10  # majority not-a-face: dropped
    images = np.stack([c for c, _ in crops] + [np.full((48, 48), 120, np.uint8)] * 2)
    split = np.array(["train"] * (n + 2))
    split[rng.choice(n, 8, replace=False)] = "valid"
    split[np.arange(5, n, 11)] = "test"
    fer_label = np.array([ds.FER2013_IDS.index(EXPRESSIONS[c]) if EXPRESSIONS[c] != "contempt" else 6
                          for _, c in crops] + [6, 6], np.int8)
    path = tmp_path_factory.mktemp("fer") / "tiny_ferplus.npz"
    np.savez(path, images=images, votes=votes, split=split, name=np.array([f"fer{i:07d}.png" for i in range(n + 2)]),
             fer2013_label=fer_label, fer2013_confident=np.arange(n + 2) % 3 != 0)
    assert faces_seen >= 8
    return path


@pytest.fixture(scope="module")
def cache_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("cache")


# -- readers ---------------------------------------------------------------------------------------------------
def test_ferplus_reader_drops_unknown_and_nf(tiny_npz):
    src = ds.read_ferplus(tiny_npz)
    assert src.n_images == len(src) + 2 and src.classes == EXPRESSIONS
    assert np.allclose(src.targets.sum(1), 1)
    assert src.targets.max(1).min() == pytest.approx(0.7)
    sub = ds.read_ferplus(tiny_npz, "neutral,happy,sad")
    assert sub.classes == ("neutral", "happiness", "sadness")
    assert set(sub.labels.tolist()) <= {0, 1, 2} and 0 < len(sub) < len(src)
    assert np.allclose(sub.targets.sum(1), 1)
    fer = ds.read_ferplus(tiny_npz, "7", labels="fer2013")
    assert fer.targets.shape[1] == 7 and set(fer.targets.sum(1)) == {1.0}
    with pytest.raises(ValueError, match="contempt"):
        ds.read_ferplus(tiny_npz, "8", labels="fer2013")


def test_resolve_classes():
    assert ds.resolve_classes(None) == EXPRESSIONS
    assert ds.resolve_classes("7") == ds.FER2013_CLASSES and len(ds.FER2013_CLASSES) == 7
    assert ds.resolve_classes("Happy, angry") == ("happiness", "anger")
    with pytest.raises(ValueError, match="unknown expression class 'grumpy'"):
        ds.resolve_classes("neutral,grumpy")
    with pytest.raises(ValueError, match="at least 2"):
        ds.resolve_classes("neutral")


def _fer_row(label, usage="Training", n=2304):
    return f"{label},{' '.join(['7'] * n)},{usage}\n"


def test_fer2013_csv_reader_and_errors(tmp_path):
    good = tmp_path / "fer2013.csv"
    good.write_text("emotion,pixels,Usage\n" + _fer_row(3) + _fer_row(6, "PublicTest") + _fer_row(0, "PrivateTest"))
    src = ds.read_fer2013_csv(good)
    assert len(src) == 3 and src.classes == ds.FER2013_CLASSES
    assert [src.classes[i] for i in src.labels] == ["happiness", "neutral", "anger"]
    assert src.split.tolist() == ["train", "valid", "test"]
    assert src.load(0).shape == (48, 48) and src.load(0).dtype == np.uint8
    assert ds.detect_format(good) == "fer2013csv"
    assert len(ds.read_fer2013_csv(good, "neutral,happiness")) == 2

    cases = {
        "expected 2304 pixel values": _fer_row(3) + _fer_row(4, n=2000),
        "emotion 9 is not one of 0..6": _fer_row(3) + _fer_row(9),
        "emotion 'x' is not an integer": _fer_row(3) + _fer_row("x"),
        "Usage 'Other'": _fer_row(3) + _fer_row(2, "Other"),
        "expected 3 fields, got 2": _fer_row(3) + "3,1 2 3\n",
    }
    for message, body in cases.items():
        bad = tmp_path / "bad.csv"
        bad.write_text("emotion,pixels,Usage\n" + body)
        with pytest.raises(ds.DatasetError) as err:
            ds.read_fer2013_csv(bad)
        assert message in str(err.value) and f"{bad}: line 3:" in str(err.value), str(err.value)
    hdr = tmp_path / "hdr.csv"
    hdr.write_text("label,data\n1,2\n")
    with pytest.raises(ds.DatasetError, match="line 1: header must name 'emotion' and 'pixels'"):
        ds.read_fer2013_csv(hdr)


def _write_images(folder, n, value=100):
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(n):
        cv2.imwrite(str(folder / f"img{i}.png"), np.full((40, 40, 3), value + i, np.uint8))


def test_folder_reader(tmp_path):
    root = tmp_path / "flat"
    _write_images(root / "happy", 3)
    _write_images(root / "Sad", 2)
    _write_images(root / "neutral", 1)
    src = ds.read_folder(root)
    assert len(src) == 6 and set(src.split) == {"train"}
    assert src.counts() == {**{c: 0 for c in EXPRESSIONS}, "happiness": 3, "sadness": 2, "neutral": 1}
    assert src.load(0).shape == (40, 40, 3)
    sub = ds.read_folder(root, "happiness,neutral")
    assert len(sub) == 4
    split_root = tmp_path / "split"
    _write_images(split_root / "train" / "angry", 2)
    _write_images(split_root / "val" / "angry", 1)
    _write_images(split_root / "test" / "fear", 1)
    s2 = ds.read_folder(split_root)
    assert sorted(s2.split.tolist()) == ["test", "train", "train", "valid"]
    _write_images(root / "bored", 1)
    with pytest.raises(ds.DatasetError, match="folder name 'bored' is not an expression class"):
        ds.read_folder(root)


def test_csv_reader_and_errors(tmp_path):
    _write_images(tmp_path / "imgs", 3)
    good = tmp_path / "labels.csv"
    good.write_text("path,label,split\nimgs/img0.png,happy,train\nimgs/img1.png,anger,val\n"
                    f"{tmp_path / 'imgs' / 'img2.png'},neutral,test\n")
    src = ds.read_csv(good)
    assert len(src) == 3 and src.split.tolist() == ["train", "valid", "test"]
    assert [src.classes[i] for i in src.labels] == ["happiness", "anger", "neutral"]
    assert ds.detect_format(good) == "csv"
    cases = {
        "label 'bored' is not an expression class": "imgs/img0.png,happy,train\nimgs/img1.png,bored,train\n",
        "image 'imgs/missing.png' not found": "imgs/img0.png,happy,train\nimgs/missing.png,sad,train\n",
        "expected 3 fields, got 2": "imgs/img0.png,happy,train\nimgs/img1.png,sad\n",
        "split 'dev' is not train, valid or test": "imgs/img0.png,happy,train\nimgs/img1.png,sad,dev\n",
        "empty path": "imgs/img0.png,happy,train\n,sad,train\n",
    }
    for message, body in cases.items():
        bad = tmp_path / "bad.csv"
        bad.write_text("path,label,split\n" + body)
        with pytest.raises(ds.DatasetError) as err:
            ds.read_csv(bad)
        assert message in str(err.value) and f"{bad}: line 3:" in str(err.value), str(err.value)
    hdr = tmp_path / "hdr.csv"
    hdr.write_text("file,emotion\na.png,happy\n")
    with pytest.raises(ds.DatasetError, match="line 1: header must name 'path' and 'label'"):
        ds.read_csv(hdr)


# -- preparation cache -----------------------------------------------------------------------------------------
def test_prepare_caches_and_resumes(tiny_npz, cache_dir):
    from mimetic.train.prepare import CropCache

    src = ds.read_ferplus(tiny_npz)
    cache = CropCache(src, cache_dir, size=SIZE, chunk=16)
    first = cache.ensure(progress=False, log=None)
    assert first["images"] == src.n_images and first["parts"] == cache.n_parts
    assert 2 <= first["not_found"] <= 2 + src.n_images // 10  # the two flat grey rows, maybe a few small faces
    cache.part_path(1).unlink()  # as if interrupted: only the missing part is done again
    again = cache.ensure(progress=False, log=None)
    assert again["parts"] == 1 and again["images"] == 16
    assert cache.ensure(progress=False, log=None)["images"] == 0
    got = cache.load(np.array([5, 0, 17]), keys=("crops", "found", "landmarks"))
    assert got["crops"].shape == (3, SIZE, SIZE) and got["landmarks"].shape == (3, 478, 3)
    assert got["found"].all()
    flat = cache.load(np.array([src.n_images - 1]))
    assert not flat["found"][0]


def test_prepare_command(tiny_npz, tmp_path):
    """`mimetic train prepare` fills a cache and says what it found."""
    from mimetic.train.prepare import CropCache

    src = ds.read_ferplus(tiny_npz)
    r = _mimetic("train", "prepare", tiny_npz, "--size", SIZE, "--cache-dir", tmp_path, "-q")
    assert r.exit_code == 0, r.output
    assert f"aligned {src.n_images} images" in r.output
    stats = json.loads(r.output.strip().splitlines()[-1])
    cache = CropCache(src, tmp_path, size=SIZE)
    assert stats == cache.stats() and not cache.missing()
    missing = _mimetic("train", "prepare", tmp_path / "absent.npz", "--cache-dir", tmp_path)
    assert missing.exit_code == 1 and "absent.npz" in missing.output


# -- training, checkpoints, resume, export ---------------------------------------------------------------------
def _mimetic(*args):
    """Run the ``mimetic`` command in-process."""
    from typer.testing import CliRunner

    from mimetic.cli import app

    return CliRunner().invoke(app, [str(a) for a in args])


def _data(tiny_npz, cache_dir):
    from mimetic.train.run import load_training_data

    td, _ = load_training_data(tiny_npz, size=SIZE, cache_dir=cache_dir, progress=False)
    return td


def _cfg(out, **kw):
    from mimetic.train.loop import TrainConfig

    base = dict(out_dir=str(out), epochs=3, batch_size=16, lr=0.05, threads=1, seed=3, progress=False,
                checkpoint_minutes=0, log_every=1, widths=(16, 32, 48, 64), blocks=(1, 1, 1, 1))
    base.update(kw)
    return TrainConfig(**base)


def _train_loss(model, td):
    from mimetic.train.loop import predict_probs

    p = predict_probs(model, td.train_x)
    return float(-(td.train_y * np.log(np.clip(p, 1e-7, 1))).sum(1).mean())


def test_training_decreases_loss_and_writes_checkpoints(tiny_npz, cache_dir, tmp_path):
    from mimetic.train.loop import fit, load_checkpoint, model_from_checkpoint
    from mimetic.train.net import NetConfig, build

    td = _data(tiny_npz, cache_dir)
    assert td.detail == 48 and td.size == SIZE
    from mimetic.train.loop import AugConfig

    cfg = _cfg(tmp_path, epochs=12, lr=0.1, aug=AugConfig(erase=0, resample=0))
    torch.manual_seed(cfg.seed)
    untrained = build(NetConfig(td.classes, SIZE, cfg.widths, cfg.blocks))
    before = _train_loss(untrained, td)
    result = fit(td, cfg, echo=lambda s: None)
    model, _ = model_from_checkpoint(result["last"])
    after = _train_loss(model, td)
    assert after < before - 0.2, (before, after)
    assert (tmp_path / "last.pt").is_file() and (tmp_path / "best.pt").is_file()
    last = load_checkpoint(tmp_path / "last.pt")
    assert last["epoch"] == 12 and len(last["history"]) == 12
    assert {"model", "optimizer", "scheduler", "rng", "best", "order"} <= set(last)
    rows = [json.loads(line) for line in (tmp_path / "log.jsonl").read_text().splitlines()]
    assert rows[0]["event"] == "start" and sum(r["event"] == "epoch" for r in rows) == 12
    losses = [r["train_loss"] for r in rows if r["event"] == "epoch"]
    assert losses[-1] < losses[0]


def test_distillation_learns_the_teachers_targets(tiny_npz, cache_dir, tmp_path):
    """With teacher_weight 1 the targets are the teacher's probabilities: a teacher that says "fear" for every
    face makes the student say fear; its probabilities are computed once and reused on resume; a teacher with
    other classes is refused."""
    from mimetic.expression.model import ExpressionModel
    from mimetic.train.export import export_checkpoint
    from mimetic.train.loop import (AugConfig, fit, load_checkpoint, model_from_checkpoint, predict_probs,
                                    save_checkpoint, teacher_probs)

    td = _data(tiny_npz, cache_dir)
    base = fit(td, _cfg(tmp_path / "base", epochs=1), echo=lambda s: None)
    st = load_checkpoint(base["last"])
    fear = list(td.classes).index("fear")
    st["model"]["fc.bias"][fear] += 30.0  # the teacher: fear for every crop
    save_checkpoint(tmp_path / "teacher.pt", st)
    teacher, _ = export_checkpoint(tmp_path / "teacher.pt", tmp_path / "teacher.onnx")
    assert (ExpressionModel(teacher).predict(td.train_x).argmax(1) == fear).all()
    assert (td.train_y.argmax(1) == fear).mean() < 0.3  # the labels say otherwise

    lines: list[str] = []
    cfg = _cfg(tmp_path / "student", epochs=8, lr=0.1, aug=AugConfig(erase=0, resample=0), teacher=str(teacher),
               teacher_weight=1.0)
    result = fit(td, cfg, echo=lines.append)
    assert any(s.startswith("teacher teacher.onnx") for s in lines)
    student, _ = model_from_checkpoint(result["last"])
    assert (predict_probs(student, td.train_x).argmax(1) == fear).mean() > 0.9
    cached = tmp_path / "student" / "teacher.npz"
    stamp = cached.stat().st_mtime_ns
    again, aux = teacher_probs(teacher, td, cached, echo=lines.append)
    assert cached.stat().st_mtime_ns == stamp and aux is None and again.shape == td.train_y.shape
    assert np.allclose(again.sum(1), 1, atol=1e-5)
    three = dataclasses.replace(td, classes=("neutral", "happiness", "sadness"), train_y=td.train_y[:, :3])
    with pytest.raises(ValueError, match="classes"):
        fit(three, _cfg(tmp_path / "bad", epochs=1, teacher=str(teacher)), echo=lambda s: None)


def test_bf16_training_learns_and_keeps_float32_weights(tiny_npz, cache_dir, tmp_path):
    """precision="bf16" (bfloat16 autocast): the loss still falls, the checkpoint's weights stay float32 and the
    export agrees with torch; an unknown precision is refused before any work."""
    from mimetic.train.export import export_checkpoint
    from mimetic.train.loop import AugConfig, fit, load_checkpoint, model_from_checkpoint
    from mimetic.train.net import NetConfig, build

    td = _data(tiny_npz, cache_dir)
    cfg = _cfg(tmp_path, epochs=8, lr=0.1, precision="bf16", aug=AugConfig(erase=0, resample=0))
    torch.manual_seed(cfg.seed)
    before = _train_loss(build(NetConfig(td.classes, SIZE, cfg.widths, cfg.blocks)), td)
    result = fit(td, cfg, echo=lambda s: None)
    after = _train_loss(model_from_checkpoint(result["last"])[0], td)
    assert after < before - 0.1, (before, after)
    weights = load_checkpoint(result["last"])["model"]
    assert all(v.dtype in (torch.float32, torch.int64) for v in weights.values())
    assert export_checkpoint(result["last"], tmp_path / "bf16.onnx")[1] <= 1e-4
    with pytest.raises(ValueError, match="precision"):
        fit(td, _cfg(tmp_path / "bad", precision="fp16"), echo=lambda s: None)


def test_resume_continues_exactly(tiny_npz, cache_dir, tmp_path):
    """Stopping mid-epoch and resuming ends with the very same weights and RNG state as one straight run."""
    from mimetic.train.loop import fit, load_checkpoint

    td = _data(tiny_npz, cache_dir)
    steps = len(td.train_x) // 16
    straight = fit(td, _cfg(tmp_path / "a"), echo=lambda s: None)
    first = fit(td, _cfg(tmp_path / "b", max_steps=steps + 2, checkpoint_minutes=1e-9), echo=lambda s: None)
    assert first["stopped_early"] and first["epoch"] == 1
    mid = load_checkpoint(tmp_path / "b" / "last.pt")
    assert mid["epoch"] == 1 and mid["step_in_epoch"] == 2 and mid["global_step"] == steps + 2
    resumed = fit(td, _cfg(tmp_path / "b"), resume=True, echo=lambda s: None)
    assert resumed["epoch"] == 3 and resumed["global_step"] == straight["global_step"]
    a = load_checkpoint(tmp_path / "a" / "last.pt")
    b = load_checkpoint(tmp_path / "b" / "last.pt")
    assert [h["epoch"] for h in b["history"]] == [1, 2, 3]
    for k, v in a["model"].items():
        assert torch.equal(v, b["model"][k]), k
    assert torch.equal(a["rng"]["loop"], b["rng"]["loop"]) and torch.equal(a["rng"]["torch"], b["rng"]["torch"])
    assert a["history"][-1]["train_loss"] == pytest.approx(b["history"][-1]["train_loss"], abs=1e-9)
    events = [json.loads(x)["event"] for x in (tmp_path / "b" / "log.jsonl").read_text().splitlines()]
    assert "resume" in events
    with pytest.raises(FileNotFoundError):
        fit(td, _cfg(tmp_path / "c"), resume=True, echo=lambda s: None)


def test_export_onnx_agrees_with_torch(tiny_npz, cache_dir, tmp_path, analyzer):
    from mimetic.expression.model import ExpressionModel, available
    from mimetic.train.export import check_agreement, export_checkpoint
    from mimetic.train.loop import fit, model_from_checkpoint

    td = _data(tiny_npz, cache_dir)
    result = fit(td, _cfg(tmp_path, epochs=1), echo=lambda s: None)
    onnx_path, diff = export_checkpoint(result["best"], tmp_path / "expression.onnx")
    assert diff <= 1e-4
    model, _ = model_from_checkpoint(result["best"])
    assert check_agreement(model, onnx_path, size=SIZE, n=32, seed=7) <= 1e-4
    assert available(onnx_path) and not available(tmp_path / "nothing.onnx")
    m = ExpressionModel(onnx_path)
    assert m.classes == EXPRESSIONS and m.size == SIZE and m.detail == 48
    probs = m.predict(td.valid_x)
    assert probs.shape == (len(td.valid_x), 8) and np.allclose(probs.sum(1), 1, atol=1e-5)
    ref = torch.softmax(model(torch.from_numpy(td.valid_x).float()[:, None]), 1).detach().numpy()
    assert np.abs(probs - ref).max() <= 1e-4
    rgb = read_image(IMAGES / "astronaut_nasa.jpg")
    face = analyzer.analyze_array(rgb).faces[0]
    scores = m.classify_face(rgb, face)
    assert list(scores) == list(EXPRESSIONS) and sum(scores.values()) == pytest.approx(1, abs=1e-5)
    flip = ExpressionModel(onnx_path, flip=True)
    p = flip.predict(td.valid_x[:3])
    assert np.allclose(p, flip.predict(td.valid_x[:3, :, ::-1]), atol=1e-6)


def test_train_run_and_evaluate(tiny_npz, cache_dir, tmp_path):
    from mimetic.train.evaluate import evaluate_model as evaluate
    from mimetic.train.run import train

    out = tmp_path / "run"
    summary = train(tiny_npz, out, epochs=1, batch_size=16, threads=1, seed=1, size=SIZE, cache_dir=cache_dir,
                    progress=False, echo=lambda s: None)
    assert summary["torch_vs_onnxruntime"] <= 1e-4 and (out / "expression.onnx").is_file()
    assert json.loads((out / "summary.json").read_text())["epochs_done"] == 1
    lines: list[str] = []
    res = evaluate(out / "expression.onnx", tiny_npz, tmp_path / "eval", cache_dir=cache_dir, progress=False,
                   log=lines.append)
    assert set(res) == {"ferplus_test", "fer2013_private", "fer2013_private_confident"}
    assert res["ferplus_test"]["n"] == int((ds.read_ferplus(tiny_npz).split == "test").sum())
    assert len(res["fer2013_private"]["recall"]) == 7
    for r in res.values():
        assert 0 <= r["accuracy"] <= 1 and (tmp_path / "eval" / f"confusion_{r['name']}.png").is_file()
    assert (tmp_path / "eval" / "metrics.json").is_file() and any("macro-F1" in s for s in lines)
    res_pt = evaluate(out / "best.pt", tiny_npz, tmp_path / "eval_pt", cache_dir=cache_dir, progress=False,
                      log=lambda s: None)
    assert res_pt["ferplus_test"]["accuracy"] == pytest.approx(res["ferplus_test"]["accuracy"])


def test_auxiliary_fer2013_head_fine_tunes_exports_and_evaluates(tiny_npz, cache_dir, tmp_path):
    """A run with the FER2013-label head, started from another run's weights: the loss of that head falls, the
    ONNX file has both outputs (agreeing with torch), and `evaluate` scores the FER2013 sets with that head."""
    from mimetic.expression.model import ExpressionModel
    from mimetic.train.evaluate import evaluate_model as evaluate
    from mimetic.train.run import load_training_data, train
    from mimetic.train.datasets import FER2013_CLASSES
    from mimetic.train.loop import AugConfig, fit, load_checkpoint, model_from_checkpoint, predict_aux_probs

    base = fit(_data(tiny_npz, cache_dir), _cfg(tmp_path / "base", epochs=1), echo=lambda s: None)
    td, _ = load_training_data(tiny_npz, size=SIZE, cache_dir=cache_dir, progress=False, aux_labels="fer2013")
    assert td.aux_classes == FER2013_CLASSES and len(td.train_aux) == len(td.train_x)
    assert (td.train_aux >= 0).all()
    lines: list[str] = []
    cfg = _cfg(tmp_path / "aux", epochs=10, lr=0.1, aug=AugConfig(erase=0, resample=0), init_from=str(base["last"]),
               best_metric="valid_mean")
    result = fit(td, cfg, echo=lines.append)
    assert any("initialised from" in s and "fc_aux" in s for s in lines)
    start = load_checkpoint(base["last"])["model"]
    model, state = model_from_checkpoint(result["last"])
    assert tuple(state["net"]["aux_classes"]) == FER2013_CLASSES
    assert not torch.equal(model.state_dict()["fc.weight"], start["fc.weight"])  # the old head kept training
    p = predict_aux_probs(model, td.train_x)
    loss = float(-np.log(np.clip(p[np.arange(len(p)), td.train_aux], 1e-7, 1)).mean())
    assert loss < np.log(7) - 0.3, loss  # below chance level on the training crops
    assert "valid_aux_acc" in state["history"][-1] and state["best"]["metric"] == "valid_mean"
    with pytest.raises(ValueError, match="aux_labels"):
        load_training_data(tiny_npz, size=SIZE, cache_dir=cache_dir, progress=False, aux_labels="affectnet")

    out = tmp_path / "cli"
    summary = train(tiny_npz, out, epochs=1, batch_size=16, threads=1, seed=1, size=SIZE, cache_dir=cache_dir,
                    progress=False, aux_labels="fer2013", init_from=base["last"], echo=lambda s: None)
    assert summary["torch_vs_onnxruntime"] <= 1e-4
    m = ExpressionModel(out / "expression.onnx")
    assert m.classes == EXPRESSIONS and m.aux_classes == FER2013_CLASSES
    pa = m.predict_aux(td.valid_x)
    assert pa.shape == (len(td.valid_x), 7) and np.allclose(pa.sum(1), 1, atol=1e-5)
    best, _ = model_from_checkpoint(out / "best.pt")
    assert np.abs(pa - predict_aux_probs(best, td.valid_x)).max() <= 1e-4
    res = evaluate(out / "expression.onnx", tiny_npz, tmp_path / "eval", cache_dir=cache_dir, progress=False,
                   log=lambda s: None)
    # the FER2013 figures are the auxiliary head's: recompute them from predict_aux directly
    from mimetic.train.evaluate import evaluation_sets
    from mimetic.train.prepare import prepare

    s7 = next(s for s in evaluation_sets(tiny_npz, EXPRESSIONS) if s["name"] == "fer2013_private")
    src = ds.read_ferplus(tiny_npz, "7", labels="fer2013")
    crops = prepare(src, cache_dir, size=SIZE, splits=("test",), progress=False).load(s7["rows"])["crops"]
    order = [FER2013_CLASSES.index(c) for c in s7["classes"]]
    expect = float((m.predict_aux(crops)[:, order].argmax(1) == s7["labels"]).mean())
    assert res["fer2013_private"]["accuracy"] == pytest.approx(expect)
    from mimetic.train.export import export_checkpoint

    plain = ExpressionModel(export_checkpoint(base["last"], tmp_path / "plain.onnx")[0])
    assert plain.aux_classes == ()
    with pytest.raises(ValueError, match="no auxiliary head"):
        plain.predict_aux(td.valid_x[:1])


def test_geometric_model_fusion_and_ship_end_to_end(tiny_npz, cache_dir, tmp_path):
    """The whole shipping path on the tiny sample: a CNN with the FER2013 head, a geometric model trained on the
    cached landmarks, the fusion fitted on validation (both decisions), the test-set evaluation, and the files
    copied into a models folder that FusedExpression then loads with its hash checks."""
    from mimetic.expression.fusion import Fusion, FusedExpression, file_sha256
    from mimetic.train.geometric import train_geometric
    from mimetic.train.run import train

    quiet = lambda s: None  # noqa: E731
    train(tiny_npz, tmp_path / "cnn", epochs=2, batch_size=16, threads=1, seed=1, size=SIZE, cache_dir=cache_dir,
          progress=False, aux_labels="fer2013", echo=quiet)
    g = train_geometric(tiny_npz, tmp_path / "geo", epochs=3, cache_dir=cache_dir, echo=quiet)
    assert g["train"] > 0 and g["torch_vs_onnxruntime"] <= 1e-5 and 1 <= g["best_epoch"] <= 3
    # the same steps as commands: `mimetic train geometric` gives the same model, `fuse` the fusion that ships
    r = _mimetic("train", "geometric", tiny_npz, "--out", tmp_path / "geo_cli", "--epochs", "3", "--cache-dir",
                 cache_dir)
    assert r.exit_code == 0, r.output
    again = json.loads((tmp_path / "geo_cli" / "geometric_summary.json").read_text())
    assert again["best_epoch"] == g["best_epoch"] and again["valid_accuracy"] == g["valid_accuracy"]
    r = _mimetic("train", "fuse", "--cnn", tmp_path / "cnn" / "expression.onnx", "--geo", g["onnx"], "--data",
                 tiny_npz, "--out", tmp_path / "fuse_cli", "--cache-dir", cache_dir)
    assert r.exit_code == 0, r.output
    assert "| FER+ test" in r.output and (tmp_path / "fuse_cli" / "eval" / "results.md").is_file()
    models = tmp_path / "models"
    r = _mimetic("train", "ship", "--cnn", tmp_path / "cnn" / "expression.onnx", "--data", tiny_npz, "--geo",
                 g["onnx"], "--models-dir", models, "--out", tmp_path / "ship", "--cache-dir", cache_dir)
    assert r.exit_code == 0, r.output
    fusion = Fusion.load(models / "expression_fusion.json")
    assert f"shipped ({fusion.mode}) into {models}" in r.output and fusion.mode in ("fused", "cnn")
    assert Fusion.load(tmp_path / "fuse_cli" / "expression_fusion.json").weight == pytest.approx(fusion.weight)
    assert fusion.cnn_sha256 == file_sha256(models / "expression.onnx")
    assert fusion.geometric_sha256 == file_sha256(models / "expression_geometric.onnx")
    acc = fusion.info["accuracy"]
    assert (fusion.mode == "fused") == (acc["fused_out_of_fold"] > acc["cnn"])
    aux = fusion.info["aux"]
    assert fusion.aux["mode"] == ("fused" if aux["accuracy"]["fused_out_of_fold"] > aux["accuracy"]["cnn_aux"]
                                  else "head")
    results = json.loads((tmp_path / "ship" / "eval" / "metrics.json").read_text())
    same = results["fused"]["fer2013_private"]["accuracy"] == results["cnn"]["fer2013_private"]["accuracy"]
    assert same or fusion.aux["mode"] == "fused"  # "head": the fused FER2013 figures are the head's
    card = (models / "MODEL_CARD.md").read_text()
    assert aux["decision"] in card and "FER+ test" in card
    assert "mimetic train fit " in card and "python -m" not in card  # the card's commands are the CLI's
    loaded = FusedExpression(models / "expression.onnx", models / "expression_geometric.onnx",
                             models / "expression_fusion.json")
    assert loaded.mode == fusion.mode


def test_ensemble_export_averages_its_members(tiny_npz, cache_dir, tmp_path):
    """Two runs exported as one ONNX file: its probabilities (both heads) are the mean of the members'."""
    from mimetic.expression.model import ExpressionModel
    from mimetic.train.run import load_training_data
    from mimetic.train.export import export_ensemble
    from mimetic.train.loop import fit, model_from_checkpoint, predict_aux_probs, predict_probs

    td, _ = load_training_data(tiny_npz, size=SIZE, cache_dir=cache_dir, progress=False, aux_labels="fer2013")
    runs = [fit(td, _cfg(tmp_path / f"m{k}", epochs=1, seed=k), echo=lambda s: None)["last"] for k in (1, 2)]
    out, diff = export_ensemble(runs, tmp_path / "ens.onnx")
    assert diff <= 1e-4
    m = ExpressionModel(out)
    assert m.classes == EXPRESSIONS and len(m.aux_classes) == 7
    assert json.loads(m.metadata["ensemble_members"]) == [str(r) for r in runs]
    members = [model_from_checkpoint(r)[0] for r in runs]
    mean = np.mean([predict_probs(n, td.valid_x) for n in members], axis=0)
    mean_aux = np.mean([predict_aux_probs(n, td.valid_x) for n in members], axis=0)
    assert np.abs(m.predict(td.valid_x) - mean).max() <= 1e-4
    assert np.abs(m.predict_aux(td.valid_x) - mean_aux).max() <= 1e-4
    single = predict_probs(members[0], td.valid_x)
    assert np.abs(single - mean).max() > 1e-3  # the members differ, so the average is not just one of them
    with pytest.raises(ValueError, match="at least two"):
        export_ensemble(runs[:1], tmp_path / "one.onnx")
    r = _mimetic("train", "export", runs[0], runs[1], "--out", tmp_path / "cli.onnx")
    assert r.exit_code == 0, r.output
    assert "torch vs onnxruntime max |diff|" in r.output
    assert np.abs(ExpressionModel(tmp_path / "cli.onnx").predict(td.valid_x) - mean).max() <= 1e-4
    # a member without the auxiliary head strengthens the main head only
    plain = fit(_data(tiny_npz, cache_dir), _cfg(tmp_path / "plain", epochs=1, seed=5), echo=lambda s: None)["last"]
    mixed = ExpressionModel(export_ensemble([plain, runs[0]], tmp_path / "mixed.onnx")[0])
    assert len(mixed.aux_classes) == 7
    both = [model_from_checkpoint(plain)[0], members[0]]
    assert np.abs(mixed.predict(td.valid_x) - np.mean([predict_probs(n, td.valid_x) for n in both], axis=0)).max() <= 1e-4
    assert np.abs(mixed.predict_aux(td.valid_x) - predict_aux_probs(members[0], td.valid_x)).max() <= 1e-4


def test_mirror_export_and_int8_quantization(tiny_npz, cache_dir, tmp_path):
    """--mirror: the graph averages a crop with its mirror image (symmetric by construction, equal to the mean of
    torch on both); --int8: a smaller quantized file that keeps the metadata and nearly the same predictions."""
    from mimetic.expression.model import ExpressionModel
    from mimetic.train.run import load_training_data
    from mimetic.train.export import export_checkpoint
    from mimetic.train.loop import fit, model_from_checkpoint, predict_aux_probs, predict_probs
    from mimetic.train.quantize import compare, quantize_int8, training_crops

    td, _ = load_training_data(tiny_npz, size=SIZE, cache_dir=cache_dir, progress=False, aux_labels="fer2013")
    run = fit(td, _cfg(tmp_path / "m", epochs=1, seed=3), echo=lambda s: None)["last"]
    out, diff = export_checkpoint(run, tmp_path / "mirror.onnx", mirror=True)
    assert diff <= 1e-4
    m = ExpressionModel(out)
    assert m.metadata["mirror_average"] == "1" and len(m.aux_classes) == 7
    x, flipped = td.valid_x, np.ascontiguousarray(td.valid_x[:, :, ::-1])
    assert np.abs(m.predict(x) - m.predict(flipped)).max() <= 1e-5
    net = model_from_checkpoint(run)[0]
    assert np.abs(m.predict(x) - (predict_probs(net, x) + predict_probs(net, flipped)) / 2).max() <= 1e-4
    assert np.abs(m.predict_aux(x) - (predict_aux_probs(net, x) + predict_aux_probs(net, flipped)) / 2).max() <= 1e-4
    assert np.abs(predict_probs(net, x) - predict_probs(net, flipped)).max() > 1e-3  # the mirror did matter

    crops, rows = training_crops(tiny_npz, 40, size=SIZE, cache_dir=cache_dir)
    assert crops.shape == (len(rows), SIZE, SIZE) and len(rows) == 40
    q = ExpressionModel(quantize_int8(out, tmp_path / "int8.onnx", crops))
    assert q.classes == m.classes and q.aux_classes == m.aux_classes and q.detail == m.detail
    assert q.metadata["mirror_average"] == "1" and "int8" in q.metadata["quantization"]
    assert (tmp_path / "int8.onnx").stat().st_size < 0.5 * out.stat().st_size
    d = compare(out, tmp_path / "int8.onnx", td.train_x)
    assert d["probs_agree"] >= 0.8 and d["probs_mean_abs_diff"] <= 0.05 and d["probs_aux_agree"] >= 0.8
    assert 0 < d["probs_max_abs_diff"]  # quantized: not bit-identical
    with pytest.raises(ValueError, match="already quantized"):
        quantize_int8(tmp_path / "int8.onnx", tmp_path / "again.onnx", crops)
    with pytest.raises(ValueError, match="crops"):
        quantize_int8(out, tmp_path / "none.onnx", crops[:0])
    # `mimetic train export --int8` does both in one go; `mimetic train quantize` the second step alone
    r = _mimetic("train", "export", run, "--out", tmp_path / "cli.onnx", "--mirror", "--int8", tiny_npz,
                 "--cache-dir", cache_dir, "--calibration", "40")
    assert r.exit_code == 0, r.output
    assert "quantized" in r.output and "on 40 crops" in r.output
    cli = ExpressionModel(tmp_path / "cli.onnx")
    assert "int8" in cli.metadata["quantization"] and cli.metadata["mirror_average"] == "1"
    r = _mimetic("train", "quantize", out, "--data", tiny_npz, "--out", tmp_path / "q.onnx", "--cache-dir", cache_dir,
                 "--calibration", "40")
    assert r.exit_code == 0, r.output
    assert "int8" in ExpressionModel(tmp_path / "q.onnx").metadata["quantization"]
    again = _mimetic("train", "quantize", tmp_path / "q.onnx", "--data", tiny_npz, "--out", tmp_path / "q2.onnx",
                     "--cache-dir", cache_dir)
    assert again.exit_code == 1 and "already quantized" in again.output


def test_metrics_match_scikit_learn():
    sk = pytest.importorskip("sklearn.metrics")
    from mimetic.train.evaluate import remap_probs
    from mimetic.train.metrics import metrics

    rng = np.random.default_rng(0)
    y, p = rng.integers(0, 5, 200), rng.integers(0, 5, 200)
    m = metrics(y, p, list("abcde"))
    assert m["accuracy"] == pytest.approx(sk.accuracy_score(y, p))
    assert m["macro_f1"] == pytest.approx(sk.f1_score(y, p, average="macro"))
    assert list(m["recall"].values()) == pytest.approx(list(sk.recall_score(y, p, average=None)))
    probs = rng.dirichlet(np.ones(8), 10)
    p7 = remap_probs(probs, EXPRESSIONS, ds.FER2013_CLASSES)
    assert p7.shape == (10, 7) and np.allclose(p7.sum(1), 1)


def test_expression_model_missing_file_is_a_clear_error(tmp_path):
    from mimetic.errors import ModelNotFoundError
    from mimetic.expression.model import ExpressionModel

    with pytest.raises(ModelNotFoundError, match="no expression model file"):
        ExpressionModel(tmp_path / "absent.onnx")


# -- other labelled sets: npz with labels and subjects, label maps, file-name labels ------------------------------
def test_labelled_npz_reader_label_maps_and_subject_folds(tiny_npz, tmp_path):
    images = np.load(tiny_npz)["images"][:12]
    labels = np.array(["happy", "anger", "1", "surprise", "sadness", "disgust", "fear", "contempt", "happy", "anger",
                       "1", "sadness"])
    subjects = np.array([f"S{i // 3:03d}" for i in range(12)])
    path = tmp_path / "posed.npz"
    np.savez(path, images=images, emotion=labels, subject=subjects)
    assert ds.detect_format(path) == "npz" and ds.detect_format(tiny_npz) == "ferplus"
    with pytest.raises(ds.DatasetError, match=r"emotion\[2\] is '1'.*--label-map"):
        ds.read_dataset(path)
    src = ds.read_dataset(path, label_map="1=neutral")
    assert src.kind == "npz" and src.small and len(src) == 12 and set(src.split) == {"train"}
    assert src.counts()["neutral"] == 2 and src.counts()["happiness"] == 2
    assert list(src.extra["subject"]) == list(subjects)
    seven = ds.read_dataset(path, "7", label_map="1=neutral")  # contempt is not among FER2013's classes
    assert len(seven) == 11 and "contempt" not in seven.classes
    folds = ds.subject_folds(subjects, 3, seed=0)
    assert np.array_equal(folds, ds.subject_folds(subjects, 3, seed=0)) and set(folds) == {0, 1, 2}
    for s in np.unique(subjects):  # a subject never straddles two folds
        assert len(set(folds[subjects == s])) == 1
    assert ds.label_mapping("rafdb")["7"] == "neutral" and ds.label_mapping("affectnet")["7"] == "contempt"
    assert ds.label_mapping("1=happy, 2=Angry") == {"1": "happiness", "2": "anger"}
    with pytest.raises(ValueError, match="not an expression class"):
        ds.label_mapping("1=banana")
    assert ds.class_from_file_name("KA.AN1.39.tiff", "jaffe") == "anger"
    assert ds.class_from_file_name("YM.NE2.50.tiff", "jaffe") == "neutral"
    assert ds.class_from_file_name("portrait.jpg", "jaffe") is None


def test_numbered_folders_and_jaffe_names(tmp_path):
    root = tmp_path / "raf"
    _write_images(root / "4", 2)
    _write_images(root / "7", 3)
    with pytest.raises(ds.DatasetError, match="--label-map"):
        ds.read_dataset(root)
    src = ds.read_dataset(root, label_map="rafdb")
    assert src.counts()["happiness"] == 2 and src.counts()["neutral"] == 3
    jaffe = tmp_path / "jaffe"
    jaffe.mkdir()
    for name in ("KA.AN1.39.png", "KA.HA2.30.png", "KM.NE1.1.png", "README.png"):
        cv2.imwrite(str(jaffe / name), np.full((8, 8), 90, np.uint8))
    src = ds.read_dataset(jaffe, names_from="jaffe")
    assert len(src) == 3 and src.counts()["anger"] == 1 and src.counts()["neutral"] == 1


# -- refitting the shipped CNN's heads ------------------------------------------------------------------------------
def test_heads_refit_keeps_or_moves_the_answers_and_writes_a_loadable_model(tiny_npz, tmp_path):
    """The shipped ensemble's pooled features and heads reproduce its output; a refit whose rows all keep their
    own answers returns the same heads; posed rows with a weight pull their answers to their labels; the written
    file loads and answers as the refitted heads say."""
    from mimetic.expression.model import ExpressionModel
    from mimetic.expression.fusion import MODELS_DIR
    from mimetic.train import heads as hd

    shipped = MODELS_DIR / "expression.onnx"
    model = ExpressionModel(shipped)
    z = np.load(tiny_npz)
    crops = np.stack([cv2.resize(im, (64, 64), interpolation=cv2.INTER_CUBIC) for im in z["images"][:40]])
    feats = hd.penultimate(shipped, crops)
    heads0 = hd.heads_of(shipped)
    assert feats.shape == (len(heads0), 40, heads0[0][0].shape[1]) and len(heads0) >= 1
    np.testing.assert_allclose(hd.ensemble_probs(feats, heads0), model.predict(crops), atol=1e-5)
    cw = np.ones(8, np.float32)
    same = hd.refit(feats, np.ones((40, 8), np.float32) / 8, heads0, class_weight=cw, keep=np.ones(40, bool))
    np.testing.assert_allclose(hd.ensemble_probs(feats, same), hd.ensemble_probs(feats, heads0), atol=2e-3)
    # teach the first 20 crops "fear" (weighted), keep the other 20 as they are
    y = np.zeros((40, 8), np.float32)
    y[:20, EXPRESSIONS.index("fear")] = 5.0
    y[20:] = 1.0 / 8
    keep = np.r_[np.zeros(20, bool), np.ones(20, bool)]
    moved = hd.refit(feats, y, heads0, class_weight=cw, pull=1e-3, keep=keep)
    before, after = hd.ensemble_probs(feats, heads0), hd.ensemble_probs(feats, moved)
    fear = EXPRESSIONS.index("fear")
    assert (after[:20].argmax(1) == fear).mean() >= 0.9 > (before[:20].argmax(1) == fear).mean()
    out = hd.write_heads(shipped, tmp_path / "expression.onnx", moved, recipe={"test": 1})
    again = ExpressionModel(out)
    np.testing.assert_allclose(again.predict(crops), after, atol=1e-5)
    assert json.loads(again.metadata["heads_refit"]) == {"test": 1}
    with pytest.raises(ValueError, match="shape"):
        hd.write_heads(shipped, tmp_path / "bad.onnx", [(w[:, :5], b) for w, b in moved])


def test_evaluate_command_scores_the_shipped_model_on_a_labelled_folder(tmp_path, analyzer, cache_dir):
    """`mimetic evaluate DATA` (no model: the shipped CNN + geometric + fusion) on a RAF-DB-style numbered folder:
    the metrics, the text confusion matrix, a per-image CSV whose answers are the Analyzer's for the same photos."""
    import csv
    import shutil

    root = tmp_path / "raf"
    picks = {"astronaut_nasa.jpg": "4", "biden_portrait.jpg": "7", "obama_portrait.jpg": "7"}
    for name, folder in picks.items():
        (root / folder).mkdir(parents=True, exist_ok=True)
        shutil.copy(IMAGES / name, root / folder / name)
    r = _mimetic("evaluate", root, "--label-map", "rafdb", "--out", tmp_path / "eval", "-q")
    assert r.exit_code == 0, r.output
    assert "raf_all: n=3" in r.output and "raf_all_present" in r.output and "ECE" in r.output
    assert "rows: true class" in r.output and "recall" in r.output
    metrics = json.loads((tmp_path / "eval" / "metrics.json").read_text())
    assert metrics["fused"]["raf_all_present"]["n"] == 3 and set(metrics["fused"]["raf_all_present"]["recall"]) == {
        "neutral", "happiness"}
    with open(tmp_path / "eval" / "predictions_raf_all.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == 3 and all(row["face_found"] == "1" for row in rows)
    for row in rows:
        face = max(analyzer.analyze_image(row["image"]).faces, key=lambda f: f.box[2] * f.box[3])
        assert row["answer"] == face.expression.label, row
    bad = _mimetic("evaluate", root, "--out", tmp_path / "eval2")  # numbered folders need a label map
    assert bad.exit_code == 1 and "--label-map" in bad.output


def test_posed_augment_makes_eight_crops_of_the_same_face(tiny_npz):
    from mimetic.train.posed import augment

    crop = cv2.resize(np.load(tiny_npz)["images"][0], (64, 64), interpolation=cv2.INTER_CUBIC)
    out = augment(crop, np.random.default_rng(0))
    assert len(out) == 8 and all(o.shape == crop.shape and o.dtype == np.uint8 for o in out)
    assert np.array_equal(out[0], crop[:, ::-1])  # the mirror
    for o in out[1:]:  # each copy changed the crop but kept the face: still well correlated with it
        assert not np.array_equal(o, crop)
        assert np.corrcoef(o.ravel().astype(float), crop.ravel().astype(float))[0, 1] > 0.8


def test_posed_refuses_a_refitted_base(tmp_path):
    """`mimetic train posed` starts from the exported ensemble; a file whose heads were refitted already (the
    shipped one) is refused before any data is read."""
    from mimetic.expression.fusion import MODELS_DIR
    from mimetic.train import heads as hd

    refitted = hd.write_heads(MODELS_DIR / "expression.onnx", tmp_path / "x.onnx",
                              hd.heads_of(MODELS_DIR / "expression.onnx"), recipe={"base": "x"})
    r = _mimetic("train", "posed", "--cnn", refitted, "--data", tmp_path / "none.npz", "--mix",
                 tmp_path / "none.npz", "--out", tmp_path / "out")
    assert r.exit_code == 1 and "refitted already" in r.output
    assert not (tmp_path / "out" / "cv.json").exists()


def test_domain_augmentation_blurs_sharpens_and_adds_noise(tiny_npz):
    """The domain-gap augmentation (off by default): each part does what it says on a real crop, draws only from
    the generator, and the default augmentation is unchanged by it."""
    torch = pytest.importorskip("torch")
    from mimetic.train.loop import DOMAIN, AugConfig, _gaussian, augment

    crop = cv2.resize(np.load(tiny_npz)["images"][0], (64, 64), interpolation=cv2.INTER_CUBIC)  # a real face
    x = torch.from_numpy(np.repeat(crop[None, None].astype(np.float32), 4, axis=0))
    lap = lambda t: float((t[..., 1:, :] - t[..., :-1, :]).abs().mean())  # noqa: E731 — edge energy
    blurred = _gaussian(x, torch.full((4,), 1.2))
    assert blurred.shape == x.shape and lap(blurred) < 0.7 * lap(x)
    assert abs(float(blurred.mean()) - float(x.mean())) < 0.5  # a blur moves no brightness
    still = dict(flip=0.0, rotate=0.0, scale=(1.0, 1.0), shift=0.0, brightness=0.0, contrast=(1.0, 1.0),
                 gamma=(1.0, 1.0), resample=0.0, erase=0.0)
    sharp = augment(x, AugConfig(**still, sharpen=1.0), torch.Generator().manual_seed(0))
    noisy = augment(x, AugConfig(**still, noise=1.0), torch.Generator().manual_seed(0))
    assert lap(sharp) > 1.2 * lap(x) and 2.0 <= float((noisy - x).std()) <= 10.5
    assert sharp.min() >= 0 and sharp.max() <= 255 and noisy.min() >= 0 and noisy.max() <= 255
    a = augment(x, AugConfig(**DOMAIN), torch.Generator().manual_seed(3))
    b = augment(x, AugConfig(**DOMAIN), torch.Generator().manual_seed(3))
    assert torch.equal(a, b)  # every draw from the generator: runs stay reproducible
    assert (AugConfig().blur, AugConfig().sharpen, AugConfig().noise) == (0.0, 0.0, 0.0)  # off by default
    g = torch.Generator().manual_seed(3)
    plain = augment(x, AugConfig(), g)
    # switched off, the new parts draw nothing from the generator (so recorded runs replay exactly); on, they do
    for part in ("blur", "sharpen", "noise"):
        g2 = torch.Generator().manual_seed(3)
        augment(x, AugConfig(**{part: 1e-9}), g2)
        assert not torch.equal(g.get_state(), g2.get_state()), part
    assert not torch.equal(plain, a)  # and switched on they change the crops


def test_merge_adds_a_network_to_an_exported_ensemble(tiny_npz, cache_dir, tmp_path):
    """`mimetic train merge`: an exported two-network ensemble and a third network exported alone become one file
    whose answer is the mean of all three (each member weighs the same), whose three heads the heads refit finds
    and rewrites, without any float checkpoint of the first two."""
    from mimetic.expression.model import ExpressionModel
    from mimetic.train.export import export_checkpoint, export_ensemble, merge_ensembles
    from mimetic.train.heads import heads_of, penultimate, write_heads
    from mimetic.train.loop import fit, model_from_checkpoint, predict_aux_probs, predict_probs
    from mimetic.train.run import load_training_data

    td, _ = load_training_data(tiny_npz, size=SIZE, cache_dir=cache_dir, progress=False, aux_labels="fer2013")
    runs = [fit(td, _cfg(tmp_path / f"m{k}", epochs=1, seed=k), echo=lambda s: None)["last"] for k in (1, 2, 3)]
    pair = export_ensemble(runs[:2], tmp_path / "pair.onnx")[0]
    third = export_checkpoint(runs[2], tmp_path / "third.onnx")[0]
    r = _mimetic("train", "merge", pair, third, "--out", tmp_path / "three.onnx")
    assert r.exit_code == 0, r.output
    assert "merged 3 members" in r.output
    m = ExpressionModel(tmp_path / "three.onnx")
    nets = [model_from_checkpoint(c)[0] for c in runs]
    x = td.valid_x
    assert np.abs(m.predict(x) - np.mean([predict_probs(n, x) for n in nets], axis=0)).max() <= 1e-4
    assert np.abs(m.predict_aux(x) - np.mean([predict_aux_probs(n, x) for n in nets], axis=0)).max() <= 1e-4
    assert json.loads(m.metadata["ensemble_members"]) == [str(c) for c in runs]
    heads = heads_of(tmp_path / "three.onnx")
    assert len(heads) == 3 and np.allclose(heads[2][0], nets[2].fc.weight.detach().numpy())
    assert penultimate(tmp_path / "three.onnx", x).shape[0] == 3
    zeroed = write_heads(tmp_path / "three.onnx", tmp_path / "zero.onnx", [(0 * w, 0 * b) for w, b in heads])
    assert np.allclose(ExpressionModel(zeroed).predict(x), 1 / 8, atol=1e-5)  # every head is the one refitted
    other = tmp_path / "other.onnx"
    export_checkpoint(fit(_data(tiny_npz, cache_dir), _cfg(tmp_path / "plain", epochs=1, seed=5), echo=lambda s: None)
                      ["last"], other)
    with pytest.raises(ValueError, match="aux_classes"):  # a network without the FER2013 head does not fit
        merge_ensembles([pair, other], tmp_path / "bad.onnx")


def test_a_cv_folds_au_models_leave_out_every_coded_row_of_its_subjects(tmp_path, monkeypatch):
    """`mimetic train posed --au-cache`: a fold's AU models are fitted without any FACS-coded row of the fold's
    subjects (by subject, so a row the expression reader skipped cannot leak either), written once and reused."""
    from mimetic.train import aus
    from mimetic.train.posed import fold_au_model

    coded = tmp_path / "coded.npz"
    np.savez(coded, subject=np.array(["S1", "S2", "S1", "S3", "S2"]), facs_code=np.array(["1+2"] * 5))
    calls = []
    monkeypatch.setattr(aus, "fit_cached", lambda c, d, cache, keep, log: calls.append(keep.copy()) or {"aus": {}})
    path = fold_au_model(coded, "fer.npz", np.array(["S2"]), tmp_path / "cache", tmp_path / "fold0" / "au_model.json")
    assert path.is_file() and json.loads(path.read_text())["aus"] == {}
    assert len(calls) == 1 and calls[0].tolist() == [True, False, True, True, False]
    fold_au_model(coded, "fer.npz", np.array(["S2"]), tmp_path / "cache", path)
    assert len(calls) == 1  # reused, not fitted again

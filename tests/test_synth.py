"""Synthetic faces: the GAN's parts, exact resume, the ONNX generator, sample folders, mixing into training and the
measures (docs/synthetic.md). The shipped generator is checked against the figures its model card states."""

from __future__ import annotations

import json

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from test_train import SIZE, cache_dir, tiny_npz  # noqa: E402,F401 (module fixtures shared with the training tests)

CLASSES = ("neutral", "happiness", "surprise", "sadness", "anger", "disgust", "fear", "contempt")


def _small():
    from mimetic.synth.gan import GanConfig

    return GanConfig(classes=CLASSES, z_dim=16, g_widths=(32, 16, 8, 8), d_widths=(8, 8, 16, 32))


def test_generator_and_discriminator_shapes_and_class_conditioning():
    from mimetic.synth.gan import Discriminator, Generator, diff_augment

    torch.manual_seed(0)
    cfg = _small()
    g, d = Generator(cfg).eval(), Discriminator(cfg)
    z = torch.randn(4, cfg.z_dim)
    with torch.no_grad():
        a = g(z, torch.zeros(4, dtype=torch.long))
        b = g(z, torch.full((4,), 7, dtype=torch.long))
    assert a.shape == (4, 1, 48, 48) and float(a.abs().max()) <= 1.0
    with torch.no_grad():  # the class reaches the image through the conditional norms
        for m in g.norms:
            m.gain.weight[7] *= 1.5
        assert not torch.allclose(g(z, torch.full((4,), 7, dtype=torch.long)), b)
        assert torch.allclose(g(z, torch.zeros(4, dtype=torch.long)), a)
    x = torch.rand(4, 1, 48, 48, requires_grad=True)
    score = d(diff_augment(x * 2 - 1, torch.Generator().manual_seed(0)), torch.arange(4))
    assert score.shape == (4,)
    score.sum().backward()
    assert x.grad is not None and float(x.grad.abs().sum()) > 0  # the augmentation is differentiable


def _fake_data(monkeypatch, n=96):
    import mimetic.synth.train as st

    rng = np.random.default_rng(0)
    y = np.arange(n) % len(CLASSES)
    x = np.clip(rng.normal(100 + 10 * y[:, None, None], 20, (n, 48, 48)), 0, 255).astype(np.uint8)
    monkeypatch.setattr(st, "load_gan_data", lambda *a, **k: (CLASSES, x, y))


def test_gan_training_resumes_exactly_and_exports_onnx(monkeypatch, tmp_path):
    import onnxruntime as ort

    from mimetic.synth.gan import GanTrainConfig
    from mimetic.synth.train import train_gan

    _fake_data(monkeypatch)

    def cfg(out):
        return GanTrainConfig(out_dir=str(out), steps=4, batch_size=8, threads=1, seed=5, sample_every=2,
                              checkpoint_minutes=0)

    whole = train_gan("fake", tmp_path / "a", cfg(tmp_path / "a"), gan=_small(), progress=False, echo=lambda s: None)
    assert whole["steps"] == 4 and (tmp_path / "a" / "generator.onnx").is_file()
    c = cfg(tmp_path / "b")
    c.steps = 2
    train_gan("fake", tmp_path / "b", c, gan=_small(), progress=False, echo=lambda s: None)
    with pytest.raises(ValueError, match="other data or another architecture"):
        from mimetic.synth.gan import GanConfig

        train_gan("fake", tmp_path / "b", cfg(tmp_path / "b"), gan=GanConfig(classes=CLASSES), resume=True,
                  progress=False, echo=lambda s: None)
    train_gan("fake", tmp_path / "b", cfg(tmp_path / "b"), gan=_small(), resume=True, progress=False,
              echo=lambda s: None)
    a = torch.load(tmp_path / "a" / "last.pt", weights_only=False)
    b = torch.load(tmp_path / "b" / "last.pt", weights_only=False)
    for part in ("G", "D", "G_ema"):
        for k, v in a[part].items():
            assert torch.equal(v, b[part][k]), (part, k)
    assert sorted(p.name for p in (tmp_path / "a" / "samples").glob("*.png")) == ["step-000002.png",
                                                                               "step-000004.png"]
    sess = ort.InferenceSession(str(tmp_path / "a" / "generator.onnx"), providers=["CPUExecutionProvider"])
    meta = sess.get_modelmeta().custom_metadata_map
    assert json.loads(meta["classes"]) == list(CLASSES) and meta["z_dim"] == "16" and meta["steps"] == "4"


def test_sample_folder_round_trip_and_training_mix(monkeypatch, tmp_path, tiny_npz, cache_dir):  # noqa: F811
    from mimetic.synth.gan import GanTrainConfig
    from mimetic.synth.sample import FaceGenerator, read_synthetic, write_samples
    from mimetic.synth.train import train_gan
    from mimetic.train.run import load_training_data

    _fake_data(monkeypatch)
    train_gan("fake", tmp_path / "g", GanTrainConfig(out_dir=str(tmp_path / "g"), steps=1, batch_size=8, threads=1),
              gan=_small(), progress=False, echo=lambda s: None)
    onnx = tmp_path / "g" / "generator.onnx"
    gen = FaceGenerator.load(onnx)
    a = gen.generate("disgust", 5, seed=1)
    assert a.shape == (5, 64, 64) and a.dtype == np.uint8
    assert np.array_equal(a, gen.generate("disgust", 5, seed=1)) and not np.array_equal(a, gen.generate(
        "disgust", 5, seed=2))
    with pytest.raises(ValueError, match="not a class"):
        gen.generate("boredom", 1)
    out = tmp_path / "samples"
    write_samples(out, 3, ["disgust", "Contempt"], generator=onnx, progress=False)
    m = write_samples(out, 2, ["disgust"], generator=onnx, seed=1, progress=False)  # a second seed adds faces
    assert m["counts"] == {"disgust": 5, "contempt": 3}
    x, y = read_synthetic(out, CLASSES)
    assert x.shape == (8, 64, 64) and sorted(np.bincount(y, minlength=8)[[5, 7]].tolist()) == [3, 5]
    with pytest.raises(ValueError, match="synthetic.json"):
        read_synthetic(tmp_path / "g", CLASSES)
    from test_train import _mimetic

    r = _mimetic("synth", "sample", "--generator", onnx, "--class", "fear", "--n", "2", "--out", tmp_path / "cli", "-q")
    assert r.exit_code == 0, r.output
    assert len(list((tmp_path / "cli" / "fear").glob("*.png"))) == 2 and "fear 2" in r.output
    r = _mimetic("synth", "sample", "--generator", onnx, "--class", "boredom", "--out", tmp_path / "cli", "-q")
    assert r.exit_code == 1 and "not a class" in r.output
    real, _ = load_training_data(tiny_npz, size=SIZE, cache_dir=cache_dir, progress=False)
    mixed, _ = load_training_data(tiny_npz, size=SIZE, cache_dir=cache_dir, progress=False, synthetic=out,
                                  synthetic_weight=0.5)
    assert len(mixed.train_x) == len(real.train_x) + 8 and mixed.train_x.shape[1:] == (SIZE, SIZE)
    extra = mixed.train_y[len(real.train_y):]
    assert np.allclose(extra.sum(1), 0.5) and set(extra.argmax(1)) == {5, 7}  # one-hot × weight
    assert len(mixed.valid_x) == len(real.valid_x)  # validation stays real


def test_frechet_distance_and_nearest_neighbours():
    from mimetic.synth.measures import fd_ratio, frechet_distance, nearest_distances

    rng = np.random.default_rng(0)
    a = rng.normal(size=(4000, 3))
    assert frechet_distance(a, a) == pytest.approx(0, abs=1e-6)
    assert frechet_distance(a, a + [2.0, 0, 0]) == pytest.approx(4.0, rel=1e-6)
    assert frechet_distance(a, a * 2) == pytest.approx(3 * 1.0, rel=0.1)  # trace terms: 1 + 4 − 2·2 per axis
    r = fd_ratio(rng.normal(size=(500, 3)) + 1, rng.normal(size=(300, 3)), rng.normal(size=(300, 3)), draws=3)
    assert r["n"] == 300 and r["ratio"] > 20
    pool = rng.integers(0, 255, (50, 8, 8)).astype(np.uint8)
    d, i = nearest_distances(np.stack([pool[7], 255 - pool[3]]), pool)
    assert i[0] == 7 and d[0] == pytest.approx(0, abs=1e-3) and d[1] > 0.5


def test_shipped_generator_makes_faces_of_its_classes():
    """The model card's class fidelity (the shipped CNN's accuracy on generated faces), on a small draw."""
    from mimetic.expression.model import ExpressionModel
    from mimetic.synth.sample import DEFAULT_GENERATOR, FaceGenerator

    if not DEFAULT_GENERATOR.is_file():
        pytest.skip("no shipped generator")
    gen = FaceGenerator.load()
    assert gen.classes == CLASSES and gen.size == 48
    cnn = ExpressionModel()
    accs = [float((cnn.predict(gen.generate(k, 40, seed=11)).argmax(1) == k).mean()) for k in range(8)]
    card = json.loads((DEFAULT_GENERATOR.parent / "face_generator.json").read_text())
    assert np.mean(accs) == pytest.approx(card["mean_classifier_accuracy"], abs=0.08)


def test_effect_runs_each_arm_and_seed_and_pairs_them(monkeypatch, tmp_path, tiny_npz, cache_dir):  # noqa: F811
    from mimetic.synth.effect import augmentation_effect, effect_markdown
    from mimetic.synth.gan import GanTrainConfig
    from mimetic.synth.sample import write_samples
    from mimetic.synth.train import train_gan

    _fake_data(monkeypatch)
    train_gan("fake", tmp_path / "g", GanTrainConfig(out_dir=str(tmp_path / "g"), steps=1, batch_size=8, threads=1),
              gan=_small(), progress=False, echo=lambda s: None)
    write_samples(tmp_path / "s", 4, ["contempt"], generator=tmp_path / "g" / "generator.onnx", progress=False)
    import mimetic.train.run as run

    real_train = run.train
    monkeypatch.setattr(run, "train", lambda *a, **k: real_train(*a, **{**k, "size": SIZE, "batch_size": 16}))
    arms = {"real": None, "rare": str(tmp_path / "s")}
    lines: list[str] = []
    r = augmentation_effect(tiny_npz, tmp_path / "e", arms, seeds=2, epochs=1, widths=(8, 8, 16, 16),
                            cache_dir=cache_dir, echo=lines.append)
    assert sorted(r["runs"]["rare"]) == ["0", "1"] and len(lines) == 8
    s = r["summary"]
    acc = [r["runs"]["rare"][k]["test"]["accuracy"] - r["runs"]["real"][k]["test"]["accuracy"] for k in ("0", "1")]
    assert s["rare"]["test_minus_real"]["accuracy"]["mean"] == pytest.approx(np.mean(acc), abs=1e-4)
    assert s["real"]["test"]["macro_f1"]["sd"] >= 0 and "test_minus_real" not in s["real"]
    assert "rare − real (paired)" in effect_markdown(r)
    again = augmentation_effect(tiny_npz, tmp_path / "e", arms, seeds=2, epochs=1, cache_dir=cache_dir,
                                echo=lines.append)  # finished runs are read back, not repeated
    assert len(lines) == 8 and again["summary"] == r["summary"]

"""Expression: the geometric features and model, the fusion, the inference integration and the shipped model.

The shipped-model tests run against whatever ``src/mimetic/models/expression.onnx`` is there and are skipped (with
the reason) only when none is shipped yet. Integration tests use a small CNN-shaped ONNX file made here (needs the
``onnx`` package of the train extra).
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest

from testdata import IMAGES
from mimetic.expression import fusion as fusion_mod
from mimetic.expression.fusion import Fusion, FusedExpression, file_sha256, fuse
from mimetic.expression.geometric import (FEATURE_NAMES, MIRROR_PERM, N_FEATURES, PREFIX, GeometricModel,
                                          geometric_features, mirror_features)
from mimetic.expression.geometric import default_path as geo_path
from mimetic.expression.model import default_path as cnn_path
from mimetic.media.images import read_image
from mimetic.types import EXPRESSIONS

# the shipped files (or candidates named by $MIMETIC_EXPRESSION_MODEL, $MIMETIC_GEOMETRIC_MODEL, $MIMETIC_FUSION)
CNN_PATH, GEO_PATH = cnn_path(), geo_path()
SHIPPED = CNN_PATH.is_file()
needs_shipped = pytest.mark.skipif(not SHIPPED, reason=f"no expression model shipped yet ({CNN_PATH} is missing; "
                                                       "ship one with mimetic train ship)")
needs_geo = pytest.mark.skipif(not GEO_PATH.is_file(), reason=f"no geometric model at {GEO_PATH}")


@pytest.fixture(scope="module")
def photos(analyzer):
    """name -> (rgb, largest face) for the fixture photos and the mirrored astronaut."""
    out = {}
    for name in ("astronaut_nasa", "biden_portrait", "obama_portrait", "single_face"):
        rgb = read_image(IMAGES / f"{name}.jpg")
        faces = analyzer.analyze_array(rgb).faces
        out[name] = (rgb, max(faces, key=lambda f: f.box[2] * f.box[3]))
    for name in ("astronaut_nasa", "biden_portrait"):
        rgb = np.ascontiguousarray(out[name][0][:, ::-1])
        faces = analyzer.analyze_array(rgb).faces
        out[name.split("_")[0] + "_mirrored"] = (rgb, max(faces, key=lambda f: f.box[2] * f.box[3]))
    return out


def _cnn_onnx(path, weights: np.ndarray, bias: np.ndarray, size: int = 64, classes=EXPRESSIONS):
    """A CNN-shaped ONNX file (crops (N, 1, S, S) → probs (N, C)): softmax(flatten(crops) @ weights + bias)."""
    onnx = pytest.importorskip("onnx")
    from onnx import TensorProto, helper, numpy_helper

    nodes = [helper.make_node("Flatten", ["crops"], ["flat"], axis=1),
             helper.make_node("MatMul", ["flat", "W"], ["mm"]),
             helper.make_node("Add", ["mm", "B"], ["logits"]),
             helper.make_node("Softmax", ["logits"], ["probs"], axis=1)]
    graph = helper.make_graph(
        nodes, "synthetic", [helper.make_tensor_value_info("crops", TensorProto.FLOAT, ["n", 1, size, size])],
        [helper.make_tensor_value_info("probs", TensorProto.FLOAT, ["n", len(classes)])],
        [numpy_helper.from_array(weights.astype(np.float32), "W"), numpy_helper.from_array(bias.astype(np.float32), "B")])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=8)
    model.ir_version = 8
    for k, v in {"classes": json.dumps(list(classes)), "crop_size": str(size), "crop_detail": ""}.items():
        e = model.metadata_props.add()
        e.key, e.value = k, v
    onnx.save(model, str(path))
    return path


@pytest.fixture(scope="module")
def smile_cnn(tmp_path_factory):
    """A synthetic 'CNN': happiness grows with the mean brightness of the lower middle of the crop."""
    w = np.zeros((64 * 64, 8), np.float32)
    mask = np.zeros((64, 64), np.float32)
    mask[44:56, 20:44] = 1.0
    w[:, 1] = mask.ravel() / mask.sum() * 0.05
    b = np.zeros(8, np.float32)
    b[0] = 3.0
    return _cnn_onnx(tmp_path_factory.mktemp("cnn") / "expression.onnx", w, b)


# -- geometric features ----------------------------------------------------------------------------------------
def test_feature_layout_and_mirror_map():
    assert len(FEATURE_NAMES) == N_FEATURES == 24 * 2 + 52 + 68 * 2 + 3 + 24 * 2
    assert PREFIX == {1: 239, 2: N_FEATURES} and FEATURE_NAMES[PREFIX[1]] == "est_AU01_l"  # v2 appends to v1
    assert len(set(FEATURE_NAMES)) == N_FEATURES
    assert np.array_equal(MIRROR_PERM[MIRROR_PERM], np.arange(N_FEATURES))  # an involution
    x = np.random.default_rng(0).normal(size=(3, N_FEATURES)).astype(np.float32)
    assert np.allclose(mirror_features(mirror_features(x)), x)
    names = list(FEATURE_NAMES)
    m = mirror_features(np.eye(N_FEATURES, dtype=np.float32)[names.index("bs_mouthSmileLeft")])
    assert m[names.index("bs_mouthSmileRight")] == 1.0
    m = mirror_features(np.eye(N_FEATURES, dtype=np.float32)[names.index("x_48")])  # right mouth corner, x
    assert m[names.index("x_54")] == -1.0
    m = mirror_features(np.eye(N_FEATURES, dtype=np.float32)[names.index("est_AU04_l")])
    assert m[names.index("est_AU04_r")] == 1.0 and m.sum() == 1.0


def test_geometric_features_read_the_reported_aus(photos):
    """Version 2's ``est_`` block is what the analyzer reports without a baseline: the fitted AUs read the texture
    crop when one is given."""
    from mimetic.facs.catalogue import FRAME_AUS
    from mimetic.facs.estimate import estimate_aus
    from mimetic.facs.texture import face_crop

    rgb, face = photos["astronaut_nasa"]
    crop = face_crop(rgb, face)
    x = geometric_features(face, crop=crop)
    aus = estimate_aus(face, crop=crop)
    est = x[PREFIX[1]:].reshape(len(FRAME_AUS), 2)
    assert np.allclose(est, [(aus[a].left, aus[a].right) for a in FRAME_AUS], atol=1e-6)
    assert np.array_equal(x[:PREFIX[1]], geometric_features(face)[:PREFIX[1]])  # version 1's part reads no pixels
    assert est[FRAME_AUS.index("AU12")].min() >= 2  # the smile, as reported


def test_a_version_1_model_reads_its_prefix(tmp_path):
    onnx = pytest.importorskip("onnx")
    from onnx import TensorProto, helper, numpy_helper

    w = np.random.default_rng(1).normal(size=(PREFIX[1], 8)).astype(np.float32)
    graph = helper.make_graph(
        [helper.make_node("MatMul", ["features", "w"], ["z"]), helper.make_node("Softmax", ["z"], ["probs"], axis=1)],
        "v1", [helper.make_tensor_value_info("features", TensorProto.FLOAT, ["n", PREFIX[1]])],
        [helper.make_tensor_value_info("probs", TensorProto.FLOAT, ["n", 8])], [numpy_helper.from_array(w, "w")])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=8)
    for k, v in {"feature_version": "1", "n_features": str(PREFIX[1])}.items():
        model.metadata_props.add(key=k, value=v)
    onnx.save(model, tmp_path / "v1.onnx")
    x = np.random.default_rng(2).normal(size=(3, N_FEATURES)).astype(np.float32)
    z = x[:, :PREFIX[1]] @ w
    want = np.exp(z - z.max(1, keepdims=True))
    assert np.allclose(GeometricModel(tmp_path / "v1.onnx").predict(x), want / want.sum(1, keepdims=True), atol=1e-5)


def test_geometric_features_on_photos(photos):
    for name, (_, face) in photos.items():
        x = geometric_features(face)
        assert x.shape == (N_FEATURES,) and x.dtype == np.float32 and np.all(np.isfinite(x)), name
        pts = x[FEATURE_NAMES.index("x_0"):FEATURE_NAMES.index("y_67") + 1].reshape(68, 2)
        # frontal frame in inter-ocular units: eye corners near x = ±0.5..±0.9, mouth below the eyes
        assert -1.2 < pts[36, 0] < -0.6 and 0.6 < pts[45, 0] < 1.2, name
        assert pts[57, 1] < -0.8, name
    smile = geometric_features(photos["astronaut_nasa"][1])
    assert smile[FEATURE_NAMES.index("au_AU12_l")] >= 2 and smile[FEATURE_NAMES.index("au_AU12_r")] >= 2
    # a mirrored photo gives (nearly) the mirrored feature vector
    a = mirror_features(smile)
    b = geometric_features(photos["astronaut_mirrored"][1])
    pts = slice(FEATURE_NAMES.index("x_0"), FEATURE_NAMES.index("y_67") + 1)
    assert np.abs(a[pts] - b[pts]).mean() < 0.03


@needs_geo
def test_geometric_model_is_mirror_symmetric_and_reads_a_smile(photos):
    model = GeometricModel()
    assert model.classes == EXPRESSIONS
    x = np.stack([geometric_features(f) for _, f in photos.values()])
    p = model.predict(x)
    assert p.shape == (len(x), 8) and np.allclose(p.sum(1), 1, atol=1e-5)
    assert np.allclose(model.predict(mirror_features(x)), p, atol=1e-5)  # symmetric by construction
    scores = model.classify_face(photos["astronaut_nasa"][1])
    assert max(scores, key=scores.get) == "happiness"


def test_geometric_export_matches_torch(tmp_path):
    torch = pytest.importorskip("torch")
    pytest.importorskip("onnx")
    torch.set_num_threads(1)
    from mimetic.train.geometric import _export_module, build_mlp, check_geometric_agreement, export_geometric

    rng = np.random.default_rng(0)
    x = rng.normal(size=(16, N_FEATURES)).astype(np.float32)
    module = _export_module(build_mlp(N_FEATURES, 8, (16,), 0.0), x.mean(0), x.std(0) + 0.5)
    path = export_geometric(module, tmp_path / "g.onnx", classes=EXPRESSIONS)
    assert check_geometric_agreement(module, path, x) <= 1e-5
    m = GeometricModel(path)
    assert np.allclose(m.predict(x), m.predict(mirror_features(x)), atol=1e-6)


# -- fusion ----------------------------------------------------------------------------------------------------
def test_fusion_math():
    rng = np.random.default_rng(1)
    pc = rng.dirichlet(np.ones(8), size=20).astype(np.float32)
    pg = rng.dirichlet(np.ones(8), size=20).astype(np.float32)
    assert np.allclose(fuse(pc, pg, 0.0), pc, atol=1e-6)
    assert np.allclose(fuse(pc, pg, 1.0), pg, atol=1e-6)
    for w, s in ((0.3, 1.0), (0.7, 2.5)):
        p = fuse(pc, pg, w, s, bias=rng.normal(size=8))
        assert p.shape == pc.shape and np.allclose(p.sum(1), 1, atol=1e-6) and np.all(p >= 0)
    # equal weights without bias: the normalised geometric mean
    g = np.sqrt(pc * pg)
    assert np.allclose(fuse(pc, pg, 0.5), g / g.sum(1, keepdims=True), atol=1e-6)
    assert np.allclose(fuse(pc[0], pg[0], 0.0), pc[0], atol=1e-6)  # one row works too
    f = Fusion(classes=EXPRESSIONS, weight=0.4, scale=1.3, bias=tuple(np.arange(8) * 0.1), mode="fused",
               cnn_sha256="a" * 64, info={"n": 3})
    assert Fusion.from_dict(json.loads(json.dumps(f.to_dict()))) == f
    with pytest.raises(ValueError):
        Fusion.from_dict({**f.to_dict(), "mode": "both"})


def test_aux_fusion_follows_its_validation_decision():
    rng = np.random.default_rng(3)
    pa = rng.dirichlet(np.ones(7), size=10).astype(np.float32)
    pg = rng.dirichlet(np.ones(8), size=10).astype(np.float32)
    aux = {"classes": list(EXPRESSIONS[:7]), "weight": 0.5, "scale": 1.0, "bias": None}
    fused = Fusion(classes=EXPRESSIONS, weight=0.2, aux={**aux, "mode": "fused"}).apply_aux(pa, pg)
    head = Fusion(classes=EXPRESSIONS, weight=0.2, aux={**aux, "mode": "head"}).apply_aux(pa, pg)
    legacy = Fusion(classes=EXPRESSIONS, weight=0.2, aux=aux).apply_aux(pa, pg)  # written before the decision
    g = pg[:, :7] / pg[:, :7].sum(1, keepdims=True)
    assert np.allclose(fused, fuse(pa, g, 0.5), atol=1e-6) and np.allclose(legacy, fused)
    assert np.allclose(head, pa) and not np.allclose(fused, pa, atol=1e-3)


def test_fit_recovers_a_known_fusion():
    pytest.importorskip("scipy")
    from mimetic.train.fuse import fit_params

    rng = np.random.default_rng(2)
    n = 4000
    pc = rng.dirichlet(np.full(8, 0.5), size=n)
    pg = rng.dirichlet(np.full(8, 0.5), size=n)
    truth = fuse(pc, pg, 0.7, 1.5)
    y = np.eye(8)[[rng.choice(8, p=p / p.sum()) for p in truth.astype(np.float64)]]
    w, s, b = fit_params(pc, pg, y, bias=False)
    assert abs(w - 0.7) < 0.08 and abs(s - 1.5) < 0.25
    w, s, b = fit_params(pc, pc, y, bias=True)  # two copies of one model: any weight, bias near 0
    assert b is not None and abs(b.mean()) < 1e-9


# -- inference integration -------------------------------------------------------------------------------------
def _fresh(face):
    return dataclasses.replace(face, expression=None)


def test_many_crops_are_predicted_in_batches(smile_cnn, monkeypatch):
    from mimetic.expression import model as model_mod

    m = model_mod.ExpressionModel(smile_cnn)
    crops = np.random.default_rng(4).integers(0, 256, (11, 64, 64), dtype=np.uint8)
    one_by_one = np.concatenate([m.predict(c[None]) for c in crops])
    monkeypatch.setattr(model_mod, "BATCH", 4)  # 11 crops: three calls of 4, 4 and 3
    calls = []
    real_run = m._session.run
    monkeypatch.setattr(m._session, "run", lambda *a, **k: calls.append(1) or real_run(*a, **k), raising=False)
    got = m.predict(crops)
    assert len(calls) == 3 and got.shape == (11, 8)
    assert np.allclose(got, one_by_one, atol=1e-6)


def test_enrich_uses_the_model_and_keeps_prototypes(photos, smile_cnn, monkeypatch, tmp_path):
    from mimetic import Analyzer
    from mimetic.schema import validate
    from mimetic.stages import enrich_face
    from mimetic.types import FrameResult

    rgb, face = photos["astronaut_nasa"]
    monkeypatch.setenv("MIMETIC_EXPRESSION_MODEL", str(smile_cnn))
    monkeypatch.setenv("MIMETIC_FUSION", str(tmp_path / "none.json"))
    analyzer = Analyzer()  # the environment is read here, once
    monkeypatch.delenv("MIMETIC_EXPRESSION_MODEL")
    model = analyzer.expression_model
    assert model is not None and model.mode == "cnn" and analyzer.expression_model is model  # loaded once
    assert model.cnn.path == smile_cnn
    # each analyzer owns its model; with the stage off nothing is loaded
    assert Analyzer(expression_model=smile_cnn).expression_model is not model
    assert Analyzer(stages={"landmarks", "aus"}).expression_model is None
    out = enrich_face(_fresh(face), rgb, expression_model=model)
    direct = model.cnn.classify_face(rgb, face)
    assert out.expression.scores == pytest.approx(direct, abs=1e-6)
    assert out.expression.label == max(direct, key=direct.get)
    assert set(out.expression.prototypes) == set(EXPRESSIONS)
    assert max(out.expression.prototypes, key=out.expression.prototypes.get) == "happiness"
    doc = json.loads(json.dumps(FrameResult("a.jpg", rgb.shape[1], rgb.shape[0], (out,)).to_dict(landmarks=False)))
    assert "prototypes" in doc["faces"][0]["expression"]
    validate(doc)
    # without the image there is no crop: the prototype scores, as before
    assert enrich_face(_fresh(face)).expression.prototypes is None


@needs_geo
def test_fused_inference_follows_the_json(photos, smile_cnn, monkeypatch, tmp_path):
    from mimetic.stages import enrich_face

    rgb, face = photos["astronaut_nasa"]
    f = Fusion(classes=EXPRESSIONS, weight=0.5, scale=1.0, bias=None, mode="fused",
               cnn_sha256=file_sha256(smile_cnn), geometric_sha256=file_sha256(GEO_PATH))
    good = f.save(tmp_path / "fusion.json")
    monkeypatch.setenv("MIMETIC_EXPRESSION_MODEL", str(smile_cnn))
    monkeypatch.setenv("MIMETIC_FUSION", str(good))
    from mimetic import Analyzer

    model = Analyzer().expression_model
    assert model.mode == "fused", model.reason
    pc = model.cnn.predict(model.cnn.crop(rgb, face)[None])
    from mimetic.facs.texture import face_crop

    # the geometric model reads the AUs as the analyzer reports them: the fitted ones from the texture crop
    pg = GeometricModel().predict(geometric_features(face, crop=face_crop(rgb, face))[None])
    out = enrich_face(_fresh(face), rgb, expression_model=model)
    assert np.allclose([out.expression.scores[c] for c in EXPRESSIONS], fuse(pc, pg, 0.5)[0], atol=1e-5)
    # a fusion fitted for another CNN is not applied
    bad = dataclasses.replace(f, cnn_sha256="0" * 64).save(tmp_path / "bad.json")
    with pytest.warns(UserWarning, match="not the CNN the fusion was fitted for"):
        m = FusedExpression(smile_cnn, GEO_PATH, bad)
    assert m.mode == "cnn"
    # ship decided the CNN alone: no warning, CNN alone
    alone = FusedExpression(smile_cnn, GEO_PATH, dataclasses.replace(f, mode="cnn").save(tmp_path / "c.json"))
    assert alone.mode == "cnn" and alone.geometric is None


def test_broken_model_file_falls_back_to_prototypes(photos, monkeypatch, tmp_path):
    from mimetic.stages import enrich_face

    rgb, face = photos["astronaut_nasa"]
    junk = tmp_path / "expression.onnx"
    junk.write_bytes(b"not an onnx file")
    monkeypatch.setenv("MIMETIC_EXPRESSION_MODEL", str(junk))
    from mimetic import Analyzer

    with pytest.warns(UserWarning, match="could not be loaded"):
        model = Analyzer().expression_model
    out = enrich_face(_fresh(face), rgb, expression_model=model)
    assert out.expression.label == "happiness" and out.expression.prototypes is None


# -- CLI -------------------------------------------------------------------------------------------------------
def test_train_and_evaluate_commands(monkeypatch, tmp_path):
    import importlib.util

    from typer.testing import CliRunner

    from mimetic.cli import app

    runner = CliRunner()
    for cmd in (["train", "fit"], ["evaluate"], ["explain"]):
        r = runner.invoke(app, [*cmd, "--help"])
        assert r.exit_code == 0 and "--out" in r.output, r.output
    r = runner.invoke(app, ["train", "fit", "--help"])
    for opt in ("--classes", "--epochs", "--batch-size", "--lr", "--threads", "--resume", "--seed", "--format"):
        assert opt in r.output
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "torch" else real(name, *a))
    r = runner.invoke(app, ["train", "fit", str(tmp_path / "x.npz"), "--out", str(tmp_path / "run")])
    assert r.exit_code == 1 and "install the train extra: pip install -e '.[train]'" in r.output
    r = runner.invoke(app, ["train", "fit", str(tmp_path / "x.npz"), "--out", str(tmp_path / "run"), "--format",
                            "xml"])
    assert r.exit_code == 2


# -- the shipped model (skipped until one is shipped) ----------------------------------------------------------
@needs_shipped
def test_shipped_astronaut_is_happy(photos):
    face = photos["astronaut_nasa"][1]  # analysed by the Analyzer, i.e. with the shipped model
    assert face.expression.label == "happiness", face.expression.scores
    assert face.expression.scores["happiness"] > 0.5
    assert face.expression.prototypes is not None


@needs_shipped
def test_shipped_neutral_portrait_is_not_happy(photos):
    e = photos["biden_portrait"][1].expression
    assert e.label != "happiness" and e.scores["happiness"] < 0.15, e.scores


@needs_shipped
def test_shipped_model_mirrored_face_scores_alike(photos):
    for name in ("astronaut", "biden"):
        a = photos["astronaut_nasa" if name == "astronaut" else "biden_portrait"][1].expression
        b = photos[f"{name}_mirrored"][1].expression
        assert a.label == b.label, (name, a.scores, b.scores)
        assert max(abs(a.scores[c] - b.scores[c]) for c in EXPRESSIONS) < 0.15, (name, a.scores, b.scores)


@needs_shipped
def test_shipped_fusion_matches_its_files():
    import os

    fpath = fusion_mod.default_fusion_path()
    if not fpath.is_file():
        pytest.skip("no fusion JSON shipped: the CNN runs alone")
    f = Fusion.load(fpath)
    assert f.cnn_sha256 == file_sha256(CNN_PATH)
    if f.mode == "fused":
        assert f.geometric_sha256 == file_sha256(GEO_PATH)
        assert FusedExpression().mode == "fused"


@needs_geo
def test_shipped_geometric_model_was_trained_with_the_shipped_au_models():
    """Feature version 2 reads the fitted AUs: refitting ``au_model.json`` without retraining the geometric model
    would shift its inputs silently."""
    from mimetic.expression.geometric import shipped_au_model_sha

    assert GeometricModel().au_model_sha256 == shipped_au_model_sha()


def test_geometric_model_warns_when_trained_with_other_au_models(tmp_path):
    torch = pytest.importorskip("torch")
    pytest.importorskip("onnx")
    torch.set_num_threads(1)
    from mimetic.train.geometric import _export_module, build_mlp, export_geometric

    x = np.random.default_rng(0).normal(size=(4, N_FEATURES)).astype(np.float32)
    module = _export_module(build_mlp(N_FEATURES, 8, (4,), 0.0), x.mean(0), x.std(0) + 0.5)
    path = export_geometric(module, tmp_path / "g.onnx", classes=EXPRESSIONS, metadata={"au_model_sha256": "0" * 64})
    with pytest.warns(RuntimeWarning, match="other AU models"):
        GeometricModel(path)


@needs_shipped
@needs_geo
def test_expression_reads_the_absolute_aus_whatever_the_baseline(photos, analyzer):
    """The geometric model reads the AUs as reported *without* a baseline: with one (the AUs then measure the change
    from it), the expression computes those itself and answers the same."""
    from mimetic.stages import enrich_face

    model = analyzer.expression_model
    assert model.mode == "fused", model.reason
    rgb, face = photos["astronaut_nasa"]
    base = photos["biden_portrait"][1]
    alone = enrich_face(_fresh(face), rgb, expression_model=model).expression.scores
    against = enrich_face(_fresh(face), rgb, baseline=base, expression_model=model).expression.scores
    assert alone == pytest.approx(against, abs=1e-6)
    assert max(alone, key=alone.get) == "happiness"

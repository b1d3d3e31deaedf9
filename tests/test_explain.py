"""Explanations: occlusion sensitivity (onnxruntime) and Grad-CAM (torch), mapped back onto the photo.

A synthetic CNN-shaped ONNX model made here (needs the ``onnx`` package of the train extra) reads only the mouth
region of the aligned crop, so the heatmap must peak on the mouth in image coordinates: that checks the occlusion
and the inverse crop transform without a trained network. The shipped-model test runs when a model is shipped.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from testdata import IMAGES
from mimetic.expression.crop import CROP_SIZE, alignment_matrix, align_crop
from mimetic.expression.explain import (crop_to_image, explain, occlusion_map, render_explanation,
                                        resolve_method)
from mimetic.expression.model import ExpressionModel, default_path
from mimetic.media.images import read_image
from mimetic.types import EXPRESSIONS

MOUTH = (13, 14, 61, 291)  # inner lips and mouth corners


@pytest.fixture(scope="module")
def astronaut(analyzer):
    rgb = read_image(IMAGES / "astronaut_nasa.jpg")
    return rgb, analyzer.analyze_array(rgb).faces[0]


def _mouth_window(face) -> tuple[slice, slice]:
    m = alignment_matrix(face.landmarks[:, :2], CROP_SIZE)
    pts = face.landmarks[list(MOUTH), :2] @ m[:, :2].T + m[:, 2]
    x0, y0 = np.floor(pts.min(0)).astype(int) - 2
    x1, y1 = np.ceil(pts.max(0)).astype(int) + 2
    return slice(max(y0, 0), min(y1, CROP_SIZE)), slice(max(x0, 0), min(x1, CROP_SIZE))


@pytest.fixture(scope="module")
def mouth_model(tmp_path_factory, astronaut):
    """happiness logit = correlation of the crop's mouth window with this face's mouth (+6 on the face itself)."""
    onnx = pytest.importorskip("onnx")
    from onnx import TensorProto, helper, numpy_helper

    rgb, face = astronaut
    ref = align_crop(rgb, face.landmarks[:, :2], CROP_SIZE).astype(np.float64)
    ys, xs = _mouth_window(face)
    w = np.zeros((CROP_SIZE, CROP_SIZE))
    w[ys, xs] = ref[ys, xs] - ref[ys, xs].mean()
    w *= 6.0 / float((w[ys, xs] * ref[ys, xs]).sum())
    W = np.zeros((CROP_SIZE * CROP_SIZE, 8), np.float32)
    W[:, 1] = w.ravel()
    b = np.zeros(8, np.float32)
    nodes = [helper.make_node("Flatten", ["crops"], ["flat"], axis=1), helper.make_node("MatMul", ["flat", "W"], ["mm"]),
             helper.make_node("Add", ["mm", "B"], ["logits"]), helper.make_node("Softmax", ["logits"], ["probs"], axis=1)]
    graph = helper.make_graph(
        nodes, "mouth", [helper.make_tensor_value_info("crops", TensorProto.FLOAT, ["n", 1, CROP_SIZE, CROP_SIZE])],
        [helper.make_tensor_value_info("probs", TensorProto.FLOAT, ["n", 8])],
        [numpy_helper.from_array(W, "W"), numpy_helper.from_array(b, "B")])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    for k, v in {"classes": json.dumps(list(EXPRESSIONS)), "crop_size": str(CROP_SIZE), "crop_detail": ""}.items():
        e = model.metadata_props.add()
        e.key, e.value = k, v
    path = tmp_path_factory.mktemp("mouth") / "expression.onnx"
    onnx.save(model, str(path))
    return path


def test_crop_to_image_inverts_the_alignment(astronaut):
    rgb, face = astronaut
    m = alignment_matrix(face.landmarks[:, :2], CROP_SIZE)
    for k in (4, 13, 33, 263):  # nose, lip, eye corners
        cx, cy = face.landmarks[k, :2] @ m[:, :2].T + m[:, 2]
        spot = np.zeros((CROP_SIZE, CROP_SIZE), np.float32)
        spot[int(round(cy)), int(round(cx))] = 1.0
        heat = crop_to_image(spot, face, rgb.shape)
        y, x = np.unravel_index(heat.argmax(), heat.shape)
        iod = np.linalg.norm(face.landmarks[263, :2] - face.landmarks[33, :2])
        assert np.hypot(x - face.landmarks[k, 0], y - face.landmarks[k, 1]) < 0.08 * iod, k


def test_occlusion_peaks_on_the_mouth(astronaut, mouth_model):
    rgb, face = astronaut
    model = ExpressionModel(mouth_model)
    assert model.classify_face(rgb, face)["happiness"] > 0.95
    heat = explain(rgb, face, method="occlusion", model=model)
    assert heat.shape == rgb.shape[:2] and heat.dtype == np.float32
    assert np.isfinite(heat).all() and heat.min() >= 0 and heat.max() == pytest.approx(1.0)
    x, y, w, h = face.box
    inside = heat[int(y):int(y + h), int(x):int(x + w)].sum()
    assert inside > 0.9 * heat.sum()  # the heat lies on the face
    ys, xs = np.nonzero(heat >= 0.5 * heat.max())
    centre = np.array([xs.mean(), ys.mean()])
    mouth = face.landmarks[list(MOUTH), :2].mean(0)
    iod = np.linalg.norm(face.landmarks[263, :2] - face.landmarks[33, :2])
    assert np.linalg.norm(centre - mouth) < 0.35 * iod, (centre, mouth)
    # the occlusion map itself: only patches over the mouth window lower the score
    crop = model.crop(rgb, face)
    cmap = occlusion_map(model.predict, crop, 1)
    wy, wx = _mouth_window(face)
    assert cmap[wy, wx].mean() > 5 * cmap[:20].mean()


def test_render_explanation(astronaut, mouth_model):
    rgb, face = astronaut
    heat = explain(rgb, face, method="occlusion", model=mouth_model)
    pic = render_explanation(rgb, face, heat, label="happiness", score=0.93)
    assert pic.shape == rgb.shape and pic.dtype == np.uint8
    hot = heat > 0.5
    assert np.abs(pic[hot].astype(int) - rgb[hot]).mean() > 20  # coloured where the heat is
    assert np.abs(pic[400:, :].astype(int) - rgb[400:, :]).max() == 0  # untouched away from the face
    with pytest.raises(ValueError):
        render_explanation(rgb, face, heat[:10])


def test_method_resolution(tmp_path, monkeypatch):
    monkeypatch.delenv("MIMETIC_EXPRESSION_CHECKPOINT", raising=False)
    assert resolve_method("auto") == "occlusion"  # no checkpoint: occlusion
    assert resolve_method("occlusion") == "occlusion"
    with pytest.raises(RuntimeError, match="checkpoint"):
        resolve_method("gradcam")
    with pytest.raises(ValueError):
        resolve_method("saliency")


def test_gradcam_with_a_checkpoint(astronaut, tmp_path):
    torch = pytest.importorskip("torch")
    pytest.importorskip("onnx")
    torch.set_num_threads(1)
    from mimetic.train.export import export_checkpoint
    from mimetic.train.loop import CHECKPOINT_FORMAT
    from mimetic.train.net import NetConfig, build

    cfg = NetConfig(classes=EXPRESSIONS, widths=(8, 8, 16, 16), blocks=(1, 1, 1, 1), stem=8)
    torch.manual_seed(0)
    net = build(cfg).eval()
    ckpt = tmp_path / "best.pt"
    torch.save({"format": CHECKPOINT_FORMAT, "net": cfg.to_dict(), "model": net.state_dict(), "epoch": 1}, ckpt)
    onnx_path, _ = export_checkpoint(ckpt, tmp_path / "expression.onnx")
    rgb, face = astronaut
    assert resolve_method("auto", ckpt) == "gradcam"
    heat = explain(rgb, face, method="auto", model=onnx_path, checkpoint=ckpt)
    assert heat.shape == rgb.shape[:2] and np.isfinite(heat).all() and heat.min() >= 0
    x, y, w, h = face.box
    assert heat[int(y):int(y + h), int(x):int(x + w)].sum() > 0.9 * heat.sum()


def test_explain_command_writes_a_png(astronaut, mouth_model, tmp_path, monkeypatch):
    from PIL import Image
    from typer.testing import CliRunner

    from mimetic.cli import app

    monkeypatch.setenv("MIMETIC_EXPRESSION_MODEL", str(mouth_model))
    monkeypatch.setenv("MIMETIC_FUSION", str(tmp_path / "no-fusion.json"))
    out = tmp_path / "heat.png"
    r = CliRunner().invoke(app, ["explain", str(IMAGES / "astronaut_nasa.jpg"), "--out", str(out),
                                 "--method", "occlusion"])
    assert r.exit_code == 0, r.output
    with Image.open(out) as im:
        assert im.format == "PNG" and im.size == (astronaut[0].shape[1], astronaut[0].shape[0])
    r = CliRunner().invoke(app, ["explain", str(IMAGES / "astronaut_nasa.jpg"), "--out", str(out), "--face", "3"])
    assert r.exit_code == 1 and "no face #3" in r.output
    monkeypatch.delenv("MIMETIC_EXPRESSION_CHECKPOINT", raising=False)
    r = CliRunner().invoke(app, ["explain", str(IMAGES / "astronaut_nasa.jpg"), "--out", str(out), "--method",
                                 "gradcam"])
    assert r.exit_code == 1 and "Grad-CAM needs" in r.output
    assert CliRunner().invoke(app, ["explain", str(IMAGES / "astronaut_nasa.jpg"), "--method", "lime"]).exit_code == 2
    monkeypatch.setenv("MIMETIC_EXPRESSION_MODEL", str(tmp_path / "missing.onnx"))
    r = CliRunner().invoke(app, ["explain", str(IMAGES / "astronaut_nasa.jpg"), "--out", str(out)])
    assert r.exit_code == 1 and "no expression model" in r.output


@pytest.mark.skipif(not default_path().is_file(), reason=f"no expression model shipped yet ({default_path()})")
def test_shipped_model_looks_at_the_smiling_mouth(astronaut):
    rgb, face = astronaut
    heat = explain(rgb, face, method="occlusion")
    x, y, w, h = face.box
    assert heat[int(y):int(y + h), int(x):int(x + w)].sum() > 0.8 * heat.sum()  # highest over the face
    iod = float(np.linalg.norm(face.landmarks[263, :2] - face.landmarks[33, :2]))
    mouth = face.landmarks[list(MOUTH), :2].mean(0)
    yy, xx = np.mgrid[: heat.shape[0], : heat.shape[1]]
    near_mouth = np.hypot(xx - mouth[0], yy - mouth[1]) < 0.5 * iod
    face_box = np.zeros_like(near_mouth)
    face_box[int(y):int(y + h), int(x):int(x + w)] = True
    assert heat[near_mouth].mean() > heat[face_box].mean()  # the mouth region matters more than the average

"""The bundle's face detector run as ONNX (mimetic.face.blazeface): the conversion decodes as MediaPipe's graph does
and, fully convolutional on a pyramid, finds every face of the group fixtures in one call per level."""

from __future__ import annotations

import numpy as np
import pytest

from testdata import IMAGES
from mimetic.face.blazeface import Detector, anchors, level_scales
from mimetic.face.boxes import iou, overlap_of_smaller
from mimetic.face.search import tile_sides
from mimetic.media.images import read_image


@pytest.fixture(scope="module")
def detector():
    with Detector() as d:
        yield d


def test_anchors_are_the_short_range_graphs_896():
    a = anchors(128, 128)
    assert a.shape == (896, 2)
    assert np.allclose(a[0], (4, 4)) and np.allclose(a[1], (4, 4))  # stride 8, 2 per cell
    assert np.allclose(a[512], (8, 8)) and np.allclose(a[517], (8, 8)) and np.allclose(a[518], (24, 8))  # 6 per cell
    assert anchors(240, 320).shape == (2 * 30 * 40 + 6 * 15 * 20, 2)


def test_whole_image_box_matches_the_landmarks(detector, analyzer):
    rgb = read_image(IMAGES / "obama_portrait.jpg")
    face = analyzer.analyze_image(rgb, min_face=None).faces[0]
    boxes = detector.detect(rgb)
    best = max(boxes, key=lambda b: iou(b[:4], face.box))
    # BlazeFace's box is square and tighter at the chin than the landmark hull: the two overlap well
    assert iou(best[:4], face.box) > 0.6 and best[4] > 0.85, (best, face.box)


@pytest.mark.parametrize("name, n", [("multi_face.jpg", 5), ("two_people.jpg", 2)])
def test_pyramid_finds_every_face_once_per_level_call(detector, analyzer, name, n):
    rgb = read_image(IMAGES / name)
    h, w = rgb.shape[:2]
    faces = analyzer.analyze_image(rgb).faces
    assert len(faces) == n
    found = detector.detect(rgb, level_scales(w, h, tile_sides(w, h, 48)))
    for f in faces:  # every face has a confident candidate on it
        assert any(overlap_of_smaller(b[:4], f.box) > 0.5 and b[4] > 0.8 for b in found), f.box


def test_submit_runs_the_same_detection_on_its_thread(detector):
    rgb = read_image(IMAGES / "single_face.jpg")
    assert detector.submit(rgb).result() == detector.detect(rgb)

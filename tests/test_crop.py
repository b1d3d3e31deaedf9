"""The expression crop: a real photo's aligned crop looks like a FER2013 training crop (no torch needed).

FER2013 reference numbers (measured on the FER+ images, not needed here): pixel mean 129.7; per-crop standard
deviation 54 on average; the per-crop mean varies with a standard deviation of 32.
"""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from testdata import IMAGES
from mimetic.expression.crop import (ANCHORS, CROP_SIZE, TEMPLATE, align_crop, alignment_matrix, crop_from_fer48,
                                     fallback_crop, similarity)
from mimetic.media.images import read_image

FER_MEAN, FER_MEAN_SD, FER_STD = 129.7, 32.1, 54.3


def _face(analyzer, name):
    rgb = read_image(IMAGES / name)
    faces = analyzer.analyze_array(rgb).faces
    assert faces, name
    return rgb, max(faces, key=lambda f: f.box[2] * f.box[3])


def _corr(a, b) -> float:
    a = a.astype(float).ravel() - a.mean()
    b = b.astype(float).ravel() - b.mean()
    return float(a @ b / np.sqrt((a @ a) * (b @ b)))


def _fer_style_48(rgb, face) -> np.ndarray:
    """What a FER2013 crop of this face looks like: an axis-aligned square box (a face detector's, no rotation),
    placed and sized like the FER average (eye centre at y 0.397, eye distance 0.366 of the side), grey, 48×48."""
    lm = face.landmarks[:, :2]
    eyes = np.array([lm[[33, 133]].mean(0), lm[[362, 263]].mean(0)])
    iod = float(np.linalg.norm(eyes[1] - eyes[0]))
    side = iod / 0.366
    cx, cy = eyes.mean(0)
    x0, y0 = cx - 0.5 * side, cy - 0.397 * side
    m = np.array([[48 / side, 0, -x0 * 48 / side], [0, 48 / side, -y0 * 48 / side]])
    big = cv2.warpAffine(rgb, m * 4, (192, 192), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    return cv2.resize(cv2.cvtColor(big, cv2.COLOR_RGB2GRAY), (48, 48), interpolation=cv2.INTER_AREA)


def test_template_is_symmetric_and_fer_like():
    t = dict(zip(ANCHORS.tolist(), TEMPLATE.tolist()))
    for a, b in ((33, 263), (133, 362)):
        assert t[a][1] == pytest.approx(t[b][1])
        assert t[a][0] == pytest.approx(1 - t[b][0])
    eye_l = (np.array(t[33]) + np.array(t[133])) / 2
    eye_r = (np.array(t[362]) + np.array(t[263])) / 2
    assert 0.36 < eye_l[1] < 0.42  # FER2013 crops: eyes a little above the middle
    assert 0.33 < eye_r[0] - eye_l[0] < 0.42


def test_similarity_recovers_a_known_transform():
    rng = np.random.default_rng(0)
    src = rng.uniform(0, 100, (10, 2))
    ang, s, t = 0.3, 1.7, np.array([5.0, -3.0])
    r = np.array([[np.cos(ang), -np.sin(ang)], [np.sin(ang), np.cos(ang)]]) * s
    m = similarity(src, src @ r.T + t)
    assert np.allclose(m[:, :2], r) and np.allclose(m[:, 2], t)


def test_photo_crop_geometry_and_statistics(analyzer, artifacts):
    crops = []
    for name in ("astronaut_nasa.jpg", "obama_portrait.jpg", "biden_portrait.jpg", "single_face.jpg"):
        rgb, face = _face(analyzer, name)
        crop = align_crop(rgb, face.landmarks[:, :2])
        assert crop.shape == (CROP_SIZE, CROP_SIZE) and crop.dtype == np.uint8
        # the anchors land on the template (to a pixel or two: a similarity cannot fit every face exactly)
        m = alignment_matrix(face.landmarks[:, :2])
        pts = face.landmarks[ANCHORS, :2] @ m[:, :2].T + m[:, 2]
        err = np.linalg.norm(pts - TEMPLATE * CROP_SIZE, axis=1)
        assert err.max() < 0.06 * CROP_SIZE, (name, err)
        eyes = face.landmarks[[33, 133, 362, 263], :2] @ m[:, :2].T + m[:, 2]
        eye_y = eyes[:, 1].mean() / CROP_SIZE
        assert abs(eye_y - 0.397) < 0.03, (name, eye_y)
        # grey-level statistics inside FER2013's usual band
        assert abs(crop.mean() - FER_MEAN) < 2.5 * FER_MEAN_SD, (name, crop.mean())
        assert 0.45 * FER_STD < crop.std() < 1.6 * FER_STD, (name, crop.std())
        crops.append(crop)
    cv2.imwrite(str(artifacts / "expression_crops_photos.png"),
                cv2.resize(np.hstack(crops), None, fx=3, fy=3, interpolation=cv2.INTER_NEAREST))


def test_photo_crop_matches_the_crop_of_its_fer_style_48px_version(analyzer, artifacts):
    """The inference path (photo → align_crop) and the training path (48×48 FER-style crop → enlarge, landmark,
    align) give nearly the same picture for the same face."""
    rgb, face = _face(analyzer, "astronaut_nasa.jpg")
    sharp = align_crop(rgb, face.landmarks[:, :2])
    direct = align_crop(rgb, face.landmarks[:, :2], detail=48)  # what a model trained on 48-px crops reads
    fer48 = _fer_style_48(rgb, face)
    via_fer, lms = crop_from_fer48(fer48)
    assert via_fer is not None, "the landmarker found no face in the 48x48 version"
    assert lms.shape == (478, 3) and -3 <= lms[:, :2].min() and lms[:, :2].max() <= 51  # the chin may leave the crop
    r = _corr(direct, via_fer)
    assert r > 0.95, r
    assert _corr(sharp, via_fer) > 0.9
    # detail=48 gives the photo crop the training crops' sharpness (std of the Laplacian)
    lap = lambda x: float(cv2.Laplacian(x.astype(np.float32), cv2.CV_32F).std())  # noqa: E731
    assert 0.75 < lap(direct) / lap(via_fer) < 1.33, (lap(direct), lap(via_fer))
    assert lap(sharp) > 1.5 * lap(via_fer)
    assert abs(float(direct.mean()) - float(via_fer.mean())) < 10
    assert abs(float(direct.std()) - float(via_fer.std())) < 10
    up = cv2.resize(fer48, (CROP_SIZE, CROP_SIZE), interpolation=cv2.INTER_NEAREST)
    diff = cv2.absdiff(direct, via_fer)
    panel = np.hstack([sharp, direct, up, via_fer, diff * 3])
    cv2.imwrite(str(artifacts / "expression_crop_photo_vs_fer48.png"),
                cv2.resize(panel, None, fx=4, fy=4, interpolation=cv2.INTER_NEAREST))


def test_mirrored_photo_gives_the_mirrored_crop(analyzer):
    """The template is left/right symmetric, so flipping the photo flips the crop (flip augmentation is exact)."""
    rgb, face = _face(analyzer, "astronaut_nasa.jpg")
    flipped = np.ascontiguousarray(rgb[:, ::-1])
    faces = analyzer.analyze_array(flipped).faces
    a = align_crop(rgb, face.landmarks[:, :2])
    b = align_crop(flipped, faces[0].landmarks[:, :2])
    assert _corr(a[:, ::-1], b) > 0.9


def test_grey_input_and_errors(analyzer):
    rgb, face = _face(analyzer, "astronaut_nasa.jpg")
    grey = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)
    a = align_crop(rgb, face.landmarks[:, :2], 48)
    b = align_crop(grey, face.landmarks, 48)  # a z column is ignored
    assert a.shape == (48, 48) and np.abs(a.astype(int) - b.astype(int)).max() <= 2
    with pytest.raises(ValueError, match="478"):
        align_crop(rgb, face.landmarks[:68, :2])
    with pytest.raises(ValueError, match="uint8"):
        align_crop(rgb.astype(np.float32), face.landmarks[:, :2])


def test_fallback_and_no_face():
    img = np.full((48, 48), 90, np.uint8)
    assert fallback_crop(img).shape == (CROP_SIZE, CROP_SIZE)
    crop, lms = crop_from_fer48(img)
    assert crop is None and lms is None

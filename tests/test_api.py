"""The Python API: results, tables, and every bad input raising one clear InputError."""

from __future__ import annotations

import numpy as np
import pytest

from badinputs import make_bad_inputs
from testdata import IMAGES
from mimetic import Analyzer, FrameResult
from mimetic.errors import InputError


def test_result_has_to_dict_and_to_frame(analyzer):
    r = analyzer.analyze_image(IMAGES / "two_people.jpg")
    assert isinstance(r, FrameResult)
    d = r.to_dict()
    assert d["width"] == 1126 and d["height"] == 661 and len(d["faces"]) == 2
    df = r.to_frame()
    assert len(df) == 2 and (df["face_width"] > 100).all()


def test_array_and_bytes_inputs_agree_with_path(analyzer):
    path = IMAGES / "astronaut_nasa.jpg"
    a = analyzer.analyze_image(path).faces[0]
    b = analyzer.analyze_image(path.read_bytes()).faces[0]
    from mimetic.media.images import read_image

    c = analyzer.analyze_image(read_image(path)).faces[0]
    assert np.allclose(a.landmarks, b.landmarks, atol=0.5) and np.allclose(a.landmarks, c.landmarks, atol=0.5)


@pytest.mark.parametrize("kind", ["missing", "truncated", "text_as_jpg", "zero_bytes", "huge"])
def test_bad_images_raise_input_error(analyzer, tmp_path, kind):
    path, words = make_bad_inputs(tmp_path)[kind]
    with pytest.raises(InputError) as e:
        analyzer.analyze_image(path)
    msg = str(e.value)
    assert str(path) in msg and words in msg.lower() and "\n" not in msg


@pytest.mark.parametrize("kind", ["no_frames", "unsupported_codec"])
def test_bad_videos_raise_input_error(analyzer, tmp_path, kind):
    path, words = make_bad_inputs(tmp_path)[kind]
    with pytest.raises(InputError) as e:
        list(analyzer.analyze_video(path))
    assert str(path) in str(e.value) and words in str(e.value).lower()


def test_wrong_parameters_are_refused():
    with pytest.raises(ValueError, match="max_faces"):
        Analyzer(max_faces=0)
    with pytest.raises(ValueError, match="min_detection"):
        Analyzer(min_detection=1.5)
    with pytest.raises(ValueError, match="stride"):
        list(Analyzer().analyze_video(IMAGES / "x.mp4", stride=0))

"""The Python API: results, tables, and every bad input raising one clear InputError."""

from __future__ import annotations

import numpy as np
import pytest

from badinputs import make_bad_inputs
from testdata import IMAGES
from mimetic import Analyzer, FrameResult
from mimetic.errors import InputError


def test_result_has_to_dict_and_a_table(analyzer):
    r = analyzer.analyze_image(IMAGES / "two_people.jpg")
    assert isinstance(r, FrameResult)
    d = r.to_dict()
    assert d["width"] == 1126 and d["height"] == 661 and len(d["faces"]) == 2
    from mimetic.table import frame_from_results

    df = frame_from_results([r])
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


# -- options, stages, the streaming video API --------------------------------------------------------------------
def test_options_switch_stages_off_and_read_the_environment_once(tmp_path):
    from pathlib import Path

    from mimetic import AnalyzerOptions

    image = IMAGES / "astronaut_nasa.jpg"
    with Analyzer(AnalyzerOptions(stages={"landmarks"})) as a:
        face = a.analyze_image(image).faces[0]
        assert a.expression_model is None  # never loaded
    assert face.blendshapes and face.landmarks.shape == (478, 3)
    assert not face.aus and not face.muscles and not face.symmetry and face.expression is None
    with Analyzer(stages={"aus"}) as a:
        only_aus = a.analyze_image(image).faces[0]
    with Analyzer() as a:
        full = a.analyze_image(image).faces[0]
    assert not only_aus.symmetry and only_aus.expression is None
    assert {k: v.intensity for k, v in only_aus.aus.items()} == {k: v.intensity for k, v in full.aus.items()}
    assert full.symmetry and full.expression is not None and full.muscles
    with pytest.raises(ValueError, match="unknown stage 'landmark'"):
        AnalyzerOptions(stages={"landmark"})
    with pytest.raises(ValueError, match="not the string"):
        AnalyzerOptions(stages="aus")
    env = {"MIMETIC_EXPRESSION_MODEL": str(tmp_path / "x.onnx"), "MIMETIC_FACE_MODEL": ""}
    opts = AnalyzerOptions.from_env(env, max_faces=2)
    assert opts.expression_model == Path(tmp_path / "x.onnx") and opts.face_model is None and opts.max_faces == 2
    assert AnalyzerOptions.from_env(env, expression_model="y.onnx").expression_model == Path("y.onnx")


def test_smallest_face_is_a_per_call_argument():
    from mimetic.media.images import read_image

    rgb = read_image(IMAGES / "astronaut_nasa.jpg")
    with Analyzer(min_face=48) as a:
        with_search = a.analyze_array(rgb)
        without = a.analyze_array(rgb, min_face=None)
        assert a.min_face == 48 and a.options.min_face == 48  # the shared analyzer is not changed
    assert len(with_search.faces) == len(without.faces) == 1


def test_video_stream_gives_pixels_progress_and_cancel():
    from testdata import VIDEOS

    from mimetic.errors import Cancelled

    calls = []
    with Analyzer(max_faces=1) as a:
        pairs = list(a.analyze_video(VIDEOS / "single_face.mp4", stride=6, pixels=True,
                                     progress=lambda done, total: calls.append((done, total))))
        assert len(pairs) == 12 and all(isinstance(r, FrameResult) for r, _ in pairs)
        result, rgb = pairs[0]
        assert rgb.shape == (result.height, result.width, 3) and rgb.dtype == np.uint8
        assert calls[-1] == (12, 12) and [d for d, _ in calls] == list(range(1, 13))
        frames = []
        with pytest.raises(Cancelled, match="cancelled after 3 frames"):
            for r in a.analyze_video(VIDEOS / "single_face.mp4", cancel=lambda: len(frames) >= 3):
                frames.append(r)
        assert len(frames) == 3

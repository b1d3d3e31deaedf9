"""Video through the Analyzer: streaming, tracking, timestamps, gaps."""

from __future__ import annotations

import numpy as np
import pytest

from testdata import VIDEOS
from mimetic.errors import InputError


def test_no_face_video_has_zero_faces_every_frame(analyzer):
    results = list(analyzer.analyze_video(VIDEOS / "no_face.mp4"))
    assert len(results) == 95  # the container lists 98 samples; its edit list drops 3 (FFmpeg decodes 95)
    assert all(r.faces == () for r in results)
    assert all(r.width == 960 and r.height == 540 for r in results)


def test_face_then_noface_keeps_one_track_then_none(analyzer):
    results = list(analyzer.analyze_video(VIDEOS / "face_then_noface.mov"))
    counts = [len(r.faces) for r in results]
    assert len(results) == 169
    first_empty = counts.index(0)
    assert first_empty > 30  # a face for the first part of the clip
    assert all(c == 1 for c in counts[:first_empty])
    assert all(c == 0 for c in counts[first_empty:])  # then none (no false positive on the logo that follows)
    ids = {f.track_id for r in results for f in r.faces}
    assert ids == {0}


def test_timestamps_come_from_the_container(analyzer):
    results = list(analyzer.analyze_video(VIDEOS / "single_face.mp4"))
    ts = np.array([r.timestamp for r in results])
    assert len(results) == 72
    assert np.all(np.diff(ts) > 0)
    assert np.allclose(np.diff(ts), 1 / 30, atol=0.004)
    assert [r.frame_index for r in results] == list(range(72))


def test_fps_sampling_keeps_frame_indices(analyzer):
    results = list(analyzer.analyze_video(VIDEOS / "smile_pexels.mp4", fps=4))
    # 472 frames at 23.98 fps = 19.7 s -> about 79 frames at 4 fps
    assert 76 <= len(results) <= 81
    idx = [r.frame_index for r in results]
    assert idx[0] == 0 and all(5 <= b - a <= 7 for a, b in zip(idx, idx[1:]))


def test_smile_rises_over_the_clip(analyzer):
    """smile_pexels: crying/sad first, a broad smile from about frame 300 on."""
    smile = []
    for r in analyzer.analyze_video(VIDEOS / "smile_pexels.mp4", stride=4):
        assert len(r.faces) == 1 and r.faces[0].track_id == 0
        b = r.faces[0].blendshapes
        smile.append((b["mouthSmileLeft"] + b["mouthSmileRight"]) / 2)
    smile = np.array(smile)
    n = len(smile)
    first_half, last_quarter = smile[: n // 2].mean(), smile[3 * n // 4:].mean()
    assert last_quarter > 0.6
    assert last_quarter > first_half + 0.2


def test_live_session_tracks_pushed_frames(analyzer):
    from mimetic.media.video import iter_frames

    with analyzer.live() as live:
        ids = set()
        for k, frame in enumerate(iter_frames(VIDEOS / "single_face.mp4", stride=6)):
            r = live.push(frame.image, timestamp=k / 5)
            assert r.frame_index == k
            ids |= {f.track_id for f in r.faces}
    assert ids == {0}


def test_tracker_keeps_id_across_short_dropout():
    from mimetic.face.tracking import Tracker

    t = Tracker(max_gap=1.0)
    assert t.update([(100, 100, 50, 60)], 0.0) == [0]
    assert t.update([], 0.3) == []
    assert t.update([(104, 102, 50, 60)], 0.6) == [0]  # back after 0.3 s: same person
    assert t.update([(400, 100, 50, 60), (106, 103, 50, 60)], 0.7) == [1, 0]
    assert t.update([(110, 100, 50, 60)], 2.5) == [2]  # gone for 1.8 s: a new track


def test_video_errors_name_the_file(analyzer, tmp_path):
    bad = tmp_path / "notes.mp4"
    bad.write_text("this is not a video")
    with pytest.raises(InputError) as e:
        list(analyzer.analyze_video(bad))
    assert "notes.mp4" in str(e.value)

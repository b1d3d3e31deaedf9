"""iter_frames(start=...) seeks to the keyframe at or before start (issue 19): the same frame indices, timestamps and
pixels as decoding from the beginning and dropping the earlier frames (the fallback, forced here by raising
``_SEEK_FROM``), or it falls back by itself where the index after a seek could not be exact."""

from __future__ import annotations

import hashlib
import logging
import math
from fractions import Fraction
from pathlib import Path

import pytest

from mimetic.media import video as V
from mimetic.media.video import iter_frames

VIDEOS = Path(__file__).parent / "data" / "videos"
SMILE = VIDEOS / "smile_pexels.mp4"  # h264, 24000/1001 fps (pts step 1001 in 1/24000), keyframe every 72 frames
RATE = 24000 / 1001
LOGGER = "mimetic.media.video"

Row = tuple[int, float, str]


def _rows(path: Path, **kw) -> list[Row]:
    return [(f.index, f.timestamp, hashlib.sha1(f.image.tobytes()).hexdigest()) for f in iter_frames(path, **kw)]


def _both(monkeypatch, caplog, path: Path, **kw) -> tuple[list[Row], list[Row], list[str]]:
    """(frames with seeking, frames decoded from the beginning, what the seeking run logged)."""
    caplog.set_level(logging.DEBUG, logger=LOGGER)
    caplog.clear()
    sought = _rows(path, **kw)
    messages = [r.getMessage() for r in caplog.records if r.name == LOGGER]
    with monkeypatch.context() as m:
        m.setattr(V, "_SEEK_FROM", math.inf)
        plain = _rows(path, **kw)
    return sought, plain, messages


def _seeked(messages: list[str]) -> list[str]:
    return [m for m in messages if "seeked to the keyframe" in m]


@pytest.mark.parametrize(
    ("start", "end", "keyframe", "first"),
    [
        (0.0, 1.0, None, 0),  # no seek
        (1.5, 2.5, 0, 36),  # seeks, lands on the first keyframe
        (71 / RATE, 72 / RATE + 0.5, 0, 71),  # the frame just before the keyframe at 3.003 s
        (3.003 - 0.0005, 4.0, 0, 72),  # within the 1 ms slack before the keyframe: it is kept
        (3.003, 4.0, 72, 72),  # exactly on a keyframe
        (73 / RATE, 4.5, 72, 73),  # the frame just after it
        (10.0, 11.5, 216, 240),  # mid-file
        (0.8 * 472 / RATE, None, 360, 378),  # 80 % of the file, to its end
        (19.6, None, 432, 470),  # the last two frames
    ],
)
def test_seek_matches_decoding_from_the_beginning(monkeypatch, caplog, start, end, keyframe, first):
    sought, plain, messages = _both(monkeypatch, caplog, SMILE, start=start, end=end)
    assert sought == plain
    assert sought[0][0] == first
    assert sought[0][1] == pytest.approx(first * 1001 / 24000, abs=1e-9)
    assert [r[0] for r in sought] == list(range(first, first + len(sought)))
    if end is None:
        assert sought[-1][0] == 471
    landed = _seeked(messages)
    if keyframe is None:
        assert not landed
    else:
        assert landed == [f"{SMILE}: start {start:.3f} s: seeked to the keyframe at frame {keyframe}, "
                          f"first frame kept {first}"]


@pytest.mark.parametrize(
    "kw",
    [
        {"start": 10.0, "end": 16.0, "fps": 5},
        {"start": 10.0, "end": 16.0, "stride": 3},
        {"start": 4.2, "end": 13.0, "fps": 7, "stride": 2},
        {"start": 12.0, "fps": 2.5, "stride": 4, "read_ahead": 2},
    ],
)
def test_seek_with_fps_and_stride(monkeypatch, caplog, kw):
    sought, plain, messages = _both(monkeypatch, caplog, SMILE, **kw)
    assert len(sought) > 3
    assert sought == plain
    assert _seeked(messages)


def test_start_after_the_last_frame_yields_nothing(monkeypatch, caplog):
    sought, plain, messages = _both(monkeypatch, caplog, SMILE, start=19.7)
    assert sought == plain == []
    assert not any("decoding from the beginning" in m for m in messages)  # the seek showed the stream ends first


@pytest.mark.parametrize(
    ("name", "starts"),
    [("single_face.mp4", (1.0, 1.4, 2.0)), ("no_face.mp4", (1.0, 2.5)), ("face_then_noface.mov", (2.0, 4.4))],
)
def test_other_fixtures(monkeypatch, caplog, name, starts):
    """single_face has one keyframe (the seek lands on frame 0); no_face (an edit list drops 3 frames: its average
    rate is not its frame rate) and face_then_noface (variable frame rate) are decoded from the beginning."""
    for start in starts:
        sought, plain, messages = _both(monkeypatch, caplog, VIDEOS / name, start=start)
        assert sought and sought == plain
        assert sought[0][1] >= start - 1e-3
        if name == "single_face.mp4":
            assert _seeked(messages) and "keyframe at frame 0," in _seeked(messages)[0]
        else:
            assert not _seeked(messages)
            assert any("no constant frame rate" in m for m in messages)


def test_a_seek_off_the_frame_grid_falls_back(monkeypatch, caplog):
    """Where the frames after the seek do not lie on the grid the index is derived from, the file is decoded
    again from the beginning (here the grid is made wrong on purpose: two frames a step)."""
    monkeypatch.setattr(V, "_frame_ticks", lambda stream: 2002)
    sought, plain, messages = _both(monkeypatch, caplog, SMILE, start=7.0, end=8.0, stride=2)
    assert sought == plain and sought[0][0] == 168
    assert not _seeked(messages)
    assert any("not exact" in m and "off the 2002-tick grid" in m for m in messages)


def test_frame_ticks_needs_a_constant_rate_the_time_base_holds():
    class S:
        average_rate = base_rate = Fraction(30)
        time_base = Fraction(1, 15360)

    assert V._frame_ticks(S) == 512
    S.time_base = Fraction(1, 1000)  # 33.33 ms: not a whole number of ticks
    assert V._frame_ticks(S) is None
    S.time_base, S.base_rate = Fraction(1, 15360), Fraction(25)  # average and r_frame_rate differ: variable rate
    assert V._frame_ticks(S) is None
    S.average_rate = None  # no rate known
    assert V._frame_ticks(S) is None

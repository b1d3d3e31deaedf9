"""Timelines, expression segments, the change log and statistics on real videos, and their edge cases."""

from __future__ import annotations

from types import SimpleNamespace as NS

import numpy as np
import pandas as pd
import pytest
from videosynth import cached_analysis

from mimetic.types import AUValue
from mimetic.video.segments import change_log, expression_stats, segment_track
from mimetic.video.timeline import TimelineBuilder, moving_average

#: smile_pexels.mp4 (472 frames, 23.976 fps), checked by eye frame by frame: she cries with a hand over her face
#: until frame 227 (the fingers leave the mouth at 226-227; frames 228-246 show parted lips with the corners
#: slightly raised); the broad smile begins at frame 247 (corners rise and the upper teeth show, 248-252), and
#: she keeps smiling to the end.
SMILE_HAND_OFF = 227
SMILE_ONSET = 247


@pytest.fixture(scope="module")
def smile():
    return cached_analysis("smile_pexels.mp4", True)


def test_smile_video_has_a_non_happy_segment_then_happiness_near_the_onset(smile):
    segs = [s for s in smile.segments if s.track_id == 0]
    print("\nsmile_pexels segments: " + ", ".join(f"{s.label} {s.start_frame}-{s.end_frame}" for s in segs))
    assert len(smile.timeline.tracks) == 1
    last = segs[-1]
    assert last.label == "happiness"
    assert last.end_frame == 471  # the smile lasts to the end
    assert segs[-2].label != "happiness"
    # the change: after the hand leaves the mouth, within a second (24 frames) of the broad smile's onset
    assert SMILE_HAND_OFF - 3 <= last.start_frame <= SMILE_ONSET + 12
    assert abs(last.start_frame - SMILE_ONSET) <= 24
    # segments tile the time the face was seen
    assert abs(sum(s.duration for s in segs) - smile.timeline.tracks[0].present_seconds) < 1e-6
    changes = smile.change_log()
    assert changes[-1].label == "happiness" and changes[-1].previous == segs[-2].label
    assert changes[-1].frame == last.start_frame


def test_smile_every_segment_is_labelled_by_the_majority_of_its_smoothed_frames(smile):
    # the change log once said "neutral" for 0-9.43 s while the chart showed the crying as sadness: a 0.33 s
    # neutral run had swallowed seconds of sadness and kept its own label
    df = smile.timeline.to_frame(smile.events, smile.segments)
    for s in smile.segments:
        inside = df[(df["frame"] >= s.start_frame) & (df["frame"] <= s.end_frame) & (df["track_id"] == s.track_id)]
        counts = inside["expression"].value_counts()
        assert s.label == counts.index[0], (s, counts.to_dict())
        others = counts.drop(s.label)
        assert counts.iloc[0] > (others.max() if len(others) else 0)
    # so the time share of the change log is, within a frame per segment, the share of smoothed frame labels
    share = smile.stats()["per_track"][0]["time_share"]
    frame_share = df["expression"].value_counts(normalize=True)
    for label, v in frame_share.items():
        assert share[label] == pytest.approx(v, abs=0.12)
    assert share.get("sadness", 0.0) > 0.2  # the crying, as the chart shows it


def test_smile_statistics_and_tables(smile):
    stats = smile.stats()
    tr = stats["per_track"][0]
    assert stats["frames"] == 472 and stats["frames_with_face"] == 472
    assert abs(stats["duration"] - 472 / 23.976) < 0.05
    assert tr["changes"] == len(smile.segments) - 1 >= 1
    assert abs(sum(tr["time_share"].values()) - 1.0) < 1e-3
    assert tr["time_share"]["happiness"] > 0.4
    assert tr["micro"] is not None and tr["micro_per_minute"] == pytest.approx(tr["micro"] / (tr["seconds"] / 60),
                                                                               abs=1e-3)
    df = smile.timeline.to_frame(smile.events, smile.segments)
    assert len(df) == 472 and (df["success"] == 1).all()
    assert {"expr_happiness", "AU12_r", "pose_yaw", "expression", "expression_raw", "segment", "event_kind"} \
        <= set(df.columns)
    assert (df["expression"].iloc[300:] == "happiness").all()
    w = smile.timeline.windows(1.0)
    assert len(w) == 20 and list(w["window"]) == list(range(20))
    assert (w["expression"].iloc[-5:] == "happiness").all()
    assert w["frames"].sum() == 472
    w2 = smile.timeline.windows(2.5)
    assert len(w2) == 8
    rep = smile.timeline.tracks[0].representative
    assert "happiness" in rep and rep["happiness"]["crop"].shape == (160, 160, 3)


def test_no_face_video_gives_an_empty_timeline_with_gaps():
    a = cached_analysis("no_face.mp4", True)
    assert a.timeline.tracks == {} and a.segments == [] and a.events == []
    df = a.timeline.to_frame(a.events)
    assert len(df) == 95 and (df["success"] == 0).all() and df["track_id"].isna().all()
    assert df["expr_happiness"].isna().all()
    w = a.timeline.windows(1.0)
    assert (w["frames"] == 0).all() and (w["coverage"] == 0).all()
    stats = a.stats()
    assert stats["tracks"] == 0 and stats["frames_with_face"] == 0 and stats["micro"] == 0


def test_face_then_noface_keeps_gaps():
    a = cached_analysis("face_then_noface.mov", True)
    assert list(a.timeline.tracks) == [0]
    df = a.timeline.to_frame(a.events)
    assert len(df) == 169
    present = df["success"].to_numpy()
    first_gap = int(np.argmin(present))
    assert first_gap > 30 and not present[first_gap:].any()
    assert df.loc[first_gap:, "expr_neutral"].isna().all()
    assert df.loc[: first_gap - 1, "expr_neutral"].notna().all()
    w = a.timeline.windows(1.0)
    assert w["coverage"].iloc[0] == 1.0 and w["coverage"].iloc[-1] == 0.0
    assert all(s.end_frame < first_gap for s in a.segments)
    assert all(e.offset_frame < first_gap for e in a.events)


# -- units: smoothing, segments, gaps, returning faces --------------------------------------------------------------

def _result(i, t, faces):
    return NS(frame_index=i, timestamp=t, faces=faces, width=64, height=64)


def _face(tid, label_scores, au12=0.0):
    return NS(track_id=tid, box=(0, 0, 10, 10), pose=NS(yaw=0.0, pitch=0.0, roll=0.0),
              aus={"AU12": AUValue(au12, au12, au12, au12 >= 1)}, expression=NS(scores=label_scores))


def _scores(label, p=0.9):
    classes = ("neutral", "happiness", "surprise")
    return {c: (p if c == label else (1 - p) / 2) for c in classes}


def test_moving_average_shrinks_at_the_ends_and_skips_nan():
    v = np.array([1.0, 1.0, np.nan, 4.0, 4.0])
    out = moving_average(v, 3)
    assert out[0] == 1.0 and out[2] == pytest.approx(2.5) and out[4] == 4.0


def test_segments_merge_flickers_split_at_gaps_and_log_changes():
    b = TimelineBuilder(smoothing=0.0, min_segment=0.5)
    fps = 10.0
    labels = ["neutral"] * 20 + ["happiness"] * 2 + ["neutral"] * 10 + ["happiness"] * 20  # a 0.2 s flicker
    for i, lab in enumerate(labels):
        b.add(_result(i, i / fps, (_face(0, _scores(lab)),)))
    for i in range(52, 60):  # the face leaves for 0.8 s
        b.add(_result(i, i / fps, ()))
    for i in range(60, 80):
        b.add(_result(i, i / fps, (_face(0, _scores("surprise")),)))
    tl = b.finish()
    segs = segment_track(tl.tracks[0], smoothing=0.0, min_duration=0.5)
    assert [(s.label, s.start_frame, s.end_frame) for s in segs] == [
        ("neutral", 0, 31), ("happiness", 32, 51), ("surprise", 60, 79)]
    assert segs[0].duration == pytest.approx(3.2) and segs[1].duration == pytest.approx(2.0)
    log = change_log(segs)
    assert [(c.label, c.previous) for c in log] == [("neutral", ""), ("happiness", "neutral"), ("surprise", "")]
    stats = expression_stats(tl, segs)
    assert stats["per_track"][0]["changes"] == 2
    assert stats["per_track"][0]["seconds"] == pytest.approx(7.2)
    df = tl.to_frame(segments=segs)
    assert len(df) == 80 and df["success"].sum() == 72
    assert df.loc[52:59, "expression"].eq("").all() and df.loc[52:59, "expr_surprise"].isna().all()


def test_a_merged_short_segment_takes_its_neighbours_label():
    b = TimelineBuilder(smoothing=0.0, min_segment=0.5)
    fps = 10.0
    labels = ["neutral"] * 3 + ["surprise"] * 30 + ["happiness"] * 20  # a 0.3 s neutral run first
    for i, lab in enumerate(labels):
        b.add(_result(i, i / fps, (_face(0, _scores(lab)),)))
    tl = b.finish()
    segs = segment_track(tl.tracks[0], smoothing=0.0, min_duration=0.5)
    assert [(s.label, s.start_frame, s.end_frame) for s in segs] == [("surprise", 0, 32), ("happiness", 33, 52)]
    assert [c.label for c in change_log(segs)] == ["surprise", "happiness"]


def test_smoothing_uses_seconds_not_frames():
    rows = {}
    for fps in (10.0, 40.0):
        b = TimelineBuilder(smoothing=0.5)
        n = int(4 * fps)
        for i in range(n):
            t = i / fps
            b.add(_result(i, t, (_face(0, _scores("happiness" if 1.0 <= t < 3.0 else "neutral")),)))
        tl = b.finish()
        sm = tl.tracks[0].smoothed(0.5)
        rows[fps] = np.interp([0.9, 1.0, 1.1, 2.0], tl.tracks[0].times, sm.scores[:, 1])
    assert np.allclose(rows[10.0], rows[40.0], atol=0.08)


def test_two_tracks_and_a_returning_face_keep_their_ids():
    b = TimelineBuilder(smoothing=0.0)
    for i in range(30):
        faces = [_face(0, _scores("happiness"))]
        if i < 10 or i >= 15:  # track 1 leaves for 0.5 s and comes back with the same id
            faces.append(_face(1, _scores("neutral")))
        b.add(_result(i, i / 10.0, tuple(faces)))
    tl = b.finish()
    assert sorted(tl.tracks) == [0, 1]
    assert len(tl.tracks[1]) == 25
    df = tl.to_frame()
    assert len(df) == 60
    assert df[df["track_id"] == 1]["success"].sum() == 25
    w = tl.windows(1.0)
    assert w[w["track_id"] == 1]["coverage"].tolist() == [1.0, 0.5, 1.0]
    assert isinstance(w, pd.DataFrame)

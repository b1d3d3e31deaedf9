"""Micro-expression spotting on synthetic videos with planted movements (videosynth.py), and from AU tables.

The videos are a real fixture face (single_face.jpg, obama_portrait.jpg) whose brows, lower lids, nose wings,
mouth corners or chin are moved by a smooth displacement field with a known time course, while the whole frame
moves (translation, rotation, scale) as a distractor. Spotting is scored the MEGC way (IoU >= 0.5, F1).
"""

from __future__ import annotations

import cv2
import numpy as np
import pandas as pd
import pytest
from videosynth import HeadMotion, WarpedVideo, prepare_face, run_video, schedule

from mimetic.video.megc import Interval, evaluate, events_to_intervals
from mimetic.video.spotting import SpotConfig, Spotter, spot_from_table

cv2.setNumThreads(1)

#: (region, duration in seconds, peak displacement in px on a 170 px wide face)
EASY = [("brows", 0.40, 5.0), ("mouth_corners", 1.00, 6.0), ("chin", 0.30, 5.0), ("eyes", 0.35, 4.0),
        ("nose", 0.80, 5.0), ("frown", 0.45, 5.0)]
#: smaller (3 px), shorter (0.2-0.3 s) movements, at 24 fps, on another face, with stronger head motion
HARD = [("brow_inner", 0.25, 3.0), ("mouth_left", 0.25, 3.0), ("chin", 0.20, 3.0), ("eyes", 0.25, 2.5),
        ("mouth_down", 0.30, 3.0), ("nose", 0.30, 3.0)]
HEAD = HeadMotion(tx=8, ty=5, rot_deg=3, scale=0.03)
HEAD_STRONG = HeadMotion(tx=12, ty=8, rot_deg=4, scale=0.05)


def _score(planted, events):
    truth = [Interval("v", p.onset, p.offset, "micro" if (p.offset - p.onset) < 15 else "macro") for p in planted]
    return evaluate(truth, events_to_intervals(events, "v"), by_kind=False)["overall"]


@pytest.fixture(scope="module")
def face(analyzer):
    return prepare_face(analyzer, "single_face.jpg")


def test_easy_set_is_found_with_head_motion(analyzer, face):
    base, lm = face
    planted, n = schedule(EASY, 30.0, start=1.2, gap=1.0)
    video = WarpedVideo(base, lm, 30.0, n, planted, HEAD)
    events = run_video(analyzer, video, Spotter())
    score = _score(planted, events)
    print(f"\neasy set (30 fps, 6 movements of 4-6 px, 0.3-1.0 s, head motion): F1 {score.f1:.3f} "
          f"(TP {score.tp}, {score.n_spotted} spotted, {score.n_true} planted)")
    for e in events:
        print(f"  {e.kind:5s} {e.onset_frame:4d}-{e.offset_frame:4d} apex {e.apex_frame:4d} {e.regions} {e.aus}")
    assert score.f1 >= 0.8
    # onset, apex and offset are ordered; kinds follow the duration at this frame rate
    for e in events:
        assert e.onset_frame <= e.apex_frame <= e.offset_frame
        assert e.kind == ("micro" if e.duration < 0.5 else "macro")
    by_region = {}
    for p in planted:
        hit = [e for e in events if e.onset_frame <= p.apex <= e.offset_frame]
        by_region[p.region] = hit[0] if hit else None
    assert by_region["mouth_corners"] is not None and "mouth" in by_region["mouth_corners"].regions
    assert by_region["mouth_corners"].kind == "macro"
    assert by_region["brows"] is not None and "brows" in by_region["brows"].regions
    assert by_region["brows"].kind == "micro"
    assert by_region["chin"] is not None and by_region["chin"].kind == "micro"


def test_hard_set_reports_f1(analyzer):
    base, lm = prepare_face(analyzer, "obama_portrait.jpg")
    planted, n = schedule(HARD, 24.0, start=1.2, gap=1.0)
    video = WarpedVideo(base, lm, 24.0, n, planted, HEAD_STRONG, seed=1)
    events = run_video(analyzer, video, Spotter())
    score = _score(planted, events)
    print(f"\nhard set (24 fps, 6 movements of 2.5-3 px, 0.2-0.3 s, strong head motion): F1 {score.f1:.3f} "
          f"(TP {score.tp}, {score.n_spotted} spotted, {score.n_true} planted)")
    assert score.f1 >= 0.5
    assert all(e.kind == "micro" for e in events if e.duration < 0.5)


def test_still_face_with_head_motion_only_gives_no_event(analyzer, face):
    base, lm = face
    video = WarpedVideo(base, lm, 30.0, 150, [], HEAD_STRONG, seed=2)
    spotter = Spotter()
    events = run_video(analyzer, video, spotter)
    assert events == []
    trace = spotter.traces()[0]
    assert len(trace) == 150
    print(f"\nstill face, head motion: peak score {trace[:, 2].max():.2f} (1 = threshold)")


def _au_table(fps: float, seconds: float, bumps):
    """A results table with AU12_r bumps: [(onset s, duration s, height)]."""
    n = int(round(fps * seconds))
    t = np.arange(n) / fps
    au = np.zeros(n)
    rng = np.random.default_rng(0)
    for on, dur, h in bumps:
        m = (t >= on) & (t <= on + dur)
        au[m] = h * np.sin(np.pi * (t[m] - on) / dur)
    return pd.DataFrame({"frame": np.arange(n), "timestamp": t, "track_id": 0, "success": 1,
                         "AU12_r": au + rng.normal(0, 0.02, n), "AU04_r": rng.normal(0, 0.02, n).clip(0)})


@pytest.mark.parametrize("fps", [30.0, 200.0])
def test_au_dynamics_alone_find_micro_and_macro_at_any_frame_rate(fps):
    df = _au_table(fps, 10.0, [(2.0, 0.3, 3.0), (5.0, 0.8, 3.0)])
    events = spot_from_table(df, config=SpotConfig(window=1.0))
    assert [e.kind for e in events] == ["micro", "macro"]
    micro, macro = events
    assert abs(micro.onset - 2.0) < 0.12 and abs(micro.offset - 2.3) < 0.12
    assert abs(micro.apex - 2.15) < 0.06
    assert abs(macro.onset - 5.0) < 0.2 and abs(macro.offset - 5.8) < 0.2
    assert micro.aus == ("AU12",)

"""Every movement exercise scored on landmark sequences (issue 7): neutral → the exercise's movement on both sides,
on the person's left only, and one repetition through the :class:`ExerciseTracker`.

The faces: the neutral fixture portrait analysed by MediaPipe (``practice_faces.real_faces``) and exact edits of its
landmarks **in the face-fixed frontal frame that the measures read** (:func:`mimetic.facs.geometry.frontal_frame`:
x = the person's left, y up, z toward the viewer, IOD units). Each edit moves the landmarks that the exercise's
measures read by ``AMOUNT`` (90 %) of each measure's full range, the change that ``measures.MEASURES`` calls a complete
healthy movement. The eye canthi (which define the frame) and the head pose matrix are never touched, so the edit
round-trips exactly. A second MediaPipe analysis of the same photo at another scale is the "neutral" face that must
score low: its landmarks differ by MediaPipe's own jitter, not by a movement.

No exercise had to be skipped: the z-based measures (``lip_protrusion`` of the pucker, ``cheek_puff``) are moved in
the frame's z like the others. That tests their scoring, not MediaPipe's depth, which is weak on real faces
(docs/practice.md, "Limits").
"""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from practice_faces import LEFT_LOWER, LEFT_UPPER, RIGHT_LOWER, RIGHT_UPPER, blend, faces  # noqa: F401 (fixture)
from test_facs import _edited, _load, _one
from mimetic.facs import geometry as g
from mimetic.practice import EXERCISES, Calibration, ExerciseTracker, measure, score_frame
from mimetic.face import measures as lm
from mimetic.face.measures import CHEEK_LOW, LIP_OUTER
from mimetic.practice.measures import MEASURES

L, R = 0, 1
FPS = 10.0
_FLIP = np.array([1.0, -1.0, -1.0])  # pixels (x right, y down, z away) <-> frontal (x, y up, z toward the viewer)
#: the frame's anchors (eye canthi): an edit must not move them
ANCHORS = {33, 133, 263, 362}

#: how far each edit moves the exercise's measures: 90 % of their full range (a complete movement = 100 %)
AMOUNT = 0.9
# Thresholds. A symmetric edit moves every measure by AMOUNT of its range on both sides, so left = right = 0.9,
# symmetry 1 and the frame score 100 × 0.9 × 1 = 90 (no synkinesis watch moves). One side only: 0.9 and 0, symmetry
# 0, score 100 × 0.45 × 0.5 = 22.5. The bounds below leave room for rounding (the landmarks are float32) but would
# fail if a measure read other landmarks, moved the other way, or scaled differently from its documented range.
NEUTRAL_MAX = 15.0  # the neutral photo analysed again at 80 %: measured 0-11.7 (lower_teeth 11.7, cheek_puff 9.7)
FULL_MIN = 85.0  # both sides: expected 90
SIDE_MIN = 0.85  # the moving side(s): expected 0.9
STILL_MAX = 0.02  # the still side of a one-sided movement: expected 0
ONE_SIDED_MAX = 25.0  # one side only: expected 22.5 (rom halved, symmetry term 0.5)
REP_TOLERANCE = 0.03  # a rep held steadily for hold_seconds scores its frame score (relative tolerance)

MOVEMENTS = sorted(i for i, e in EXERCISES.items() if e.kind == "movement")


def _out(side: int) -> float:
    """+x is the person's left: the outward (lateral) direction of each side."""
    return 1.0 if side == L else -1.0


def frontal_edit(face, moves: list[tuple[list[int], np.ndarray]]):
    """``face`` with landmarks moved in the frontal frame: ``moves`` = (indices, (dx, dy, dz) per index or one for
    all), IOD units. Pixel landmarks are rebuilt from the frame (``origin``, ``axes``, ``iod`` unchanged because the
    canthi and the pose matrix are), so ``frontal_points`` of the result is the edited frontal points."""
    origin, axes, iod = g.frontal_frame(face)
    f = g.frontal_points(face)
    for idx, d in moves:
        assert not ANCHORS & set(idx), "an edit must not move the eye canthi (the frame's anchors)"
        f[list(idx)] += np.asarray(d, dtype=float)
    px = ((f * iod) @ axes.T + origin) * _FLIP
    return _edited(face, px)


# --- the movements, per side, in the frontal frame (f = the neutral frontal points) -----------------------------


def _brows_up(f, s):  # brow_lift: mean of inner, mid and outer brow height (range 0.10 IOD ≈ 6 mm)
    return [(list(lm.BROW_INNER[s] + lm.BROW_MID[s] + lm.BROW_OUTER[s]), (0.0, AMOUNT * 0.10, 0.0))]


def _brows_down_in(f, s):  # brow_lowering = inner-brow height + ½ its distance from the midline (range 0.06 IOD)
    d = AMOUNT * 0.04  # down 0.036 and in 0.036 IOD: −0.036 − ½ 0.036 = −0.054 = −0.9 × 0.06
    return [(list(lm.BROW_INNER[s]), (-_out(s) * d, -d, 0.0))]


def _eyes_closed(f, s, frac=AMOUNT * 0.85):  # eye_opening: lid gap ÷ eye width, range 85 % of the neutral gap
    up, lo = (LEFT_UPPER, LEFT_LOWER) if s == L else (RIGHT_UPPER, RIGHT_LOWER)  # paired lid contours
    gap = f[up, 1] - f[lo, 1]
    zero = np.zeros_like(gap)
    return [(up, np.stack([zero, -0.5 * frac * gap, zero], 1)), (lo, np.stack([zero, 0.5 * frac * gap, zero], 1))]


def _cheeks_up(f, s):  # cheek_raise: infra-orbital cheek height (range 0.06 IOD)
    return [(list(lm.CHEEK[s]), (0.0, AMOUNT * 0.06, 0.0))]


def _corners_smile(f, s):
    # commissure_lift (range 0.10) = corner y; commissure_pull (range 0.12) = corner · (out, up)/√2:
    # up h = 0.9 × 0.10 and out o with (o + h)/√2 = 0.9 × 0.12, i.e. o ≈ 0.063 IOD (≈ 4 mm), h = 0.09 (≈ 5.6 mm)
    h = AMOUNT * 0.10
    o = np.sqrt(2.0) * AMOUNT * 0.12 - h
    return [([lm.MOUTH_CORNER[s]], (_out(s) * o, h, 0.0))]


def _snarl(f, s):
    # nose_wrinkle: alar crease → inner canthus distance shortens by 0.9 × 0.05 (the ala moves toward the canthus);
    # upper_lip_raise: the paramedian upper lip rises 0.9 × 0.06
    a, c = lm.ALA[s], lm.EYE_INNER[s]
    v = f[c, :2] - f[a, :2]
    v = AMOUNT * 0.05 * v / np.linalg.norm(v)
    return [([a], (v[0], v[1], 0.0)), ([lm.UPPER_LIP_PARAMEDIAN[s][0]], (0.0, AMOUNT * 0.06, 0.0))]


def _pucker(f, s):
    # mouth_narrowing: corner toward the midline by 0.9 × 0.10; lip_protrusion: the outer lip contour (paramedian)
    # forward (z) by 0.9 × 0.06
    return [([lm.MOUTH_CORNER[s]], (-_out(s) * AMOUNT * 0.10, 0.0, 0.0)),
            (list(LIP_OUTER[s]), (0.0, 0.0, AMOUNT * 0.06))]


def _puff(f, s):  # cheek_puff: |x| + z of the buccal cheek points: out 0.018 and forward 0.018 = 0.9 × 0.04
    d = 0.5 * AMOUNT * 0.04
    assert np.all(np.sign(f[list(CHEEK_LOW[s]), 0]) == _out(s))  # on their own side, so out = larger |x|
    return [(list(CHEEK_LOW[s]), (_out(s) * d, 0.0, d))]


def _lower_lip_down(f, s):  # lower_lip_depression: lower-lip paramedian point below the corner (range 0.08)
    return [([LIP_OUTER[s][1]], (0.0, -AMOUNT * 0.08, 0.0))]


#: exercise id -> the edits of one side; every movement exercise needs one (a new exercise fails the test below)
EDITS = {
    "brow_raise": [_brows_up],
    "frown": [_brows_down_in],
    "gentle_eye_closure": [_eyes_closed],
    "tight_eye_closure": [_eyes_closed, _cheeks_up],
    "open_mouth_smile": [_corners_smile],
    "closed_lip_smile": [_corners_smile],
    "nose_wrinkle": [_snarl],
    "lip_pucker": [_pucker],
    "cheek_puff": [_puff],
    "lower_teeth": [_lower_lip_down],
}


def performing(face, ex_id: str, sides=(L, R)):
    f = g.frontal_points(face)
    return frontal_edit(face, [m for s in sides for edit in EDITS[ex_id] for m in edit(f, s)])


@pytest.fixture(scope="module")
def cal(faces):
    return Calibration.from_faces([faces["neutral"]])


@pytest.fixture(scope="module")
def reanalysed(analyzer):
    """The neutral portrait analysed again at 80 % of its size: same face, MediaPipe's landmark jitter."""
    img = _load("biden_portrait")
    return _one(analyzer, cv2.resize(img, None, fx=0.8, fy=0.8, interpolation=cv2.INTER_AREA))


def sequence(neutral, target, hold_seconds: float, *, rest=1.0, ramp=0.5, extra=0.8):
    """(t, face) at 10 fps: rest → ramp up → hold for hold_seconds + ``extra`` (the tracker's move phase and
    frame steps) → ramp down → rest."""
    out, t = [], 0.0
    n = lambda sec: int(round(sec * FPS))  # noqa: E731
    alphas = ([0.0] * n(rest) + [(i + 1) / n(ramp) for i in range(n(ramp))] + [1.0] * n(hold_seconds + extra)
              + [1 - (i + 1) / n(ramp) for i in range(n(ramp))] + [0.0] * n(rest))
    cache: dict[float, object] = {0.0: neutral, 1.0: target}
    for a in alphas:
        if a not in cache:
            cache[a] = blend(neutral, target, a)
        out.append((t, cache[a]))
        t += 1 / FPS
    return out


@pytest.mark.parametrize("ex_id", MOVEMENTS)
def test_every_movement_exercise_scores_its_movement(ex_id, faces, cal, reanalysed):
    ex = EXERCISES[ex_id]
    neutral = faces["neutral"]
    both = performing(neutral, ex_id)  # KeyError for a movement exercise without an edit in EDITS
    left = performing(neutral, ex_id, sides=(L,))

    # the premise: the edit moves each of the exercise's measures by AMOUNT of its range, on the edited side(s) only
    m0, m_both, m_left = measure(neutral), measure(both), measure(left)
    assert ex.measures
    for k in ex.measures:
        info = MEASURES[k]
        for s in (L, R):
            assert info.movement(m_both[k][s], m0[k][s]) == pytest.approx(AMOUNT, abs=0.01), (k, s)
        assert info.movement(m_left[k][L], m0[k][L]) == pytest.approx(AMOUNT, abs=0.01), k
        assert info.signed(m_left[k][R], m0[k][R]) == pytest.approx(0.0, abs=0.01), k

    # neutral: the calibration face itself is no movement at all; the same photo analysed again (MediaPipe's
    # jitter, up to ~0.01 IOD) stays low and does not count as doing the exercise
    rest = score_frame(ex, cal, neutral)
    assert rest.score == 0.0 and rest.left == rest.right == 0.0 and not rest.active, rest
    jitter = score_frame(ex, cal, reanalysed)
    assert jitter.score < NEUTRAL_MAX and not jitter.active, jitter

    # the movement on both sides: high, equal, no synkinesis warning (no watched measure was moved)
    fs = score_frame(ex, cal, both)
    assert fs.left >= SIDE_MIN and fs.right >= SIDE_MIN, fs
    assert fs.symmetry >= 0.95 and fs.score >= FULL_MIN and fs.active and fs.synkinesis == [], fs

    # the person's left only: left high, right still, no symmetry, the score well below the symmetric one
    one = score_frame(ex, cal, left)
    assert one.left >= SIDE_MIN and one.right <= STILL_MAX, one
    assert one.symmetry <= 0.05 and one.active and one.score <= ONE_SIDED_MAX, one
    assert one.signal == pytest.approx(fs.signal, abs=0.01)  # a one-sided try still drives the repetitions

    # one repetition at 10 fps: rest → ramp up → hold → release. Exactly one rep is counted (reps=2: the tracker
    # waits for a second one that never comes), held for hold_seconds, and scored as its steady frames
    for target, frame in ((both, fs), (left, one)):
        tr = ExerciseTracker(ex_id, cal, reps=2)
        done = []
        for t, face in sequence(neutral, target, ex.hold_seconds):
            fb = tr.push(face, t)
            if fb.rep_done is not None:
                done.append(fb.rep_done)
        assert len(done) == 1 and len(tr.results) == 1 and not tr.done, done
        rep = done[0]
        assert not rep.timed_out and rep.hold == pytest.approx(ex.hold_seconds, abs=0.15), rep
        assert rep.stability >= 0.95 and rep.synkinesis == (), rep
        assert rep.score == pytest.approx(frame.score, rel=REP_TOLERANCE), (rep, frame)
        assert rep.left == pytest.approx(frame.left, abs=0.02) and rep.right == pytest.approx(
            frame.right, abs=0.02), rep
        assert tr.result().score == rep.score

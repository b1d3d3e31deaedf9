"""Scoring practice exercises: neutral calibration, per-frame scores, and repetitions tracked over time.

All formulas and constants are documented in ``docs/practice.md``; in short, per frame:

- movement per side ``m_s`` = mean over the exercise's measures of
  ``clip(direction × (value_s − neutral_s) / full_range, 0, 1)`` (:mod:`mimetic.practice.measures`);
- range of motion ``rom = (m_left + m_right) / 2``;
- symmetry ``sym = min(m_l, m_r) / max(m_l, m_r)``; with an affected side ``sym = min(1, m_affected / m_healthy)``;
  1.0 when neither side moved :data:`MIN_MOVEMENT`;
- synkinesis: a watched measure (or AU) moving beyond its threshold while the exercise is being done → a warning
  and a penalty of :data:`SYNKINESIS_PENALTY` each (at most :data:`SYNKINESIS_MAX_PENALTY`);
- specificity: the largest movement ``off`` of the exercise's *off-target* measures (the other regions, from the
  same calibration; ``exercises.json``) costs ``spec = clip(1 − (off − OFF_TARGET_FREE) / (OFF_TARGET_FULL −
  OFF_TARGET_FREE), 0, 1)``: a smile done for "nose wrinkle" moves the mouth corners out and scores near 0;
- ``score = 100 × quality × spec × (1 − penalty)``, ``quality = rom × (0.5 + 0.5 sym)`` for movements and
  ``EXPRESSION_WEIGHT × p(expression) + (1 − EXPRESSION_WEIGHT) × rom × (0.5 + 0.5 sym)`` for emotions.

A repetition is rest → move → hold → release (:class:`ExerciseTracker`), its score the mean frame score over the
hold × ``(0.8 + 0.2 stability) × (0.5 + 0.5 min(1, hold / hold_seconds))``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

import numpy as np

from mimetic.practice.exercises import Exercise, get_exercise
from mimetic.practice.measures import MEASURES, measure, resting_measures
from mimetic.practice.results import CalibrationResult, ExerciseResult, Feedback, Message, RepResult, message

SCORING_VERSION = 2  # 2: off-target movement lowers the score (specificity)
SIDES = ("left", "right")

# --- per-frame constants --------------------------------------------------------------------------------------
#: below this movement (0-1) on both sides, symmetry is not judged (reported as 1.0)
MIN_MOVEMENT = 0.1
#: weight of the expression classifier's probability in an emotion exercise's frame quality
EXPRESSION_WEIGHT = 0.5
#: score lost per synkinesis warning, and at most in all
SYNKINESIS_PENALTY = 0.15
SYNKINESIS_MAX_PENALTY = 0.45
#: off-target movement (0-1 of its full range) that costs nothing (MediaPipe jitter, natural co-movement) ...
OFF_TARGET_FREE = 0.2
#: ... and at which the exercise's score reaches 0 (linear in between)
OFF_TARGET_FULL = 0.6
#: measures whose stillness the "neutral" exercise scores
STILLNESS_MEASURES = ("brow_lift", "eye_opening", "commissure_pull", "commissure_lift", "mouth_narrowing")

# --- repetition constants (seconds, or 0-1 of the activity signal) --------------------------------------------
ACTIVE_ON = 0.25  # the signal at which a movement starts (rest -> move)
ACTIVE_OFF = 0.15  # below this the hold is lost (hysteresis) ...
HOLD_KEEP = 0.5  # ... and below this fraction of the rep's peak signal so far
REST_LEVEL = 0.12  # below this the face is back at rest (release -> next rep)
MOVE_SECONDS = 0.3  # time active before the hold starts counting
DROP_GRACE = 0.4  # a hold survives a drop below ACTIVE_OFF this long (blinks, jitter)
RELEASE_TIMEOUT = 2.0  # the release ends after this even if the face does not return to rest
REP_TIMEOUT_MIN = 8.0  # a rep that never reaches the hold ends after max(REP_TIMEOUT_MIN, hold + REP_TIMEOUT_EXTRA)
REP_TIMEOUT_EXTRA = 6.0
MAX_DT = 0.5  # the largest time step counted between two frames with a face (gaps do not count)
STABILITY_SD = 0.2  # standard deviation of the signal during the hold at which stability reaches 0
SYNKINESIS_MIN_FRACTION = 0.25  # a rep reports a warning seen in at least this fraction of its active frames
TIMEOUT_TOP_FRACTION = 0.25  # a rep that timed out is scored on its best quarter of frames


# --- calibration ----------------------------------------------------------------------------------------------


def _activity(face) -> float:
    from mimetic.clinic.baseline import activity

    return float(activity(face))


def _median_pairs(dicts: list[dict[str, tuple[float, float]]]) -> dict[str, tuple[float, float]]:
    keys = dicts[0].keys()
    return {k: (float(np.median([d[k][0] for d in dicts])), float(np.median([d[k][1] for d in dicts])))
            for k in keys}


def _moved(faces: list) -> str | None:
    """The practice measure that moved most during the calibration, when its spread (90th - 10th percentile, the
    larger side) reached :attr:`Calibration.MOVED` of its full range; None for a still face (or under 4 faces)."""
    if len(faces) < 4:
        return None
    ms = [measure(f) for f in faces]
    worst, which = 0.0, None
    for k in STILLNESS_MEASURES:  # 2-D measures: MediaPipe's depth is too noisy here
        info = MEASURES[k]
        for s in (0, 1):
            v = np.array([m[k][s] for m in ms])
            full = info.full_range * (abs(float(np.median(v))) if info.relative else 1.0)
            if full > 1e-9 and np.all(np.isfinite(v)):
                spread = float(np.percentile(v, 90) - np.percentile(v, 10)) / full
                if spread > worst:
                    worst, which = spread, k
    return which if worst >= Calibration.MOVED else None


def _au_pairs(face) -> dict[str, tuple[float, float]]:
    aus = face.aus
    if not aus:
        from mimetic.facs.estimate import estimate_aus

        aus = estimate_aus(face)
    return {k: (v.left, v.right) for k, v in aus.items()}


@dataclass
class Calibration:
    """A person's neutral face: median measures of the calmest calibration frames (see :meth:`from_faces`)."""

    measures: dict[str, tuple[float, float]]
    aus: dict[str, tuple[float, float]]
    resting: dict[str, tuple[float, float]]
    expression: dict[str, float] = field(default_factory=dict)
    frames: int = 0
    used: int = 0
    warnings: list[Message] = field(default_factory=list)
    attempts: int = 1
    refused: list[Message] = field(default_factory=list)

    #: only the calmest fraction of the calibration frames is used (at least one)
    CALMEST_FRACTION = 0.5
    #: eye opening (lid gap ÷ eye width) under which the eyes look closed during calibration
    CLOSED_EYE = 0.12
    #: the calibration moved: a practice measure's spread (90th - 10th percentile over the faces, the larger side)
    #: reached this fraction of its full range
    MOVED = 1.0  # measured (2026-12-06, smile_pexels.mp4): calm 6.0-9.3 s 0.82; smile onset 9.5-12.5 s 1.13
    #: expression probability of "neutral" under which (with another class on top) the face is not neutral
    NOT_NEUTRAL = 0.3

    @classmethod
    def from_faces(cls, faces: list) -> "Calibration":
        """Calibrate from faces of the same person at rest. ``None`` entries are ignored; faces turned too far
        (|yaw| > 30°, |pitch| > 25°) are ignored unless no other face is left. Of the rest the calmest half (least
        blendshape activity, :func:`mimetic.clinic.baseline.activity`) is used; the neutral values are their
        medians. Raises ``ValueError`` when there is no face."""
        from mimetic.facs.geometry import is_pose_reliable

        faces = [f for f in faces if f is not None]
        if not faces:
            raise ValueError("calibration needs at least one face")
        good = [f for f in faces if is_pose_reliable(f)] or faces
        good.sort(key=_activity)
        calm = good[: max(1, math.ceil(len(good) * cls.CALMEST_FRACTION))]
        measures = _median_pairs([measure(f) for f in calm])
        resting = _median_pairs([resting_measures(f) for f in calm])
        aus = _median_pairs([_au_pairs(f) for f in calm])
        expr: dict[str, float] = {}
        scored = [f.expression.scores for f in calm if f.expression is not None]
        if scored:
            expr = {k: float(np.mean([s.get(k, 0.0) for s in scored])) for k in scored[0]}
        warnings = []
        if max(measures["eye_opening"]) < cls.CLOSED_EYE:
            warnings.append(message("calibration.eyes_closed"))
        if expr and max(expr, key=expr.__getitem__) != "neutral" and expr.get("neutral", 1.0) < cls.NOT_NEUTRAL:
            warnings.append(message("calibration.not_neutral", expression=max(expr, key=expr.__getitem__)))
        moved = _moved(good)
        if moved is not None:
            warnings.append(message("calibration.moved", measure=moved))
        return cls(measures, aus, resting, expr, len(faces), len(calm), warnings)

    def result(self) -> CalibrationResult:
        """The calibration as stored and sent (rounded; ``to_dict()`` of it is read back by :meth:`from_dict`),
        with the resting-symmetry items of the Sunnybrook-shaped estimate."""
        from mimetic.practice.sunnybrook import resting_items

        resting = {k: (round(v[0], 5), round(v[1], 5)) for k, v in self.resting.items()}
        return CalibrationResult(
            measures={k: (round(v[0], 5), round(v[1], 5)) for k, v in self.measures.items()},
            aus={k: (round(v[0], 3), round(v[1], 3)) for k, v in self.aus.items()},
            resting=resting,
            expression={k: round(v, 4) for k, v in self.expression.items()},
            frames=self.frames, used=self.used, warnings=tuple(self.warnings),
            resting_symmetry=resting_items(resting), quality="poor" if self.warnings else "good",
            attempts=self.attempts, refused=tuple(self.refused))

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "Calibration":
        """A calibration from its stored form (``Calibration.result().to_dict()``, parsed JSON)."""
        def pairs(x):
            return {k: (float(v[0]), float(v[1])) for k, v in (x or {}).items()}

        def messages(x):  # stored before message keys (scoring version 1): plain English strings
            return [Message(str(w["key"]), dict(w.get("values") or {})) if isinstance(w, dict)
                    else Message("calibration.legacy", {"text": str(w)}) for w in (x or [])]

        return cls(pairs(d["measures"]), pairs(d.get("aus")), pairs(d.get("resting")),
                   {k: float(v) for k, v in (d.get("expression") or {}).items()}, int(d.get("frames", 0)),
                   int(d.get("used", 0)), messages(d.get("warnings")), int(d.get("attempts", 1)),
                   messages(d.get("refused")))


# --- one frame ------------------------------------------------------------------------------------------------


@dataclass
class FrameScore:
    score: float  # 0-100
    left: float  # 0-1 movement of the person's left side
    right: float
    symmetry: float  # 0-1, 1 = equal
    synkinesis: list[Message]  # synkinesis warnings (key synkinesis.<exercise>.<watched code>, values.side)
    active: bool  # moving enough to count as doing the exercise
    signal: float = 0.0  # 0-1: how much the exercise is being done (drives the repetition segmentation)
    synkinesis_level: float = 0.0  # the largest watched movement ÷ its threshold (>= 1: a warning)
    expression: float | None = None  # emotion exercises: the probability of the target expression
    off_target: float = 0.0  # 0-1: the largest off-target movement (either side)
    off_target_measure: str | None = None  # the off-target measure that moved most (None below OFF_TARGET_FREE)
    specificity: float = 1.0  # 0-1: the factor the off-target movement leaves of the score

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        for k in ("score", "left", "right", "symmetry", "signal", "synkinesis_level", "off_target", "specificity"):
            d[k] = round(float(d[k]), 4 if k != "score" else 2)
        if d["expression"] is not None:
            d["expression"] = round(d["expression"], 4)
        return d


def symmetry(left: float, right: float, affected_side: str | None = None) -> float:
    """0-1 symmetry of two movements: ``min/max``, or with an affected side ``min(1, affected / healthy)``;
    1.0 when neither side moved :data:`MIN_MOVEMENT`."""
    hi = max(left, right)
    if hi < MIN_MOVEMENT:
        return 1.0
    if affected_side in SIDES:
        aff, healthy = (left, right) if affected_side == "left" else (right, left)
        if healthy < MIN_MOVEMENT:
            return 1.0
        return float(min(1.0, aff / healthy))
    return float(min(left, right) / hi)


def _side_movements(names, m, neutral) -> tuple[float, float]:
    if not names:
        return 0.0, 0.0
    out = []
    for s in (0, 1):
        out.append(float(np.mean([MEASURES[k].movement(m[k][s], neutral[k][s]) for k in names])))
    return out[0], out[1]


def specificity(exercise: Exercise, m, neutral) -> tuple[float, float, str | None]:
    """(specificity 0-1, the largest off-target movement 0-1, its measure or None when it costs nothing) of one
    frame's measures ``m`` against the calibration's ``neutral`` (module doc)."""
    off, which = 0.0, None
    for k in exercise.off_target:
        for s in (0, 1):
            v = MEASURES[k].movement(m[k][s], neutral[k][s])
            if v > off:
                off, which = v, k
    spec = 1.0 - (off - OFF_TARGET_FREE) / (OFF_TARGET_FULL - OFF_TARGET_FREE)
    return float(min(1.0, max(0.0, spec))), float(off), (which if off > OFF_TARGET_FREE else None)


def _stillness(m, neutral) -> tuple[float, float]:
    out = []
    for s in (0, 1):
        dev = np.mean([min(1.0, abs(MEASURES[k].signed(m[k][s], neutral[k][s]))) for k in STILLNESS_MEASURES])
        out.append(float(1.0 - dev))
    return out[0], out[1]


def _watch_levels(exercise: Exercise, cal: Calibration, face, m) -> list[tuple[Message, float]]:
    """(warning with its side, level = movement ÷ threshold) for every watch."""
    out = []
    aus = None
    for w in exercise.synkinesis:
        if w.code in MEASURES:
            info = MEASURES[w.code]
            lv = [info.signed(m[w.code][s], cal.measures[w.code][s]) for s in (0, 1)]
        else:
            if aus is None:
                aus = _au_pairs(face)
            now, base = aus.get(w.code, (0.0, 0.0)), cal.aus.get(w.code, (0.0, 0.0))
            lv = [now[s] - base[s] for s in (0, 1)]
        lv = [max(0.0, v) / max(w.threshold, 1e-9) for v in lv]
        hit = [s for s in (0, 1) if lv[s] >= 1.0]
        key = f"synkinesis.{exercise.id}.{w.code}"
        where = "both" if len(hit) == 2 else SIDES[hit[0]] if hit else None
        out.append((message(key, side=where) if where else message(key), max(lv)))
    return out


def score_frame(exercise: Exercise | str, calibration: Calibration, face, affected_side: str | None = None
                ) -> FrameScore:
    """Score one face doing ``exercise`` against the person's neutral ``calibration`` (formulas: module doc)."""
    ex = get_exercise(exercise) if isinstance(exercise, str) else exercise
    if affected_side is not None and affected_side not in SIDES:
        raise ValueError(f"affected_side must be 'left', 'right' or None, not {affected_side!r}")
    m = measure(face)
    neutral = calibration.measures
    p = None
    if ex.kind == "emotion" and ex.expression == "neutral":
        left, right = _stillness(m, neutral)
    else:
        left, right = _side_movements(ex.measures, m, neutral)
    sym = symmetry(left, right, affected_side)
    rom = 0.5 * (left + right)
    spec, off, off_which = specificity(ex, m, neutral)
    quality = rom * (0.5 + 0.5 * sym)
    signal = max(left, right)
    if ex.kind == "emotion":
        p = float(face.expression.scores.get(ex.expression, 0.0)) if face.expression is not None else 0.0
        quality = EXPRESSION_WEIGHT * p + (1.0 - EXPRESSION_WEIGHT) * quality
        signal = EXPRESSION_WEIGHT * p + (1.0 - EXPRESSION_WEIGHT) * (min(left, right)
                                                                       if ex.expression == "neutral" else signal)
    active = signal >= ACTIVE_ON
    warnings: list[Message] = []
    level = 0.0
    if active and ex.synkinesis:
        levels = _watch_levels(ex, calibration, face, m)
        level = max(lv for _, lv in levels)
        warnings = [msg for msg, lv in levels if lv >= 1.0]
    penalty = min(SYNKINESIS_MAX_PENALTY, SYNKINESIS_PENALTY * len(warnings))
    score = 100.0 * min(1.0, max(0.0, quality)) * spec * (1.0 - penalty)
    return FrameScore(score=score, left=left, right=right, symmetry=sym, synkinesis=warnings, active=active,
                      signal=float(signal), synkinesis_level=float(level), expression=p, off_target=off,
                      off_target_measure=off_which, specificity=spec)


# --- repetitions ----------------------------------------------------------------------------------------------


def _r(x: float, n: int = 4) -> float:
    return round(float(x), n)


@dataclass
class _Rep:
    start: float
    frames: list[FrameScore] = field(default_factory=list)  # every frame of the rep with a face
    hold_frames: list[FrameScore] = field(default_factory=list)
    held: float = 0.0
    peak: float = 0.0
    state_since: float = 0.0
    low_since: float | None = None
    timed_out: bool = False


class ExerciseTracker:
    """Live tracking of one exercise: ``reps`` repetitions, each rest → move → hold → release.

    ``push(face | None, t)`` returns the live feedback (``docs/dev/practice-contract.md`` §4) with ``phase``
    "exercise"; ``done`` becomes True after the last rep; ``result()`` is the exercise's entry of the session
    result (§3). Time counts only while a face is seen (frames without a face pause every timer), and steps
    longer than :data:`MAX_DT` count as :data:`MAX_DT`.
    """

    def __init__(self, exercise: Exercise | str, calibration: Calibration, reps: int = 3,
                 affected_side: str | None = None):
        if reps < 1:
            raise ValueError(f"reps must be at least 1, not {reps}")
        if affected_side is not None and affected_side not in SIDES:
            raise ValueError(f"affected_side must be 'left', 'right' or None, not {affected_side!r}")
        self.exercise = get_exercise(exercise) if isinstance(exercise, str) else exercise
        self.calibration = calibration
        self.reps = reps
        self.affected_side = affected_side
        self.results: list[RepResult] = []
        self.skipped = False
        self.state = "rest"
        self._clock = 0.0
        self._last_t: float | None = None
        self._rep = _Rep(start=0.0)
        self._last_score: FrameScore | None = None
        hold = self.exercise.hold_seconds
        self.rep_timeout = max(REP_TIMEOUT_MIN, hold + REP_TIMEOUT_EXTRA)
        self._still = self.exercise.expression == "neutral"

    @property
    def done(self) -> bool:
        return self.skipped or len(self.results) >= self.reps

    def skip(self) -> None:
        self.skipped = True

    # -- time ---------------------------------------------------------------------------------------------------
    def _tick(self, t: float, seen: bool) -> float:
        dt = 0.0
        if seen and self._last_t is not None:
            dt = min(MAX_DT, max(0.0, t - self._last_t))
        self._last_t = t if seen else None
        self._clock += dt
        return dt

    def _set(self, state: str) -> None:
        self.state = state
        self._rep.state_since = self._clock

    # -- one frame ----------------------------------------------------------------------------------------------
    def push(self, face, t: float) -> Feedback:
        """Feed one frame (``face`` None when no face was found) at time ``t`` (seconds, increasing)."""
        ex = self.exercise
        if self.done:
            return self._feedback(None, "done", progress=1.0)
        if face is None:
            self._tick(t, False)
            return self._feedback(None, "no_face")
        dt = self._tick(t, True)
        fs = score_frame(ex, self.calibration, face, self.affected_side)
        self._last_score = fs
        rep = self._rep
        rep.frames.append(fs)
        sig = fs.signal
        rep.peak = max(rep.peak, sig)
        in_state = self._clock - rep.state_since
        rep_done = None
        if self.state == "rest":
            if sig >= ACTIVE_ON:
                self._set("move")
        elif self.state == "move":
            if sig < ACTIVE_OFF:
                self._set("rest")
            elif in_state >= MOVE_SECONDS:
                self._set("hold")
                rep.low_since = None
        elif self.state == "hold":
            if sig >= max(ACTIVE_OFF, HOLD_KEEP * rep.peak):
                rep.held += dt
                rep.hold_frames.append(fs)
                rep.low_since = None
            elif rep.low_since is None:
                rep.low_since = self._clock
            if rep.held >= ex.hold_seconds or (rep.low_since is not None
                                               and self._clock - rep.low_since > DROP_GRACE):
                self._set("release")
                if self._still:
                    rep_done = self._finish()
        elif self.state == "release":
            if sig < REST_LEVEL or in_state >= RELEASE_TIMEOUT:
                rep_done = self._finish()
        if rep_done is None and self.state in ("rest", "move") and self._clock - rep.start >= self.rep_timeout:
            rep.timed_out = True
            rep_done = self._finish()
        if self.state == "hold":
            progress = min(1.0, rep.held / max(ex.hold_seconds, 1e-9))
        elif self.state == "release" or rep_done is not None:
            progress = 1.0
        else:
            progress = 0.0
        state = "release" if rep_done is not None else self.state
        return self._feedback(fs, state, progress=progress, rep_done=rep_done)

    def _finish(self) -> RepResult:
        res = rep_result(self._rep, self.exercise, self.affected_side)
        self.results.append(res)
        self._rep = _Rep(start=self._clock, state_since=self._clock)
        self.state = "rest"
        return res

    def _feedback(self, fs: FrameScore | None, state: Literal["rest", "move", "hold", "release", "no_face", "done"],
                  progress: float = 0.0, rep_done: RepResult | None = None) -> Feedback:
        ex = self.exercise
        hold = None if rep_done is None else rep_done.hold
        rep_no = len(self.results) if hold is not None else min(len(self.results) + 1, self.reps)
        msg = {
            "rest": message("practice.msg.instruction", exercise=ex.id),
            "move": message("practice.msg.instruction", exercise=ex.id),
            "hold": message("practice.msg.hold", n=math.ceil(max(0.0, ex.hold_seconds - self._rep.held) - 1e-6)),
            "release": message("practice.msg.relax" if not self._still else "practice.msg.well_done"),
            "no_face": message("practice.msg.no_face"),
            "done": message("practice.msg.done"),
        }[state]
        if state == "rest" and self.results:
            msg = message("practice.msg.again", exercise=ex.id)
        warnings = tuple(fs.synkinesis) if fs else ()
        if fs is not None and fs.off_target_measure is not None and fs.active:
            warnings += (message("practice.warn.off_target", measure=fs.off_target_measure),)
        best = max((r.score for r in self.results), default=None)
        return Feedback(
            phase="exercise", exercise=ex.id, rep=rep_no, reps=self.reps, state=state, progress=_r(progress, 3),
            score=_r(fs.score, 1) if fs else 0.0, left=_r(fs.left, 3) if fs else 0.0,
            right=_r(fs.right, 3) if fs else 0.0, symmetry=_r(fs.symmetry, 3) if fs else 1.0,
            hold=_r(self._rep.held if hold is None else hold, 2),
            warnings=warnings, message=msg, rep_done=rep_done, best=best)

    # -- results ------------------------------------------------------------------------------------------------
    def result(self) -> ExerciseResult:
        """The exercise's result (contract §3): medians/means over the finished reps."""
        return exercise_result(self.exercise.id, self.results, skipped=self.skipped and len(self.results) < self.reps,
                               affected_side=self.affected_side)


def rep_result(rep: _Rep, exercise: Exercise, affected_side: str | None = None) -> RepResult:
    """One repetition's result from its frames (formulas: module doc and docs/practice.md)."""
    frames = rep.hold_frames
    hold = rep.held
    if not frames:  # never reached the hold: its best quarter of frames, no hold, no stability
        ranked = sorted(rep.frames, key=lambda f: f.signal, reverse=True)
        frames = ranked[: max(1, math.ceil(len(ranked) * TIMEOUT_TOP_FRACTION))] if ranked else []
        hold = 0.0
    if not frames:
        return RepResult(score=0.0, left=0.0, right=0.0, symmetry=1.0, hold=0.0, stability=0.0, synkinesis=(),
                         synkinesis_level=0.0, timed_out=True)
    sig = np.array([f.signal for f in frames])
    stability = 0.0 if not rep.hold_frames or len(sig) < 2 else float(1.0 - min(1.0, sig.std() / STABILITY_SD))
    left = float(np.mean([f.left for f in frames]))
    right = float(np.mean([f.right for f in frames]))
    hold_factor = 0.5 + 0.5 * min(1.0, hold / max(exercise.hold_seconds, 1e-9))
    score = float(np.mean([f.score for f in frames])) * (0.8 + 0.2 * stability) * hold_factor
    active = [f for f in rep.frames if f.active] or frames
    counts: dict[tuple, int] = {}
    seen: dict[tuple, Message] = {}
    for f in active:
        for w in f.synkinesis:
            k = (w.key, tuple(sorted(w.values.items())))
            counts[k] = counts.get(k, 0) + 1
            seen[k] = w
    warnings = [seen[k] for k, c in counts.items() if c >= SYNKINESIS_MIN_FRACTION * len(active)]
    level = float(np.median([f.synkinesis_level for f in active]))
    return RepResult(score=_r(score, 2), left=_r(left), right=_r(right),
                     symmetry=_r(symmetry(left, right, affected_side)), hold=_r(hold, 2), stability=_r(stability),
                     synkinesis=tuple(warnings), synkinesis_level=_r(level, 3), timed_out=bool(rep.timed_out))


def exercise_result(exercise_id: str, reps: Sequence[RepResult], *, skipped: bool = False,
                    affected_side: str | None = None) -> ExerciseResult:
    """Combine rep results: score = median of the rep scores, the rest means; warnings = those of any rep."""
    if not reps:
        return ExerciseResult(id=exercise_id, score=0.0, left=0.0, right=0.0, symmetry=1.0, hold=0.0, stability=0.0,
                              synkinesis=(), synkinesis_level=0.0, skipped=skipped, reps=())
    left = float(np.mean([r.left for r in reps]))
    right = float(np.mean([r.right for r in reps]))
    warnings: list[Message] = []
    for r in reps:
        warnings += [w for w in r.synkinesis if w not in warnings]
    return ExerciseResult(
        id=exercise_id,
        score=_r(float(np.median([r.score for r in reps])), 2),
        left=_r(left), right=_r(right), symmetry=_r(symmetry(left, right, affected_side)),
        hold=_r(float(np.mean([r.hold for r in reps])), 2),
        stability=_r(float(np.mean([r.stability for r in reps]))),
        synkinesis=tuple(warnings),
        synkinesis_level=_r(float(np.median([r.synkinesis_level for r in reps])), 3),
        skipped=skipped,
        reps=tuple(reps),
    )


__all__ = ["ACTIVE_ON", "OFF_TARGET_FREE", "OFF_TARGET_FULL", "Calibration", "ExerciseTracker", "FrameScore",
           "SCORING_VERSION", "exercise_result", "rep_result", "score_frame", "specificity", "symmetry"]

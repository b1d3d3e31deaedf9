"""A practice session: calibrate a neutral face, then each exercise of a routine for N repetitions.

>>> s = PracticeSession("smile", reps=3)
>>> for t, face in frames:            # face: the main Face of the frame, or None
...     feedback = s.push(face, t)    # docs/dev/practice-contract.md §4
...     if s.done:
...         break
>>> s.result().score                 # §3

Phases: ``"calibrate"`` (``calibration_seconds`` of face time; the calmest half of those faces become the neutral
calibration, :meth:`mimetic.practice.scoring.Calibration.from_faces`) → ``"exercise"`` (one
:class:`~mimetic.practice.scoring.ExerciseTracker` after the other) → ``"done"``. Frames without a face pause
every timer (state ``"no_face"``). No web or database code here: the web layer feeds frames and stores
``result()``. The feedback and the result are the types of :mod:`mimetic.practice.results` (``to_dict()``: their
JSON).
"""

from __future__ import annotations

from dataclasses import replace

from mimetic.practice import sunnybrook
from mimetic.practice.exercises import get_exercise, routine_ids
from mimetic.practice.results import Feedback, SessionResult, message
from mimetic.practice.scoring import (MAX_DT, SCORING_VERSION, SIDES, Calibration, ExerciseTracker,
                                      exercise_result)

#: the largest number of calibration faces kept (a long calibration at a high frame rate)
MAX_CALIBRATION_FACES = 300
#: a calibration with warnings (eyes closed, not neutral, moving) is refused and retried this many times; the
#: last attempt is accepted with its warnings (stored: quality "poor"), so a face that cannot look neutral (a
#: palsy, a habit) can still practise
MAX_CALIBRATION_ATTEMPTS = 3


class PracticeSession:
    """One practice session. ``routine``: a routine name (``mimetic.practice.exercises.ROUTINES``), an exercise id,
    or a list of exercise ids. ``affected_side``: "left" / "right" (the person's) or None. ``calibration``: an
    existing :class:`Calibration` (or its dict) to skip the calibration phase."""

    def __init__(self, routine: list[str] | str, reps: int = 3, affected_side: str | None = None,
                 calibration_seconds: float = 3.0, calibration: Calibration | dict | None = None):
        if reps < 1:
            raise ValueError(f"reps must be at least 1, not {reps}")
        if affected_side is not None and affected_side not in SIDES:
            raise ValueError(f"affected_side must be 'left', 'right' or None, not {affected_side!r}")
        if calibration_seconds <= 0:
            raise ValueError(f"calibration_seconds must be positive, not {calibration_seconds}")
        self.routine_name = routine if isinstance(routine, str) else None
        self.exercise_ids = routine_ids(routine)
        self.reps = reps
        self.affected_side = affected_side
        self.calibration_seconds = float(calibration_seconds)
        self.calibration: Calibration | None = (Calibration.from_dict(calibration) if isinstance(calibration, dict)
                                                else calibration)
        self._cal_faces: list = []
        self._cal_attempt = 1
        self._cal_refused: list = []
        self.stopped = False
        self._cal_time = 0.0
        self._cal_last: float | None = None
        self._index = 0
        self._trackers: list[ExerciseTracker] = []
        if self.calibration is not None:
            self._start_exercises()

    # -- state ------------------------------------------------------------------------------------------------
    @property
    def phase(self) -> str:
        if self.stopped:
            return "done"
        if self.calibration is None:
            return "calibrate"
        return "done" if self._index >= len(self._trackers) else "exercise"

    @property
    def done(self) -> bool:
        return self.phase == "done"

    @property
    def stages(self) -> frozenset[str]:
        """The analysis stages the next frame needs (:mod:`mimetic.options`): AUs always; the expression only while
        calibrating (the neutral-face check) and in emotion exercises. Symmetry is never read here."""
        cur = self.current
        if self.phase == "calibrate" or (cur is not None and cur.exercise.kind == "emotion"):
            return frozenset(("landmarks", "aus", "expression"))
        return frozenset(("landmarks", "aus"))

    @property
    def current(self) -> ExerciseTracker | None:
        return self._trackers[self._index] if self.phase == "exercise" else None

    def _start_exercises(self) -> None:
        self._trackers = [ExerciseTracker(get_exercise(i), self.calibration, self.reps, self.affected_side)
                          for i in self.exercise_ids]

    @property
    def can_skip(self) -> bool:
        """Whether :meth:`skip` can act (an exercise is under way)."""
        return self.current is not None

    def stop(self) -> None:
        """End the session now: the finished exercises are kept, the rest are skipped (``result().partial``)."""
        self.stopped = True

    def skip(self) -> None:
        """Skip the current exercise (during calibration: nothing to skip)."""
        cur = self.current
        if cur is not None:
            cur.skip()
            self._index += 1

    # -- frames -----------------------------------------------------------------------------------------------
    def push(self, face, t: float) -> Feedback:
        """Feed the main face of one frame (``None`` when there is none) at ``t`` seconds (increasing)."""
        if self.phase == "calibrate":
            return self._calibrate(face, float(t))
        if self.done:
            return self._done_feedback()
        cur = self.current
        fb = cur.push(face, float(t))
        if cur.done:
            self._index += 1
            if not self.done:
                fb = replace(fb, next=self.current.exercise.id)
        if self.done:
            fb = replace(fb, session_done=True)
        return fb

    def _calibrate(self, face, t: float) -> Feedback:
        def feedback(state, progress: float, msg, **more) -> Feedback:
            return Feedback(phase="calibrate", exercise=None, rep=0, reps=self.reps, state=state,
                            progress=round(progress, 3), score=0.0, left=0.0, right=0.0, symmetry=1.0, hold=0.0,
                            warnings=more.pop("warnings", ()), message=msg, **more)

        if face is None:
            self._cal_last = None
            progress = min(1.0, self._cal_time / self.calibration_seconds)
            return feedback("no_face", progress, message("practice.msg.no_face"))
        if self._cal_last is not None:
            self._cal_time += min(MAX_DT, max(0.0, t - self._cal_last))
        self._cal_last = t
        if len(self._cal_faces) < MAX_CALIBRATION_FACES:
            self._cal_faces.append(face)
        progress = min(1.0, self._cal_time / self.calibration_seconds)
        if progress < 1.0:
            return feedback("rest", progress, message("practice.msg.calibrate", attempt=self._cal_attempt))
        cal = Calibration.from_faces(self._cal_faces)
        self._cal_faces, self._cal_time, self._cal_last = [], 0.0, None
        if cal.warnings and self._cal_attempt < MAX_CALIBRATION_ATTEMPTS:
            # refused: say why (the warnings) and calibrate again from the start
            self._cal_refused += cal.warnings
            self._cal_attempt += 1
            return feedback("rest", 0.0, message("practice.msg.calibration_refused", attempt=self._cal_attempt,
                                                 attempts=MAX_CALIBRATION_ATTEMPTS),
                            warnings=tuple(cal.warnings), refused=True)
        cal.attempts, cal.refused = self._cal_attempt, list(self._cal_refused)
        self.calibration = cal
        self._start_exercises()
        first = self.exercise_ids[0]
        return feedback("rest", 1.0, message("practice.msg.calibrated", exercise=first),
                        warnings=tuple(cal.warnings), calibration=cal.result(),
                        next=self.current.exercise.id if self.current else None)

    def _done_feedback(self) -> Feedback:
        return Feedback(phase="done", exercise=None, rep=self.reps, reps=self.reps, state="rest", progress=1.0,
                        score=self.result().score, left=0.0, right=0.0, symmetry=1.0, hold=0.0, warnings=(),
                        message=message("practice.msg.session_complete"))

    # -- result -----------------------------------------------------------------------------------------------
    def result(self) -> SessionResult:
        """The session result (contract §3). Exercises not reached yet are listed as skipped with no reps; the
        session score is the mean score of the exercises with at least one finished rep (0 when none)."""
        exercises = []
        for i, ex_id in enumerate(self.exercise_ids):
            if i < len(self._trackers):
                r = self._trackers[i].result()
                if i >= self._index and not self._trackers[i].done:
                    r = replace(r, skipped=True)
            else:
                r = exercise_result(ex_id, [], skipped=True)
            exercises.append(r)
        scored = [e.score for e in exercises if e.reps]
        calibration = self.calibration.result() if self.calibration is not None else None
        return SessionResult(
            routine=self.routine_name if self.routine_name is not None else tuple(self.exercise_ids),
            reps=self.reps,
            affected_side=self.affected_side,
            calibration=calibration,
            score=round(sum(scored) / len(scored), 2) if scored else 0.0,
            exercises=tuple(exercises),
            scoring_version=SCORING_VERSION,
            sunnybrook=sunnybrook.estimate(exercises, calibration, self.affected_side),
            partial=self.stopped and any(e.skipped for e in exercises),
        )


__all__ = ["PracticeSession"]

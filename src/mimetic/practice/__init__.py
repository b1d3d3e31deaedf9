"""Practice and rehabilitation: guided expression exercises scored live against the person's neutral face
(issue 7; ``docs/practice.md``). No web or database code: the web layer feeds frames to a
:class:`PracticeSession` and stores its ``result()``.

>>> from mimetic.practice import PracticeSession, EXERCISES, ROUTINES
>>> session = PracticeSession("sunnybrook", reps=3, affected_side="left")
>>> feedback = session.push(face, t)   # face: mimetic.types.Face or None; t: seconds -> Feedback
>>> session.result().to_dict()         # SessionResult as JSON values (mimetic/schema/practice.schema.json)
"""

from mimetic.practice.exercises import EXERCISES, ROUTINES, Exercise, Watch, get_exercise, routine_ids
from mimetic.practice.measures import MEASURES, measure
from mimetic.practice.results import (CalibrationResult, ExerciseResult, Feedback, RepResult, SessionResult,
                                      SunnybrookEstimate)
from mimetic.practice.scoring import SCORING_VERSION, Calibration, ExerciseTracker, FrameScore, score_frame
from mimetic.practice.session import PracticeSession
from mimetic.practice.sunnybrook import estimate as sunnybrook_estimate

__all__ = ["EXERCISES", "MEASURES", "ROUTINES", "SCORING_VERSION", "Calibration", "CalibrationResult", "Exercise",
           "ExerciseResult", "ExerciseTracker", "Feedback", "FrameScore", "PracticeSession", "RepResult",
           "SessionResult", "SunnybrookEstimate", "Watch", "get_exercise", "measure", "routine_ids", "score_frame",
           "sunnybrook_estimate"]

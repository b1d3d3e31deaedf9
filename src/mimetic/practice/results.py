"""The practice contract as types: the live feedback of every pushed frame and the session result with its
exercises, repetitions, calibration and Sunnybrook-shaped estimate.

These frozen dataclasses are what :class:`~mimetic.practice.session.PracticeSession` and
:class:`~mimetic.practice.scoring.ExerciseTracker` return. ``to_dict()`` writes them field by field
(:func:`mimetic.types.to_plain`; an :func:`~mimetic.types.optional_key` is left out while it is None), and that
plain form is what the web page receives, what the store saves and what :func:`mimetic.export.dumps` writes. The
JSON schema ``mimetic/schema/practice.schema.json`` (:func:`mimetic.schema.generate_practice_schema`) and the
practice API's OpenAPI models (``mimetic.web.schemas``) are generated from them; ``docs/dev/practice-contract.md``
§3-§4 describes them in words. ``Doc`` annotations carry the schema's descriptions and ranges; nothing checks them
at run time.

Sides are the person's (``left`` = the person's left, on the image's right in an unmirrored camera picture).
Movements are 0-1 (a fraction of the measure's full range), scores 0-100, times seconds.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any, Literal

from mimetic.types import Doc, Unit, optional_key, to_plain

__all__ = ["CalibrationResult", "Message", "message", "CheekItem", "ExerciseResult", "Feedback", "RepResult",
           "RestingItem", "RestingSymmetry", "SessionResult", "SunnybrookEstimate", "SunnybrookItems"]

Side = Literal["left", "right"]
Score = Annotated[float, Doc("0-100", minimum=0, maximum=100)]
Seconds = Annotated[float, Doc("seconds", minimum=0)]
Pair = Annotated[tuple[float, float], Doc("[the person's left, right]")]


SynkinesisLevel = Annotated[float, Doc("median over the frames of the largest watched movement ÷ its warning "
                                       "threshold (>= 1: a warning)", minimum=0)]


class _Plain:
    __slots__ = ()
    #: for the JSON schema and the OpenAPI models (pydantic): no keys beyond the fields
    __pydantic_config__ = {"extra": "forbid"}

    def to_dict(self) -> dict[str, Any]:
        """This value as plain JSON values (:func:`mimetic.types.to_plain`)."""
        return to_plain(self)


@dataclass(frozen=True, slots=True)
class Message(_Plain):
    """Text for the person as a message key and its values, so that every page renders it in its own language
    (``mimetic/web/locales/practice/<lang>.json``; a key with plural forms has ``key#one``, ``key#other``, ... and
    the value ``n`` picks the form). No English text travels: every language, English included, is a catalogue."""

    key: Annotated[str, Doc("the message key, e.g. 'synkinesis.lip_pucker.eye_opening' or 'practice.msg.hold'")]
    values: Annotated[dict[str, str | int | float], Doc("the key's placeholders: side (left/right/both), "
                                                        "exercise (an exercise id), n (a count)...")]


def message(key: str, **values: str | int | float) -> Message:
    """``Message(key, values)``."""
    return Message(key, dict(values))


Warnings = Annotated[tuple[Message, ...], Doc("synkinesis warnings: what moved that should not have, with the "
                                              "side (values.side)")]


@dataclass(frozen=True, slots=True)
class RepResult(_Plain):
    """One repetition (:func:`mimetic.practice.scoring.rep_result`): means over its hold (or its best quarter of
    frames when it never reached the hold)."""

    score: Score
    left: Annotated[Unit, Doc("movement of the person's left side 0-1")]
    right: Annotated[Unit, Doc("movement of the person's right side 0-1")]
    symmetry: Annotated[Unit, Doc("0-1, 1 = equal (with an affected side: affected ÷ healthy, at most 1)")]
    hold: Annotated[Seconds, Doc("seconds held")]
    stability: Annotated[Unit, Doc("steadiness of the hold 0-1 (0 without a hold)")]
    synkinesis: Warnings
    synkinesis_level: SynkinesisLevel
    timed_out: Annotated[bool, Doc("the rep never reached its hold and ended by the timeout")]


@dataclass(frozen=True, slots=True)
class ExerciseResult(_Plain):
    """One exercise of a session (:func:`mimetic.practice.scoring.exercise_result`): the median rep score, the
    means of the rest, the warnings of any rep."""

    id: Annotated[str, Doc("the exercise id (mimetic.practice.exercises.EXERCISES)")]
    score: Score
    left: Unit
    right: Unit
    symmetry: Unit
    hold: Seconds
    stability: Unit
    synkinesis: Warnings
    synkinesis_level: SynkinesisLevel
    skipped: Annotated[bool, Doc("skipped (or not reached) before all its reps were done")]
    reps: Annotated[tuple[RepResult, ...], Doc("the finished repetitions, in order")]


@dataclass(frozen=True, slots=True, kw_only=True)
class RestingItem(_Plain):
    """One resting-symmetry item of the Sunnybrook-shaped estimate (eye, mouth), from the neutral calibration;
    values in inter-ocular distances."""

    grade: Annotated[int, Doc("0 normal, 1 asymmetric", minimum=0, maximum=1)]
    left: float
    right: float
    difference: Annotated[float, Doc("left - right")]
    note: Annotated[str, Doc("which side differs, in words (empty when grade is 0)")]


@dataclass(frozen=True, slots=True, kw_only=True)
class CheekItem(_Plain):
    """The cheek (nasolabial fold) resting item: its length per side (inter-ocular distances) and angle."""

    grade: Annotated[int, Doc("0 normal, 1 less or more pronounced, 2 absent or severe", minimum=0, maximum=2)]
    left: float
    right: float
    difference: Annotated[float, Doc("left - right")]
    angle: Annotated[tuple[float, float] | None, Doc("the fold's angle per side, degrees")]
    note: Annotated[str, Doc("which side differs, in words (empty when grade is 0)")]


@dataclass(frozen=True, slots=True, kw_only=True)
class RestingSymmetry(_Plain):
    """Resting symmetry of the neutral face (:func:`mimetic.practice.sunnybrook.resting_items`); an item whose
    measures are missing is left out."""

    eye: RestingItem | None = optional_key()
    cheek: CheekItem | None = optional_key()
    mouth: RestingItem | None = optional_key()
    sum: Annotated[int, Doc("eye + cheek + mouth grades", minimum=0, maximum=4)]
    score: Annotated[int, Doc("sum × 5 (0-20)", minimum=0, maximum=20)]


@dataclass(frozen=True, slots=True)
class CalibrationResult(_Plain):
    """A neutral calibration as stored (:meth:`mimetic.practice.scoring.Calibration.result`; read back by
    ``Calibration.from_dict``): its medians per side, rounded."""

    measures: Annotated[dict[str, Pair], Doc("practice measure -> neutral value per side "
                                             "(mimetic.practice.measures)")]
    aus: Annotated[dict[str, Pair], Doc("AU code -> neutral intensity per side (0-5)")]
    resting: Annotated[dict[str, Pair], Doc("resting measure -> value per side (inter-ocular distances; "
                                            "angles in degrees)")]
    expression: Annotated[dict[str, Unit], Doc("mean expression probabilities (empty when none was measured)")]
    frames: Annotated[int, Doc("faces seen while calibrating", minimum=0)]
    used: Annotated[int, Doc("the calmest faces used", minimum=0)]
    warnings: Annotated[tuple[Message, ...], Doc("why this calibration may be poor (eyes closed, not neutral, "
                                                 "moving); empty for a good one")]
    resting_symmetry: RestingSymmetry
    quality: Annotated[Literal["good", "poor"], Doc("good: no warning; poor: accepted with warnings after the "
                                                    "last allowed attempt")] = "good"
    attempts: Annotated[int, Doc("calibration attempts, this one included (the earlier ones were refused)",
                                 minimum=1)] = 1
    refused: Annotated[tuple[Message, ...], Doc("why the earlier attempts were refused")] = ()


@dataclass(frozen=True, slots=True)
class SunnybrookItems(_Plain):
    """The items behind the Sunnybrook-shaped scores; an item whose exercise was not done is null."""

    resting: Annotated[dict[str, int], Doc("eye / cheek / mouth -> resting grade")]
    resting_detail: Annotated[dict[str, RestingItem | CheekItem], Doc("eye / cheek / mouth -> the measured item")]
    voluntary: Annotated[dict[str, int | None], Doc("expression -> voluntary movement grade 1-5")]
    voluntary_ratio: Annotated[dict[str, float | None], Doc("expression -> affected ÷ healthy movement 0-1")]
    synkinesis: Annotated[dict[str, int | None], Doc("expression -> synkinesis grade 0-3")]


@dataclass(frozen=True, slots=True)
class SunnybrookEstimate(_Plain):
    """An estimate in the shape of the Sunnybrook Facial Grading System (:func:`mimetic.practice.sunnybrook.
    estimate`): **not a clinical grading**. Only tested items are graded (an untested one is null and listed in
    ``not_tested``); the voluntary-movement, synkinesis and composite scores are null until all five expressions
    were measured (no scaling up from a part)."""

    resting_symmetry: Annotated[int, Doc("0-20", minimum=0, maximum=20)]
    voluntary_movement: Annotated[int | None, Doc("20-100; null unless all five expressions were measured",
                                                  minimum=20, maximum=100)]
    synkinesis: Annotated[int | None, Doc("0-15; null unless all five expressions were measured", minimum=0,
                                          maximum=15)]
    composite: Annotated[int | None, Doc("voluntary - resting - synkinesis, 0-100; null unless complete",
                                         minimum=0, maximum=100)]
    items: SunnybrookItems
    measured: Annotated[tuple[str, ...], Doc("the expressions measured")]
    not_tested: Annotated[tuple[str, ...], Doc("the expressions not tested (their items are null)")]
    complete: Annotated[bool, Doc("all five expressions were measured")]
    affected_side: Side | None
    is_estimate: Literal[True]
    note: str


@dataclass(frozen=True, slots=True)
class SessionResult(_Plain):
    """A whole practice session (:meth:`mimetic.practice.session.PracticeSession.result`): what the web page shows
    at the end and the store saves."""

    routine: Annotated[str | tuple[str, ...], Doc("the routine's name, or the exercise ids of a custom list")]
    reps: Annotated[int, Doc("repetitions per exercise", minimum=1)]
    affected_side: Annotated[Side | None, Doc("the person's affected side, if known")]
    calibration: Annotated[CalibrationResult | None, Doc("null when the session ended before calibrating")]
    score: Annotated[Score, Doc("mean score of the exercises with at least one finished rep (0 when none)")]
    exercises: Annotated[tuple[ExerciseResult, ...], Doc("every exercise of the routine, in order (those not "
                                                         "reached: skipped, no reps)")]
    scoring_version: Annotated[int, Doc("the scoring formulas' version", minimum=1)]
    sunnybrook: SunnybrookEstimate
    partial: Annotated[bool, Doc("stopped before the routine's end (the unfinished exercises are skipped)")]


@dataclass(frozen=True, slots=True, kw_only=True)
class Feedback(_Plain):
    """The live feedback for one pushed frame (:meth:`mimetic.practice.session.PracticeSession.push`,
    :meth:`mimetic.practice.scoring.ExerciseTracker.push`). The last four keys are present only when they have a
    value."""

    phase: Literal["calibrate", "exercise", "done"]
    exercise: Annotated[str | None, Doc("the current exercise's id (null while calibrating and when done)")]
    rep: Annotated[int, Doc("the current repetition, 1-based (the finished one on its last frame; 0 while "
                            "calibrating)", minimum=0)]
    reps: Annotated[int, Doc("repetitions per exercise", minimum=1)]
    state: Literal["rest", "move", "hold", "release", "no_face", "done"]
    progress: Annotated[Unit, Doc("0-1 of the calibration, or of the hold")]
    score: Annotated[Score, Doc("this frame's score (when done: the session's)")]
    left: Annotated[Unit, Doc("this frame's movement of the person's left side")]
    right: Annotated[Unit, Doc("this frame's movement of the person's right side")]
    symmetry: Unit
    hold: Annotated[Seconds, Doc("seconds held in the current repetition")]
    warnings: Annotated[tuple[Message, ...], Doc("synkinesis or off-target movement seen in this frame (or why "
                                                 "the calibration was refused)")]
    message: Annotated[Message, Doc("a short instruction for the person")]
    rep_done: Annotated[RepResult | None, Doc("the repetition that ended with this frame")] = optional_key()
    calibration: Annotated[CalibrationResult | None, Doc("the calibration, on the frame that finished it")] = \
        optional_key()
    next: Annotated[str | None, Doc("the next exercise's id, on the frame that finished the previous step")] = \
        optional_key()
    session_done: Annotated[bool | None, Doc("true on the frame that finished the session")] = optional_key()
    refused: Annotated[bool | None, Doc("true on the frame whose calibration was refused (warnings say why; the "
                                        "calibration starts again)")] = optional_key()
    best: Annotated[float | None, Doc("the best finished repetition's score of the current exercise so far "
                                      "(the number the page shows as the exercise's score)")] = optional_key()

"""The practice exercises and routines, read from ``exercises.json`` (data, not code; see ``docs/practice.md``).

>>> from mimetic.practice.exercises import EXERCISES, ROUTINES, get_exercise
>>> get_exercise("lip_pucker").synkinesis[0].message
'eye narrows during the pucker'
>>> ROUTINES["sunnybrook"]
('brow_raise', 'gentle_eye_closure', 'open_mouth_smile', 'nose_wrinkle', 'lip_pucker')
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from importlib import resources
from typing import Any

#: The Sunnybrook voluntary-movement items an exercise can estimate (the five standard expressions).
SUNNYBROOK_ITEMS = ("brow", "gentle_eye_closure", "open_mouth_smile", "snarl", "lip_pucker")
KINDS = ("movement", "emotion")


@dataclass(frozen=True)
class Watch:
    """A synkinesis to watch while doing an exercise.

    ``code``: a measure name of :data:`mimetic.practice.measures.MEASURES` (``threshold`` = the movement, as a
    fraction of that measure's full range in its action direction, from which it counts) or an AU code
    (``threshold`` = the rise in FACS intensity, 0-5, over the neutral calibration)."""

    code: str
    threshold: float
    message: str

    def to_dict(self) -> dict[str, Any]:
        return {"code": self.code, "threshold": self.threshold, "message": self.message}


@dataclass(frozen=True)
class Exercise:
    id: str
    name: str
    instruction: str
    kind: str  # "movement" | "emotion"
    target_aus: tuple[str, ...]
    measures: tuple[str, ...]
    synkinesis: tuple[Watch, ...]
    sunnybrook: str | None  # "brow" | "gentle_eye_closure" | "open_mouth_smile" | "snarl" | "lip_pucker"
    picture: str  # file name under src/mimetic/web/static/img/exercises/ (SVG)
    hold_seconds: float
    expression: str | None = None  # emotion exercises: the expression class (mimetic.types.EXPRESSIONS)
    #: measures of the other regions whose movement lowers the score (the exercise's specificity)
    off_target: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "name": self.name, "instruction": self.instruction, "kind": self.kind,
                "target_aus": list(self.target_aus), "measures": list(self.measures),
                "synkinesis": [w.to_dict() for w in self.synkinesis], "sunnybrook": self.sunnybrook,
                "picture": self.picture, "hold_seconds": self.hold_seconds, "expression": self.expression,
                "off_target": list(self.off_target)}


def _load() -> tuple[dict[str, Exercise], dict[str, tuple[str, ...]]]:
    data = json.loads(resources.files("mimetic.practice").joinpath("exercises.json").read_text(encoding="utf-8"))
    exercises: dict[str, Exercise] = {}
    for e in data["exercises"]:
        exercises[e["id"]] = Exercise(
            id=e["id"], name=e["name"], instruction=e["instruction"], kind=e["kind"],
            target_aus=tuple(e["target_aus"]), measures=tuple(e["measures"]),
            synkinesis=tuple(Watch(w["code"], float(w["threshold"]), w["message"]) for w in e["synkinesis"]),
            sunnybrook=e.get("sunnybrook"), picture=e["picture"], hold_seconds=float(e["hold_seconds"]),
            expression=e.get("expression"), off_target=tuple(e.get("off_target", ())),
        )
    from mimetic.practice.measures import MEASURES

    for ex in exercises.values():
        unknown = [m for m in ex.measures + ex.off_target if m not in MEASURES]
        overlap = set(ex.measures) & set(ex.off_target)
        if unknown or overlap:
            raise ValueError(f"exercise {ex.id!r}: unknown measures {unknown} or measures both target and "
                             f"off-target {sorted(overlap)}")
    routines = {k: tuple(v) for k, v in data["routines"].items()}
    return exercises, routines


EXERCISES, ROUTINES = _load()


def get_exercise(exercise_id: str) -> Exercise:
    """The exercise with this id; ``KeyError`` naming the valid ids otherwise."""
    try:
        return EXERCISES[exercise_id]
    except KeyError:
        raise KeyError(f"unknown exercise {exercise_id!r}; valid ids: {', '.join(EXERCISES)}") from None


def routine_ids(routine: str | list[str] | tuple[str, ...]) -> tuple[str, ...]:
    """Exercise ids of a routine: a routine name (:data:`ROUTINES`), one exercise id, or a list of exercise ids.
    Raises ``KeyError`` (with the valid names) for anything unknown, ``ValueError`` for an empty list."""
    if isinstance(routine, str):
        if routine in ROUTINES:
            return ROUTINES[routine]
        if routine in EXERCISES:
            return (routine,)
        raise KeyError(f"unknown routine {routine!r}; routines: {', '.join(ROUTINES)}; "
                       f"or an exercise id: {', '.join(EXERCISES)}")
    ids = tuple(routine)
    if not ids:
        raise ValueError("a routine needs at least one exercise")
    for i in ids:
        get_exercise(i)
    return ids


__all__ = ["EXERCISES", "KINDS", "ROUTINES", "SUNNYBROOK_ITEMS", "Exercise", "Watch", "get_exercise", "routine_ids"]

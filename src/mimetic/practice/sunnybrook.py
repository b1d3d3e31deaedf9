"""Estimates in the shape of the Sunnybrook Facial Grading System (Ross, Fradet & Nedzelski 1996) from a practice
session's result. **An estimate, not a clinical grading**: the items are read from landmark measures with the
thresholds below, which have not been validated against clinicians' grades.

Shape of the scale (``shared/reference/facs-and-clinic.md`` §4.2):

- resting symmetry: eye (0/1), cheek = nasolabial fold (0/1/2), mouth (0/1); score = sum × 5 (0-20);
- voluntary movement for the five standard expressions (brow lift, gentle eye closure, open-mouth smile, snarl,
  lip pucker), each 1 (unable to initiate) .. 5 (complete); score = sum × 4 (20-100);
- synkinesis for the same five, each 0 (none) .. 3 (severe); score = sum (0-15);
- composite = voluntary − resting − synkinesis (clipped to 0-100).

How the items are estimated (thresholds in inter-ocular distance units, IOD ≈ 62 mm; see docs/practice.md):

- resting, from the neutral calibration: eye = palpebral fissure height differs by more than
  :data:`REST_EYE` between the sides; cheek = the nasolabial line (alar crease → mouth corner) differs in length by
  more than :data:`REST_CHEEK` (1) or twice that (2), or in angle by more than :data:`REST_CHEEK_DEG` (1);
  mouth = the corner heights differ by more than :data:`REST_MOUTH`.
- voluntary: ``x = min(1, affected / max(healthy, HEALTHY_REF))`` from the exercise's left/right movement (the
  affected side when set, else the weaker side; the healthy side = the other); grade = 1 + the number of
  :data:`VOLUNTARY_BINS` that ``x`` reaches.
- synkinesis: from the exercise's ``synkinesis_level`` (median over the reps of the largest watched movement ÷ its
  warning threshold): grade = the number of :data:`SYNKINESIS_BINS` it reaches.

Items whose exercise was not done (or skipped) are not tested: their grades are ``None`` and they are listed in
``not_tested``. The voluntary-movement, synkinesis and composite scores are ``None`` until all five expressions were
measured (``complete``): a sum over part of the scale is not the scale's score, and scaling it up would invent the
untested items.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from mimetic.practice.exercises import EXERCISES, SUNNYBROOK_ITEMS
from mimetic.practice.results import (CalibrationResult, CheekItem, ExerciseResult, RestingItem, RestingSymmetry,
                                      SunnybrookEstimate, SunnybrookItems)

NOTE = "An estimate in the shape of the Sunnybrook scale, not a clinical grading."

#: resting thresholds (IOD; degrees for the angle)
REST_EYE = 0.035  # ≈ 2.2 mm of palpebral fissure height
REST_CHEEK = 0.065  # ≈ 4 mm of nasolabial length
REST_CHEEK_DEG = 10.0
REST_MOUTH = 0.05  # ≈ 3 mm of mouth-corner height
#: a healthy side moving less than this (0-1 movement) is taken as this much, so a barely moved but symmetric
#: face is not graded "complete"
HEALTHY_REF = 0.6
#: x reaching each bin adds one grade above 1 (1 unable, 2 initiates, 3 mild excursion, 4 almost complete, 5 complete)
VOLUNTARY_BINS = (0.1, 0.35, 0.65, 0.9)
#: synkinesis level reaching each bin adds one grade (0 none, 1 mild, 2 moderate, 3 severe)
SYNKINESIS_BINS = (1.0, 1.5, 2.5)


def _pair(d: Mapping[str, tuple[float, float]], key: str) -> tuple[float, float] | None:
    v = d.get(key)
    return None if v is None else (float(v[0]), float(v[1]))


def _which(left: float, right: float, word_more: str, word_less: str) -> str:
    if left > right:
        return f"left {word_more} than right"
    return f"right {word_more} than left" if right > left else ""


def resting_items(resting: Mapping[str, tuple[float, float]]) -> RestingSymmetry:
    """Resting-symmetry items from a calibration's resting measures (``CalibrationResult.resting``: name ->
    (left, right)). Values are IOD units (angle: degrees); an item whose measure is missing is left out."""
    eye = _pair(resting, "palpebral_fissure")
    eye_item = cheek_item = mouth_item = None
    if eye is not None:
        diff = eye[0] - eye[1]
        grade = int(abs(diff) > REST_EYE)
        eye_item = RestingItem(grade=grade, left=round(eye[0], 4), right=round(eye[1], 4),
                               difference=round(diff, 4), note=_which(*eye, "wider", "narrower") if grade else "")
    nl, na = _pair(resting, "nasolabial_length"), _pair(resting, "nasolabial_angle")
    if nl is not None:
        diff = nl[0] - nl[1]
        grade = 2 if abs(diff) > 2 * REST_CHEEK else 1 if abs(diff) > REST_CHEEK else 0
        if na is not None and abs(na[0] - na[1]) > REST_CHEEK_DEG:
            grade = max(grade, 1)
        cheek_item = CheekItem(grade=grade, left=round(nl[0], 4), right=round(nl[1], 4), difference=round(diff, 4),
                               angle=None if na is None else (round(na[0], 2), round(na[1], 2)),
                               note=_which(*nl, "fold longer", "shorter") if grade else "")
    mouth = _pair(resting, "commissure_eye_height")
    if mouth is not None:
        diff = mouth[0] - mouth[1]
        grade = int(abs(diff) > REST_MOUTH)
        mouth_item = RestingItem(grade=grade, left=round(mouth[0], 4), right=round(mouth[1], 4),
                                 difference=round(diff, 4),
                                 note=_which(*mouth, "corner higher", "lower") if grade else "")
    total = sum(v.grade for v in (eye_item, cheek_item, mouth_item) if v is not None)
    return RestingSymmetry(eye=eye_item, cheek=cheek_item, mouth=mouth_item, sum=total, score=5 * total)


def voluntary_grade(left: float, right: float, affected_side: str | None = None) -> tuple[int, float]:
    """(grade 1-5, x) for one expression from its left/right movement (0-1); see the module docstring."""
    if affected_side == "left":
        a, h = left, right
    elif affected_side == "right":
        a, h = right, left
    else:
        a, h = min(left, right), max(left, right)
    x = min(1.0, a / max(h, HEALTHY_REF))
    return 1 + sum(x >= b for b in VOLUNTARY_BINS), x


def synkinesis_grade(level: float) -> int:
    """0-3 from a synkinesis level (watched movement ÷ warning threshold)."""
    return sum(level >= b for b in SYNKINESIS_BINS)


def estimate(exercises: Sequence[ExerciseResult], calibration: CalibrationResult | None,
             affected_side: str | None = None) -> SunnybrookEstimate:
    """Sunnybrook-shaped estimate from a session's exercise results and its calibration (the parts of a
    :class:`~mimetic.practice.results.SessionResult`); see the module docstring."""
    side = affected_side
    rest = calibration.resting_symmetry if calibration is not None else resting_items({})
    resting_score = int(rest.score)
    vol: dict[str, int | None] = {k: None for k in SUNNYBROOK_ITEMS}
    syn: dict[str, int | None] = {k: None for k in SUNNYBROOK_ITEMS}
    xs: dict[str, float | None] = {k: None for k in SUNNYBROOK_ITEMS}
    for ex in exercises:
        info = EXERCISES.get(ex.id)
        item = info.sunnybrook if info is not None else None
        if item is None or not ex.reps or vol[item] is not None:
            continue
        vol[item], x = voluntary_grade(float(ex.left), float(ex.right), side)
        xs[item] = round(x, 3)
        syn[item] = synkinesis_grade(float(ex.synkinesis_level))
    measured = [k for k in SUNNYBROOK_ITEMS if vol[k] is not None]
    complete = len(measured) == len(SUNNYBROOK_ITEMS)
    voluntary = synk = composite = None
    if complete:  # no scores from a part of the scale: an untested item is not tested, not "complete"
        voluntary = int(sum(vol[k] for k in measured) * 4)
        synk = int(sum(syn[k] for k in measured))
        composite = int(max(0, min(100, voluntary - resting_score - synk)))
    detail = {k: v for k, v in (("eye", rest.eye), ("cheek", rest.cheek), ("mouth", rest.mouth)) if v is not None}
    return SunnybrookEstimate(
        resting_symmetry=resting_score,
        voluntary_movement=voluntary,
        synkinesis=synk,
        composite=composite,
        items=SunnybrookItems(resting={k: v.grade for k, v in detail.items()}, resting_detail=detail,
                              voluntary=vol, voluntary_ratio=xs, synkinesis=syn),
        measured=tuple(measured),
        not_tested=tuple(k for k in SUNNYBROOK_ITEMS if k not in measured),
        complete=complete,
        affected_side=side,
        is_estimate=True,
        note=NOTE,
    )


__all__ = ["NOTE", "estimate", "resting_items", "synkinesis_grade", "voluntary_grade"]

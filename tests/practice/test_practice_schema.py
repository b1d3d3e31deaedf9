"""The practice contract is its types (issue 16): ``practice.schema.json`` is generated from
``mimetic.practice.results``, the committed file is the generated one, and the feedback and results of real
sessions (real faces, tests/practice/practice_faces.py) validate against it, including the optional keys."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from jsonschema import ValidationError

import mimetic.schema
from practice_faces import faces  # noqa: F401 (fixture)
from test_practice_session import FPS, smile_reps
from mimetic.export import dumps
from mimetic.practice import PracticeSession
from mimetic.practice.scoring import Calibration
from mimetic.schema import PRACTICE_SCHEMA_FILE, generate_practice_schema, schema_text, validate


def test_committed_practice_schema_is_the_generated_one():
    committed = Path(mimetic.schema.__file__).with_name(PRACTICE_SCHEMA_FILE).read_text(encoding="utf-8")
    assert committed == schema_text(generate_practice_schema()), (
        "practice.schema.json is stale: python -c 'import mimetic.schema as s; s.write_schema(name=\"practice\")'")
    defs = json.loads(committed)["$defs"]
    assert {"SessionResult", "Feedback", "ExerciseResult", "RepResult", "CalibrationResult",
            "SunnybrookEstimate"} <= set(defs)
    # the optional feedback keys are not required; everything else is
    assert set(defs["Feedback"]["properties"]) - set(defs["Feedback"]["required"]) == {
        "rep_done", "calibration", "next", "session_done", "refused", "best"}
    assert defs["SessionResult"]["required"] == list(defs["SessionResult"]["properties"])


def _run(faces, routine, side, skip_first=False):
    """Every feedback message and the result of a session on real faces, as the web page gets them (JSON):
    calibrate, (skip the first exercise,) two smiles, skip what is left."""
    s = PracticeSession(routine, reps=2, affected_side=side, calibration_seconds=1.0)
    out = [s.push(None, 0.0)]
    t = 0.0
    while s.phase == "calibrate":
        out.append(s.push(faces["neutral"], t))
        t += 1 / FPS
    if skip_first:
        s.skip()
    for tt, f in smile_reps(faces, 2, t0=t):
        out.append(s.push(f, tt))
    s.skip()
    while not s.done:
        s.skip()
    out.append(s.push(faces["neutral"], 1e3))
    return [json.loads(dumps(fb.to_dict())) for fb in out], json.loads(dumps(s.result().to_dict()))


@pytest.mark.parametrize("routine,side", [(["lip_pucker", "closed_lip_smile"], None), ("sunnybrook", "left")])
def test_real_session_feedback_and_results_validate(faces, routine, side):
    feedback, result = _run(faces, routine, side, skip_first=isinstance(routine, list))
    for fb in feedback:
        validate(fb, name="practice")
    validate(result, name="practice")
    assert "rep_done" not in feedback[0] and feedback[0]["state"] == "no_face"  # absent keys stay absent
    assert any(e["reps"] for e in result["exercises"]) and result["calibration"]["resting_symmetry"]["sum"] == 0
    if isinstance(routine, list):  # every optional key was exercised, and only where it has a value
        seen = {k for fb in feedback for k in fb}
        assert {"rep_done", "calibration", "next", "session_done"} <= seen
        assert [fb["phase"] for fb in feedback if "session_done" in fb] == ["exercise"]
        assert [e["skipped"] for e in result["exercises"]] == [True, False]
    # the stored calibration reads back into the same calibration
    cal = Calibration.from_dict(result["calibration"])
    assert json.loads(dumps(cal.result().to_dict())) == result["calibration"]


def test_the_schema_rejects_what_the_types_do_not_hold(faces):
    feedback, result = _run(faces, "smile", None)
    broken = [
        {**result, "score": 120.0},                                            # out of range
        {**result, "extra": 1},                                                # no such key
        {k: v for k, v in result.items() if k != "sunnybrook"},                # missing key
        {**result, "exercises": [{**result["exercises"][0], "reps": [{"score": 1}]}]},
    ]
    for doc in broken:
        with pytest.raises(ValidationError):
            validate(doc, name="practice")
    fb = feedback[-1]
    for doc in ({**fb, "state": "dancing"}, {k: v for k, v in fb.items() if k != "message"},
                {**fb, "rep_done": {"score": 50}}):
        with pytest.raises(ValidationError):
            validate(doc, name="practice")

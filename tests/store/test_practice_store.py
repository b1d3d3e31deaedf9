"""PracticeStore on SQLite and PostgreSQL: saving results, the calendar, trends, statistics, export, and that no
method ever hands one user another's data."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, date, datetime, timedelta

import pytest
from storetools import make_result


def _at(day: date, hour: int = 9, minute: int = 0) -> datetime:
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=UTC)


def save(practice, user, day, score=70.0, exercises=None, hour=9, **kw):
    exercises = exercises if exercises is not None else (("open_mouth_smile", score),)
    return practice.save_session(user.id, make_result(score=score, exercises=exercises, **kw), day=day,
                                 started_at=_at(day, hour), finished_at=_at(day, hour, 10))


def test_save_and_read_back(practice, people):
    ana = people["ana"]
    day = date(2026, 11, 20)
    result = make_result(score=64.5, exercises=(("brow_raise", 50.0), ("lip_pucker", 79.0)), routine="sunnybrook")
    result["exercises"][1]["synkinesis"] = ["eye narrowing during pucker", "again"]
    result["exercises"][0]["left"] = float("nan")  # no measurement: stored as null, never NaN
    sid = practice.save_session(ana.id, result, day=day, started_at=_at(day, 8), finished_at=_at(day, 8, 12))
    got = practice.session(ana.id, sid)
    assert got["id"] == sid and got["day"] == "2026-11-20" and got["routine"] == "sunnybrook" and got["score"] == 64.5
    assert got["started_at"] == "2026-11-20T08:00:00+00:00" and got["finished_at"].startswith("2026-11-20T08:12")
    assert [e["exercise"] for e in got["exercises"]] == ["brow_raise", "lip_pucker"]
    assert got["exercises"][1]["synkinesis"] == 2 and got["exercises"][1]["score"] == 79.0
    assert got["exercises"][0]["left"] is None and got["result"]["exercises"][0]["left"] is None
    assert got["result"]["calibration"] == result["calibration"]
    assert got["sunnybrook"]["composite"] == 73 and got["sunnybrook"]["is_estimate"] is True
    json.dumps(got)  # JSON-able
    custom = make_result(routine=["brow_raise", "lip_pucker"])  # a custom list of exercises
    cid = practice.save_session(ana.id, custom, day=day, started_at=_at(day, 9), finished_at=_at(day, 9, 5))
    assert practice.session(ana.id, cid)["routine"] == "brow_raise,lip_pucker"
    assert practice.sessions_on(ana.id, day)[0]["id"] == sid
    assert practice.sessions_on(ana.id, day + timedelta(days=1)) == []
    with pytest.raises(KeyError):
        practice.save_session("0b8e4a4e-3a36-4a7e-9f51-7d1d2f0c0c0c", result, day=day, started_at=_at(day),
                              finished_at=_at(day))


def test_days_and_sessions_on(practice, people):
    ana = people["ana"]
    d1, d2 = date(2026, 11, 2), date(2026, 11, 3)
    s1 = save(practice, ana, d1, 60.0, hour=8)
    s2 = save(practice, ana, d1, 80.0, hour=18)
    save(practice, ana, d2, 50.0)
    save(practice, ana, date(2026, 12, 1), 90.0)
    days = practice.days(ana.id, date(2026, 11, 1), date(2026, 11, 30))
    assert days == {d1: {"score": 70.0, "best": 80.0, "sessions": 2}, d2: {"score": 50.0, "best": 50.0, "sessions": 1}}
    assert [s["id"] for s in practice.sessions_on(ana.id, d1)] == [s1, s2]  # in the order they were done


def test_trends(practice, people):
    ana = people["ana"]
    save(practice, ana, date(2026, 11, 1), exercises=(("brow_raise", 40.0), ("open_mouth_smile", 55.0)))
    skipped = make_result(exercises=(("brow_raise", 0.0),))
    skipped["exercises"][0]["skipped"] = True
    practice.save_session(ana.id, skipped, day=date(2026, 11, 2), started_at=_at(date(2026, 11, 2)),
                          finished_at=_at(date(2026, 11, 2)))
    save(practice, ana, date(2026, 11, 3), exercises=(("brow_raise", 45.0),))
    brow = practice.trends(ana.id, "brow_raise")
    assert [(p["day"], p["score"]) for p in brow] == [("2026-11-01", 40.0), ("2026-11-03", 45.0)]  # skipped: out
    assert {"left", "right", "symmetry", "session_id", "started_at"} <= set(brow[0])
    assert brow[0]["left"] == 0.6 and brow[0]["right"] == 0.4
    assert [p["exercise"] for p in practice.trends(ana.id)] == ["brow_raise", "open_mouth_smile", "brow_raise"]
    assert practice.trends(ana.id, "frown") == []


def test_stats_on_crafted_dates(practice, people):
    ana = people["ana"]
    d = date(2026, 11, 1)  # a Sunday: the end of ISO week 44
    plan = {0: [60.0], 1: [70.0, 90.0], 2: [65.0], 4: [50.0], 8: [75.0], 9: [85.0]}
    for offset, scores in plan.items():
        for n, sc in enumerate(scores):
            save(practice, ana, d + timedelta(days=offset), sc, hour=8 + n,
                 exercises=(("open_mouth_smile", sc), ("brow_raise", sc - 10)))
    s = practice.stats(ana.id, today=date(2026, 11, 10))
    assert s["longest_streak"] == 3 and s["current_streak"] == 2 and s["practised_today"] is True
    assert practice.stats(ana.id, today=date(2026, 11, 11))["current_streak"] == 2  # yesterday still counts
    assert practice.stats(ana.id, today=date(2026, 11, 12))["current_streak"] == 0
    assert practice.stats(ana.id, today=date(2026, 11, 4))["current_streak"] == 3
    assert s["best_day"] == {"day": "2026-11-10", "score": 85.0, "sessions": 1}
    assert s["best_session"]["score"] == 90.0 and s["best_session"]["day"] == "2026-11-02"
    assert s["best_per_exercise"]["open_mouth_smile"]["score"] == 90.0
    assert s["best_per_exercise"]["brow_raise"] == {"score": 80.0, "day": "2026-11-02",
                                                   "session_id": s["best_session"]["session_id"], "count": 7}
    assert s["weekly"] == [
        {"week": "2026-W44", "start": "2026-10-26", "score": 60.0, "sessions": 1},
        {"week": "2026-W45", "start": "2026-11-02", "score": 68.75, "sessions": 4},
        {"week": "2026-W46", "start": "2026-11-09", "score": 80.0, "sessions": 2},
    ]
    assert s["total_sessions"] == 7 and s["total_days"] == 6 and s["total_exercises"] == 14
    assert s["first_day"] == "2026-11-01" and s["last_day"] == "2026-11-10"
    assert s["average_score"] == round((60 + 70 + 90 + 65 + 50 + 75 + 85) / 7, 2)


def test_stats_across_the_new_year_and_when_empty(practice, people):
    ana = people["ana"]
    for day in (date(2026, 12, 30), date(2026, 12, 31), date(2027, 1, 1), date(2027, 1, 4)):
        save(practice, ana, day, 50.0)
    s = practice.stats(ana.id, today=date(2027, 1, 1))
    assert s["current_streak"] == 3 and s["longest_streak"] == 3
    assert [w["week"] for w in s["weekly"]] == ["2026-W53", "2027-W01"]  # 2026 has 53 ISO weeks
    assert s["weekly"][0]["sessions"] == 3
    empty = practice.stats(people["bo"].id, today=date(2027, 1, 1))
    assert empty["current_streak"] == 0 and empty["longest_streak"] == 0 and empty["best_day"] is None
    assert empty["weekly"] == [] and empty["total_sessions"] == 0 and empty["best_per_exercise"] == {}


def test_one_user_never_gets_anothers_data(practice, people):
    ana, bo = people["ana"], people["bo"]
    day = date(2026, 11, 20)
    sid = save(practice, ana, day, 77.0)
    assert practice.session(bo.id, sid) is None
    assert practice.sessions_on(bo.id, day) == []
    assert practice.days(bo.id, day, day) == {}
    assert practice.trends(bo.id) == [] and practice.trends(bo.id, "open_mouth_smile") == []
    assert practice.stats(bo.id, today=day)["total_sessions"] == 0
    assert sid not in json.dumps(practice.export(bo.id)) and sid not in practice.export_csv(bo.id)
    assert practice.delete_session(bo.id, sid) is False  # Bo cannot delete it...
    assert practice.session(ana.id, sid) is not None  # ...and it is still there
    assert practice.session(ana.id, "not-a-uuid") is None
    assert practice.delete_session(ana.id, sid) is True and practice.session(ana.id, sid) is None
    assert practice.trends(ana.id) == []  # its exercise rows went with it


def test_export_json(accounts, practice, people):
    ana, c = people["ana"], people["dr_c"]
    accounts.redeem_invitation(ana.id, accounts.create_invitation(c.id))
    accounts.set_affected_side(ana.id, "right")
    accounts.start_login(ana.id)
    s1 = save(practice, ana, date(2026, 11, 1), 40.0)
    s2 = save(practice, ana, date(2026, 11, 2), 60.0, exercises=(("brow_raise", 61.0), ("frown", 59.0)))
    data = json.loads(json.dumps(practice.export(ana.id)))
    assert data["format"] == "mimetic-practice-export" and data["version"] == 1
    assert data["user"]["email"] == "ana@example.org" and data["user"]["affected_side"] == "right"
    assert [x["id"] for x in data["sessions"]] == [s1, s2]
    assert data["sessions"][1]["result"]["exercises"][1]["id"] == "frown"
    assert [e["exercise"] for e in data["sessions"][1]["exercises"]] == ["brow_raise", "frown"]
    assert data["clinicians"][0]["id"] == c.id and data["patients"] == [] and len(data["logins"]) == 1
    text = json.dumps(data)
    assert "$argon2" not in text and "password_hash" not in text and "token_hash" not in text
    doc = json.loads(json.dumps(practice.export(c.id)))
    assert doc["patients"][0]["id"] == ana.id and len(doc["invitations"]) == 1 and doc["sessions"] == []
    with pytest.raises(KeyError):
        practice.export("0b8e4a4e-3a36-4a7e-9f51-7d1d2f0c0c0c")


def test_export_csv(practice, people):
    from mimetic.store.practice import CSV_COLUMNS

    ana = people["ana"]
    s1 = save(practice, ana, date(2026, 11, 1), 40.0, exercises=(("brow_raise", 41.0), ("frown", 39.0)))
    s2 = save(practice, ana, date(2026, 11, 2), 60.0, exercises=(), routine="=HYPERLINK(\"x\")")
    rows = list(csv.DictReader(io.StringIO(practice.export_csv(ana.id))))
    assert tuple(rows[0]) == CSV_COLUMNS and len(rows) == 3
    assert [(r["session_id"], r["exercise"], r["score"]) for r in rows] == [
        (s1, "brow_raise", "41.0"), (s1, "frown", "39.0"), (s2, "", "")]
    assert rows[0]["left"] == "0.6" and rows[0]["day"] == "2026-11-01" and rows[0]["session_score"] == "40.0"
    assert rows[2]["routine"].startswith("'=")  # never a spreadsheet formula

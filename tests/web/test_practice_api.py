"""Practice and history over HTTP and the WebSocket (issue 7): login required, every query scoped to its user,
clinicians see linked patients only (404 otherwise), the practice WebSocket refuses missing logins, bad CSRF
tokens and unknown routines, and a session fed real video frames is scored and saved."""

from __future__ import annotations

import datetime as dt
import functools
import io
import json
import re

import pytest
from starlette.websockets import WebSocketDisconnect
from webtools import VIDEOS

import mimetic.web
from mimetic.schema import load_schema, validate
from mimetic.web.schemas import PracticeDay, PracticeSessionDetail

PASSWORD = "correct horse battery staple"
WEB = __import__("pathlib").Path(mimetic.web.__file__).resolve().parent


def result(score: float, exercise: str = "open_mouth_smile", left: float = 0.6, right: float = 0.5) -> dict:
    """A session result in the contract's shape (§3)."""
    ex = {"id": exercise, "score": score, "left": left, "right": right, "symmetry": 0.9, "hold": 2.0,
          "stability": 0.8, "synkinesis": [], "skipped": False,
          "reps": [{"score": score, "left": left, "right": right, "symmetry": 0.9, "hold": 2.0, "stability": 0.8,
                    "synkinesis": []}]}
    return {"routine": "smile", "reps": 1, "affected_side": None, "calibration": {}, "score": score,
            "exercises": [ex], "sunnybrook": None, "scoring_version": 1}


class Person:
    def __init__(self, svc, email: str, role: str = "patient"):
        self.user = svc.accounts.create_user(email, PASSWORD, role=role, display_name=email.split("@")[0])
        self.id = self.user.id
        self.token, self.csrf = svc.accounts.start_login(self.id)
        self.headers = {"Cookie": f"mimetic_session={self.token}"}


@pytest.fixture(scope="module")
def world(client):
    """Two patients with sessions, a clinician linked to patient A, one linked to nobody."""
    svc = client.app.state.services
    a = Person(svc, "alice@example.org")
    b = Person(svc, "bob@example.org")
    doc = Person(svc, "doctor@example.org", role="clinician")
    other = Person(svc, "other@example.org", role="clinician")
    svc.accounts.redeem_invitation(a.id, svc.accounts.create_invitation(doc.id))
    today = dt.date.today()
    now = dt.datetime.now(dt.timezone.utc)
    a.sessions = [svc.practice.save_session(a.id, result(80.0), day=today, started_at=now, finished_at=now),
                  svc.practice.save_session(a.id, result(60.0), day=today, started_at=now, finished_at=now),
                  svc.practice.save_session(a.id, result(50.0, "brow_raise"), day=today - dt.timedelta(days=1),
                                            started_at=now - dt.timedelta(days=1),
                                            finished_at=now - dt.timedelta(days=1))]
    b.sessions = [svc.practice.save_session(b.id, result(33.0), day=today, started_at=now, finished_at=now)]
    return {"a": a, "b": b, "doc": doc, "other": other, "today": today}


ME_PATHS = ["/api/v1/me/days", "/api/v1/me/days/{today}", "/api/v1/me/trends", "/api/v1/me/stats",
            "/api/v1/practice/catalogue"]


@pytest.mark.parametrize("path", ME_PATHS)
def test_api_needs_a_login(client, world, path):
    r = client.get(path.format(today=world["today"].isoformat()))
    assert r.status_code == 401 and r.json()["error"]["status"] == 401
    r = client.get(path.format(today=world["today"].isoformat()), headers={"Cookie": "mimetic_session=forged"})
    assert r.status_code == 401


@pytest.mark.parametrize("page", ["/practice", "/history", "/clinician/patients/0123"])
def test_pages_redirect_to_login(client, page):
    r = client.get(page, follow_redirects=False)
    assert r.status_code in (303, 307) and r.headers["location"].startswith("/login?next=")
    assert page in r.headers["location"].replace("%2F", "/")


def test_days_are_my_own(client, world):
    a, b, today = world["a"], world["b"], world["today"]
    days = client.get("/api/v1/me/days", headers=a.headers).json()
    by = {d["date"]: d for d in days["days"]}
    assert by[today.isoformat()]["score"] == pytest.approx(70.0) and by[today.isoformat()]["sessions"] == 2
    if today.month == (today - dt.timedelta(days=1)).month:
        assert by[(today - dt.timedelta(days=1)).isoformat()]["score"] == pytest.approx(50.0)
    days_b = client.get("/api/v1/me/days", headers=b.headers).json()["days"]
    assert [d["score"] for d in days_b] == [pytest.approx(33.0)]
    # an explicit range, and bad ones
    start = (today - dt.timedelta(days=3)).isoformat()
    r = client.get(f"/api/v1/me/days?start={start}&end={today.isoformat()}", headers=a.headers).json()
    assert len(r["days"]) == 2 and r["start"] == start
    assert client.get("/api/v1/me/days?start=yesterday", headers=a.headers).status_code == 422
    assert client.get(f"/api/v1/me/days?start={today}&end={start}", headers=a.headers).status_code == 422
    assert client.get("/api/v1/me/days?start=2000-01-01&end=2030-01-01", headers=a.headers).status_code == 422


def test_day_sessions_and_one_session(client, world):
    a, b, today = world["a"], world["b"], world["today"]
    day = client.get(f"/api/v1/me/days/{today}", headers=a.headers).json()
    assert day["date"] == today.isoformat()
    assert sorted(s["score"] for s in day["sessions"]) == [60.0, 80.0]
    assert {s["id"] for s in day["sessions"]} == set(a.sessions[:2])
    assert day["sessions"][0]["exercises"][0]["exercise"] == "open_mouth_smile"
    one = client.get(f"/api/v1/me/sessions/{a.sessions[0]}", headers=a.headers).json()
    assert one["id"] == a.sessions[0] and one["result"]["score"] == 80.0
    # B sees only B's session that day, and none of A's by id
    day_b = client.get(f"/api/v1/me/days/{today}", headers=b.headers).json()
    assert [s["id"] for s in day_b["sessions"]] == b.sessions
    for sid in a.sessions:
        r = client.get(f"/api/v1/me/sessions/{sid}", headers=b.headers)
        assert r.status_code == 404 and a.sessions[0] not in r.text
    assert client.get("/api/v1/me/sessions/not-an-id", headers=a.headers).status_code == 404
    assert client.get("/api/v1/me/days/2024-02-30", headers=a.headers).status_code == 422


def test_openapi_session_models_are_the_practice_types(client):
    """The session routes' OpenAPI models hold the practice types, described as practice.schema.json describes
    them (both are generated from mimetic.practice.results)."""
    spec = client.get("/api/v1/openapi.json").json()
    ok = spec["paths"]["/api/v1/me/sessions/{session_id}"]["get"]["responses"]["200"]["content"]["application/json"]
    assert ok["schema"] == {"$ref": "#/components/schemas/PracticeSessionDetail"}
    day = spec["paths"]["/api/v1/patients/{patient_id}/days/{day}"]["get"]["responses"]["200"]
    assert day["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/PracticeDay"}
    comps = spec["components"]["schemas"]
    assert {"$ref": "#/components/schemas/SessionResult"} in comps["PracticeSessionDetail"]["properties"][
        "result"]["anyOf"]
    defs = load_schema("practice")["$defs"]

    def fields(schema):  # a property's type and constraints (OpenAPI leaves out the defaults of output fields)
        return {k: {a: v for a, v in p.items() if a != "default"} for k, p in schema["properties"].items()}

    for name in ("SessionResult", "ExerciseResult", "RepResult", "CalibrationResult", "RestingSymmetry",
                 "SunnybrookEstimate", "SunnybrookItems"):
        as_openapi = json.loads(json.dumps(defs[name]).replace("#/$defs/", "#/components/schemas/"))
        assert fields(comps[name]) == fields(as_openapi), name


def test_trends_and_stats(client, world):
    a, b = world["a"], world["b"]
    smile = client.get("/api/v1/me/trends?exercise=open_mouth_smile", headers=a.headers).json()
    assert smile["exercise"] == "open_mouth_smile"
    assert [p["score"] for p in smile["points"]] == [80.0, 60.0]
    assert all(p["left"] == 0.6 and p["right"] == 0.5 for p in smile["points"])
    every = client.get("/api/v1/me/trends", headers=a.headers).json()["points"]
    assert {p["exercise"] for p in every} == {"open_mouth_smile", "brow_raise"}
    r = client.get("/api/v1/me/trends?exercise=juggling", headers=a.headers)
    assert r.status_code == 422 and "open_mouth_smile" in r.json()["error"]["message"]
    stats = client.get("/api/v1/me/stats", headers=a.headers).json()
    assert stats["total_sessions"] == 3 and stats["current_streak"] == 2 and stats["longest_streak"] == 2
    assert stats["best_day"]["score"] == pytest.approx(70.0)
    assert client.get("/api/v1/me/stats", headers=b.headers).json()["total_sessions"] == 1


def test_clinician_sees_a_linked_patient_only(client, world):
    a, b, doc, other, today = world["a"], world["b"], world["doc"], world["other"], world["today"]
    base = f"/api/v1/patients/{a.id}"
    assert client.get(base, headers=doc.headers).json()["display_name"] == "alice"
    days = client.get(f"{base}/days", headers=doc.headers).json()["days"]
    assert {d["date"]: d["score"] for d in days}[today.isoformat()] == pytest.approx(70.0)
    assert len(client.get(f"{base}/days/{today}", headers=doc.headers).json()["sessions"]) == 2
    assert len(client.get(f"{base}/trends?exercise=open_mouth_smile", headers=doc.headers).json()["points"]) == 2
    assert client.get(f"{base}/stats", headers=doc.headers).json()["total_sessions"] == 3
    assert client.get(f"{base}/sessions/{a.sessions[0]}", headers=doc.headers).json()["score"] == 80.0
    # a session of another patient through A's address: 404
    assert client.get(f"{base}/sessions/{b.sessions[0]}", headers=doc.headers).status_code == 404
    page = client.get(f"/clinician/patients/{a.id}", headers=doc.headers)
    assert page.status_code == 200 and f'data-api="/api/v1/patients/{a.id}"' in page.text
    assert "/static/js/history.js" in page.text
    # not linked (B), a clinician linked to nobody, a patient, an id that does not exist: all 404, same answer
    missing = "00000000-0000-4000-8000-000000000000"
    for who, pid in ((doc, b.id), (other, a.id), (b, a.id), (a, a.id), (doc, missing), (doc, "x" * 300)):
        for path in ("", "/days", f"/days/{today}", "/trends", "/stats", f"/sessions/{a.sessions[0]}"):
            r = client.get(f"/api/v1/patients/{pid}{path}", headers=who.headers)
            assert r.status_code == 404, (who.user.email, pid, path)
            assert r.json()["error"]["message"] in ("no such patient", "no such page or resource")
        assert client.get(f"/clinician/patients/{pid}", headers=who.headers).status_code == 404


def test_pages_render_for_a_logged_in_user(client, world):
    a = world["a"]
    r = client.get("/practice", headers=a.headers)
    assert r.status_code == 200 and "/static/js/practice.js" in r.text and "/static/css/practice.css" in r.text
    assert f'data-csrf="{a.csrf}"' in r.text  # the practice WebSocket's CSRF token
    r = client.get("/history", headers={**a.headers, "Accept-Language": "ko"})
    assert r.status_code == 200 and 'data-api="/api/v1/me"' in r.text and "내 기록" in r.text
    assert "default-src 'self'" in r.headers["content-security-policy"]
    cat = client.get("/api/v1/practice/catalogue", headers=a.headers).json()
    assert cat["routines"]["smile"] == ["open_mouth_smile"] and cat["user"]["id"] == a.id
    assert client.get(cat["exercises"]["open_mouth_smile"]["picture"]).status_code == 200


# --- the WebSocket ---------------------------------------------------------------------------------------------

def _closed(ws) -> WebSocketDisconnect:
    with pytest.raises(WebSocketDisconnect) as info:
        for _ in range(5):
            ws.receive_json()
    return info.value


def test_ws_needs_a_login(client):
    with client.websocket_connect("/api/v1/practice") as ws:
        msg = ws.receive_json()
        assert msg["type"] == "error" and msg["status"] == 401
        assert _closed(ws).code == 4401
    with client.websocket_connect("/api/v1/practice", headers={"Cookie": "mimetic_session=forged"}) as ws:
        assert ws.receive_json()["status"] == 401
        assert _closed(ws).code == 4401


def test_ws_refuses_other_origins_and_bad_csrf(client, world):
    a = world["a"]
    with client.websocket_connect("/api/v1/practice", headers={**a.headers, "Origin": "http://evil.example"}) as ws:
        assert ws.receive_json()["status"] == 403
        assert _closed(ws).code == 4403
    for csrf in (None, "", "wrong", world["b"].csrf):
        with client.websocket_connect("/api/v1/practice", headers=a.headers) as ws:
            assert ws.receive_json()["type"] == "ready"
            ws.send_json({"type": "start", "routine": "smile", "reps": 1, "csrf": csrf})
            msg = ws.receive_json()
            assert msg["type"] == "error" and msg["status"] == 403 and "CSRF" in msg["message"]
            assert _closed(ws).code == 4403


def test_ws_validates_the_start_message(client, world):
    a = world["a"]
    today = dt.date.today()
    with client.websocket_connect("/api/v1/practice", headers=a.headers) as ws:
        ready = ws.receive_json()
        assert ready["type"] == "ready" and "smile" in ready["routines"]
        ws.send_bytes(b"\xff\xd8 a frame before start")
        assert ws.receive_json()["status"] == 409
        bad = [({"routine": "juggling"}, "juggling"), ({"routine": ["open_mouth_smile", "wink"]}, "wink"),
               ({"routine": "smile", "reps": 0}, "reps"), ({"routine": "smile", "reps": 2.5}, "reps"),
               ({"routine": "smile", "day": (today + dt.timedelta(days=3)).isoformat()}, "day"),
               ({"routine": "smile", "day": "tomorrow"}, "day")]
        for fields, word in bad:
            ws.send_json({"type": "start", "csrf": a.csrf, "reps": 1, **fields})
            msg = ws.receive_json()
            assert msg["type"] == "error" and msg["status"] == 422 and word in msg["message"], msg
            assert "open_mouth_smile" in msg["exercises"] and "sunnybrook" in msg["routines"]
        ws.send_json({"type": "start", "csrf": a.csrf, "routine": "juggling"})
        assert "open_mouth_smile" in ws.receive_json()["message"]  # the message lists the valid ids
        # a good start after the bad ones; the client's date may be a day off the server's (time zones)
        ws.send_json({"type": "start", "csrf": a.csrf, "routine": "brow_raise", "reps": 2,
                      "day": (today - dt.timedelta(days=1)).isoformat()})
        started = ws.receive_json()
        assert started == {"type": "started", "routine": "brow_raise", "exercises": ["brow_raise"], "reps": 2,
                           "affected_side": None, "day": (today - dt.timedelta(days=1)).isoformat()}
        ws.send_bytes(b"not a picture")
        err = ws.receive_json()
        assert err["type"] == "error" and err["status"] == 415 and err["seq"] == 1
        ws.send_text("[1, 2]")
        assert ws.receive_json()["status"] == 422


@functools.lru_cache(maxsize=8)
def _clip(ranges: tuple[tuple[float, float], ...], fps: float = 10.0) -> list[bytes]:
    """JPEG frames of smile_pexels.mp4 (640x360) in the given time ranges, ``fps`` per second."""
    import av

    out = []
    with av.open(str(VIDEOS / "smile_pexels.mp4")) as container:
        stream = container.streams.video[0]
        frames = [(float(f.pts * stream.time_base), f.to_image()) for f in container.decode(stream)]
    for a, b in ranges:
        t = a
        for ft, img in frames:
            if ft >= t and ft < b:
                buf = io.BytesIO()
                img.save(buf, format="JPEG", quality=85)
                out.append(buf.getvalue())
                t += 1.0 / fps
    return out


#: docs/practice.md "The smile video": calm and neutral 6.0-9.3 s, broad smile 10.4-18.3 s (a dip at 11.4-12.0 s)
CALM = (6.0, 9.3)
SMILE = (12.0, 16.5)


def test_ws_session_with_video_frames_is_scored_and_saved(client_factory, monkeypatch):
    """Calibrate on the calm frames, smile (routine "smile", 1 rep), relax: the session ends, is saved for the
    user and appears in their calendar. The server's clock is replaced by one that advances 0.1 s per frame, so
    the test does not depend on the machine's speed."""
    from mimetic.web import framesocket

    ticks = iter(range(10**6))
    monkeypatch.setattr(framesocket, "_clock", lambda: next(ticks) * 0.1)
    c = client_factory()
    svc = c.app.state.services
    p = Person(svc, "smiler@example.org")
    svc.accounts.set_affected_side(p.id, "left")
    calm = _clip((CALM,))
    calm = calm + calm[::-1]                # 6.6 s of calm, played forwards and backwards
    smile = _clip((SMILE,))
    feed = calm + smile + calm + smile + calm
    saved = None
    phases: list[str] = []
    scores: list[float] = []
    frame_keys = {"type", "seq", "width", "height", "server_ms", "server_time", "face", "last", "can_skip"}
    with c.websocket_connect("/api/v1/practice", headers=p.headers) as ws:
        assert ws.receive_json()["affected_side"] == "left"
        ws.send_json({"type": "start", "routine": "smile", "reps": 1, "csrf": p.csrf,
                      "day": dt.date.today().isoformat()})
        assert ws.receive_json()["type"] == "started"
        for seq, frame in enumerate(feed, 1):
            ws.send_bytes(frame)
            msg = ws.receive_json()
            assert msg["type"] == "feedback" and msg["seq"] == seq, msg
            phases.append(msg["phase"])
            # the rest of the message is the session's live feedback (mimetic.practice.results.Feedback)
            validate({k: v for k, v in msg.items() if k not in frame_keys}, name="practice")
            assert "calibration" not in msg
            if msg["phase"] == "exercise":
                assert msg["exercise"] == "open_mouth_smile" and 0 <= msg["score"] <= 100
                scores.append(msg["score"])
            if msg["face"] is not None:
                assert len(msg["face"]["box"]) == 4 and len(msg["face"]["landmarks"]) == 2 * 478
            if msg["last"]:
                saved = ws.receive_json()
                break
        assert saved is not None, (phases[-5:], scores[-5:])
        assert _closed(ws).code == 1000
    assert phases[0] == "calibrate" and "exercise" in phases
    assert saved["type"] == "saved" and re.fullmatch(r"[0-9a-f-]{36}", saved["session_id"])
    res = saved["result"]
    validate(res, name="practice")
    assert res["routine"] == "smile" and res["affected_side"] == "left"
    assert [e["id"] for e in res["exercises"]] == ["open_mouth_smile"]
    assert res["sunnybrook"]["is_estimate"] is True
    # the same frames straight into PracticeSession score ~59 (docs/practice.md: ~69 from 6.0 s at 8 fps)
    ex = res["exercises"][0]
    assert max(scores) > 50 and res["score"] >= 45 and ex["hold"] >= 2.9, (max(scores), res["score"], ex)
    # stored for this user, today, and nowhere else
    day = c.get(f"/api/v1/me/days/{dt.date.today()}", headers=p.headers).json()
    assert [s["id"] for s in day["sessions"]] == [saved["session_id"]]
    assert day["sessions"][0]["score"] == pytest.approx(res["score"], abs=0.01)
    # issue 17: the day API carries the estimate, the calibration's quality and the affected side
    first = day["sessions"][0]
    assert first["sunnybrook"] == res["sunnybrook"] and first["affected_side"] == "left" and not first["partial"]
    assert first["calibration"]["quality"] == res["calibration"]["quality"] == "good"
    assert first["calibration"]["attempts"] == res["calibration"]["attempts"] >= 1
    # ... and so does the CSV export
    import csv

    rows = list(csv.DictReader(io.StringIO(svc.practice.export_csv(p.id))))
    assert rows and rows[0]["calibration_quality"] == "good" and rows[0]["affected_side"] == "left"
    assert rows[0]["sb_not_tested"] == "brow gentle_eye_closure snarl lip_pucker" and rows[0]["sb_composite"] == ""
    cal = c.get("/api/v1/me/days", headers=p.headers).json()["days"]
    assert [d["date"] for d in cal] == [dt.date.today().isoformat()]
    stored = c.get(f"/api/v1/me/sessions/{saved['session_id']}", headers=p.headers).json()
    assert stored["result"] == res and stored["sunnybrook"] == res["sunnybrook"]  # read back as saved
    PracticeSessionDetail.model_validate(stored)  # the route's OpenAPI model describes it
    PracticeDay.model_validate(day)
    # no picture of the face was kept anywhere in the data directory
    data_dir = svc.settings.data_dir
    assert not [f for f in data_dir.rglob("*") if f.suffix.lower() in (".jpg", ".jpeg", ".png", ".webp")]


def test_ws_skip_ends_a_session(client, world, monkeypatch):
    """Skip does nothing during calibration; skipping the only exercise ends the session, and a session where
    nothing was practised is not saved."""
    from mimetic.web import framesocket

    ticks = iter(range(10**6))
    monkeypatch.setattr(framesocket, "_clock", lambda: next(ticks) * 0.25)
    a = world["a"]
    calm = _clip((CALM,))[:20]
    with client.websocket_connect("/api/v1/practice", headers=a.headers) as ws:
        ws.receive_json()
        ws.send_json({"type": "start", "routine": "smile", "reps": 1, "csrf": a.csrf})
        assert ws.receive_json()["type"] == "started"
        ws.send_json({"type": "skip"})
        assert ws.receive_json() == {"type": "skipped", "exercise": None}  # calibrating: nothing to skip
        phase = None
        for frame in (calm + calm[::-1]) * 2:
            ws.send_bytes(frame)
            msg = ws.receive_json()
            assert msg["last"] is False
            if msg["phase"] != "calibrate":
                phase = msg["phase"]
                break
        assert phase == "exercise"
        ws.send_json({"type": "skip"})
        assert ws.receive_json() == {"type": "skipped", "exercise": "open_mouth_smile"}
        before = client.get("/api/v1/me/stats", headers=a.headers).json()
        end = ws.receive_json()
        assert end == {"type": "not_saved", "reason": "all_skipped"}
        assert framesocket.CLOSE_DONE == _closed(ws).code
    assert client.get("/api/v1/me/stats", headers=a.headers).json() == before


def test_ws_stop_saves_the_finished_exercises_as_a_partial_session(client_factory, monkeypatch):
    """Issue 17: "Stop" after the first of two exercises saves it as a partial session (the second one skipped) and
    says so; "Skip" is not offered while calibrating."""
    from mimetic.web import framesocket

    ticks = iter(range(10**6))
    monkeypatch.setattr(framesocket, "_clock", lambda: next(ticks) * 0.1)
    c = client_factory()
    svc = c.app.state.services
    p = Person(svc, "stopper@example.org")
    calm = _clip((CALM,))
    feed = calm + calm[::-1] + _clip((SMILE,)) + calm
    with c.websocket_connect("/api/v1/practice", headers=p.headers) as ws:
        ws.receive_json()
        ws.send_json({"type": "start", "routine": ["open_mouth_smile", "brow_raise"], "reps": 1, "csrf": p.csrf})
        assert ws.receive_json()["type"] == "started"
        second = False
        for frame in feed:
            ws.send_bytes(frame)
            msg = ws.receive_json()
            if msg["phase"] == "calibrate" and "next" not in msg:  # calibrating: nothing to skip
                assert msg["can_skip"] is False
            if msg["exercise"] == "brow_raise" or msg.get("next") == "brow_raise":
                second = True
                break
        assert second, "the smile was not finished"
        ws.send_json({"type": "stop"})
        assert ws.receive_json() == {"type": "stopped"}
        saved = ws.receive_json()
        assert _closed(ws).code == 1000
    assert saved["type"] == "saved"
    res = saved["result"]
    validate(res, name="practice")
    assert res["partial"] is True
    smile, brow = res["exercises"]
    assert not smile["skipped"] and len(smile["reps"]) == 1 and brow["skipped"] and brow["reps"] == []
    assert res["sunnybrook"]["not_tested"] == ["brow", "gentle_eye_closure", "snarl", "lip_pucker"]
    assert res["sunnybrook"]["composite"] is None and res["sunnybrook"]["voluntary_movement"] is None
    day = c.get(f"/api/v1/me/days/{dt.date.today()}", headers=p.headers).json()
    assert [(s["id"], s["partial"]) for s in day["sessions"]] == [(saved["session_id"], True)]


def test_practice_text_in_every_language():
    """The practice catalogues have the same keys and placeholders in all four languages (plural forms: English
    "#one" and "#other", Korean and Chinese "#other" only, as CLDR has them), every key the practice templates and
    scripts use exists, every message key the server sends has a text, and the Korean and Chinese catalogues hold
    no English words (issue 17: no English on the KO/ZH pages)."""
    from mimetic.web import i18n

    folder = WEB / "locales" / "practice"
    en = json.loads((folder / "en.json").read_text())
    base = lambda cat: {k.split("#")[0] for k in cat}  # noqa: E731

    def text_of(cat, key):
        return cat.get(key) or cat.get(key + "#other")

    plural = {k.split("#")[0] for k in en if "#" in k}
    assert all(f"{k}#one" in en and f"{k}#other" in en for k in plural), plural
    for lang in ("zh-Hant", "zh-Hans", "ko"):
        other = json.loads((folder / f"{lang}.json").read_text())
        assert base(other) == base(en), (lang, base(en) ^ base(other))
        assert all(f"{k}#other" in other and f"{k}#one" not in other for k in plural), lang
        for key in base(en):
            a, b = text_of(en, key), text_of(other, key)
            assert set(re.findall(r"\{\w+\}", a)) == set(re.findall(r"\{\w+\}", b)), (lang, key)
            assert b.strip(), (lang, key)
            words = re.findall(r"[A-Za-z]{3,}", re.sub(r"\{\w+\}", "", b).replace("Sunnybrook", ""))
            assert not words, (lang, key, b)
    merged = i18n.catalogue("en")
    used = set()
    files = [WEB / "templates" / n for n in ("practice.html", "history.html")]
    files += [WEB / "static" / "js" / n for n in ("practice.js", "history.js", "practice_text.js")]
    for f in files:
        used |= set(re.findall(r"""\b(?:t|tp|count)\(['"]([a-z_]+\.[a-z_.]*[a-z])['"]""", f.read_text()))
    assert len(used) > 50 and used <= base(merged), used - base(merged)
    states = ("rest", "move", "hold", "release", "no_face")
    assert all(f"practice.state_{s}" in en and f"practice.coach_{s}" in en for s in states)
    from mimetic.practice.exercises import EXERCISES, ROUTINES, SUNNYBROOK_ITEMS
    from mimetic.practice.measures import MEASURES

    assert all(f"exercise.{e}.name" in en and f"exercise.{e}.instruction" in en for e in EXERCISES)
    assert all(f"routine.{r}" in en for r in ROUTINES)
    # every key the server sends (mimetic.practice: Message keys) and the values the page translates
    sent = {f"synkinesis.{e.id}.{w.code}" for e in EXERCISES.values() for w in e.synkinesis}
    sent |= {f"measure.{m}" for m in MEASURES} | {f"practice.sb_item.{i}" for i in SUNNYBROOK_ITEMS}
    sent |= {"practice.side.left", "practice.side.right", "practice.side.both", "practice.cal_quality.good",
             "practice.cal_quality.poor"}
    src = "\n".join((WEB.parent / "practice" / n).read_text() for n in ("scoring.py", "session.py"))
    sent |= set(re.findall(r"""message\(["']([a-z_]+\.[a-z_.]+)["']""", src))
    assert len(sent) > 40 and sent <= base(en), sent - base(en)
    for e in EXERCISES.values():  # the English warning is the exercise's documented watch
        for w in e.synkinesis:
            assert en[f"synkinesis.{e.id}.{w.code}"].lower().startswith(w.message.lower()), (e.id, w.code)

"""The live and practice WebSockets speak one frame-socket protocol (mimetic.web.framesocket, docs/web.md "Frame
sockets"): the same ready fields, the same answers to the same bad frames and messages, the same limits, the same
refusals and close codes."""

from __future__ import annotations

import contextlib
import io

import pytest
from PIL import Image
from starlette.websockets import WebSocketDisconnect
from webtools import IMAGES

from mimetic.web import framesocket

ASTRONAUT = (IMAGES / "astronaut_nasa.jpg").read_bytes()
COMMON_READY = {"type", "protocol", "max_frame_bytes", "max_pixels", "server_time"}
COMMON_REPLY = {"type", "seq", "width", "height", "server_ms", "server_time"}


def login(client, email: str) -> dict[str, str]:
    """A patient's login cookie and CSRF token."""
    accounts = client.app.state.services.accounts
    user = accounts.create_user(email, "correct horse battery staple", role="patient")
    token, csrf = accounts.start_login(user.id)
    return {"Cookie": f"mimetic_session={token}", "csrf": csrf}


@contextlib.contextmanager
def frames_socket(client, page: str, who: dict[str, str] | None):
    """A socket of ``page`` that takes frames: yields (ws, ready). Practice needs a login and its start message."""
    headers = {"Cookie": who["Cookie"]} if page == "practice" else {}
    with client.websocket_connect(f"/api/v1/{page}", headers=headers) as ws:
        ready = ws.receive_json()
        if page == "practice":
            ws.send_json({"type": "start", "routine": "smile", "reps": 1, "csrf": who["csrf"]})
            assert ws.receive_json()["type"] == "started"
        yield ws, ready


def _closed(ws) -> int:
    with pytest.raises(WebSocketDisconnect) as info:
        for _ in range(5):
            ws.receive_json()
    return info.value.code


def answers(ws) -> list[dict]:
    """The same bad frames and messages, and then a good frame; the answers with the server's clock taken out."""
    out = []
    for send in (lambda: ws.send_bytes(b"definitely not a jpeg"), lambda: ws.send_bytes(ASTRONAUT[:5000]),
                 lambda: ws.send_text("not json"), lambda: ws.send_text("[1, 2]"),
                 lambda: ws.send_json({"type": "ping"})):
        send()
        msg = ws.receive_json()
        if msg["type"] == "pong":
            assert msg["server_time"] > 1.7e12
            msg["server_time"] = "t"
        out.append(msg)
    ws.send_json({"type": "dance"})
    unknown = ws.receive_json()
    assert unknown["status"] == 422 and unknown["message"].startswith("unknown message type 'dance' (")
    out.append({k: v for k, v in unknown.items() if k != "message"})
    return out


def test_same_ready_errors_and_reply_fields(client_factory):
    c = client_factory()
    who = login(c, "frames@example.org")
    seen = {}
    for page in ("live", "practice"):
        with frames_socket(c, page, who) as (ws, ready):
            assert COMMON_READY <= set(ready) and ready["type"] == "ready"
            assert ready["protocol"] == framesocket.PROTOCOL
            seen[page] = {"ready": {k: ready[k] for k in COMMON_READY - {"server_time"}}, "answers": answers(ws)}
            # a good frame: the page's reply with the common fields; seq counts every frame the session took
            ws.send_bytes(ASTRONAUT)
            reply = ws.receive_json()
            assert COMMON_REPLY <= set(reply), reply
            assert reply["type"] == {"live": "result", "practice": "feedback"}[page] and reply["seq"] == 3
            assert (reply["width"], reply["height"]) == Image.open(io.BytesIO(ASTRONAUT)).size
    assert seen["live"] == seen["practice"]
    bad_frame, truncated, not_json, not_object, pong, unknown = seen["live"]["answers"]
    assert bad_frame == {"type": "error", "seq": 1, "status": 415, "message": bad_frame["message"]}
    assert truncated["seq"] == 2 and truncated["status"] == 422 and "truncated" in truncated["message"]
    assert not_json == not_object == {"type": "error", "status": 422, "message": "text messages must be JSON objects"}
    assert pong == {"type": "pong", "server_time": "t"}
    assert unknown == {"type": "error", "status": 422}


def test_same_limits(client_factory):
    """The frame size and decoded pixel limits apply to both sockets, with the same answer."""
    small = io.BytesIO()
    Image.new("RGB", (800, 600), (128, 128, 128)).save(small, format="JPEG", quality=50)
    c = client_factory(max_live_frame_bytes=len(ASTRONAUT) - 1, max_live_pixels=400 * 300)
    who = login(c, "limits@example.org")
    seen = {}
    for page in ("live", "practice"):
        with frames_socket(c, page, who) as (ws, ready):
            assert (ready["max_frame_bytes"], ready["max_pixels"]) == (len(ASTRONAUT) - 1, 400 * 300)
            ws.send_bytes(ASTRONAUT)
            too_big = ws.receive_json()
            ws.send_bytes(small.getvalue())
            too_many_pixels = ws.receive_json()
            seen[page] = (too_big, too_many_pixels)
    too_big, too_many_pixels = seen["live"]
    assert too_big == {"type": "error", "seq": 1, "status": 413,
                       "message": f"frame is larger than the {len(ASTRONAUT) - 1} byte limit"}
    assert too_many_pixels["status"] == 413 and too_many_pixels["seq"] == 2
    assert seen["practice"] == seen["live"]


def test_same_refusals_and_close_codes(client_factory):
    """Another origin: 403 and 4403 on both; over max_live_sessions: 503 and 1013 on both, whichever page holds
    the slot."""
    c = client_factory(max_live_sessions=1)
    who = login(c, "busy@example.org")
    cookie = {"Cookie": who["Cookie"]}
    refused = []
    for page in ("live", "practice"):
        with c.websocket_connect(f"/api/v1/{page}", headers={**cookie, "Origin": "http://evil.example"}) as ws:
            refused.append(ws.receive_json())
            assert _closed(ws) == framesocket.CLOSE_FORBIDDEN
    assert refused[0] == refused[1] and refused[0]["status"] == 403
    busy = []
    for holder, other in (("live", "practice"), ("practice", "live")):
        with c.websocket_connect(f"/api/v1/{holder}", headers=cookie) as first:
            assert first.receive_json()["type"] == "ready"
            with c.websocket_connect(f"/api/v1/{other}", headers=cookie) as second:
                busy.append(second.receive_json())
                assert _closed(second) == framesocket.CLOSE_BUSY
    assert busy[0] == busy[1] == {"type": "error", "status": 503, "message": "too many live sessions (limit 1)"}

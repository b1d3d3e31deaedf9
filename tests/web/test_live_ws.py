"""The live WebSocket /api/v1/live: results per frame, landmark modes, per-frame errors, session limit."""

from __future__ import annotations

import io

import pytest
from webtools import IMAGES
from PIL import Image
from starlette.websockets import WebSocketDisconnect

ASTRONAUT = (IMAGES / "astronaut_nasa.jpg").read_bytes()


def jpeg_640x480() -> bytes:
    img = Image.open(IMAGES / "astronaut_nasa.jpg").convert("RGB")
    canvas = Image.new("RGB", (640, 480), (120, 120, 120))
    canvas.paste(img.resize((420, 420)), (110, 30))
    buf = io.BytesIO()
    canvas.save(buf, format="JPEG", quality=85)
    return buf.getvalue()


def test_frames_get_results_in_order(client):
    frame = jpeg_640x480()
    with client.websocket_connect("/api/v1/live") as ws:
        ready = ws.receive_json()
        assert ready["type"] == "ready" and ready["landmarks"] == "all" and ready["max_frame_bytes"] > 0
        for seq in (1, 2, 3):
            ws.send_bytes(frame)
            r = ws.receive_json()
            assert r["type"] == "result" and r["seq"] == seq and (r["width"], r["height"]) == (640, 480)
            assert r["server_ms"] > 0 and r["server_time"] > 1.7e12
            face = r["faces"][0]
            assert face["expression"]["label"] == "happiness"
            assert len(face["landmarks"]) == 2 * 478 and all(0 <= v <= 1 for v in face["landmarks"])
            assert len(face["aus"]["AU12"]) == 3 and face["aus"]["AU12"][0] > 1
            assert face["track_id"] == 0  # tracking carries across frames


def test_landmark_modes_and_ping(client):
    with client.websocket_connect("/api/v1/live") as ws:
        ws.receive_json()
        ws.send_json({"type": "config", "landmarks": "68"})
        assert ws.receive_json() == {"type": "config", "landmarks": "68"}
        ws.send_bytes(ASTRONAUT)
        assert len(ws.receive_json()["faces"][0]["landmarks"]) == 136
        ws.send_json({"type": "config", "landmarks": "none"})
        ws.receive_json()
        ws.send_bytes(ASTRONAUT)
        assert "landmarks" not in ws.receive_json()["faces"][0]
        ws.send_json({"type": "ping"})
        assert ws.receive_json()["type"] == "pong"


def test_bad_frames_get_errors_and_the_session_goes_on(client):
    with client.websocket_connect("/api/v1/live") as ws:
        ws.receive_json()
        ws.send_bytes(b"definitely not a jpeg")
        e = ws.receive_json()
        assert e["type"] == "error" and e["status"] == 415 and e["seq"] == 1
        ws.send_bytes(ASTRONAUT[:5000])
        e = ws.receive_json()
        assert e["status"] == 422 and "truncated" in e["message"]
        ws.send_text("not json")
        assert ws.receive_json()["status"] == 422
        ws.send_bytes(ASTRONAUT)
        assert ws.receive_json()["type"] == "result"


def test_oversize_frame_is_413(client_factory):
    c = client_factory(max_live_frame_bytes=10_000)
    with c.websocket_connect("/api/v1/live") as ws:
        ws.receive_json()
        ws.send_bytes(ASTRONAUT)
        e = ws.receive_json()
        assert e["type"] == "error" and e["status"] == 413


def test_session_limit(client_factory):
    c = client_factory(max_live_sessions=1)
    with c.websocket_connect("/api/v1/live") as first:
        assert first.receive_json()["type"] == "ready"
        with c.websocket_connect("/api/v1/live") as second:
            e = second.receive_json()
            assert e["type"] == "error" and e["status"] == 503
            with pytest.raises(WebSocketDisconnect) as closed:
                second.receive_json()
            assert closed.value.code == 1013
    # the slot is free again once the first session ends
    with c.websocket_connect("/api/v1/live") as again:
        assert again.receive_json()["type"] == "ready"

"""``/api/v1/live``: a WebSocket for webcam frames.

Protocol (JSON text messages, JPEG/PNG/WebP frames as binary messages):

- the server opens with ``{"type": "ready", "max_frame_bytes": ..., "landmarks": "all", "server_time": ms}``;
- the client may send ``{"type": "config", "landmarks": "all" | "68" | "none"}`` at any time (answered with
  ``{"type": "config", ...}``);
- for each binary frame the server answers, in order, ``{"type": "result", "seq": n, "width": w, "height": h,
  "faces": [...], "server_ms": t, "server_time": ms}``, each face with ``box``, ``track_id``, ``score``, ``pose``,
  ``expression`` ({label, scores} or null), ``aus`` ({code: [intensity, left, right]}) and ``landmarks`` (a flat
  list x0, y0, x1, y1, ... normalised to 0..1; 478 or 68 points, or absent);
- a frame that cannot be used gets ``{"type": "error", "seq": n, "status": 413|415|422|504, "message": ...}`` and
  the session goes on.

Each connection has its own Analyzer and :class:`~mimetic.analyzer.LiveSession` (tracking carries across frames);
frames are analysed one at a time on the live thread pool. Frames are never stored.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from typing import Any

from fastapi import APIRouter, WebSocket, WebSocketDisconnect

from mimetic.errors import InputError
from mimetic.web.errors import ApiError, input_error

router = APIRouter(prefix="/api/v1")

LANDMARK_MODES = ("all", "68", "none")


def _face(face, width: int, height: int, mode: str) -> dict[str, Any]:
    import numpy as np

    out: dict[str, Any] = {
        "box": [round(float(v), 1) for v in face.box],
        "track_id": face.track_id,
        "score": round(float(face.score), 3),
        "pose": face.pose.to_dict(),
        "expression": face.expression.to_dict() if face.expression is not None else None,
        "aus": {code: [round(float(v.get("intensity", 0.0)), 2), round(float(v.get("left", 0.0)), 2),
                       round(float(v.get("right", 0.0)), 2)] for code, v in (face.aus or {}).items()},
    }
    if mode != "none":
        pts = face.landmarks68 if mode == "68" else face.landmarks
        xy = np.asarray(pts, dtype=np.float64)[:, :2] / (width, height)
        out["landmarks"] = np.round(xy, 4).ravel().tolist()
    return out


def json_object(text: str) -> dict[str, Any] | None:
    """A WebSocket text message as a JSON object, or None when it is not one (the caller answers 422)."""
    try:
        value = json.loads(text)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


class _Session:
    """A LiveSession with a lock, so a late frame and the final close never overlap on two threads."""

    def __init__(self, session):
        self.session = session
        self.lock = threading.Lock()

    def push(self, rgb):
        with self.lock:
            return self.session.push(rgb)

    def close(self) -> None:
        with self.lock:
            self.session.close()


def analyse_frame(session: _Session, data: bytes, *, max_pixels: int, mode: str) -> dict[str, Any]:
    """Decode one frame and push it through the session (runs on a live pool thread)."""
    from mimetic.media.images import read_image

    try:
        rgb = read_image(data, max_pixels=max_pixels, name="frame")
    except InputError as exc:
        raise input_error(exc, label="frame") from None
    result = session.push(rgb)
    return {"type": "result", "width": result.width, "height": result.height,
            "faces": [_face(f, result.width, result.height, mode) for f in result.faces]}


@router.websocket("/live")
async def live(ws: WebSocket) -> None:
    svc = ws.app.state.services
    s = svc.settings
    await ws.accept()
    if not svc.try_open_live():
        await ws.send_text(json.dumps({"type": "error", "status": 503,
                                       "message": f"too many live sessions (limit {s.max_live_sessions})"}))
        await ws.close(code=1013, reason="too many live sessions")
        return
    loop = asyncio.get_running_loop()
    session = None
    try:
        from mimetic.analyzer import Analyzer

        def open_session():
            return _Session(Analyzer(max_faces=min(s.max_faces, 4), min_face=None).live(source="<live>"))

        session = await loop.run_in_executor(svc.live_executor, open_session)
        mode = "all"
        await ws.send_text(json.dumps({"type": "ready", "max_frame_bytes": s.max_live_frame_bytes,
                                       "landmarks": mode, "server_time": round(time.time() * 1000)}))
        seq = 0
        while True:
            message = await ws.receive()
            if message["type"] == "websocket.disconnect":
                break
            text, data = message.get("text"), message.get("bytes")
            if text is not None:
                cfg = json_object(text)
                if cfg is None:
                    await ws.send_text(json.dumps({"type": "error", "status": 422,
                                                   "message": "text messages must be JSON objects"}))
                    continue
                if cfg.get("type") == "config":
                    if cfg.get("landmarks") in LANDMARK_MODES:
                        mode = cfg["landmarks"]
                    await ws.send_text(json.dumps({"type": "config", "landmarks": mode}))
                elif cfg.get("type") == "ping":
                    await ws.send_text(json.dumps({"type": "pong", "server_time": round(time.time() * 1000)}))
                continue
            if data is None:
                continue
            seq += 1
            if len(data) > s.max_live_frame_bytes:
                await ws.send_text(json.dumps({"type": "error", "seq": seq, "status": 413, "message":
                                               f"frame is larger than the {s.max_live_frame_bytes} byte limit"}))
                continue
            t0 = time.perf_counter()
            try:
                future = svc.live_executor.submit(analyse_frame, session, data, max_pixels=s.max_live_pixels,
                                                  mode=mode)
                reply = await asyncio.wait_for(asyncio.wrap_future(future), s.request_timeout)
            except ApiError as exc:
                await ws.send_text(json.dumps({"type": "error", "seq": seq, "status": exc.status,
                                               "message": exc.message}))
                continue
            except TimeoutError:
                await ws.send_text(json.dumps({"type": "error", "seq": seq, "status": 504,
                                               "message": f"frame took longer than {s.request_timeout:g} s"}))
                continue
            reply["seq"] = seq
            reply["server_ms"] = round(1e3 * (time.perf_counter() - t0), 2)
            reply["server_time"] = round(time.time() * 1000)
            await ws.send_text(json.dumps(reply, separators=(",", ":")))
    except WebSocketDisconnect:
        pass
    finally:
        svc.close_live()
        if session is not None:
            try:
                svc.live_executor.submit(session.close)
            except RuntimeError:  # the executor is shutting down
                session.close()

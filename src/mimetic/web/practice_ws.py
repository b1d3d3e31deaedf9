"""``/api/v1/practice``: a WebSocket that runs one guided practice session (issue 7).

Protocol (JSON text messages, JPEG/PNG/WebP frames as binary messages; see ``docs/web.md``):

- the connection must carry the login cookie (``mimetic_session``); without a valid login the server sends
  ``{"type": "error", "status": 401, ...}`` and closes with code 4401; a page on another origin is refused
  (4403);
- the server opens with ``{"type": "ready", "max_frame_bytes", "routines": {...}, "affected_side"}``;
- the client's first message is ``{"type": "start", "routine": name | [exercise ids] | exercise id, "reps": N,
  "csrf": token, "day": "YYYY-MM-DD"}`` (``day``: the browser's local date, within a day of the server's);
  a wrong CSRF token closes with 4403; an unknown routine or exercise, bad ``reps`` or ``day`` answer
  ``{"type": "error", "status": 422, "message", "routines", "exercises"}`` (the valid names) and the client may
  send another ``start``; a good one is answered ``{"type": "started", "routine", "exercises": [...], "reps",
  "affected_side", "day"}``;
- each binary frame is answered, in order, with ``{"type": "feedback", "seq", "width", "height", "face":
  {"box", "landmarks"} | null, ...}`` plus the practice session's live feedback (phase, exercise, rep, state,
  progress, score, left, right, symmetry, hold, warnings, message, rep_done) and ``"last": true`` on the frame
  that finished the session;
- ``{"type": "skip"}`` skips the current exercise (answered with ``{"type": "skipped", "exercise"}``); a session
  whose every exercise was skipped is not saved (``{"type": "not_saved", "reason"}``, then the socket closes);
- when the session is done the result is saved for the logged-in user and the server sends ``{"type": "saved",
  "session_id", "result"}``, then closes (1000).

Each connection has its own Analyzer (one face) and LiveSession on the live thread pool, like ``/api/v1/live``.
Frames are never stored; only the session's result (scores, no pictures) is.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import logging
import threading
import time
from typing import Any
from urllib.parse import urlsplit

from fastapi import APIRouter, WebSocket, WebSocketDisconnect

from mimetic.errors import InputError
from mimetic.web.auth import csrf_ok
from mimetic.web.errors import ApiError, input_error
from mimetic.web.live import json_object

log = logging.getLogger("mimetic.web")
router = APIRouter(prefix="/api/v1")

MAX_REPS = 10
#: close codes (4000-4999 are the application's own)
CLOSE_UNAUTHENTICATED = 4401
CLOSE_FORBIDDEN = 4403
CLOSE_DONE = 1000
CLOSE_BUSY = 1013
#: the clock frames are timed by (seconds; tests replace it)
_clock = time.monotonic


def _default(o: Any) -> Any:
    """JSON for numpy scalars/arrays, dates and tuples the domain code may return."""
    if hasattr(o, "item") and callable(o.item):
        try:
            return o.item()
        except (TypeError, ValueError):
            pass
    if hasattr(o, "tolist"):
        return o.tolist()
    if isinstance(o, (dt.date, dt.datetime)):
        return o.isoformat()
    if isinstance(o, (set, frozenset)):
        return sorted(o)
    return str(o)


def dumps(obj: Any) -> str:
    return json.dumps(obj, separators=(",", ":"), default=_default, allow_nan=False)


def jsonable(obj: Any) -> Any:
    """A plain-JSON copy (numpy scalars become floats, NaN is refused early)."""
    return json.loads(json.dumps(obj, default=_default))


def catalogue() -> dict[str, Any]:
    """Routines and exercises as the pages need them (English names; the pages translate by id)."""
    from mimetic.practice.exercises import EXERCISES, ROUTINES

    return {
        "routines": {name: list(ids) for name, ids in ROUTINES.items()},
        "exercises": {e.id: {"id": e.id, "name": e.name, "instruction": e.instruction, "kind": e.kind,
                             "picture": f"/static/img/exercises/{e.picture}" if e.picture else None,
                             "hold_seconds": e.hold_seconds, "target_aus": list(e.target_aus),
                             "sunnybrook": e.sunnybrook}
                      for e in EXERCISES.values()},
    }


def resolve_routine(routine: Any) -> tuple[str, list[str]]:
    """(routine name, exercise ids) for a routine name, one exercise id or a list of exercise ids.
    Raises ValueError with a message that lists the valid names."""
    from mimetic.practice.exercises import EXERCISES, ROUTINES

    def invalid(what: str) -> ValueError:
        return ValueError(f"unknown {what}; routines: {', '.join(ROUTINES)}; exercises: {', '.join(EXERCISES)}")

    if isinstance(routine, str):
        if routine in ROUTINES:
            return routine, list(ROUTINES[routine])
        if routine in EXERCISES:
            return routine, [routine]
        raise invalid(f"routine {routine[:60]!r}")
    if isinstance(routine, list) and routine and len(routine) <= 50 and all(isinstance(x, str) for x in routine):
        bad = [x for x in routine if x not in EXERCISES]
        if bad:
            raise invalid(f"exercise {bad[0][:60]!r}")
        return "custom", list(routine)
    raise invalid("routine (give a routine name or a list of exercise ids)")


def parse_day(value: Any, today: dt.date | None = None) -> dt.date:
    """The client's local date, which must lie within one day of the server's (time zones)."""
    today = today or dt.date.today()
    if value is None:
        return today
    try:
        day = dt.date.fromisoformat(str(value))
    except ValueError:
        raise ValueError(f"day {str(value)[:40]!r} is not a date (YYYY-MM-DD)") from None
    if abs((day - today).days) > 1:
        raise ValueError(f"day {day.isoformat()} is more than one day away from the server's date "
                         f"{today.isoformat()}")
    return day


def parse_reps(value: Any) -> int:
    if value is None:
        return 3
    if isinstance(value, bool) or not isinstance(value, (int, float)) or int(value) != value \
            or not 1 <= int(value) <= MAX_REPS:
        raise ValueError(f"reps must be a whole number from 1 to {MAX_REPS}")
    return int(value)


def _same_origin(ws: WebSocket) -> bool:
    """Browsers always send Origin on WebSockets; a page of another site may not drive a session."""
    origin = ws.headers.get("origin")
    if not origin or origin == "null":
        return origin is None  # non-browser clients send none; a sandboxed page sends "null"
    host = ws.headers.get("host", "")
    return urlsplit(origin).netloc.lower() == host.lower()


def authenticate(ws: WebSocket):
    """(user, csrf token) for the connection's login cookie (``mimetic_session``), or None."""
    from mimetic.web.auth import login_of

    return login_of(ws)


def _face_out(face, width: int, height: int) -> dict[str, Any]:
    import numpy as np

    xy = np.asarray(face.landmarks, dtype=np.float64)[:, :2] / (width, height)
    return {"box": [round(float(v), 1) for v in face.box], "score": round(float(face.score), 3),
            "landmarks": np.round(xy, 4).ravel().tolist()}


class _Practice:
    """The analysis session and the practice session behind one lock (frames, skip and close never overlap)."""

    def __init__(self, live, practice):
        self.live = live
        self.practice = practice
        self.lock = threading.Lock()

    def frame(self, data: bytes, t: float, max_pixels: int) -> dict[str, Any]:
        from mimetic.media.images import read_image

        try:
            rgb = read_image(data, max_pixels=max_pixels, name="frame")
        except InputError as exc:
            raise input_error(exc, label="frame") from None
        with self.lock:
            result = self.live.push(rgb)
            face = result.faces[0] if result.faces else None
            feedback = self.practice.push(face, t)
        out = {"type": "feedback", "width": result.width, "height": result.height,
               "face": _face_out(face, result.width, result.height) if face is not None else None}
        feedback = dict(feedback)
        feedback.pop("calibration", None)  # stored with the result; the page does not need it per frame
        out.update(jsonable(feedback))
        out["type"] = "feedback"
        return out

    def skip(self) -> str | None:
        with self.lock:
            tracker = getattr(self.practice, "current", None)
            current = tracker.exercise.id if tracker is not None else None
            self.practice.skip()
            return current

    @property
    def done(self) -> bool:
        return bool(self.practice.done)

    def result(self) -> dict[str, Any]:
        with self.lock:
            return jsonable(self.practice.result())

    def close(self) -> None:
        with self.lock:
            self.live.close()


async def _error(ws: WebSocket, status: int, message: str, **extra: Any) -> None:
    await ws.send_text(dumps({"type": "error", "status": status, "message": message, **extra}))


@router.websocket("/practice")
async def practice(ws: WebSocket) -> None:
    svc = ws.app.state.services
    s = svc.settings
    await ws.accept()
    if not _same_origin(ws):
        await _error(ws, 403, "this page may not open a practice session (another origin)")
        await ws.close(code=CLOSE_FORBIDDEN, reason="cross-origin request refused")
        return
    loop = asyncio.get_running_loop()
    found = await loop.run_in_executor(None, authenticate, ws)
    if found is None:
        await _error(ws, 401, "log in to practise")
        await ws.close(code=CLOSE_UNAUTHENTICATED, reason="login required")
        return
    user = found[0]
    if not svc.try_open_live():
        await _error(ws, 503, f"too many live sessions (limit {s.max_live_sessions})")
        await ws.close(code=CLOSE_BUSY, reason="too many live sessions")
        return
    session: _Practice | None = None
    try:
        from mimetic.practice.exercises import EXERCISES, ROUTINES

        affected = getattr(user, "affected_side", None) or None
        await ws.send_text(dumps({"type": "ready", "max_frame_bytes": s.max_live_frame_bytes,
                                  "routines": {k: list(v) for k, v in ROUTINES.items()},
                                  "affected_side": affected, "server_date": dt.date.today().isoformat()}))
        # --- the start message -------------------------------------------------------------------------------
        while session is None:
            message = await ws.receive()
            if message["type"] == "websocket.disconnect":
                return
            if message.get("text") is None:
                await _error(ws, 409, "send the start message before any frame")
                continue
            start = json_object(message["text"])
            if start is None:
                await _error(ws, 422, "text messages must be JSON objects")
                continue
            if start.get("type") == "ping":
                await ws.send_text(dumps({"type": "pong", "server_time": round(time.time() * 1000)}))
                continue
            if start.get("type") != "start":
                await _error(ws, 409, "the first message must be {\"type\": \"start\", ...}")
                continue
            if not csrf_ok(ws, start.get("csrf")):
                await _error(ws, 403, "missing or wrong CSRF token")
                await ws.close(code=CLOSE_FORBIDDEN, reason="bad CSRF token")
                return
            try:
                name, ids = resolve_routine(start.get("routine"))
                reps = parse_reps(start.get("reps"))
                day = parse_day(start.get("day"))
            except ValueError as exc:
                await _error(ws, 422, str(exc), routines=list(ROUTINES), exercises=list(EXERCISES))
                continue

            def open_session(ids=ids, reps=reps):
                from mimetic.analyzer import Analyzer
                from mimetic.practice.session import PracticeSession

                live = Analyzer(max_faces=1, min_face=None).live(source="<practice>")
                routine = ids if name == "custom" else name
                return _Practice(live, PracticeSession(routine, reps=reps, affected_side=affected))

            session = await loop.run_in_executor(svc.live_executor, open_session)
            started_at = dt.datetime.now(dt.timezone.utc)
            t0 = _clock()
            await ws.send_text(dumps({"type": "started", "routine": name, "exercises": ids, "reps": reps,
                                      "affected_side": affected, "day": day.isoformat()}))
        # --- frames ------------------------------------------------------------------------------------------
        seq = 0
        while True:
            message = await ws.receive()
            if message["type"] == "websocket.disconnect":
                break
            text, data = message.get("text"), message.get("bytes")
            if text is not None:
                msg = json_object(text)
                if msg is None:
                    await _error(ws, 422, "text messages must be JSON objects")
                    continue
                kind = msg.get("type")
                if kind == "skip":
                    skipped = await loop.run_in_executor(svc.live_executor, session.skip)
                    await ws.send_text(dumps({"type": "skipped", "exercise": skipped}))
                elif kind == "ping":
                    await ws.send_text(dumps({"type": "pong", "server_time": round(time.time() * 1000)}))
                else:
                    await _error(ws, 422, f"unknown message type {str(kind)[:40]!r} (skip, ping)")
            elif data is not None:
                seq += 1
                if len(data) > s.max_live_frame_bytes:
                    await _error(ws, 413, f"frame is larger than the {s.max_live_frame_bytes} byte limit", seq=seq)
                    continue
                t = _clock() - t0
                t_start = time.perf_counter()
                try:
                    future = svc.live_executor.submit(session.frame, data, t, s.max_live_pixels)
                    reply = await asyncio.wait_for(asyncio.wrap_future(future), s.request_timeout)
                except ApiError as exc:
                    await _error(ws, exc.status, exc.message, seq=seq)
                    continue
                except TimeoutError:
                    await _error(ws, 504, f"frame took longer than {s.request_timeout:g} s", seq=seq)
                    continue
                reply["seq"] = seq
                reply["last"] = session.done
                reply["server_ms"] = round(1e3 * (time.perf_counter() - t_start), 2)
                await ws.send_text(dumps(reply))
            if session.done:
                result = await loop.run_in_executor(svc.live_executor, session.result)
                if all(e.get("skipped") for e in result.get("exercises") or [{"skipped": True}]):
                    # nothing was practised: no empty session (score 0) in the history
                    await ws.send_text(dumps({"type": "not_saved", "reason": "every exercise was skipped"}))
                    await ws.close(code=CLOSE_DONE, reason="nothing to save")
                    break
                finished_at = dt.datetime.now(dt.timezone.utc)
                session_id = await loop.run_in_executor(
                    None, lambda: svc.practice.save_session(user.id, result, day=day, started_at=started_at,
                                                            finished_at=finished_at))
                await ws.send_text(dumps({"type": "saved", "session_id": session_id, "day": day.isoformat(),
                                          "result": result}))
                await ws.close(code=CLOSE_DONE, reason="session saved")
                break
    except WebSocketDisconnect:
        pass
    finally:
        svc.close_live()
        if session is not None:
            try:
                svc.live_executor.submit(session.close)
            except RuntimeError:  # the executor is shutting down
                session.close()

"""``/api/v1/practice``: a WebSocket that runs one guided practice session (issue 7), speaking the frame-socket
protocol (:mod:`mimetic.web.framesocket`, ``docs/web.md``). What the practice page adds:

- the connection must carry the login cookie (``mimetic_session``); without a valid login the server sends
  ``{"type": "error", "status": 401, ...}`` and closes with code 4401; the login is checked again before every
  message, so a session ends the same way at its next message once its login has ended (logout, password change);
- ``ready`` carries ``"routines": {...}, "affected_side", "server_date"``;
- the client's first message is ``{"type": "start", "routine": name | [exercise ids] | exercise id, "reps": N,
  "csrf": token, "day": "YYYY-MM-DD"}`` (``day``: the browser's local date, within a day of the server's);
  a wrong CSRF token closes with 4403; an unknown routine or exercise, bad ``reps`` or ``day`` answer
  ``{"type": "error", "status": 422, "message", "routines", "exercises"}`` (the valid names) and the client may
  send another ``start``; a good one is answered ``{"type": "started", "routine", "exercises": [...], "reps",
  "affected_side", "day"}``; frames before it get error 409;
- each frame's reply is ``{"type": "feedback", "seq", "width", "height", "server_ms", "server_time", "face":
  {"box", "score", "landmarks"} | null, ...}`` plus the practice session's live feedback
  (:class:`mimetic.practice.results.Feedback`: phase, exercise, rep, state, progress, score, left, right, symmetry,
  hold, warnings, message, rep_done, next, session_done; not the calibration) and ``"last": true`` on the frame
  that finished the session;
- ``{"type": "skip"}`` skips the current exercise (answered with ``{"type": "skipped", "exercise"}``; each
  feedback says ``"can_skip"``: false while calibrating, when there is nothing to skip); a session whose every
  exercise was skipped is not saved (``{"type": "not_saved", "reason": "all_skipped"}``, then the socket closes);
- ``{"type": "stop"}`` ends the session now: the exercises finished so far are saved as a partial session
  (``result.partial`` true; ``saved`` as below), or ``not_saved`` when none was;
- every text for the person travels as a message key and values (:class:`mimetic.practice.results.Message`:
  ``message``, ``warnings``); the page renders them from its catalogues in its own language;
- when the session is done the result (:class:`mimetic.practice.results.SessionResult`, as JSON) is saved for the
  logged-in user and the server sends ``{"type": "saved", "session_id", "day", "result"}``, then closes (1000); on
  a full disk it sends error 507 "the server's disk is full" and closes with 1011 (nothing of it is stored).

Each connection has its own Analyzer (one face) and LiveSession, like ``/api/v1/live``. Frames are never stored;
only the session's result (scores, no pictures) is.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
from dataclasses import replace
from typing import Any

from fastapi import APIRouter, WebSocket

from mimetic.export import dumps
from mimetic.web.auth import csrf_ok, forget_login
from mimetic.web.errors import DISK_FULL_MESSAGE, disk_full
from mimetic.web.framesocket import (CLOSE_DONE, CLOSE_FORBIDDEN, CLOSE_SERVER_ERROR, CLOSE_UNAUTHENTICATED,
                                     FrameHandler, FrameSocket,
                                     Refused, box_list, clock, normalised_points, open_analysis, serve)

router = APIRouter(prefix="/api/v1")

MAX_REPS = 10


def jsonable(obj: Any) -> Any:
    """A plain-JSON copy, as :func:`mimetic.export.dumps` writes it (numpy scalars become numbers, NaN null)."""
    return json.loads(dumps(obj))


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


def authenticate(ws: WebSocket):
    """(user, csrf token) for the connection's login cookie (``mimetic_session``), or None."""
    from mimetic.web.auth import login_of

    return login_of(ws)


def _face_out(face, width: int, height: int) -> dict[str, Any]:
    return {"box": box_list(face), "score": round(float(face.score), 3),
            "landmarks": normalised_points(face.landmarks, width, height)}


class PracticeHandler(FrameHandler):
    """The practice page's part of the protocol: the login, the start message, skip, feedback per frame, and
    saving the result when the session is done."""

    reply_type = "feedback"
    messages = ("start", "skip", "stop")

    def __init__(self) -> None:
        self.user = None
        self.affected: str | None = None
        self.live = None        # the analysis session (one face)
        self.practice = None    # the PracticeSession, once started
        self.t0 = 0.0
        self.day: dt.date | None = None
        self.started_at: dt.datetime | None = None

    async def admit(self, sock: FrameSocket) -> None:
        found = await asyncio.get_running_loop().run_in_executor(None, authenticate, sock.ws)
        if found is None:
            raise Refused(401, "log in to practise", CLOSE_UNAUTHENTICATED, "login required")
        self.user = found[0]
        self.affected = getattr(self.user, "affected_side", None) or None

    async def recheck(self, sock: FrameSocket) -> None:
        """The login is looked up again before every message: logging out, a password change, the account's
        deletion or the login's expiry end an open session at its next message."""
        def still_logged_in():
            forget_login(sock.ws)
            return authenticate(sock.ws)

        found = await asyncio.get_running_loop().run_in_executor(None, still_logged_in)
        if found is None or found[0].id != self.user.id:
            raise Refused(401, "your login has ended (logged out, password changed or expired): log in again",
                          CLOSE_UNAUTHENTICATED, "login ended")

    def ready(self) -> dict[str, Any]:
        from mimetic.practice.exercises import ROUTINES

        return {"routines": {k: list(v) for k, v in ROUTINES.items()}, "affected_side": self.affected,
                "server_date": dt.date.today().isoformat()}

    def refuse_frame(self) -> str | None:
        return None if self.practice is not None else "send the start message before any frame"

    async def message(self, msg: dict[str, Any], sock: FrameSocket) -> None:
        if msg["type"] == "start":
            if self.practice is not None:
                await sock.error(409, "the session has already started")
            else:
                await self._start(msg, sock)
        elif self.practice is None:
            await sock.error(409, "the first message must be {\"type\": \"start\", ...}")
        elif msg["type"] == "stop":
            await sock.run(self.practice.stop)
            await sock.send({"type": "stopped"})
        else:  # skip
            await sock.send({"type": "skipped", "exercise": await sock.run(self._skip)})

    async def _start(self, start: dict[str, Any], sock: FrameSocket) -> None:
        from mimetic.practice.exercises import EXERCISES, ROUTINES
        from mimetic.practice.session import PracticeSession

        if not csrf_ok(sock.ws, start.get("csrf")):
            await sock.error(403, "missing or wrong CSRF token")
            await sock.close(CLOSE_FORBIDDEN, "bad CSRF token")
            return
        try:
            name, ids = resolve_routine(start.get("routine"))
            reps = parse_reps(start.get("reps"))
            day = parse_day(start.get("day"))
        except ValueError as exc:
            await sock.error(422, str(exc), routines=list(ROUTINES), exercises=list(EXERCISES))
            return

        def open_session():
            self.live = open_analysis(max_faces=1, source="<practice>")
            self.practice = PracticeSession(ids if name == "custom" else name, reps=reps,
                                            affected_side=self.affected)

        await sock.run(open_session)
        self.day, self.started_at, self.t0 = day, dt.datetime.now(dt.timezone.utc), clock()
        await sock.send({"type": "started", "routine": name, "exercises": ids, "reps": reps,
                         "affected_side": self.affected, "day": day.isoformat()})

    def _skip(self) -> str | None:
        tracker = getattr(self.practice, "current", None)
        current = tracker.exercise.id if tracker is not None else None
        self.practice.skip()
        return current

    def frame(self, rgb, t: float) -> dict[str, Any]:
        result = self.live.push(rgb, stages=self.practice.stages)  # no expression CNN where nothing reads it
        face = result.faces[0] if result.faces else None
        # the calibration is stored with the result; the page does not need it per frame
        feedback = replace(self.practice.push(face, t - self.t0), calibration=None)
        out = {"face": _face_out(face, result.width, result.height) if face is not None else None}
        out.update(jsonable(feedback.to_dict()))
        out["last"] = bool(self.practice.done)
        out["can_skip"] = bool(self.practice.can_skip)
        return out

    async def after(self, sock: FrameSocket) -> None:
        if self.practice is None or not self.practice.done:
            return
        result = await sock.run(lambda: jsonable(self.practice.result().to_dict()))
        if not any(e["reps"] for e in result["exercises"]):
            # nothing was practised: no empty session (score 0) in the history
            await sock.send({"type": "not_saved", "reason": "all_skipped" if not self.practice.stopped
                             else "nothing_finished"})
            await sock.close(CLOSE_DONE, "nothing to save")
            return
        finished_at = dt.datetime.now(dt.timezone.utc)
        try:
            session_id = await asyncio.get_running_loop().run_in_executor(
                None, lambda: sock.services.practice.save_session(self.user.id, result, day=self.day,
                                                                  started_at=self.started_at,
                                                                  finished_at=finished_at))
        except Exception as exc:  # the session is one transaction: nothing of it was stored
            if not disk_full(exc):
                raise
            await sock.error(507, DISK_FULL_MESSAGE)
            await sock.close(CLOSE_SERVER_ERROR, "disk full")
            return
        await sock.send({"type": "saved", "session_id": session_id, "day": self.day.isoformat(), "result": result})
        await sock.close(CLOSE_DONE, "session saved")

    def close(self) -> None:
        if self.live is not None:
            self.live.close()


@router.websocket("/practice")
async def practice(ws: WebSocket) -> None:
    await serve(ws, PracticeHandler())

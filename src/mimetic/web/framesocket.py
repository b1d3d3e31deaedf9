"""The frame-socket protocol shared by the webcam WebSockets (``/api/v1/live``, ``/api/v1/practice``).

One connection, in order (``docs/web.md``, "Frame sockets"):

1. The server accepts; a page of another origin is refused (``error`` 403, close 4403); the page's handler may
   refuse the connection too (the practice socket without a login: 401, close 4401), and again before any later
   message (the practice socket once its login has ended); over ``max_live_sessions`` the answer is ``error`` 503
   and close 1013. (A Host name that is not allowed never reaches here: :mod:`mimetic.web.hosts`.)
2. The server sends ``{"type": "ready", "protocol": 1, "max_frame_bytes", "max_pixels", "server_time", ...}``
   plus the page's own fields.
3. The client sends frames as binary messages (JPEG, PNG or WebP), one at a time: every frame the session takes
   is answered, in order, by exactly one message carrying its ``seq`` (1, 2, ... counted from the first frame the
   session took): the page's reply (``{"type": "result" | "feedback", "seq", "width", "height", "server_ms",
   "server_time", ...}``) or ``{"type": "error", "seq", "status": 413|415|422|500|504, "message"}``; the session
   goes on after a frame error. A frame the session cannot take yet gets error 409 (no ``seq``).
4. Text messages are JSON objects with a ``type``: ``ping`` (answered ``pong`` with ``server_time``) and the
   page's own types; anything else is error 422 (413 over :data:`MAX_TEXT_CHARS`, 422 nested deeper than
   :data:`MAX_JSON_DEPTH`); the session goes on.
5. The page's handler may end the session: it sends its last messages and closes with 1000.

This module owns all of that: accepting, the origin check, the live-session slot, receiving, size limits,
decoding, the per-frame timeout, errors, one JSON serialiser, and closing. A page supplies a
:class:`FrameHandler` with what it adds (its ready fields, its text messages, what a frame yields).
"""

from __future__ import annotations

import asyncio
import json
import logging
import threading
import time
from typing import Any, ClassVar
from urllib.parse import urlsplit

from fastapi import WebSocket, WebSocketDisconnect

from mimetic.errors import InputError
from mimetic.export import dumps
from mimetic.web.errors import ApiError, input_error

log = logging.getLogger("mimetic.web")

#: the protocol's version, sent in ``ready``
PROTOCOL = 1
#: close codes (4000-4999 are the application's own)
CLOSE_DONE = 1000
CLOSE_SERVER_ERROR = 1011
CLOSE_BUSY = 1013
CLOSE_UNAUTHENTICATED = 4401
CLOSE_FORBIDDEN = 4403
#: the clock frames are timed by when they arrive (seconds; tests replace it)
_clock = time.monotonic


def clock() -> float:
    """The frame clock now (the time base of the ``t`` a handler's :meth:`FrameHandler.frame` gets)."""
    return _clock()


def now_ms() -> int:
    """The server's wall clock, ms since 1970 (``server_time``)."""
    return round(time.time() * 1000)


class Refused(Exception):
    """Raised by :meth:`FrameHandler.admit`: the connection gets ``error`` ``status`` and is closed with ``code``."""

    def __init__(self, status: int, message: str, code: int, reason: str):
        super().__init__(message)
        self.status, self.message, self.code, self.reason = status, message, code, reason


#: the longest text message (characters) and the deepest nesting a text message may have; every message of the
#: protocol is a flat object (a list of exercise ids at most), so these are far above any real one
MAX_TEXT_CHARS = 64 * 1024
MAX_JSON_DEPTH = 16


class BadMessage(ValueError):
    """A text message that is not one the protocol takes: ``status`` 413 (too long) or 422, and why."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status, self.message = status, message


def json_object(text: str) -> dict[str, Any]:
    """A text message as a JSON object; raises :class:`BadMessage` (413 over :data:`MAX_TEXT_CHARS`, 422 when it is
    not a JSON object or nests deeper than :data:`MAX_JSON_DEPTH`). The depth is bounded before ``json.loads``
    would recurse into it, so no message can raise ``RecursionError`` in the server."""
    if len(text) > MAX_TEXT_CHARS:
        raise BadMessage(413, f"text messages are at most {MAX_TEXT_CHARS} characters ({len(text)} sent)")
    nested = f"text messages may be nested at most {MAX_JSON_DEPTH} levels deep"
    if text.count("[") + text.count("{") > MAX_JSON_DEPTH and _max_open(text) > MAX_JSON_DEPTH:
        raise BadMessage(422, nested)
    try:
        value = json.loads(text)
    except (ValueError, RecursionError):
        raise BadMessage(422, "text messages must be JSON objects") from None
    if not isinstance(value, dict):
        raise BadMessage(422, "text messages must be JSON objects")
    return value


def _max_open(text: str) -> int:
    """The most brackets open at once, ignoring those inside JSON strings."""
    depth = deepest = 0
    in_string = escaped = False
    for ch in text:
        if in_string:
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == '"':
                in_string = False
        elif ch == '"':
            in_string = True
        elif ch in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif ch in "]}":
            depth -= 1
    return deepest


def same_origin(ws: WebSocket) -> bool:
    """Browsers always send Origin on WebSockets; a page of another site may not drive a session."""
    origin = ws.headers.get("origin")
    if not origin or origin == "null":
        return origin is None  # non-browser clients send none; a sandboxed page sends "null"
    return urlsplit(origin).netloc.lower() == ws.headers.get("host", "").lower()


def open_analysis(*, max_faces: int, source: str):
    """The per-connection analysis session (a :class:`~mimetic.analyzer.LiveSession`; tracking carries across
    frames). The one place a frame socket creates its Analyzer."""
    from mimetic.analyzer import Analyzer

    return Analyzer(max_faces=max_faces, min_face=None).live(source=source)


def normalised_points(points, width: int, height: int) -> list[float]:
    """Landmarks as the flat list x0, y0, x1, y1, ... normalised to 0..1 (4 decimals) that the overlay draws."""
    import numpy as np

    xy = np.asarray(points, dtype=np.float64)[:, :2] / (width, height)
    return np.round(xy, 4).ravel().tolist()


def box_list(face) -> list[float]:
    """A face's box ``[x, y, w, h]`` in pixels, 1 decimal."""
    return [round(float(v), 1) for v in face.box]


class FrameSocket:
    """One connection: what a handler uses to answer (``send``, ``error``, ``close``) and to run work on the live
    thread pool (``run``; every call of a connection, frames included, holds one lock, so a late frame and the
    final close never overlap)."""

    def __init__(self, ws: WebSocket):
        self.ws = ws
        self.services = ws.app.state.services
        self.settings = self.services.settings
        self.closed = False
        self._lock = threading.Lock()

    async def send(self, message: dict[str, Any]) -> None:
        await self.ws.send_text(dumps(message))

    async def error(self, status: int, message: str, *, seq: int | None = None, **extra: Any) -> None:
        body: dict[str, Any] = {"type": "error"}
        if seq is not None:
            body["seq"] = seq
        await self.send({**body, "status": status, "message": message, **extra})

    async def close(self, code: int, reason: str) -> None:
        self.closed = True
        await self.ws.close(code=code, reason=reason)

    async def refuse(self, refused: Refused) -> None:
        """Send the refusal's error, then close with its code."""
        await self.error(refused.status, refused.message)
        await self.close(refused.code, refused.reason)

    def _locked(self, fn, *args, **kwargs):
        with self._lock:
            return fn(*args, **kwargs)

    def submit(self, fn, *args, **kwargs):
        """``fn(*args)`` on the live pool under the connection's lock (a concurrent.futures.Future)."""
        return self.services.live_executor.submit(self._locked, fn, *args, **kwargs)

    async def run(self, fn, *args, **kwargs):
        return await asyncio.wrap_future(self.submit(fn, *args, **kwargs))


class FrameHandler:
    """What one page's socket adds to the protocol. Subclass it; one instance per connection."""

    #: the ``type`` of a frame's reply
    reply_type: ClassVar[str] = "result"
    #: the page's own text message types (``ping`` is the protocol's)
    messages: ClassVar[tuple[str, ...]] = ()

    async def admit(self, sock: FrameSocket) -> None:
        """Check the connection before it takes a live-session slot; raise :class:`Refused` to refuse it."""

    async def recheck(self, sock: FrameSocket) -> None:
        """Check the connection again before each message it sends (e.g. that its login still holds); raise
        :class:`Refused` to end it."""

    async def open(self, sock: FrameSocket) -> None:
        """Set up after the slot is taken, before ``ready`` (e.g. ``await sock.run(open_analysis, ...)``)."""

    def ready(self) -> dict[str, Any]:
        """The page's fields of the ``ready`` message."""
        return {}

    def refuse_frame(self) -> str | None:
        """None when the session takes frames now, else why not (the 409 message)."""
        return None

    def frame(self, rgb, t: float) -> dict[str, Any]:
        """The page's reply fields for one decoded RGB frame that arrived at ``t`` (:func:`clock`); runs on the live
        pool. Raise :class:`ApiError` to answer the frame with an error."""
        raise NotImplementedError

    async def message(self, msg: dict[str, Any], sock: FrameSocket) -> None:
        """One of the page's text messages (``msg["type"]`` is in :attr:`messages`)."""

    async def after(self, sock: FrameSocket) -> None:
        """Called after each message was answered (the session may end here: send, then ``sock.close``)."""

    def close(self) -> None:
        """Release the page's resources (runs on the live pool, under the connection's lock)."""


def _decode_and_analyse(handler: FrameHandler, data: bytes, t: float, max_pixels: int) -> dict[str, Any]:
    from mimetic.media.images import read_image

    try:
        rgb = read_image(data, max_pixels=max_pixels, name="frame")
    except InputError as exc:
        raise input_error(exc, label="frame") from None
    h, w = rgb.shape[:2]
    return {"width": w, "height": h, **handler.frame(rgb, t)}


async def _frame(sock: FrameSocket, handler: FrameHandler, data: bytes, seq: int) -> None:
    s = sock.settings
    if len(data) > s.max_live_frame_bytes:
        await sock.error(413, f"frame is larger than the {s.max_live_frame_bytes} byte limit", seq=seq)
        return
    t = clock()
    started = time.perf_counter()
    try:
        future = sock.submit(_decode_and_analyse, handler, data, t, s.max_live_pixels)
        payload = await asyncio.wait_for(asyncio.wrap_future(future), s.request_timeout)
    except ApiError as exc:
        await sock.error(exc.status, exc.message, seq=seq)
        return
    except TimeoutError:
        await sock.error(504, f"frame took longer than {s.request_timeout:g} s", seq=seq)
        return
    except Exception:
        log.exception("a %s frame failed", handler.reply_type)
        await sock.error(500, "the frame could not be analysed (server error)", seq=seq)
        return
    reply = {"type": handler.reply_type, "seq": seq, **payload}
    reply["type"], reply["seq"] = handler.reply_type, seq
    reply["server_ms"] = round(1e3 * (time.perf_counter() - started), 2)
    reply["server_time"] = now_ms()
    try:
        text = dumps(reply)
    except (TypeError, ValueError):  # a NaN or a value JSON cannot hold: the frame fails, the session goes on
        log.exception("a %s reply could not be written as JSON", handler.reply_type)
        await sock.error(500, "the frame could not be analysed (server error)", seq=seq)
        return
    await sock.ws.send_text(text)


async def _text(sock: FrameSocket, handler: FrameHandler, text: str) -> None:
    try:
        msg = json_object(text)
    except BadMessage as bad:
        await sock.error(bad.status, bad.message)
        return
    kind = msg.get("type")
    if kind == "ping":
        await sock.send({"type": "pong", "server_time": now_ms()})
    elif isinstance(kind, str) and kind in handler.messages:
        await handler.message(msg, sock)
    else:
        await sock.error(422, f"unknown message type {str(kind)[:40]!r} ({', '.join((*handler.messages, 'ping'))})")


async def serve(ws: WebSocket, handler: FrameHandler) -> None:
    """Run one frame-socket connection with ``handler`` until the client leaves or the handler closes it."""
    await ws.accept()
    sock = FrameSocket(ws)
    if not same_origin(ws):
        await sock.refuse(Refused(403, "this page may not open this socket (another origin)", CLOSE_FORBIDDEN,
                                  "cross-origin request refused"))
        return
    try:
        await handler.admit(sock)
    except Refused as refused:
        await sock.refuse(refused)
        return
    svc, s = sock.services, sock.settings
    if not svc.try_open_live():
        await sock.refuse(Refused(503, f"too many live sessions (limit {s.max_live_sessions})", CLOSE_BUSY,
                                  "too many live sessions"))
        return
    try:
        await handler.open(sock)
        await sock.send({"type": "ready", "protocol": PROTOCOL, "max_frame_bytes": s.max_live_frame_bytes,
                         "max_pixels": s.max_live_pixels, "server_time": now_ms(), **handler.ready()})
        seq = 0
        while not sock.closed:
            message = await ws.receive()
            if message["type"] == "websocket.disconnect":
                break
            try:
                await handler.recheck(sock)
            except Refused as refused:
                await sock.refuse(refused)
                break
            text, data = message.get("text"), message.get("bytes")
            if text is not None:
                await _text(sock, handler, text)
            elif data is not None:
                why = handler.refuse_frame()
                if why is not None:
                    await sock.error(409, why)
                    continue
                seq += 1
                await _frame(sock, handler, data, seq)
            if not sock.closed:
                await handler.after(sock)
    except WebSocketDisconnect:
        pass
    finally:
        svc.close_live()
        try:
            sock.submit(handler.close)
        except RuntimeError:  # the executor is shutting down
            handler.close()

"""``/api/v1/live``: a WebSocket for webcam frames, speaking the frame-socket protocol (:mod:`mimetic.web.framesocket`,
``docs/web.md``). What the live page adds:

- ``ready`` carries ``"landmarks": "all"`` (the landmark mode);
- the client may send ``{"type": "config", "landmarks": "all" | "68" | "none"}`` at any time (answered with
  ``{"type": "config", ...}``);
- each frame's reply is ``{"type": "result", "seq", "width", "height", "faces": [...], "server_ms",
  "server_time"}``, each face with ``box``, ``track_id``, ``score``, ``pose``, ``expression`` ({label, scores} or
  null), ``aus`` ({code: [intensity, left, right]}) and ``landmarks`` (a flat list x0, y0, x1, y1, ... normalised
  to 0..1; 478 or 68 points, or absent).

Each connection has its own Analyzer and :class:`~mimetic.analyzer.LiveSession` (tracking carries across frames;
at most 4 faces). Frames are never stored.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, WebSocket

from mimetic.web.framesocket import FrameHandler, FrameSocket, box_list, normalised_points, open_analysis, serve

router = APIRouter(prefix="/api/v1")

LANDMARK_MODES = ("all", "68", "none")


def _face(face, width: int, height: int, mode: str) -> dict[str, Any]:
    out: dict[str, Any] = {
        "box": box_list(face),
        "track_id": face.track_id,
        "score": round(float(face.score), 3),
        "pose": face.pose.to_dict(),
        "expression": face.expression.to_dict() if face.expression is not None else None,
        "aus": {code: [round(v.intensity, 2), round(v.left, 2), round(v.right, 2)] for code, v in face.aus.items()},
    }
    if mode != "none":
        out["landmarks"] = normalised_points(face.landmarks68 if mode == "68" else face.landmarks, width, height)
    return out


#: what the live page shows: AUs and the expression (no symmetry)
LIVE_STAGES = frozenset(("landmarks", "aus", "expression"))


class LiveHandler(FrameHandler):
    """The live page's part of the protocol: the landmark mode and every face's result."""

    reply_type = "result"
    messages = ("config",)

    def __init__(self) -> None:
        self.mode = "all"
        self.session = None

    async def open(self, sock: FrameSocket) -> None:
        self.session = await sock.run(open_analysis, max_faces=min(sock.settings.max_faces, 4), source="<live>")

    def ready(self) -> dict[str, Any]:
        return {"landmarks": self.mode}

    async def message(self, msg: dict[str, Any], sock: FrameSocket) -> None:
        if msg.get("landmarks") in LANDMARK_MODES:
            self.mode = msg["landmarks"]
        await sock.send({"type": "config", "landmarks": self.mode})

    def frame(self, rgb, t: float) -> dict[str, Any]:
        result = self.session.push(rgb, stages=LIVE_STAGES)
        return {"faces": [_face(f, result.width, result.height, self.mode) for f in result.faces]}

    def close(self) -> None:
        if self.session is not None:
            self.session.close()


@router.websocket("/live")
async def live(ws: WebSocket) -> None:
    await serve(ws, LiveHandler())

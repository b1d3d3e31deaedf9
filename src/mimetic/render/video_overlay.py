"""Annotated video frames: the face overlay of :func:`mimetic.render.overlay.draw_faces` plus AU bars beside each
face and markers for spotted micro/macro-expression events.

Spotted events are known only some time after they happen (the spotter compares each frame with the frames a
``window`` later), so :class:`AnnotatedVideoWriter` holds the annotated frames for ``delay`` seconds (JPEG
compressed in memory, so memory stays small and constant) and draws the markers of every event known by the time
a frame leaves the queue. With the spotter's defaults (1 s window) a delay of 1.6 s marks every micro-expression;
macro events longer than that are marked from the frame the marker became known.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence
from typing import Any

import cv2
import numpy as np

from mimetic.render.overlay import draw_faces

__all__ = ["AnnotatedVideoWriter", "draw_au_bars", "draw_event_marker", "draw_video_frame"]

EVENT_RGB = {"micro": (229, 57, 53), "macro": (251, 140, 0)}
_FONT = cv2.FONT_HERSHEY_SIMPLEX


def draw_au_bars(out: np.ndarray, face, *, top: int = 5, min_intensity: float = 0.5) -> None:
    """Draw the ``top`` strongest AUs of ``face`` (intensity >= ``min_intensity``) as horizontal bars (0-5) to the
    right of its box (left of it when there is no room), in place."""
    aus = [(k, v.intensity) for k, v in face.aus.items()]
    aus = sorted([a for a in aus if a[1] >= min_intensity], key=lambda a: -a[1])[:top]
    if not aus:
        return
    H, W = out.shape[:2]
    x, y, w, h = (float(v) for v in face.box)
    size = max(w, h, 1.0)
    scale = float(np.clip(size / 500, 0.3, 2.0))
    thick = max(1, int(round(scale * 1.5)))
    row = max(8, int(round(size / 11)))
    bar_w = max(30, int(round(size * 0.45)))
    tw = max(cv2.getTextSize(name, _FONT, scale, thick)[0][0] for name, _ in aus) + 4
    panel_w = tw + 6 + bar_w + 6
    px = int(round(x + w + 6))
    if px + panel_w > W:
        px = int(round(x - 6 - panel_w))
    px = max(0, min(px, W - panel_w))
    py = int(round(y))
    py = max(0, min(py, H - row * len(aus) - 4))
    y0, y1 = py, min(H, py + row * len(aus) + 4)
    x0, x1 = px, min(W, px + panel_w)
    if y1 > y0 and x1 > x0:
        plate = out[y0:y1, x0:x1]
        plate[:] = (plate.astype(np.uint16) * 2 // 7).astype(np.uint8)
    for i, (name, v) in enumerate(aus):
        cy = py + 2 + i * row
        cv2.putText(out, name, (px + 3, cy + row - max(2, row // 4)), _FONT, scale, (255, 255, 255), thick, cv2.LINE_AA)
        bx = px + tw + 6
        cv2.rectangle(out, (bx, cy + 2), (bx + bar_w, cy + row - 2), (90, 90, 90), 1)
        fill = int(round(bar_w * min(v, 5.0) / 5.0))
        if fill > 0:
            colour = (255, 200, 0) if v < 3 else (255, 120, 0)
            cv2.rectangle(out, (bx, cy + 2), (bx + fill, cy + row - 2), colour, -1)


def draw_event_marker(out: np.ndarray, face, event, frame_index: int) -> None:
    """Frame the face in the event's colour (micro red, macro orange) with a label; thicker at the apex."""
    colour = EVENT_RGB.get(event.kind, (255, 255, 255))
    x, y, w, h = (float(v) for v in face.box)
    pad = 0.12 * max(w, h)
    thick = max(2, int(round(max(w, h) / 90))) * (2 if frame_index == event.apex_frame else 1)
    p0 = (int(round(x - pad)), int(round(y - pad)))
    p1 = (int(round(x + w + pad)), int(round(y + h + pad)))
    cv2.rectangle(out, p0, p1, colour, thick, cv2.LINE_AA)
    scale = float(np.clip(max(w, h) / 400, 0.4, 2.0))
    text = event.kind.upper() + (" apex" if frame_index == event.apex_frame else "")
    (tw, th), _ = cv2.getTextSize(text, _FONT, scale, max(1, int(round(2 * scale))))
    org = (max(0, p0[0]), min(out.shape[0] - 4, p1[1] + th + 6))
    cv2.putText(out, text, org, _FONT, scale, colour, max(1, int(round(2 * scale))), cv2.LINE_AA)


def draw_video_frame(image: np.ndarray, faces: Sequence[Any], *, au_bars: bool = True) -> np.ndarray:
    """:func:`draw_faces` plus AU bars: a new RGB image."""
    out = draw_faces(image, faces)
    if au_bars:
        for face in faces:
            draw_au_bars(out, face)
    return out


class _Lite:
    """What the event markers need of a face, without holding its landmarks."""

    __slots__ = ("box", "track_id")

    def __init__(self, face):
        self.box = tuple(float(v) for v in face.box)
        self.track_id = face.track_id


class AnnotatedVideoWriter:
    """Write annotated frames to a :class:`mimetic.media.video.VideoWriter`, ``delay`` seconds late when event
    markers are wanted. ``add(image, result)`` per frame, ``add_events(events)`` whenever the spotter reports some,
    ``close()`` at the end (flushes the queue)."""

    def __init__(self, writer, *, delay: float = 0.0, au_bars: bool = True, quality: int = 92):
        self.writer = writer
        self.delay = float(delay)
        self.au_bars = au_bars
        self.quality = quality
        self._queue: deque = deque()
        self._events: list[Any] = []

    def add_events(self, events: Sequence[Any]) -> None:
        self._events.extend(events)

    def add(self, image: np.ndarray, result) -> None:
        frame = draw_video_frame(image, result.faces, au_bars=self.au_bars)
        t = float(result.timestamp or 0.0)
        if self.delay <= 0:
            self._write(frame, result.frame_index, [_Lite(f) for f in result.faces])
            return
        ok, buf = cv2.imencode(".jpg", cv2.cvtColor(frame, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, self.quality])
        self._queue.append((t, result.frame_index, buf if ok else frame, [_Lite(f) for f in result.faces]))
        while self._queue and t - self._queue[0][0] > self.delay:
            self._pop()

    def _pop(self) -> None:
        _, idx, data, faces = self._queue.popleft()
        frame = data if data.ndim == 3 else cv2.cvtColor(cv2.imdecode(data, cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)
        self._write(frame, idx, faces)

    def _write(self, frame: np.ndarray, idx, faces) -> None:
        if self._events and idx is not None:
            for face in faces:
                for e in self._events:
                    if e.track_id == face.track_id and e.onset_frame <= idx <= e.offset_frame:
                        draw_event_marker(frame, face, e, idx)
                        break
            # events that ended long ago can no longer mark a frame
            self._events = [e for e in self._events if e.offset_frame >= idx]
        self.writer.write(frame)

    def close(self, events: Sequence[Any] = ()) -> None:
        """Flush the queue (``events``: any last events, e.g. from ``Spotter.finish()``)."""
        known = {(e.track_id, e.onset_frame) for e in self._events}
        self._events.extend(e for e in events if (e.track_id, e.onset_frame) not in known)
        while self._queue:
            self._pop()




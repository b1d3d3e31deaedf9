"""Stable ``track_id`` for faces across video frames.

Greedy matching on box IoU, with a centre-distance fallback for fast motion; a track survives a dropout of up to
``max_gap`` seconds (a blink of the detector, a hand passing in front), after which a returning face gets a new id.
"""

from __future__ import annotations

from dataclasses import dataclass

from mimetic.face.boxes import iou


@dataclass
class _Track:
    id: int
    box: tuple[float, float, float, float]
    last_seen: float


class Tracker:
    def __init__(self, *, max_gap: float = 1.0, min_iou: float = 0.2):
        self.max_gap = max_gap
        self.min_iou = min_iou
        self._tracks: list[_Track] = []
        self._next = 0

    @staticmethod
    def _near(a, b) -> float:
        """1 when centres coincide, 0 at a distance of one face size."""
        ax, ay = a[0] + a[2] / 2, a[1] + a[3] / 2
        bx, by = b[0] + b[2] / 2, b[1] + b[3] / 2
        size = max(a[2], a[3], b[2], b[3], 1e-6)
        return max(0.0, 1.0 - ((ax - bx) ** 2 + (ay - by) ** 2) ** 0.5 / size)

    def update(self, boxes: list, t: float) -> list[int]:
        """Ids for ``boxes`` seen at time ``t`` (seconds), in the same order."""
        self._tracks = [tr for tr in self._tracks if t - tr.last_seen <= self.max_gap]
        pairs = []
        for i, b in enumerate(boxes):
            for j, tr in enumerate(self._tracks):
                o = iou(b, tr.box)
                score = o if o >= self.min_iou else 0.5 * self._near(b, tr.box)
                if score > 0.25 or o >= self.min_iou:
                    pairs.append((score, i, j))
        ids: list[int | None] = [None] * len(boxes)
        used = set()
        for score, i, j in sorted(pairs, reverse=True):
            if ids[i] is None and j not in used:
                ids[i] = self._tracks[j].id
                used.add(j)
                self._tracks[j].box, self._tracks[j].last_seen = boxes[i], t
        for i, b in enumerate(boxes):
            if ids[i] is None:
                ids[i] = self._next
                self._tracks.append(_Track(self._next, b, t))
                self._next += 1
        return ids  # type: ignore[return-value]

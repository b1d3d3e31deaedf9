"""Draw faces onto an image: the landmark mesh, the box, head-pose axes and a few text labels.

Everything is drawn with OpenCV in the image's own pixel grid. Line widths and text size follow each face's size,
so the overlay reads the same on a 512×512 portrait and a 4000×3000 group photo. Images are RGB (``uint8``,
H×W×3); colours below are RGB.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache

import cv2
import numpy as np

from mimetic.types import Face

__all__ = ["draw_faces"]

_SHIFT = 4  # fixed-point bits for sub-pixel coordinates in cv2 drawing calls
_ONE = 1 << _SHIFT
_AA = cv2.LINE_AA
_FONT = cv2.FONT_HERSHEY_SIMPLEX

MESH_COLOR = (150, 200, 230)
MESH_ALPHA = 0.45
CONTOUR_COLOR = (225, 245, 255)
IRIS_COLOR = (120, 230, 255)
AXIS_COLORS = ((255, 40, 40), (40, 220, 40), (60, 120, 255))  # x red, y green, z blue
#: Box/label colours, picked by track id (or face number); RGB.
PALETTE = (
    (255, 196, 0), (0, 200, 255), (255, 90, 160), (120, 230, 90), (190, 130, 255), (255, 140, 60),
)  # fmt: skip
NOSE_TIP = 1


def _chain(edges: np.ndarray) -> list[np.ndarray]:
    """Split an undirected edge list into few long vertex paths (greedy walk), so one polyline covers many edges."""
    edges = np.unique(np.sort(edges, axis=1), axis=0)
    adj: dict[int, list[int]] = {}
    for a, b in edges.tolist():
        adj.setdefault(a, []).append(b)
        adj.setdefault(b, []).append(a)
    used: set[tuple[int, int]] = set()
    remaining = {v: len(n) for v, n in adj.items()}
    paths: list[np.ndarray] = []

    def walk(v: int) -> list[int]:
        path = [v]
        while remaining[v]:
            for w in adj[v]:
                e = (v, w) if v < w else (w, v)
                if e not in used:
                    used.add(e)
                    remaining[v] -= 1
                    remaining[w] -= 1
                    path.append(w)
                    v = w
                    break
        return path

    # Start at odd-degree vertices first (paths must end there), then mop up cycles.
    for v in sorted(adj, key=lambda v: -(len(adj[v]) % 2)):
        while remaining[v]:
            paths.append(np.asarray(walk(v), dtype=np.intp))
    return paths


class _Paths:
    """Paths over landmark indices, flattened so per-call work is one fancy index and one ``np.split``."""

    def __init__(self, edges: np.ndarray) -> None:
        paths = _chain(edges)
        self.index = np.concatenate(paths)
        self.splits = np.cumsum([len(p) for p in paths])[:-1]
        self.n_paths = len(paths)
        self.n_edges = int(sum(len(p) - 1 for p in paths))

    def polylines(self, pts: np.ndarray) -> list[np.ndarray]:
        return np.split(pts[self.index], self.splits)


@lru_cache(maxsize=1)
def _connections() -> tuple[_Paths, _Paths, _Paths]:
    """(tesselation, contours, irises) as chained paths; built once from MediaPipe's connection lists."""
    from mediapipe.tasks.python.vision import FaceLandmarksConnections as C

    def arr(conns: Sequence) -> np.ndarray:
        return np.array([(c.start, c.end) for c in conns], dtype=np.intp).reshape(-1, 2)

    contours = np.concatenate([
        arr(C.FACE_LANDMARKS_FACE_OVAL), arr(C.FACE_LANDMARKS_LIPS),
        arr(C.FACE_LANDMARKS_LEFT_EYE), arr(C.FACE_LANDMARKS_RIGHT_EYE),
        arr(C.FACE_LANDMARKS_LEFT_EYEBROW), arr(C.FACE_LANDMARKS_RIGHT_EYEBROW),
    ])  # fmt: skip
    irises = np.concatenate([arr(C.FACE_LANDMARKS_LEFT_IRIS), arr(C.FACE_LANDMARKS_RIGHT_IRIS)])
    return _Paths(arr(C.FACE_LANDMARKS_TESSELATION)), _Paths(contours), _Paths(irises)


def _fixed(xy: np.ndarray) -> np.ndarray:
    """Pixel coordinates → cv2 fixed-point int32 (``shift=_SHIFT``)."""
    return np.round(np.asarray(xy, dtype=np.float64) * _ONE).astype(np.int32)


def _face_size(face: Face) -> float:
    _, _, w, h = face.box
    return max(float(max(w, h)), 1.0)


def _draw_mesh(out: np.ndarray, face: Face, thick: int) -> None:
    tess, contours, irises = _connections()
    lm = np.asarray(face.landmarks)
    if lm.ndim != 2 or lm.shape[0] < 478:
        return
    pts = _fixed(lm[:, :2])
    H, W = out.shape[:2]
    # Blend the thin tesselation into the face's region only (cheap), then draw the contours opaque on top.
    x0, y0 = (pts.min(axis=0) >> _SHIFT) - thick - 1
    x1, y1 = (pts.max(axis=0) >> _SHIFT) + thick + 2
    x0, y0, x1, y1 = max(int(x0), 0), max(int(y0), 0), min(int(x1), W), min(int(y1), H)
    if x1 > x0 and y1 > y0:
        roi = out[y0:y1, x0:x1]
        layer = roi.copy()
        local = pts - np.array([x0 * _ONE, y0 * _ONE], dtype=np.int32)
        cv2.polylines(layer, tess.polylines(local), False, MESH_COLOR, max(1, thick // 2), _AA, _SHIFT)
        cv2.addWeighted(layer, MESH_ALPHA, roi, 1.0 - MESH_ALPHA, 0.0, dst=roi)
    cv2.polylines(out, contours.polylines(pts), False, CONTOUR_COLOR, thick, _AA, _SHIFT)
    cv2.polylines(out, irises.polylines(pts), False, IRIS_COLOR, thick, _AA, _SHIFT)


def _draw_axes(out: np.ndarray, face: Face, thick: int) -> None:
    m = np.asarray(face.matrix, dtype=np.float64)
    lm = np.asarray(face.landmarks)
    if m.shape != (4, 4) or lm.ndim != 2 or lm.shape[0] <= NOSE_TIP:
        return
    rot = m[:3, :3]
    norms = np.linalg.norm(rot, axis=0)
    if not np.all(np.isfinite(rot)) or np.any(norms < 1e-9):
        return
    rot = rot / norms  # columns: the face's x, y, z axes in MediaPipe's camera frame (x right, y up, z to viewer)
    origin = lm[NOSE_TIP, :2].astype(np.float64)
    length = 0.45 * _face_size(face)
    o = _fixed(origin)
    # Orthographic projection onto the image; image y points down, camera y up.
    ends = [origin + length * np.array([rot[0, k], -rot[1, k]]) for k in range(3)]
    # Draw the axis pointing most away from the viewer first so nearer ones stay on top.
    for k in sorted(range(3), key=lambda k: rot[2, k]):
        cv2.line(out, tuple(o), tuple(_fixed(ends[k])), AXIS_COLORS[k], thick + 1, _AA, _SHIFT)
    cv2.circle(out, tuple(o), (thick + 1) * _ONE, (255, 255, 255), -1, _AA, _SHIFT)


def _draw_labels(
    out: np.ndarray, face: Face, number: int, color: tuple[int, int, int], scale: float, thick: int,
    *, labels: bool, numbers: bool,
) -> None:  # fmt: skip
    lines: list[str] = []
    if labels:
        head = f"#{number}"
        if face.track_id is not None:
            head += f"  id {face.track_id}"
        lines.append(head)
    if face.expression is not None and (labels or numbers):
        text = face.expression.label if labels else ""
        if numbers:
            score = face.expression.scores.get(face.expression.label)
            if score is not None:
                text = f"{text} {float(score):.2f}".strip()
        if text:
            lines.append(text)
    if numbers:
        p = face.pose
        lines.append(f"yaw {p.yaw:.0f} pitch {p.pitch:.0f} roll {p.roll:.0f}")
    if not lines:
        return
    H, W = out.shape[:2]
    sizes = [cv2.getTextSize(t, _FONT, scale, thick) for t in lines]
    pad = max(2, int(round(4 * scale)))
    line_h = max(s[0][1] + s[1] for s in sizes) + pad
    block_w = max(s[0][0] for s in sizes) + 2 * pad
    block_h = line_h * len(lines) + pad
    x, y, w, h = (float(v) for v in face.box)
    bx = int(round(min(max(x, 0.0), max(W - block_w, 0))))
    by = int(round(y)) - block_h - thick  # above the box if there is room, else below it, else inside the top
    if by < 0:
        by = int(round(y + h)) + thick
        if by + block_h > H:
            by = max(int(round(y)), 0)
    # Dark translucent plate behind the text, restricted to its own region.
    x0, y0, x1, y1 = max(bx, 0), max(by, 0), min(bx + block_w, W), min(by + block_h, H)
    if x1 > x0 and y1 > y0:
        plate = out[y0:y1, x0:x1]
        plate[:] = (plate.astype(np.uint16) * 2 // 7).astype(np.uint8)
    for i, ((tw, th), base), t in zip(range(len(lines)), sizes, lines):
        ty = by + pad + (i + 1) * line_h - base - pad // 2
        cv2.putText(out, t, (bx + pad, ty), _FONT, scale, color if i == 0 else (255, 255, 255), thick, _AA)


def draw_faces(
    image: np.ndarray,
    faces: Sequence[Face],
    *,
    mesh: bool = True,
    box: bool = True,
    axes: bool = True,
    labels: bool = True,
    numbers: bool = True,
) -> np.ndarray:
    """Return a copy of ``image`` (RGB ``uint8``, H×W×3) with ``faces`` drawn on it; the input is not modified.

    - ``mesh``: MediaPipe's tesselation as thin translucent lines, the contours (face oval, eyes, brows, lips)
      brighter, and the irises;
    - ``box``: the face box, coloured per track id (or face number);
    - ``axes``: head-pose axes from the nose tip (landmark 1): the face's x (red, toward the image's right for a
      frontal face), y (green, up) and z (blue, toward the viewer) axes from ``face.matrix``;
    - ``labels``: the face number ``#1`` (with ``id 3`` when tracked) and the expression label;
    - ``numbers``: the numeric readouts: the expression's score and ``yaw 12 pitch -3 roll 1`` (degrees).
    """
    img = np.asarray(image)
    if img.ndim == 2:
        img = np.repeat(img[:, :, None], 3, axis=2)
    if img.ndim != 3 or img.shape[2] not in (3, 4):
        raise ValueError(f"expected an RGB image (H, W, 3), got shape {img.shape}")
    if img.shape[2] == 4:
        img = img[:, :, :3]
    if img.dtype != np.uint8:
        raise ValueError(f"expected a uint8 image, got {img.dtype}")
    out = np.ascontiguousarray(img).copy()
    for n, face in enumerate(faces, start=1):
        size = _face_size(face)
        thick = max(1, int(round(size / 220)))
        scale = float(np.clip(size / 450, 0.35, 6.0))
        text_thick = max(1, int(round(scale * 1.6)))
        key = face.track_id if face.track_id is not None else n - 1
        color = PALETTE[key % len(PALETTE)]
        if mesh:
            _draw_mesh(out, face, thick)
        if box:
            x, y, w, h = face.box
            cv2.rectangle(out, tuple(_fixed((x, y))), tuple(_fixed((x + w, y + h))), color, thick + 1, _AA, _SHIFT)
        if axes:
            _draw_axes(out, face, thick)
        if labels or numbers:
            _draw_labels(out, face, n, color, scale, text_thick, labels=labels, numbers=numbers)
    return out

"""The muscle map: each mimetic muscle's region, per side, coloured by its activation; and an AU bar chart.

- :func:`muscle_map` draws over the photo (the face's own landmarks);
- :func:`canonical_muscle_map` draws on a front view of the same face: its 478 landmarks rotated to frontal
  (:func:`mimetic.facs.geometry.frontal_points`), the mesh in grey, so turned heads and different photos compare;
- :func:`au_bar_chart` plots the AU intensities, left and right, on the FACS 0-5 (A-E) scale.

Muscle regions are data (:data:`REGIONS`): per muscle, the MediaPipe landmark indices on the person's left and right
whose convex hull covers the muscle's surface area (holes cut out the eye and mouth openings; the platysma is a
band below the jaw line). The regions are a readable sketch of surface anatomy (cf. py-feat's
``muscle_to_mesh_map.json``), not an anatomical atlas: deep and overlapping muscles (levator palpebrae under
orbicularis oculi, incisivii under orbicularis oris) are drawn where they show.

Images are RGB ``uint8`` (H, W, 3). Colours: grey outline = inactive; blue → green → yellow → red = 0 → 1.
"""

from __future__ import annotations

from collections.abc import Mapping

import cv2
import numpy as np

from mimetic.types import AUValue, Face, Sided

__all__ = ["REGIONS", "au_bar_chart", "activation_colour", "canonical_muscle_map", "muscle_map"]

# fmt: off
#: muscle -> (indices on the person's LEFT, indices on the person's RIGHT); their convex hull is the region.
REGIONS: dict[str, tuple[tuple[int, ...], tuple[int, ...]]] = {
    "frontalis_medial": (
        (336, 296, 334, 333, 299, 337, 338, 10, 151, 9),
        (107, 66, 105, 104, 69, 108, 109, 10, 151, 9),
    ),
    "frontalis_lateral": (
        (334, 293, 300, 301, 298, 284, 332, 297, 299, 333),
        (105, 63, 70, 71, 68, 54, 103, 67, 69, 104),
    ),
    "corrugator_supercilii": ((9, 8, 336, 296, 295, 285, 282), (9, 8, 107, 66, 65, 55, 52)),
    "depressor_supercilii": ((285, 417, 413, 441, 295), (55, 193, 189, 221, 65)),
    "procerus": ((9, 8, 168, 6, 417, 351), (9, 8, 168, 6, 193, 122)),
    "orbicularis_oculi_orbital": (
        (300, 276, 283, 282, 295, 285, 417, 465, 357, 350, 349, 348, 347, 346, 340, 372, 383),
        (70, 46, 53, 52, 65, 55, 193, 245, 128, 121, 120, 119, 118, 117, 111, 143, 156),
    ),
    "orbicularis_oculi_palpebral": (
        (467, 260, 259, 257, 258, 286, 414, 463, 341, 256, 252, 253, 254, 339, 255, 359),
        (247, 30, 29, 27, 28, 56, 190, 243, 112, 26, 22, 23, 24, 110, 25, 130),
    ),
    "levator_palpebrae_superioris": (
        (466, 388, 387, 386, 385, 384, 398, 286, 258, 257, 259, 260, 467),
        (246, 161, 160, 159, 158, 157, 173, 56, 28, 27, 29, 30, 247),
    ),
    "levator_labii_superioris_alaeque_nasi": (
        (465, 412, 399, 420, 429, 358, 279, 278, 344, 440, 437, 343, 357),
        (245, 188, 174, 198, 209, 129, 49, 48, 115, 220, 217, 114, 128),
    ),
    "levator_labii_superioris": (
        (350, 349, 277, 329, 355, 371, 266, 423, 330),
        (121, 120, 47, 100, 126, 142, 36, 203, 101),
    ),
    "zygomaticus_minor": (
        (346, 347, 280, 330, 266, 423, 425, 322, 270, 269),
        (117, 118, 50, 101, 36, 203, 205, 92, 40, 39),
    ),
    "zygomaticus_major": (
        (352, 345, 366, 376, 411, 427, 436, 410, 287, 291, 322, 425, 280),
        (123, 116, 137, 147, 187, 207, 216, 186, 57, 61, 92, 205, 50),
    ),
    "buccinator": (
        (287, 432, 422, 434, 364, 367, 416, 433, 376, 411, 427, 436),
        (57, 212, 202, 214, 135, 138, 192, 213, 147, 187, 207, 216),
    ),
    "risorius": (
        (287, 410, 432, 434, 364, 367, 435, 401, 361, 288, 397),
        (57, 186, 212, 214, 135, 138, 215, 177, 132, 58, 172),
    ),
    "depressor_anguli_oris": (
        (291, 287, 273, 335, 424, 430, 394, 379, 378, 365),
        (61, 57, 43, 106, 204, 210, 169, 150, 149, 136),
    ),
    "depressor_labii_inferioris": (
        (314, 405, 321, 335, 406, 313, 18, 200, 421, 418, 424),
        (84, 181, 91, 106, 182, 83, 18, 200, 201, 194, 204),
    ),
    "mentalis": ((18, 200, 199, 175, 152, 377, 396, 428, 421, 313), (18, 200, 199, 175, 152, 148, 171, 208, 201, 83)),
    "orbicularis_oris": (
        (164, 393, 391, 322, 410, 287, 273, 335, 406, 313, 18, 17, 0, 291, 375, 321, 405, 314, 267, 269, 270, 409),
        (164, 167, 165, 92, 186, 57, 43, 106, 182, 83, 18, 17, 0, 61, 146, 91, 181, 84, 37, 39, 40, 185),
    ),
    "incisivii_labii": ((291, 409, 270, 375, 321, 306, 307, 292, 308, 287), (61, 185, 40, 146, 91, 76, 77, 62, 78, 57)),
    "platysma": ((397, 365, 379, 378, 400, 377, 152), (172, 136, 150, 149, 176, 148, 152)),
}
#: openings cut out of a region: muscle -> (left indices, right indices)
HOLES: dict[str, tuple[tuple[int, ...], tuple[int, ...]]] = {
    "orbicularis_oculi_orbital": REGIONS["orbicularis_oculi_palpebral"],
    "orbicularis_oculi_palpebral": (
        (263, 466, 388, 387, 386, 385, 384, 398, 362, 382, 381, 380, 374, 373, 390, 249),
        (33, 246, 161, 160, 159, 158, 157, 173, 133, 155, 154, 153, 145, 144, 163, 7),
    ),
    "orbicularis_oris": (
        (13, 312, 311, 310, 415, 308, 324, 318, 402, 317, 14),
        (13, 82, 81, 80, 191, 78, 95, 88, 178, 87, 14),
    ),
}
#: regions drawn as a band: the jaw-line points plus the same points moved down by this many inter-ocular distances
EXTRUDE_DOWN = {"platysma": 0.35}
# fmt: on

#: drawing order: broad sheets first, small and superficial muscles last
_ORDER = ("platysma", "frontalis_medial", "frontalis_lateral", "buccinator", "risorius", "depressor_anguli_oris",
          "depressor_labii_inferioris", "mentalis", "orbicularis_oculi_orbital", "orbicularis_oculi_palpebral",
          "levator_palpebrae_superioris", "corrugator_supercilii", "depressor_supercilii", "procerus",
          "levator_labii_superioris_alaeque_nasi", "levator_labii_superioris", "zygomaticus_major",
          "zygomaticus_minor", "orbicularis_oris", "incisivii_labii")

_STOPS = np.array([0.0, 0.25, 0.5, 0.75, 1.0])
_COLOURS = np.array([(40, 60, 200), (0, 170, 220), (60, 200, 80), (250, 210, 0), (235, 30, 30)], dtype=float)
_OUTLINE = (170, 170, 170)
_MIN_ACT = 0.05  # activations below this are drawn as an outline only
_SHIFT = 4
_ONE = 1 << _SHIFT
#: with ``crop=True`` the face is enlarged until the eyes are at least this many pixels apart
CROP_IOD = 160.0


def activation_colour(a: float) -> tuple[int, int, int]:
    """RGB colour for an activation 0..1 (blue → cyan → green → yellow → red)."""
    a = float(np.clip(a, 0.0, 1.0))
    return tuple(int(round(np.interp(a, _STOPS, _COLOURS[:, c]))) for c in range(3))


def _polygons(pts: np.ndarray, iod: float, down: np.ndarray) -> list[tuple[str, int, np.ndarray, np.ndarray | None]]:
    """(muscle, side 0=left/1=right, hull, hole-hull or None) in drawing order, in the coordinates of ``pts``."""
    out = []
    for name in _ORDER:
        for side in (0, 1):
            idx = list(REGIONS[name][side])
            p = pts[idx]
            if name in EXTRUDE_DOWN:
                p = np.concatenate([p, p + down * EXTRUDE_DOWN[name] * iod])
            hull = cv2.convexHull(p.astype(np.float32))[:, 0, :]
            hole = None
            if name in HOLES:
                hole = cv2.convexHull(pts[list(HOLES[name][side])].astype(np.float32))[:, 0, :]
            out.append((name, side, hull, hole))
    return out


def _fixed(p: np.ndarray) -> np.ndarray:
    return np.round(p * _ONE).astype(np.int32).reshape(-1, 1, 2)


def _activation(muscles: Mapping[str, Sided], name: str, side: int) -> float:
    s = muscles.get(name)
    return 0.0 if s is None else float(s.left if side == 0 else s.right)


def _paint(canvas: np.ndarray, polys, muscles: Mapping[str, Sided], line: int) -> None:
    """Blend each region's colour into ``canvas`` (in place), then outline it."""
    h, w = canvas.shape[:2]
    mask = np.zeros((h, w), np.uint8)
    for name, side, hull, hole in polys:
        act = _activation(muscles, name, side)
        if act >= _MIN_ACT:
            x0, y0 = np.floor(hull.min(axis=0)).astype(int)
            x1, y1 = np.ceil(hull.max(axis=0)).astype(int) + 1
            x0, y0, x1, y1 = max(x0, 0), max(y0, 0), min(x1, w), min(y1, h)
            if x1 <= x0 or y1 <= y0:
                continue
            m = mask[y0:y1, x0:x1]
            m[:] = 0
            off = np.array([x0, y0], dtype=np.float32)
            cv2.fillPoly(m, [_fixed(hull - off)], 255, cv2.LINE_AA, _SHIFT)
            if hole is not None:
                cv2.fillPoly(m, [_fixed(hole - off)], 0, cv2.LINE_AA, _SHIFT)
            alpha = (m.astype(np.float32) / 255.0 * (0.25 + 0.5 * act))[..., None]
            roi = canvas[y0:y1, x0:x1].astype(np.float32)
            colour = np.array(activation_colour(act), dtype=np.float32)
            canvas[y0:y1, x0:x1] = np.round(roi * (1 - alpha) + colour * alpha).astype(np.uint8)
    # outlines: inactive regions faint grey (half blended), active ones in their colour
    faint = canvas.copy()
    active = []
    for name, side, hull, hole in polys:
        act = _activation(muscles, name, side)
        if act >= _MIN_ACT:
            active.append((hull, activation_colour(act)))
        else:
            cv2.polylines(faint, [_fixed(hull)], True, _OUTLINE, 1, cv2.LINE_AA, _SHIFT)
    cv2.addWeighted(faint, 0.5, canvas, 0.5, 0.0, dst=canvas)
    for hull, colour in active:
        cv2.polylines(canvas, [_fixed(hull)], True, colour, max(1, line // 2), cv2.LINE_AA, _SHIFT)


def _colour_bar(canvas: np.ndarray, x: int, y: int, w: int, h: int, scale: float) -> None:
    for i in range(w):
        cv2.line(canvas, (x + i, y), (x + i, y + h), activation_colour(i / max(w - 1, 1)), 1)
    cv2.rectangle(canvas, (x, y), (x + w, y + h), (90, 90, 90), 1)
    font = cv2.FONT_HERSHEY_SIMPLEX
    t = max(1, int(round(scale)))
    for v, label in ((0.0, "0"), (0.5, "0.5"), (1.0, "1")):
        (tw, th), _ = cv2.getTextSize(label, font, 0.4 * scale, t)
        cv2.putText(canvas, label, (int(x + v * w - tw / 2), y + h + th + 4), font, 0.4 * scale, (230, 230, 230), t,
                    cv2.LINE_AA)


def _label(canvas, text, org, scale, colour=(255, 255, 255), outline: bool = True) -> None:
    font = cv2.FONT_HERSHEY_SIMPLEX
    t = max(1, int(round(scale * 1.2)))
    if outline:
        cv2.putText(canvas, text, org, font, 0.45 * scale, (0, 0, 0), t + 2, cv2.LINE_AA)
    cv2.putText(canvas, text, org, font, 0.45 * scale, colour, t, cv2.LINE_AA)


def _muscles_of(face: Face, muscles) -> Mapping[str, Sided]:
    """The activations to draw: ``muscles`` when given, else the face's own (a renderer never runs the pipeline)."""
    if muscles is not None:
        return muscles
    if not face.muscles:
        raise ValueError("the face has no muscle activations: draw a face from Analyzer results (with the muscle "
                         "stage on), or pass muscles=")
    return face.muscles


def muscle_map(face: Face, rgb: np.ndarray | None = None, *, muscles: Mapping[str, Sided] | None = None,
               crop: bool = False, legend: bool = True) -> np.ndarray:
    """The muscle regions of ``face`` coloured by activation, over ``rgb`` (the image the face was found in).

    ``muscles`` defaults to ``face.muscles`` (``ValueError`` when the face has none: the renderer draws a result,
    it does not compute one). Without
    ``rgb`` the regions are drawn on a dark canvas of the image's size (taken from the landmarks). ``crop=True``
    returns only the face with a margin. "R" and "L" mark the person's right and left.
    """
    mus = _muscles_of(face, muscles)
    pts = np.asarray(face.landmarks, dtype=np.float64)[:, :2]
    if rgb is None:
        h = int(np.ceil(pts[:, 1].max() * 1.1)) + 1
        w = int(np.ceil(pts[:, 0].max() * 1.1)) + 1
        canvas = np.full((h, w, 3), 30, np.uint8)
    else:
        canvas = np.ascontiguousarray(np.asarray(rgb, dtype=np.uint8)[..., :3])
    eye_l = pts[[263, 362]].mean(axis=0)
    eye_r = pts[[33, 133]].mean(axis=0)
    iod = float(np.hypot(*(eye_l - eye_r)))
    if crop:
        # the face with a margin, enlarged so that the eyes are at least CROP_IOD pixels apart
        x0, y0 = pts.min(axis=0) - 0.45 * iod
        x1, y1 = pts.max(axis=0) + np.array([0.45, 0.8]) * iod
        h, w = canvas.shape[:2]
        x0, y0 = max(int(x0), 0), max(int(y0), 0)
        x1, y1 = min(int(np.ceil(x1)), w), min(int(np.ceil(y1)), h)
        k = max(1.0, CROP_IOD / max(iod, 1e-6))
        canvas = cv2.resize(canvas[y0:y1, x0:x1], (int(round((x1 - x0) * k)), int(round((y1 - y0) * k))),
                            interpolation=cv2.INTER_CUBIC if k > 1 else cv2.INTER_AREA)
        pts = (pts - (x0, y0)) * k
        eye_l, eye_r, iod = (eye_l - (x0, y0)) * k, (eye_r - (x0, y0)) * k, iod * k
    else:
        canvas = canvas.copy()
    down = pts[152] - pts[168]
    down = down / max(float(np.hypot(*down)), 1e-6)
    scale = max(iod / 70.0, 0.6)
    line = max(1, int(round(iod / 40)))
    _paint(canvas, _polygons(pts, iod, down), mus, line)
    # side labels beside the outer eye corners
    c = (eye_l + eye_r) / 2
    for idx, text in ((263, "L"), (33, "R")):
        q = pts[idx] + (pts[idx] - c) * 0.45
        _label(canvas, text, (int(q[0] - 5 * scale), int(q[1] + 5 * scale)), scale * 1.3)
    if legend:
        h, w = canvas.shape[:2]
        bw = max(60, min(w // 3, int(3 * iod)))
        bh = max(6, int(0.12 * iod))
        _colour_bar(canvas, w - bw - int(16 * scale), h - bh - int(24 * scale), bw, bh, scale)
    return canvas


def canonical_muscle_map(face: Face, *, size: int = 512,
                         muscles: Mapping[str, Sided] | None = None) -> np.ndarray:
    """The muscle map on the face's own mesh rotated to a front view, on a dark ``size``×(1.15·size) canvas.

    The person's right is on the image's left, as when facing them; labels say so.
    """
    from mimetic.facs.geometry import frontal_points

    mus = _muscles_of(face, muscles)
    f = frontal_points(face)
    width, height = size, int(round(size * 1.15))
    s = size / 3.0  # pixels per inter-ocular distance: the face (~2.3 IOD wide) fills ~3/4 of the width
    cx, cy = width / 2.0, height * 0.40
    pts = np.stack([cx + f[:, 0] * s, cy - f[:, 1] * s], axis=1)
    canvas = np.full((height, width, 3), 24, np.uint8)
    line = max(1, int(round(size / 512)))
    for a, b in _tesselation():
        cv2.line(canvas, tuple(_fixed(pts[a])[0, 0]), tuple(_fixed(pts[b])[0, 0]), (70, 70, 70), 1, cv2.LINE_AA,
                 _SHIFT)
    _paint(canvas, _polygons(pts, s, np.array([0.0, 1.0])), mus, line * 2)
    scale = size / 512
    _label(canvas, "person's right", (int(10 * scale), int(24 * scale)), scale, outline=False)
    (tw, _), _ = cv2.getTextSize("person's left", cv2.FONT_HERSHEY_SIMPLEX, 0.45 * scale, 1)
    _label(canvas, "person's left", (int(width - tw - 14 * scale), int(24 * scale)), scale, outline=False)
    bw, bh = int(width * 0.4), max(6, int(10 * scale))
    _colour_bar(canvas, (width - bw) // 2, height - bh - int(30 * scale), bw, bh, scale)
    _label(canvas, "muscle activation", ((width - bw) // 2, height - bh - int(36 * scale)), scale, outline=False)
    return canvas


_TESS: np.ndarray | None = None


def _tesselation() -> np.ndarray:
    global _TESS
    if _TESS is None:
        from mediapipe.tasks.python.vision import FaceLandmarksConnections as C

        _TESS = np.unique(np.sort(np.array([(c.start, c.end) for c in C.FACE_LANDMARKS_TESSELATION]), axis=1), axis=0)
    return _TESS


def au_bar_chart(aus: Mapping[str, AUValue], *, title: str | None = None, width: int = 720,
                 dpi: int = 100) -> np.ndarray:
    """A horizontal bar chart of AU intensities, person's left and right side by side, as an RGB image.

    The x axis is the FACS scale (0, A..E = 1..5); the dashed line marks ``present`` (intensity 1).
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    from mimetic.facs.catalogue import AU_BY_CODE
    from mimetic.facs.estimate import PRESENT_AT

    codes = sorted(aus, key=lambda c: int("".join(ch for ch in c if ch.isdigit()) or 0))
    n = max(len(codes), 1)
    height = 1.0 + 0.28 * n
    fig = Figure(figsize=(width / dpi, height), dpi=dpi)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot(1, 1, 1)
    y = np.arange(len(codes))[::-1]
    left = [aus[c].left for c in codes]
    right = [aus[c].right for c in codes]
    ax.barh(y + 0.2, left, height=0.4, color="#e0502a", label="person's left")
    ax.barh(y - 0.2, right, height=0.4, color="#2a7fe0", label="person's right")
    labels = []
    for c in codes:
        info = AU_BY_CODE.get(c)
        labels.append(f"{c} {info.name}" if info else c)
    ax.set_yticks(y, labels, fontsize=8)
    ax.set_xlim(0, 5)
    ax.set_xticks(range(6), ["0", "A", "B", "C", "D", "E"])
    ax.axvline(PRESENT_AT, color="0.4", linestyle="--", linewidth=0.8)
    ax.set_xlabel("FACS intensity")
    ax.legend(loc="lower right", fontsize=8)
    ax.grid(axis="x", alpha=0.3)
    if title:
        ax.set_title(title, fontsize=10)
    fig.tight_layout()
    fig.canvas.draw()
    return np.asarray(fig.canvas.buffer_rgba())[..., :3].copy()

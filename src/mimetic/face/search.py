"""Find every face in a still image, small ones included.

MediaPipe's landmarker finds faces with a short-range detector that sees the image at 128x128, so a face smaller
than about a sixth of the image is missed (on ``multi_face.jpg`` one pass finds 3 of 5). We therefore:

1. run the same detector (:class:`mimetic.face.blazeface.Detector`, fully convolutional) on a small pyramid of the
   whole image: fitted into 128 px, then scaled so that a tile of 256 px x 1.6^k becomes 128 px — a face of
   ``min_face`` pixels is then at least ~19 % of the network's window at some level. One call per level, on a helper
   thread while the landmarker runs its own whole-image pass on this one (the two cores are busy at once);
2. merge the candidate boxes of all levels (non-maximum suppression on intersection-over-smaller-area);
3. run the landmarker on a square crop around each candidate that the whole-image pass did not find (2.2 x its
   size), so the landmark model sees the face at a good scale, and map the 478 points back to the image;
4. drop duplicates on the landmark boxes.

The whole-image landmarker pass is kept because the landmarker's own detector sometimes finds a face (a large,
close one) that the stand-alone detector scores below threshold.

5. When nothing was found, the image may be a face that fills the frame (how face datasets and many users hand faces
   over: a crop inside the forehead and chin). The detector needs some context around a face, so the landmarker runs
   once more on the image centred in a mid-grey canvas twice its size (:data:`PAD`), and the points are mapped back
   (they may then lie slightly outside the image). On the fixtures cropped 5-15 % inside their landmark box this
   finds 18 of 18 faces (8 of 18 without it); it costs one landmarker call, on images without a face only.
"""

from __future__ import annotations

import math

import numpy as np

from mimetic.face.blazeface import Detector, level_scales
from mimetic.face.boxes import box_of_points, iou, overlap_of_smaller, suppress
from mimetic.face.landmarker import Landmarker, RawFace

BASE_TILE = 256
TILE_GROWTH = 1.6
#: the smallest face/tile ratio the short-range detector finds reliably (measured: 73 px in 512 found, 52 not)
MIN_RATIO = 0.19
#: the padding on each side (fraction of the image's size) of the retry for faces that fill the frame
PAD = 0.5
PAD_GREY = 128


def tile_sides(width: int, height: int, min_face: int) -> list[int]:
    """The pyramid's levels, as the tile side that becomes the detector's 128 px window: from the smallest that
    still shows ``min_face`` at MIN_RATIO, growing by 1.6, until the faces a level finds whole (half its side) are
    big enough for the whole-image level to find."""
    whole_image_finds = MIN_RATIO * max(width, height)
    if min_face >= whole_image_finds:
        return []
    side = max(BASE_TILE, int(math.ceil(min_face / MIN_RATIO)))
    sides = [side]
    while side / 2 < whole_image_finds:
        side = int(side * TILE_GROWTH)
        sides.append(side)
    return sides


def _merge(found: list[tuple]) -> list[tuple]:
    keep = suppress([f[:4] for f in found], [f[4] for f in found], threshold=0.5)
    return [found[i] for i in keep]


def _to_image_coords(face: RawFace, x0: int, y0: int, cw: int, ch: int, w: int, h: int) -> RawFace:
    pts = face.landmarks_norm.copy()
    pts[:, 0] = (pts[:, 0] * cw + x0) / w
    pts[:, 1] = (pts[:, 1] * ch + y0) / h
    pts[:, 2] = pts[:, 2] * cw / w
    return RawFace(pts, face.blendshapes, face.matrix, face.score)


def _pixel_box(face: RawFace, w: int, h: int):
    return box_of_points(face.landmarks_norm[:, :2] * (w, h))


def find_faces(rgb: np.ndarray, landmarker: Landmarker, detector: Detector, *, max_faces: int = 20,
               min_face: int | None = 48) -> list[RawFace]:
    """All faces in ``rgb`` (at most ``max_faces``, best first), landmarks normalised to the whole image.

    ``min_face`` (pixels) sets how small a face the tile search looks for; ``None`` turns the tile search off.
    """
    h, w = rgb.shape[:2]
    sides = tile_sides(w, h, min_face) if min_face else []
    searching = detector.submit(rgb, level_scales(w, h, sides))  # beside the landmarker's own pass
    faces: list[RawFace] = landmarker.detect(rgb)
    boxes = [_pixel_box(f, w, h) for f in faces]
    cands = _merge(searching.result())
    # Faces from the whole-image pass take the score of the detection that matches them.
    for f, b in zip(faces, boxes):
        match = [c[4] for c in cands if overlap_of_smaller(b, c[:4]) > 0.5]
        f.score = max(match) if match else landmarker.presence
    for cx, cy, cw_, ch_, score in cands:
        if len(faces) >= max_faces:
            break
        cand = (cx, cy, cw_, ch_)
        if any(overlap_of_smaller(cand, b) > 0.5 for b in boxes):
            continue  # already found
        side = 2.2 * max(cw_, ch_)
        mx, my = cx + cw_ / 2, cy + ch_ / 2
        x0, y0 = max(0, int(mx - side / 2)), max(0, int(my - side / 2))
        x1, y1 = min(w, int(mx + side / 2)), min(h, int(my + side / 2))
        if x1 - x0 < 8 or y1 - y0 < 8:
            continue
        best, best_iou = None, 0.3
        for f in landmarker.detect(rgb[y0:y1, x0:x1]):
            g = _to_image_coords(f, x0, y0, x1 - x0, y1 - y0, w, h)
            ov = iou(_pixel_box(g, w, h), cand)
            if ov > best_iou:
                best, best_iou = g, ov
        if best is not None:
            b = _pixel_box(best, w, h)
            if any(overlap_of_smaller(b, o) > 0.5 for o in boxes):
                continue
            best.score = score
            faces.append(best)
            boxes.append(b)
    if not faces:
        faces = _face_filling_the_frame(rgb, landmarker)
    order = sorted(range(len(faces)), key=lambda i: -faces[i].score)[:max_faces]
    return [faces[i] for i in order]


def _face_filling_the_frame(rgb: np.ndarray, landmarker: Landmarker) -> list[RawFace]:
    """Step 5 of the module docstring: the landmarker on ``rgb`` centred in a grey canvas, points mapped back."""
    h, w = rgb.shape[:2]
    px, py = int(round(PAD * w)), int(round(PAD * h))
    canvas = np.full((h + 2 * py, w + 2 * px, 3), PAD_GREY, dtype=np.uint8)
    canvas[py:py + h, px:px + w] = rgb[..., :3]
    out = []
    for f in landmarker.detect(canvas):
        g = _to_image_coords(f, -px, -py, canvas.shape[1], canvas.shape[0], w, h)
        g.score = landmarker.presence
        out.append(g)
    return out

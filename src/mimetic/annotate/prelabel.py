"""Pre-labelling: one Analyzer pass per image gives the face box (for the crop the annotator sees), the model's
expression scores and AU intensities, stored with the item as a suggestion."""

from __future__ import annotations

from typing import Any

import numpy as np

#: The crop shown to annotators: the face box enlarged by this share on each side, at most CROP_SIDE pixels.
CROP_MARGIN = 0.25
CROP_SIDE = 320


def prelabel(analyzer: Any, rgb: np.ndarray) -> dict[str, Any]:
    """``{"face": bool, "box": [x, y, w, h] | None, "scores": {label: p} | None, "label": str | None,
    "aus": {AU: intensity 0..5}}`` for the largest face of ``rgb`` (an :class:`mimetic.Analyzer`)."""
    from mimetic.clinic.baseline import main_face

    face = main_face(analyzer.analyze_array(rgb).faces)
    if face is None:
        return {"face": False, "box": None, "scores": None, "label": None, "aus": {}}
    ex = face.expression
    return {"face": True, "box": [round(float(v), 1) for v in face.box],
            "scores": {k: round(float(v), 4) for k, v in ex.scores.items()} if ex else None,
            "label": ex.label if ex else None,
            "aus": {k: round(float(v.intensity), 2) for k, v in (face.aus or {}).items()}}


def crop(rgb: np.ndarray, box: list[float] | None, side: int = CROP_SIDE) -> np.ndarray:
    """The square face crop (box enlarged by :data:`CROP_MARGIN`, clipped to the image; the whole image without a
    box), scaled to at most ``side`` pixels."""
    from PIL import Image

    h, w = rgb.shape[:2]
    if box:
        x, y, bw, bh = box
        s = max(bw, bh) * (1 + 2 * CROP_MARGIN)
        cx, cy = x + bw / 2, y + bh / 2
        x0, y0 = int(max(0, cx - s / 2)), int(max(0, cy - s / 2))
        x1, y1 = int(min(w, cx + s / 2)), int(min(h, cy + s / 2))
        if x1 - x0 >= 8 and y1 - y0 >= 8:
            rgb = rgb[y0:y1, x0:x1]
    im = Image.fromarray(np.ascontiguousarray(rgb))
    im.thumbnail((side, side))
    return np.asarray(im)

"""Box arithmetic on (x, y, w, h) tuples."""

from __future__ import annotations

import numpy as np


def iou(a, b) -> float:
    ix = max(0.0, min(a[0] + a[2], b[0] + b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[1] + a[3], b[1] + b[3]) - max(a[1], b[1]))
    inter = ix * iy
    union = a[2] * a[3] + b[2] * b[3] - inter
    return inter / union if union > 0 else 0.0


def overlap_of_smaller(a, b) -> float:
    """Intersection over the smaller box's area: 1.0 when one box lies inside the other."""
    ix = max(0.0, min(a[0] + a[2], b[0] + b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[1] + a[3], b[1] + b[3]) - max(a[1], b[1]))
    smaller = min(a[2] * a[3], b[2] * b[3])
    return ix * iy / smaller if smaller > 0 else 0.0


def covered(region, box) -> float:
    """The fraction of ``region``'s area that ``box`` covers."""
    ix = max(0.0, min(region[0] + region[2], box[0] + box[2]) - max(region[0], box[0]))
    iy = max(0.0, min(region[1] + region[3], box[1] + box[3]) - max(region[1], box[1]))
    area = region[2] * region[3]
    return ix * iy / area if area > 0 else 0.0


def box_of_points(xy: np.ndarray) -> tuple[float, float, float, float]:
    x0, y0 = xy[:, 0].min(), xy[:, 1].min()
    x1, y1 = xy[:, 0].max(), xy[:, 1].max()
    return float(x0), float(y0), float(x1 - x0), float(y1 - y0)


def match_greedy(a: list, b: list, *, threshold: float, overlap=iou) -> list[tuple[int, int, float]]:
    """Greedy one-to-one matching, highest ``overlap`` first: ``[(index in a, index in b, overlap), ...]`` for the
    pairs with ``overlap >= threshold`` (boxes by IoU by default; any overlap function of two items)."""
    pairs = sorted(((overlap(x, y), i, j) for i, x in enumerate(a) for j, y in enumerate(b)), reverse=True)
    used_a, used_b, out = set(), set(), []
    for v, i, j in pairs:
        if v < threshold:
            break
        if i in used_a or j in used_b:
            continue
        used_a.add(i)
        used_b.add(j)
        out.append((i, j, v))
    return out


def suppress(boxes: list, scores: list, *, threshold: float, metric: str = "smaller") -> list[int]:
    """Greedy non-maximum suppression; returns kept indices, best first. ``metric``: ``"smaller"`` (intersection
    over the smaller box, merges a box inside another) or ``"iou"``."""
    overlap = overlap_of_smaller if metric == "smaller" else iou
    order = sorted(range(len(boxes)), key=lambda i: -scores[i])
    kept: list[int] = []
    for i in order:
        if all(overlap(boxes[i], boxes[k]) < threshold for k in kept):
            kept.append(i)
    return kept

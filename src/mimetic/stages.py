"""The stages that run on each found face, after the landmarks: one place, so every entry point gets the same."""

from __future__ import annotations

import numpy as np

from mimetic.types import Face


def enrich_face(face: Face, rgb: np.ndarray, *, baseline: Face | None = None) -> Face:
    """Return ``face`` with the per-face measures filled in."""
    return face

"""Choosing a person's neutral face: from a given image, or the calmest early frames of a video.

Intensities and symmetry relative to the same person's neutral face are what clinical use needs: a face that is
asymmetric at rest must not be scored as moving.
"""

from __future__ import annotations

from collections.abc import Iterable

from mimetic.types import Face, FrameResult

#: Blendshapes that say nothing about expression (gaze direction) and are left out of the calmness score.
_IGNORED_PREFIXES = ("eyeLook", "_neutral")


def activity(face: Face) -> float:
    """How much the face is doing: the sum of its expression blendshapes (gaze excluded). 0 = perfectly still."""
    return sum(v for k, v in face.blendshapes.items() if not k.startswith(_IGNORED_PREFIXES))


def main_face(faces: Iterable[Face]) -> Face | None:
    """The largest face (the person in front of the camera)."""
    faces = list(faces)
    return max(faces, key=lambda f: f.box[2] * f.box[3]) if faces else None


def calmest_face(results: Iterable[FrameResult], *, seconds: float = 5.0) -> Face | None:
    """The face with the least activity among the frames of the first ``seconds`` of a video (largest face per
    frame); ``None`` when no face appears in that window."""
    best, best_score = None, float("inf")
    for r in results:
        if r.timestamp is not None and r.timestamp > seconds:
            break
        f = main_face(r.faces)
        if f is not None and activity(f) < best_score:
            best, best_score = f, activity(f)
    return best

"""Pose-corrected face geometry: the landmarks in a face-fixed frontal frame (the measures read from it are
:mod:`mimetic.face.measures`).

The frontal frame
-----------------
``frontal_points(face)`` returns the 478 landmarks rotated to a frontal view, so a measure does not change when
the head turns or tilts:

- origin: the midpoint between the two eye centres (each eye centre = mean of its two canthi, 33/133 and 263/362);
- ``x``: from the person's right eye centre to their left eye centre, i.e. **+x is the person's left** (on an
  un-mirrored photo of a face looking at the camera that is the image's right);
- ``y``: up (the canonical face's up axis from ``Face.matrix``, made orthogonal to ``x``; from the landmarks,
  nose tip → forehead, when the matrix is missing);
- ``z``: toward the viewer (out of the nose);
- unit: the **inter-ocular distance** (IOD, distance between the two eye centres, about 62 mm in adults), so a
  measure also does not change with the face's size in the image.

The ``x`` axis comes from the landmarks (not from the matrix) so that the eye line is level by construction: the
matrix' rotation and the landmark depth disagree by a few degrees on some faces, which would otherwise show up as
a left/right difference of a few percent of the IOD.

The measures read in this frame (their landmarks, references, units and directions) are the registry
:mod:`mimetic.face.measures`; this module owns only the frame.
"""

from __future__ import annotations

import numpy as np

#: landmarks of the frame: the canthi (person's left eye 263/362, right eye 33/133), nose tip and forehead
NOSE_TIP, FOREHEAD = 1, 10

_FLIP = np.array([1.0, -1.0, -1.0])  # pixels (x right, y down, z away) -> (x right, y up, z toward the viewer)


def _unit(v: np.ndarray) -> np.ndarray:
    n = float(np.sqrt(v @ v))
    return v / n if n > 1e-12 else v


def frontal_frame(face) -> tuple[np.ndarray, np.ndarray, float]:
    """``(origin, axes, iod)``: frontal points are ``(landmarks * (1, -1, -1) - origin) @ axes / iod``.

    ``axes`` is 3×3 with the frame's x, y, z axes as columns; ``iod`` is in pixels.
    """
    q = np.asarray(face.landmarks, dtype=np.float64)
    eyes = q[[263, 362, 33, 133]] * _FLIP
    e_left = 0.5 * (eyes[0] + eyes[1])
    e_right = 0.5 * (eyes[2] + eyes[3])
    d = e_left - e_right
    iod = float(np.sqrt(d @ d))
    x = d / iod if iod > 1e-9 else np.array([1.0, 0.0, 0.0])
    up = None
    m = np.asarray(face.matrix, dtype=np.float64)
    if m.shape == (4, 4) and np.all(np.isfinite(m)):
        up = m[:3, 1]
        if float(up @ up) < 1e-12:
            up = None
    if up is None:
        up = (q[FOREHEAD] - q[NOSE_TIP]) * _FLIP
    y = _unit(up - (up @ x) * x)
    z = np.array([x[1] * y[2] - x[2] * y[1], x[2] * y[0] - x[0] * y[2], x[0] * y[1] - x[1] * y[0]])
    return 0.5 * (e_left + e_right), np.stack([x, y, z], axis=1), iod


def frontal_points(face) -> np.ndarray:
    """The 478 landmarks in the frontal frame (IOD units; x = person's left, y up, z toward the viewer)."""
    origin, axes, iod = frontal_frame(face)
    q = np.asarray(face.landmarks, dtype=np.float64) * _FLIP
    return (q - origin) @ axes / max(iod, 1e-9)


def is_pose_reliable(face, max_yaw: float = 30.0, max_pitch: float = 25.0) -> bool:
    """True when the head turn is small enough for the far side of the face to be measured (see docs/aus.md)."""
    return abs(face.pose.yaw) <= max_yaw and abs(face.pose.pitch) <= max_pitch

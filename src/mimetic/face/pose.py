"""Head pose from MediaPipe's facial transformation matrix.

The matrix maps the canonical face model into camera space (right-handed, x right, y up, z toward the viewer,
centimetres). We read the rotation as the direction the face points (the canonical +z axis, out of the nose) and the
direction of the canonical +x axis (the person's left), which gives angles with plain meanings:

- yaw   = atan2(f_x, f_z): > 0 when the nose points toward the image's right (the person turns to their own left);
- pitch = atan2(f_y, hypot(f_x, f_z)): > 0 when the face points up;
- roll  = atan2(r_y, r_x): > 0 when the head tilts counter-clockwise in the image (toward the person's right shoulder).

All in degrees. Mirroring the image horizontally negates yaw and roll and keeps pitch (tested).
"""

from __future__ import annotations

import math

import numpy as np

from mimetic.types import Pose


def pose_from_matrix(matrix: np.ndarray) -> Pose:
    r = np.asarray(matrix, dtype=float)[:3, :3]
    # Remove any scale the geometry pipeline left in the matrix.
    r = r / np.linalg.norm(r, axis=0, keepdims=True)
    f = r[:, 2]  # where the face points
    x = r[:, 0]  # the person's left, in camera space
    yaw = math.degrees(math.atan2(f[0], f[2]))
    pitch = math.degrees(math.atan2(f[1], math.hypot(f[0], f[2])))
    roll = math.degrees(math.atan2(x[1], x[0]))
    return Pose(yaw=yaw, pitch=pitch, roll=roll)

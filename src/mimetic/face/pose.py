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


#: MediaPipe's camera and face-model axes (x right, y up, z toward the viewer) -> OpenFace's (x right, y down,
#: z forward, away from the camera): y and z change sign.
_TO_OPENFACE = np.array([1.0, -1.0, -1.0])


def openface_pose(matrices: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """OpenFace's head pose from facial transformation matrices, ``(n, 4, 4)`` -> ``(rotation, translation)``.

    ``rotation`` ``(n, 3)``: ``pose_Rx, pose_Ry, pose_Rz`` in radians, the Euler angles of ``R = Rx·Ry·Rz``
    (OpenFace's ``RotationMatrix2Euler``) of the head rotation expressed in OpenFace's camera axes (x right, y down,
    z forward), where a frontal face is (0, 0, 0). ``translation`` ``(n, 3)``: ``pose_Tx, pose_Ty, pose_Tz`` in
    millimetres in the same axes (``pose_Tz`` > 0 in front of the camera). MediaPipe's matrix maps its canonical face
    model (cm, y up, z out of the nose) into a right-handed camera space with y up, looking down -z: with
    ``F = diag(1, -1, -1)`` the OpenFace rotation is ``F·R·F`` and the translation ``10·F·t``. A matrix that is not
    finite gives NaN (the table's face-less rows).
    """
    m = np.asarray(matrices, dtype=np.float64)
    if m.ndim != 3 or m.shape[1:] != (4, 4):
        raise ValueError(f"expected (n, 4, 4) matrices, not {m.shape}")
    r = m[:, :3, :3]
    with np.errstate(invalid="ignore", divide="ignore"):
        r = r / np.linalg.norm(r, axis=1, keepdims=True)  # remove any scale, as pose_from_matrix does
    f = _TO_OPENFACE
    r = f[None, :, None] * r * f[None, None, :]
    rx = np.arctan2(-r[:, 1, 2], r[:, 2, 2])
    ry = np.arcsin(np.clip(r[:, 0, 2], -1.0, 1.0))
    rz = np.arctan2(-r[:, 0, 1], r[:, 0, 0])
    rotation = np.stack([rx, ry, rz], axis=1)
    translation = m[:, :3, 3] * (10.0 * f)
    bad = ~np.isfinite(m).all(axis=(1, 2))
    rotation[bad] = np.nan
    translation[bad] = np.nan
    return rotation, translation

"""Pose-corrected face geometry: the landmarks in a face-fixed frontal frame, and the raw measures read from it.

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

Landmark convention (checked on the fixtures): MediaPipe's 33/133/159/145 belong to the **person's right** eye,
263/362/386/374 to the person's left; iris 468-472 is the right eye's, 473-477 the left's; 61 is the right mouth
corner, 291 the left. All sided arrays below are ordered ``(left, right)`` = the person's left, then right.
"""

from __future__ import annotations

import math

import numpy as np

#: Landmark index pairs (person's left, person's right).
EYE_OUTER = (263, 33)
EYE_INNER = (362, 133)
#: upper / lower eyelid points, three per lid (centre first), per side (left, right)
LID_UP = ((386, 385, 387), (159, 158, 160))
LID_LO = ((374, 380, 373), (145, 153, 144))
IRIS_CENTRE = (473, 468)
#: iris boundary: two diameters per eye ((a, b), (c, d))
IRIS_RIM = (((474, 476), (475, 477)), ((469, 471), (470, 472)))
BROW_INNER = ((336, 296, 285), (107, 66, 55))
BROW_MID = ((334, 282), (105, 52))
BROW_OUTER = ((300, 293, 276, 283), (70, 63, 46, 53))
CHEEK = ((346, 347, 280, 348), (117, 118, 50, 119))
ALA = (358, 129)  # alar crease
NOSTRIL = (327, 98)  # alar base / lateral nostril
MOUTH_CORNER = (291, 61)
UPPER_LIP_LATERAL = (270, 40)  # outer upper lip, between the philtral column and the corner
UPPER_LIP_PARAMEDIAN = ((267, 312), (37, 82))  # (outer, inner) upper-lip contour, per side
LOWER_LIP_PARAMEDIAN = ((317, 314), (87, 84))  # (inner, outer) lower-lip contour, per side
LIP_UP_OUT, LIP_UP_IN, LIP_LO_IN, LIP_LO_OUT = 0, 13, 14, 17
NASION, SUBNASALE, NOSE_TIP, MENTON, FOREHEAD = 168, 2, 1, 152, 10

# landmark groups whose mean height measures() needs, as one index array for np.add.reduceat:
# canthi L, R; inner brow L, R; mid brow L, R; outer brow L, R; cheek L, R
_GROUPS = ((263, 362), (33, 133), *BROW_INNER, *BROW_MID, *BROW_OUTER, *CHEEK)
_GROUP_IDX = np.array([i for grp in _GROUPS for i in grp])
_GROUP_LEN = np.array([len(grp) for grp in _GROUPS], dtype=np.float64)
_GROUP_START = np.concatenate([[0], np.cumsum(_GROUP_LEN[:-1])]).astype(int)
_BROW_INNER_IDX = np.array(BROW_INNER[0] + BROW_INNER[1])

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


def iris_diameter(f: np.ndarray) -> np.ndarray:
    """Iris diameter per side (left, right), in the units of ``f`` (mean of the two rim diameters)."""
    out = np.empty(2)
    for s in range(2):
        (a, b), (c, d) = IRIS_RIM[s]
        out[s] = 0.5 * (math.dist(f[a, :2], f[b, :2]) + math.dist(f[c, :2], f[d, :2]))
    return out


def is_pose_reliable(face, max_yaw: float = 30.0, max_pitch: float = 25.0) -> bool:
    """True when the head turn is small enough for the far side of the face to be measured (see docs/aus.md)."""
    return abs(face.pose.yaw) <= max_yaw and abs(face.pose.pitch) <= max_pitch


def measures(f: np.ndarray) -> dict[str, np.ndarray | float]:
    """Raw geometric measures from frontal points ``f`` (IOD units). Sided ones are arrays ``[left, right]``.

    ============================  ==================================================================================
    ``eye_width``                 canthus to canthus
    ``aperture``                  lid gap (mean of three upper/lower lid pairs) ÷ eye width (eye aspect ratio)
    ``upper_lid``, ``lower_lid``  height of the lid centre above the canthal line (lower lid is usually < 0)
    ``mrd1``                      upper-lid centre above the iris centre, in iris radii (margin-reflex distance 1)
    ``iris``                      iris diameter
    ``brow_inner/mid/outer``      brow height above the canthal line of the same side
    ``brow_inner_x``              distance of the inner brow from the midline
    ``cheek``                     infra-orbital cheek height relative to the canthal line
    ``ala_canthus``               alar crease to inner canthus distance (shortens with AU9)
    ``corner_elev``               mouth-corner height above the mouth centre (mean of 13 and 14)
    ``corner_lat``                mouth-corner distance from the mouth centre, horizontally
    ``upper_lip_lat``             lateral upper lip (40/270) above the chord from lip midpoint 0 to the corner
    ``lip_gap``                   inner lip gap 13-14 (0 when the lips touch)
    ``verm_up``, ``verm_lo``      upper / lower vermilion height at the midline (0-13, 14-17)
    ``mouth_width``               corner to corner
    ``chin``                      lower-lip bottom (17) to menton (152)
    ``face_len``                  nasion (168) to menton (152)
    ``philtrum``                  subnasale (2) to upper-lip top (0)
    ============================  ==================================================================================
    """
    y = f[:, 1]
    L, R = 0, 1
    g = np.add.reduceat(y[_GROUP_IDX], _GROUP_START) / _GROUP_LEN  # mean height of every landmark group
    canth_y = g[0:2]
    eye_w = np.array([math.dist(f[263, :2], f[362, :2]), math.dist(f[33, :2], f[133, :2])])
    up = np.array([y[list(LID_UP[L])], y[list(LID_UP[R])]])  # (2, 3)
    lo = np.array([y[list(LID_LO[L])], y[list(LID_LO[R])]])
    aperture = np.clip(up - lo, 0.0, None).mean(axis=1) / np.maximum(eye_w, 1e-6)
    iris = iris_diameter(f)
    iris_c = np.array([y[IRIS_CENTRE[L]], y[IRIS_CENTRE[R]]])
    mrd1 = (up[:, 0] - iris_c) / np.maximum(0.5 * iris, 1e-6)
    brow_inner = g[2:4] - canth_y
    brow_inner_x = np.abs(f[_BROW_INNER_IDX, 0]).reshape(2, -1).mean(axis=1)
    mc = 0.5 * (f[LIP_UP_IN, :2] + f[LIP_LO_IN, :2])
    corners = f[list(MOUTH_CORNER), :2]
    top = f[LIP_UP_OUT, :2]
    lat = f[list(UPPER_LIP_LATERAL), :2]
    # height of the lateral upper lip above the straight line from the lip top (0) to the corner, at its x
    t = (lat[:, 0] - top[0]) / np.where(np.abs(corners[:, 0] - top[0]) > 1e-6, corners[:, 0] - top[0], 1e-6)
    chord_y = top[1] + t * (corners[:, 1] - top[1])
    return {
        "eye_width": eye_w,
        "aperture": aperture,
        "upper_lid": up[:, 0] - canth_y,
        "lower_lid": lo[:, 0] - canth_y,
        "mrd1": mrd1,
        "iris": iris,
        "brow_inner": brow_inner,
        "brow_mid": g[4:6] - canth_y,
        "brow_outer": g[6:8] - canth_y,
        "brow_inner_x": brow_inner_x,
        "cheek": g[8:10] - canth_y,
        "ala_canthus": np.array([math.dist(f[ALA[L], :2], f[EYE_INNER[L], :2]),
                                 math.dist(f[ALA[R], :2], f[EYE_INNER[R], :2])]),
        "corner_elev": corners[:, 1] - mc[1],
        "corner_lat": np.abs(corners[:, 0] - mc[0]),
        "upper_lip_lat": lat[:, 1] - chord_y,
        "lip_gap": max(0.0, float(y[LIP_UP_IN] - y[LIP_LO_IN])),
        "verm_up": float(y[LIP_UP_OUT] - y[LIP_UP_IN]),
        "verm_lo": float(y[LIP_LO_IN] - y[LIP_LO_OUT]),
        "mouth_width": math.dist(f[291, :2], f[61, :2]),
        "chin": float(y[LIP_LO_OUT] - y[MENTON]),
        "face_len": float(y[NASION] - y[MENTON]),
        "philtrum": float(y[SUBNASALE] - y[LIP_UP_OUT]),
    }

"""Results as a table: one row per face per frame, OpenFace-style column names.

The table is the edge where results meet pandas (``FrameResult.to_frame()`` and the CLI's ``--csv``/``--parquet``
go through here). Column groups, in order:

=========================  =========================================================================================
``source``                 file name (or ``"<array>"`` / ``"<live>"``)
``frame``                  video frame index (nullable ``Int64``; ``<NA>`` for still images)
``timestamp``              seconds from the container's time base (``NaN`` for still images)
``face_id``                index of the face within its frame (nullable ``Int64``; ``<NA>`` on empty-frame rows)
``track_id``               stable id across video frames (nullable ``Int64``)
``confidence``             detection score 0..1 (``Face.score``)
``success``                1 for a face row, 0 for an empty-frame row (``include_empty=True``)
``face_x`` … ``face_height``  face box in pixels
``pose_Rx/Ry/Rz``          head rotation in **radians**, OpenFace convention: Rx = pitch, Ry = yaw, Rz = roll about the
                           axes of a camera frame with x right, y down, z forward (away from the camera). Hence
                           ``pose_Rx < 0`` when the chin is raised, ``pose_Ry > 0`` when the person turns to their own
                           right (nose toward the image's left) and ``pose_Rz > 0`` for a clockwise tilt in the
                           image. These are the negated radians of :class:`mimetic.types.Pose`'s angles.
``pose_yaw/pitch/roll``    the same pose in **degrees**, with :class:`mimetic.types.Pose`'s sign convention
``pose_Tx/Ty/Tz``          translation of the facial transformation matrix (``matrix[:3, 3]``), centimetres, in
                           MediaPipe's camera frame (x right, y up, z toward the viewer: faces have ``pose_Tz < 0``)
``x_0..x_67, y_0..y_67``   the 68 iBUG/dlib points in pixels (:attr:`mimetic.types.Face.landmarks68`)
``Z_0..Z_67``              their relative depth (MediaPipe z scaled by the image width; smaller = closer)
``mesh_x_i, mesh_y_i,``    the 478 MediaPipe points in pixels/relative depth (only with ``mesh=True``)
``mesh_z_i``
``bs_<name>``              the 52 MediaPipe blendshapes 0..1 (MediaPipe's names: ``bs_mouthSmileLeft``,
                           ``bs__neutral``)
``AUxx_r``                 AU intensity 0..5, then ``AUxx_r_left``, ``AUxx_r_right`` and ``AUxx_c`` (presence 0/1,
                           nullable ``Int8``), per AU, sorted by AU number
``muscle_<name>_left/right``  muscle activation 0..1
``nerve_<branch>_left/right``  facial-nerve branch activity 0..1 (``Face.nerves``: temporal, zygomatic, buccal,
                           marginal_mandibular, cervical)
``sym_<key>``              numeric entries of ``Face.symmetry`` (nested dicts flattened with ``_``)
``expression``             expression label, then ``expr_<class>`` for the 8 :data:`mimetic.types.EXPRESSIONS`
=========================  =========================================================================================

Missing values are ``NaN`` (floats) or ``<NA>`` (nullable integers).
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping
from os import PathLike
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from mimetic.types import EXPRESSIONS, FrameResult

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["BLENDSHAPE_NAMES", "frame_from_results", "write_table"]

#: MediaPipe's 52 blendshape categories, in the order the FaceLandmarker reports them.
BLENDSHAPE_NAMES: tuple[str, ...] = (
    "_neutral", "browDownLeft", "browDownRight", "browInnerUp", "browOuterUpLeft", "browOuterUpRight",
    "cheekPuff", "cheekSquintLeft", "cheekSquintRight", "eyeBlinkLeft", "eyeBlinkRight", "eyeLookDownLeft",
    "eyeLookDownRight", "eyeLookInLeft", "eyeLookInRight", "eyeLookOutLeft", "eyeLookOutRight", "eyeLookUpLeft",
    "eyeLookUpRight", "eyeSquintLeft", "eyeSquintRight", "eyeWideLeft", "eyeWideRight", "jawForward", "jawLeft",
    "jawOpen", "jawRight", "mouthClose", "mouthDimpleLeft", "mouthDimpleRight", "mouthFrownLeft",
    "mouthFrownRight", "mouthFunnel", "mouthLeft", "mouthLowerDownLeft", "mouthLowerDownRight", "mouthPressLeft",
    "mouthPressRight", "mouthPucker", "mouthRight", "mouthRollLower", "mouthRollUpper", "mouthShrugLower",
    "mouthShrugUpper", "mouthSmileLeft", "mouthSmileRight", "mouthStretchLeft", "mouthStretchRight",
    "mouthUpperUpLeft", "mouthUpperUpRight", "noseSneerLeft", "noseSneerRight",
)  # fmt: skip

_N68 = 68
_NMESH = 478
_AU_NUMBER = re.compile(r"(\d+)")


def _au_sort_key(name: str) -> tuple[int, str]:
    m = _AU_NUMBER.search(name)
    return (int(m.group(1)) if m else 10**9, name)


def _flatten_numeric(d: Mapping[str, Any], prefix: str, out: dict[str, float]) -> None:
    """Numeric (and bool) leaves of a nested dict as ``{prefix_key_subkey: value}``."""
    for k, v in d.items():
        key = f"{prefix}_{k}"
        if isinstance(v, Mapping):
            _flatten_numeric(v, key, out)
        elif isinstance(v, (bool, np.bool_, int, float, np.integer, np.floating)):
            out[key] = float(v)


def _num(v: Any) -> float:
    try:
        return float(v) if v is not None else math.nan
    except (TypeError, ValueError):
        return math.nan


def frame_from_results(
    results: Iterable[FrameResult], *, mesh: bool = False, include_empty: bool = False
) -> pd.DataFrame:
    """One row per face per frame (or image), OpenFace-style columns; see the module docstring for the columns.

    ``mesh=True`` adds the 478 MediaPipe points (1,434 columns). ``include_empty=True`` adds one row with
    ``success == 0`` (and NaN/NA measurements) for each frame without a face, so a video's timeline keeps its
    gaps; by default such frames produce no rows.

    The fixed column groups are always present (so tables from different chunks of a video line up); AU,
    muscle, nerve and symmetry columns are the union of the keys seen, AUs sorted by number, muscles, nerves and
    symmetry keys in first-seen order, extra (non-MediaPipe) blendshape names after the 52 standard ones.
    """
    import pandas as pd

    results = list(results)

    # -- pass 1: count rows, collect the variable key sets ------------------------------------------------------
    n = 0
    au_names: dict[str, None] = {}
    muscle_names: dict[str, None] = {}
    nerve_names: dict[str, None] = {}
    sym_names: dict[str, None] = {}
    extra_bs: dict[str, None] = {}
    std_bs = set(BLENDSHAPE_NAMES)
    sym_rows: list[dict[str, float]] = []
    for r in results:
        if not r.faces:
            if include_empty:
                n += 1
                sym_rows.append({})
            continue
        for f in r.faces:
            n += 1
            au_names.update(dict.fromkeys(f.aus))
            muscle_names.update(dict.fromkeys(f.muscles))
            nerve_names.update(dict.fromkeys(f.nerves))
            for k in f.blendshapes:
                if k not in std_bs:
                    extra_bs[k] = None
            flat: dict[str, float] = {}
            if f.symmetry:
                _flatten_numeric(f.symmetry, "sym", flat)
                sym_names.update(dict.fromkeys(flat))
            sym_rows.append(flat)

    aus = sorted(au_names, key=_au_sort_key)
    muscles = list(muscle_names)
    bs_names = list(BLENDSHAPE_NAMES) + list(extra_bs)
    bs_index = {k: i for i, k in enumerate(bs_names)}
    au_index = {k: i for i, k in enumerate(aus)}
    mu_index = {k: i for i, k in enumerate(muscles)}
    nerves = list(nerve_names)
    ne_index = {k: i for i, k in enumerate(nerves)}
    ex_index = {k: i for i, k in enumerate(EXPRESSIONS)}
    syms = list(sym_names)

    # -- pass 2: fill preallocated column arrays ----------------------------------------------------------------
    nan = np.nan
    source = np.empty(n, dtype=object)
    frame = np.zeros(n, dtype=np.int64)
    frame_na = np.ones(n, dtype=bool)
    timestamp = np.full(n, nan)
    face_id = np.zeros(n, dtype=np.int64)
    face_id_na = np.ones(n, dtype=bool)
    track = np.zeros(n, dtype=np.int64)
    track_na = np.ones(n, dtype=bool)
    conf = np.full(n, nan)
    success = np.zeros(n, dtype=np.int8)
    box = np.full((n, 4), nan)
    pose = np.full((n, 3), nan)  # yaw, pitch, roll (degrees)
    trans = np.full((n, 3), nan)
    lm68 = np.full((n, _N68, 3), nan, dtype=np.float64)
    lm = np.full((n, _NMESH, 3), nan, dtype=np.float64) if mesh else None
    bs = np.full((n, len(bs_names)), nan)
    au_r = np.full((n, len(aus), 3), nan)  # intensity, left, right
    au_c = np.zeros((n, len(aus)), dtype=np.int8)
    au_c_na = np.ones((n, len(aus)), dtype=bool)
    mu = np.full((n, len(muscles), 2), nan)
    ne = np.full((n, len(nerves), 2), nan)
    expr_label = np.full(n, None, dtype=object)
    expr = np.full((n, len(EXPRESSIONS)), nan)

    i = 0
    for r in results:
        if not r.faces and not include_empty:
            continue
        fi = r.frame_index
        ts = nan if r.timestamp is None else float(r.timestamp)
        if not r.faces:
            source[i] = r.source
            if fi is not None:
                frame[i] = fi
                frame_na[i] = False
            timestamp[i] = ts
            i += 1
            continue
        for j, f in enumerate(r.faces):
            source[i] = r.source
            if fi is not None:
                frame[i] = fi
                frame_na[i] = False
            timestamp[i] = ts
            face_id[i] = j
            face_id_na[i] = False
            if f.track_id is not None:
                track[i] = f.track_id
                track_na[i] = False
            conf[i] = f.score
            success[i] = 1
            box[i] = f.box
            pose[i] = (f.pose.yaw, f.pose.pitch, f.pose.roll)
            m = np.asarray(f.matrix, dtype=np.float64)
            if m.shape == (4, 4):
                trans[i] = m[:3, 3]
            lm68[i] = f.landmarks68[:, :3]
            if lm is not None:
                lm[i] = f.landmarks[:, :3]
            for k, v in f.blendshapes.items():
                bs[i, bs_index[k]] = v
            for k, d in f.aus.items():
                a = au_index[k]
                au_r[i, a] = (_num(d.get("intensity")), _num(d.get("left")), _num(d.get("right")))
                p = d.get("present")
                if p is not None:
                    au_c[i, a] = 1 if p else 0
                    au_c_na[i, a] = False
            for k, d in f.muscles.items():
                mu[i, mu_index[k]] = (_num(d.get("left")), _num(d.get("right")))
            for k, d in f.nerves.items():
                ne[i, ne_index[k]] = (_num(d.get("left")), _num(d.get("right")))
            if f.expression is not None:
                expr_label[i] = f.expression.label
                for k, v in f.expression.scores.items():
                    c = ex_index.get(k)
                    if c is not None:
                        expr[i, c] = v
            i += 1
    assert i == n

    # -- assemble ---------------------------------------------------------------------------------------------------
    def int_array(values: np.ndarray, mask: np.ndarray) -> pd.arrays.IntegerArray:
        return pd.arrays.IntegerArray(values, mask.copy())

    rad = np.deg2rad(pose)
    cols: dict[str, Any] = {
        "source": pd.array(source, dtype="str") if n else pd.array([], dtype="str"),
        "frame": int_array(frame, frame_na),
        "timestamp": timestamp,
        "face_id": int_array(face_id, face_id_na),
        "track_id": int_array(track, track_na),
        "confidence": conf,
        "success": success,
        "face_x": box[:, 0],
        "face_y": box[:, 1],
        "face_width": box[:, 2],
        "face_height": box[:, 3],
        # OpenFace: camera frame x right, y down, z forward -> every Pose angle changes sign.
        "pose_Rx": -rad[:, 1],
        "pose_Ry": -rad[:, 0],
        "pose_Rz": -rad[:, 2],
        "pose_yaw": pose[:, 0],
        "pose_pitch": pose[:, 1],
        "pose_roll": pose[:, 2],
        "pose_Tx": trans[:, 0],
        "pose_Ty": trans[:, 1],
        "pose_Tz": trans[:, 2],
    }
    blocks: list[pd.DataFrame] = [pd.DataFrame(cols)]

    def block(arr: np.ndarray, names: list[str]) -> None:
        if names:
            blocks.append(pd.DataFrame(np.ascontiguousarray(arr), columns=names, copy=False))

    block(
        lm68.transpose(0, 2, 1).reshape(n, 3 * _N68),
        [f"{a}_{k}" for a in ("x", "y", "Z") for k in range(_N68)],
    )
    if lm is not None:
        block(
            lm.transpose(0, 2, 1).reshape(n, 3 * _NMESH),
            [f"mesh_{a}_{k}" for a in ("x", "y", "z") for k in range(_NMESH)],
        )
    block(bs, [f"bs_{k}" for k in bs_names])

    au_cols: dict[str, Any] = {}
    for a, name in enumerate(aus):
        au_cols[f"{name}_r"] = au_r[:, a, 0]
        au_cols[f"{name}_r_left"] = au_r[:, a, 1]
        au_cols[f"{name}_r_right"] = au_r[:, a, 2]
        au_cols[f"{name}_c"] = pd.arrays.IntegerArray(au_c[:, a].copy(), au_c_na[:, a].copy())
    for m_, name in enumerate(muscles):
        au_cols[f"muscle_{name}_left"] = mu[:, m_, 0]
        au_cols[f"muscle_{name}_right"] = mu[:, m_, 1]
    for b_, name in enumerate(nerves):
        au_cols[f"nerve_{name}_left"] = ne[:, b_, 0]
        au_cols[f"nerve_{name}_right"] = ne[:, b_, 1]
    if syms:
        sym = np.full((n, len(syms)), nan)
        sym_index = {k: c for c, k in enumerate(syms)}
        for row, flat in enumerate(sym_rows):
            for k, v in flat.items():
                sym[row, sym_index[k]] = v
        for c, name in enumerate(syms):
            au_cols[name] = sym[:, c]
    au_cols["expression"] = pd.array(expr_label, dtype="str") if n else pd.array([], dtype="str")
    for c, name in enumerate(EXPRESSIONS):
        au_cols[f"expr_{name}"] = expr[:, c]
    blocks.append(pd.DataFrame(au_cols, index=blocks[0].index))

    df = pd.concat(blocks, axis=1)
    return df


_FORMATS = {".csv": "csv", ".parquet": "parquet"}


def write_table(df: pd.DataFrame, path: str | PathLike[str], fmt: str | None = None) -> Path:
    """Write ``df`` as CSV or Parquet, atomically (a reader never sees a half-written file).

    ``fmt`` is ``"csv"`` or ``"parquet"``; by default it is inferred from the suffix (``.csv``, ``.parquet``).
    Raises ``ValueError`` for any other format. Returns the path written.
    """
    from mimetic.media.atomic import atomic_path

    path = Path(path)
    if fmt is None:
        fmt = _FORMATS.get(path.suffix.lower())
        if fmt is None:
            raise ValueError(f"can't infer a table format from {path.name!r}: use .csv or .parquet")
    fmt = fmt.lower().lstrip(".")
    if fmt not in ("csv", "parquet"):
        raise ValueError(f"unknown table format {fmt!r}: use 'csv' or 'parquet'")
    with atomic_path(path) as tmp:
        if fmt == "csv":
            df.to_csv(tmp, index=False)
        else:
            df.to_parquet(tmp, index=False)
    return path

"""Results as a table: one row per face per frame, OpenFace's column names where OpenFace has the same quantity.

The table is the edge where results meet pandas (:func:`frame_from_results`: the one way results become a DataFrame, and the CLI's ``--csv``/``--parquet``
go through here). Its columns, their groups, units and meanings are data in :mod:`mimetic.columns`
(:data:`~mimetic.columns.FACE_TABLE`); ``docs/tables.md`` lists them. A column with an OpenFace name has OpenFace's
unit, axes and sign (``pose_Tx/Ty/Tz`` in millimetres and ``pose_Rx/Ry/Rz`` in radians, both in OpenFace's camera
axes); MediaPipe's relative landmark depth, which has no OpenFace counterpart, is ``z_rel_<i>``.

Missing values are ``NaN`` (floats) or ``<NA>`` (nullable integers).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from os import PathLike
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from mimetic import columns as C
from mimetic.columns import BLENDSHAPE_NAMES, au_order
from mimetic.face.pose import openface_pose
from mimetic.types import EXPRESSIONS, Face, FrameResult, to_plain

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["BLENDSHAPE_NAMES", "frame_from_results", "write_table"]

_N68 = 68
_NMESH = 478


def _flatten_numeric(d: Mapping[str, Any], prefix: str, out: dict[str, float]) -> None:
    """Numeric (and bool) leaves of a nested dict as ``{prefix_key_subkey: value}``."""
    for k, v in d.items():
        key = f"{prefix}_{k}" if prefix else str(k)
        if isinstance(v, Mapping):
            _flatten_numeric(v, key, out)
        elif isinstance(v, (bool, np.bool_, int, float, np.integer, np.floating)):
            out[key] = float(v)


def _num(v: Any) -> float:
    try:
        return float(v) if v is not None else math.nan
    except (TypeError, ValueError):
        return math.nan


def _measures(f: Face) -> tuple[dict[str, tuple[float, float, float, bool | None]], dict[str, tuple[float, float]],
                                dict[str, tuple[float, float]], dict[str, float]]:
    """The face's per-face measures as plain numbers: AUs ``{name: (intensity, left, right, present)}``, muscles and
    nerves ``{name: (left, right)}``, symmetry ``{flattened key: value}``. The one place the table reads them."""
    aus = {k: (_num(a.intensity), _num(a.left), _num(a.right), None if a.present is None else bool(a.present))
           for k, a in f.aus.items()}
    muscles = {k: (_num(m.left), _num(m.right)) for k, m in f.muscles.items()}
    nerves = {k: (_num(n.left), _num(n.right)) for k, n in f.nerves.items()}
    sym: dict[str, float] = {}
    if f.symmetry is not None:
        _flatten_numeric(to_plain(f.symmetry), "", sym)
    return aus, muscles, nerves, sym


def frame_from_results(
    results: Iterable[FrameResult], *, mesh: bool = False, include_empty: bool = False
) -> pd.DataFrame:
    """One row per face per frame (or image): the columns of :data:`mimetic.columns.FACE_TABLE`.

    ``mesh=True`` adds the 478 MediaPipe points (1,434 columns). ``include_empty=True`` adds one row with
    ``success == 0`` (and NaN/NA measurements) for each frame without a face, so a video's timeline keeps its
    gaps; by default such frames produce no rows.

    The fixed column groups are always present (so tables from different chunks of a video line up); AU,
    muscle, nerve and symmetry columns are the union of the keys seen, AUs sorted by number, muscles, nerves and
    symmetry keys in first-seen order, extra (non-MediaPipe) blendshape names after the 52 standard ones.
    """
    import pandas as pd

    results = list(results)

    # -- pass 1: count rows, read the measures, collect the variable key sets ------------------------------------
    n = 0
    au_names: dict[str, None] = {}
    muscle_names: dict[str, None] = {}
    nerve_names: dict[str, None] = {}
    sym_names: dict[str, None] = {}
    extra_bs: dict[str, None] = {}
    std_bs = set(BLENDSHAPE_NAMES)
    measures: list[tuple[dict, dict, dict, dict]] = []
    for r in results:
        if not r.faces:
            if include_empty:
                n += 1
            continue
        for f in r.faces:
            n += 1
            m = _measures(f)
            measures.append(m)
            au_names.update(dict.fromkeys(m[0]))
            muscle_names.update(dict.fromkeys(m[1]))
            nerve_names.update(dict.fromkeys(m[2]))
            sym_names.update(dict.fromkeys(m[3]))
            for k in f.blendshapes:
                if k not in std_bs:
                    extra_bs[k] = None

    aus = sorted(au_names, key=au_order)
    muscles = list(muscle_names)
    bs_names = list(BLENDSHAPE_NAMES) + list(extra_bs)
    bs_index = {k: i for i, k in enumerate(bs_names)}
    au_index = {k: i for i, k in enumerate(aus)}
    mu_index = {k: i for i, k in enumerate(muscles)}
    nerves = list(nerve_names)
    ne_index = {k: i for i, k in enumerate(nerves)}
    ex_index = {k: i for i, k in enumerate(EXPRESSIONS)}
    syms = list(sym_names)
    sym_index = {k: c for c, k in enumerate(syms)}

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
    matrices = np.full((n, 4, 4), nan)
    lm68 = np.full((n, _N68, 3), nan, dtype=np.float64)
    lm = np.full((n, _NMESH, 3), nan, dtype=np.float64) if mesh else None
    bs = np.full((n, len(bs_names)), nan)
    au_r = np.full((n, len(aus), 3), nan)  # intensity, left, right
    au_c = np.zeros((n, len(aus)), dtype=np.int8)
    au_c_na = np.ones((n, len(aus)), dtype=bool)
    mu = np.full((n, len(muscles), 2), nan)
    ne = np.full((n, len(nerves), 2), nan)
    sym = np.full((n, len(syms)), nan)
    expr_label = np.full(n, None, dtype=object)
    expr = np.full((n, len(EXPRESSIONS)), nan)

    i = 0
    face_i = 0
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
            mat = np.asarray(f.matrix, dtype=np.float64)
            if mat.shape == (4, 4):
                matrices[i] = mat
            lm68[i] = f.landmarks68[:, :3]
            if lm is not None:
                lm[i] = f.landmarks[:, :3]
            for k, v in f.blendshapes.items():
                bs[i, bs_index[k]] = v
            f_aus, f_muscles, f_nerves, f_sym = measures[face_i]
            face_i += 1
            for k, (inten, left, right, present) in f_aus.items():
                a = au_index[k]
                au_r[i, a] = (inten, left, right)
                if present is not None:
                    au_c[i, a] = 1 if present else 0
                    au_c_na[i, a] = False
            for k, v in f_muscles.items():
                mu[i, mu_index[k]] = v
            for k, v in f_nerves.items():
                ne[i, ne_index[k]] = v
            for k, v in f_sym.items():
                sym[i, sym_index[k]] = v
            if f.expression is not None:
                expr_label[i] = f.expression.label
                for k, v in f.expression.scores.items():
                    c = ex_index.get(k)
                    if c is not None:
                        expr[i, c] = v
            i += 1
    assert i == n

    # -- assemble, group by group in FACE_TABLE's order -----------------------------------------------------------
    def int_array(values: np.ndarray, mask: np.ndarray) -> pd.arrays.IntegerArray:
        return pd.arrays.IntegerArray(values, mask.copy())

    def strings(values: np.ndarray) -> Any:
        return pd.array(values, dtype="str") if n else pd.array([], dtype="str")

    rotation, translation = openface_pose(matrices)
    blocks: list[pd.DataFrame] = []

    def block(group: C.Group, arr: Any, keys: list[str] | None = None) -> None:
        names = group.names(keys)
        if not names:
            return
        if isinstance(arr, dict):  # {column name: values}
            blocks.append(pd.DataFrame({name: arr[name] for name in names}))
        else:
            blocks.append(pd.DataFrame(np.ascontiguousarray(arr).reshape(n, len(names)), columns=names, copy=False))

    block(C.IDENTITY, {
        "source": strings(source),
        "frame": int_array(frame, frame_na),
        "timestamp": timestamp,
        "face_id": int_array(face_id, face_id_na),
        "track_id": int_array(track, track_na),
        "confidence": conf,
        "success": success,
    })
    block(C.FACE_BOX, box)
    block(C.HEAD_ROTATION, rotation)
    block(C.HEAD_ANGLES, pose)
    block(C.HEAD_TRANSLATION, translation)
    block(C.LANDMARKS_2D, lm68[:, :, :2].transpose(0, 2, 1))
    block(C.LANDMARKS_DEPTH, lm68[:, :, 2])
    if lm is not None:
        block(C.MESH, lm.transpose(0, 2, 1))
    block(C.BLENDSHAPES, bs, bs_names)
    block(C.AU_INTENSITY, au_r[:, :, 0], aus)
    block(C.AU_SIDES, au_r[:, :, 1:].transpose(0, 2, 1), aus)
    block(C.AU_PRESENCE, {C.AU_PRESENCE.column(a): int_array(au_c[:, k].copy(), au_c_na[:, k])
                          for k, a in enumerate(aus)}, aus)
    block(C.MUSCLES, mu, muscles)
    block(C.NERVES, ne, nerves)
    block(C.SYMMETRY, sym, syms)
    block(C.EXPRESSION, {"expression": strings(expr_label)})
    block(C.EXPRESSION_SCORES, expr)

    return pd.concat(blocks, axis=1)


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

"""The columns of Mimetic's tables, as data: groups of columns, each column with its unit and meaning.

Three tables are described here, and built from these groups (so a column's name is written in one place):

- :data:`FACE_TABLE`: one row per face per frame or image (:func:`mimetic.table.frame_from_results`, i.e.
  ``mimetic.table.frame_from_results``, ``--csv``/``--parquet``, a video job's ``frames.csv``);
- :data:`TIMELINE`: one row per analysed video frame per face track (:meth:`mimetic.video.timeline.Timeline.to_frame`);
- :data:`WINDOWS`: one row per track per window of seconds (:meth:`mimetic.video.timeline.Timeline.windows`).

A :class:`Group` is either *fixed* (its columns are listed by name) or *keyed*: its column names are templates with
``{key}`` (``"{key}_r"`` for AU intensities, keys ``AU01``, ``AU12`` …) and the keys are either fixed (the 68 landmark
indices, the 8 expression classes) or found in the data (the AUs, muscles, nerves and symmetry entries that the
faces carry). Readers look columns up by group instead of parsing prefixes::

    from mimetic.columns import AU_INTENSITY, EXPRESSION_SCORES
    AU_INTENSITY.find(df.columns)        # {"AU01": "AU01_r", "AU12": "AU12_r", ...} in table order
    EXPRESSION_SCORES.column("happiness")  # "expr_happiness"

**OpenFace names.** A column that carries an OpenFace 2.x name (``Column.openface``) has OpenFace's unit, axes and
sign: a CSV from either tool reads the same way. Where Mimetic's quantity differs it has another name (MediaPipe's
relative landmark depth is ``z_rel_<i>``, not OpenFace's ``Z_<i>`` in millimetres). The one documented exception is
``frame``, which counts from 0 in every Mimetic table (OpenFace counts from 1).

The column reference in ``docs/tables.md`` is generated from this module (:func:`markdown`); a test keeps it equal.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from mimetic.types import EXPRESSIONS

__all__ = [
    "AU_INTENSITY", "AU_PRESENCE", "AU_SIDES", "BLENDSHAPES", "BLENDSHAPE_NAMES", "Column", "EXPRESSION",
    "EXPRESSION_SCORES", "FACE_BOX", "FACE_TABLE", "Group", "HEAD_ANGLES", "HEAD_ROTATION", "HEAD_TRANSLATION",
    "IDENTITY", "LANDMARKS_2D", "LANDMARKS_DEPTH", "MESH", "MUSCLES", "NERVES", "SYMMETRY", "TIMELINE", "Table",
    "WINDOWS", "au_order", "markdown", "update_docs",
]

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

_AU_NUMBER = re.compile(r"(\d+)")


def au_order(name: str) -> tuple[int, str]:
    """Sort key of AU names: by number (``AU2`` before ``AU12``), then by name."""
    m = _AU_NUMBER.search(name)
    return (int(m.group(1)) if m else 10**9, name)


@dataclass(frozen=True)
class Column:
    """One column, or (in a keyed group) one column per key: ``name`` is then a template with ``{key}``."""

    name: str
    unit: str  # "" for labels and identifiers
    description: str
    dtype: str = "float64"  # pandas dtype: float64, Int64 / Int8 (nullable), int8, int64, str
    openface: bool = False  # same name, unit, axes and sign as OpenFace 2.x's FeatureExtraction output


@dataclass(frozen=True)
class Group:
    """Columns that belong together (py-feat's ``Fex`` groups are the model).

    ``keys``: for a keyed group, the fixed keys (``None`` when the keys come from the data). ``by_key``: the order
    of a keyed group's columns with several templates: key by key (``muscle_a_left, muscle_a_right, muscle_b_left``)
    or template by template (``x_0 … x_67, y_0 … y_67``). ``key_pattern``: a regular expression for one key, used to
    recognise the group's columns in a table read back from disk.
    """

    name: str
    title: str
    columns: tuple[Column, ...]
    keyed: bool = False
    keys: tuple[str, ...] | None = None
    key_doc: str = ""
    key_pattern: str = r"\w+"
    by_key: bool = True
    optional: bool = False  # only when asked for (the 478-point mesh)
    placeholder: str = "<key>"  # how the docs write a key (``AUxx_r``, ``x_<i>``)
    _regex: tuple[re.Pattern[str], ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.keyed:
            assert all("{key}" in c.name for c in self.columns), self.name
            rx = tuple(re.compile(re.escape(c.name).replace(r"\{key\}", f"({self.key_pattern})")) for c in self.columns)
        else:
            rx = tuple(re.compile(re.escape(c.name)) for c in self.columns)
        object.__setattr__(self, "_regex", rx)

    def names(self, keys: Iterable[str] | None = None) -> list[str]:
        """The group's column names, in table order; ``keys`` for a keyed group (default: its fixed keys)."""
        if not self.keyed:
            return [c.name for c in self.columns]
        ks = list(self.keys if keys is None else keys) if (keys is not None or self.keys is not None) else []
        if self.by_key:
            return [c.name.format(key=k) for k in ks for c in self.columns]
        return [c.name.format(key=k) for c in self.columns for k in ks]

    def column(self, key: str | None = None, which: int = 0) -> str:
        """The name of one column: ``key`` in a keyed group, ``which`` template (or fixed column) of the group."""
        c = self.columns[which]
        return c.name.format(key=key) if self.keyed else c.name

    def match(self, name: str) -> tuple[Column, str | None] | None:
        """``(column, key)`` when ``name`` is one of this group's columns (``key`` is ``None`` in a fixed group)."""
        for c, rx in zip(self.columns, self._regex):
            m = rx.fullmatch(name)
            if m is not None:
                return c, (m.group(1) if self.keyed else None)
        return None

    def find(self, names: Iterable[str], which: int = 0) -> dict[str, str]:
        """``{key: column}`` for the columns of template ``which`` among ``names`` (a table's columns), in their
        order; in a fixed group ``{column: column}``."""
        c, rx = self.columns[which], self._regex[which]
        out: dict[str, str] = {}
        for n in names:
            m = rx.fullmatch(n)
            if m is not None:
                out[m.group(1) if self.keyed else c.name] = n
        return out

    def present(self, names: Iterable[str]) -> list[str]:
        """The columns among ``names`` that belong to this group, in their order."""
        return [n for n in names if self.match(n) is not None]


@dataclass(frozen=True)
class Table:
    """A table's column groups, in order."""

    name: str
    title: str
    description: str
    groups: tuple[Group, ...]

    def group(self, name: str) -> Group:
        for g in self.groups:
            if g.name == name:
                return g
        raise KeyError(f"{self.name} has no column group {name!r}")

    def names(self, keys: Mapping[str, Sequence[str]] | None = None, *, optional: Iterable[str] = ()) -> list[str]:
        """All column names in order: ``keys`` maps a keyed group's name to its keys (required for groups without
        fixed keys, default none); ``optional`` names the optional groups to include."""
        keys = keys or {}
        wanted = set(optional)
        out: list[str] = []
        for g in self.groups:
            if g.optional and g.name not in wanted:
                continue
            out += g.names(keys.get(g.name)) if g.keyed else g.names()
        return out

    def group_of(self, name: str) -> Group | None:
        """The group a column belongs to (the first that matches), or ``None``."""
        for g in self.groups:
            if g.match(name) is not None:
                return g
        return None

    def selector(self, *groups: str) -> Callable[[str], bool]:
        """A predicate for ``pandas.read_csv(usecols=...)``: true for the columns of the named groups."""
        gs = [self.group(g) for g in groups]
        return lambda name: any(g.match(name) is not None for g in gs)


# -- the columns ---------------------------------------------------------------------------------------------------

_SOURCE = Column("source", "", "file name of the image or video (`<array>` for an array, `<live>` for the camera)",
                 "str")
_FRAME = Column("frame", "", "video frame index, counting from 0 (OpenFace counts from 1); empty for still images",
                "Int64")
_TIMESTAMP = Column("timestamp", "s", "time of the frame from the video container's time base; NaN for still "
                    "images", openface=True)
_FACE_ID = Column("face_id", "", "index of the face within its frame (most confident first); empty on "
                  "`success = 0` rows", "Int64", openface=True)
_TRACK_ID = Column("track_id", "", "the face's track: the same id for the same person across video frames "
                   "(and dropouts of up to 1 s); empty for still images", "Int64")
_CONFIDENCE = Column("confidence", "0..1", "face detection confidence (`Face.score`)", openface=True)
_SUCCESS = Column("success", "0/1", "1 for a face row, 0 for a frame without a face (`include_empty=True`)",
                  "int8", openface=True)

IDENTITY = Group("identity", "Identity and frame",
                 (_SOURCE, _FRAME, _TIMESTAMP, _FACE_ID, _TRACK_ID, _CONFIDENCE, _SUCCESS))

FACE_BOX = Group("face_box", "Face box", (
    Column("face_{key}", "px", "tight box around the 478 landmarks in image pixels (x right, y down): `x`, `y` of "
           "the top-left corner, `width`, `height`"),
), keyed=True, keys=("x", "y", "width", "height"), key_doc="x, y, width, height", key_pattern="x|y|width|height")

HEAD_ROTATION = Group("head_rotation", "Head rotation (OpenFace)", (
    Column("pose_R{key}", "rad", "head rotation as OpenFace reports it: Euler angles of R = Rx·Ry·Rz about the "
           "camera axes x right, y down, z forward (away from the camera), a frontal face being (0, 0, 0). "
           "`pose_Rx` (pitch) < 0 when the chin is raised, `pose_Ry` (yaw) > 0 when the person turns to their own "
           "right (nose toward the image's left), `pose_Rz` (roll) > 0 for a clockwise tilt in the image. Computed "
           "from the facial transformation matrix", openface=True),
), keyed=True, keys=("x", "y", "z"), key_doc="x, y, z", key_pattern="x|y|z")

HEAD_ANGLES = Group("head_angles", "Head angles (Mimetic)", (
    Column("pose_{key}", "deg", "head pose with `Face.pose`'s signs: `pose_yaw` > 0 when the nose points toward "
           "the image's right, `pose_pitch` > 0 when the face points up, `pose_roll` > 0 for a counter-clockwise "
           "tilt in the image"),
), keyed=True, keys=("yaw", "pitch", "roll"), key_doc="yaw, pitch, roll", key_pattern="yaw|pitch|roll")

HEAD_TRANSLATION = Group("head_translation", "Head position (OpenFace)", (
    Column("pose_T{key}", "mm", "position of the head (the origin of MediaPipe's canonical face model, inside the "
           "head behind the nose) relative to the camera, in OpenFace's camera axes: x right, y down, z forward "
           "(away from the camera), so `pose_Tz` > 0 is the distance along the optical axis, `pose_Tx` > 0 right of "
           "the image centre, `pose_Ty` > 0 below it. MediaPipe's translation (cm, y up, z toward the viewer) "
           "× 10 with y and z negated; metric only as far as MediaPipe's assumed camera (63° vertical field of "
           "view) matches the real one", openface=True),
), keyed=True, keys=("x", "y", "z"), key_doc="x, y, z", key_pattern="x|y|z")

_N68 = tuple(str(i) for i in range(68))
_N478 = tuple(str(i) for i in range(478))

LANDMARKS_2D = Group("landmarks_2d", "Landmarks 2D (68 points)", (
    Column("x_{key}", "px", "the 68 iBUG/dlib points (`Face.landmarks68`), x in image pixels (right)",
           openface=True),
    Column("y_{key}", "px", "y in image pixels (down)", openface=True),
), keyed=True, keys=_N68, key_doc="0..67", key_pattern=r"\d+", by_key=False, placeholder="<i>")

LANDMARKS_DEPTH = Group("landmarks_depth", "Landmark relative depth (68 points)", (
    Column("z_rel_{key}", "px", "MediaPipe's relative depth of the 68 points, on the scale of x (normalised z × "
           "image width); 0 near the centre of the head, smaller = closer to the camera. Not a distance: OpenFace's "
           "`Z_<i>` (millimetres from the camera) has no MediaPipe counterpart, hence the other name"),
), keyed=True, keys=_N68, key_doc="0..67", key_pattern=r"\d+", placeholder="<i>")

MESH = Group("mesh", "Mesh (478 points, with `mesh=True`)", (
    Column("mesh_x_{key}", "px", "the 478 MediaPipe points, x in image pixels"),
    Column("mesh_y_{key}", "px", "y in image pixels"),
    Column("mesh_z_{key}", "px", "relative depth, as `z_rel_<i>`"),
), keyed=True, keys=_N478, key_doc="0..477", key_pattern=r"\d+", by_key=False, optional=True,
    placeholder="<i>")

BLENDSHAPES = Group("blendshapes", "Blendshapes", (
    Column("bs_{key}", "0..1", "MediaPipe's blendshape scores, MediaPipe's names (`bs_mouthSmileLeft`, "
           "`bs__neutral`; *Left*/*Right* are the person's own sides); other names after the 52 standard ones"),
), keyed=True, keys=BLENDSHAPE_NAMES, key_doc="the 52 MediaPipe categories", key_pattern=r"\w+",
    placeholder="<name>")

AU_INTENSITY = Group("au_intensity", "AU intensity", (
    Column("{key}_r", "0..5", "action unit intensity on FACS's A-E scale as 1-5 (0 = absent), as OpenFace",
           openface=True),
), keyed=True, key_doc="AU names (`AU01`, `AU12`, …) sorted by number", key_pattern=r"AU\d+",
    placeholder="AUxx")

AU_SIDES = Group("au_sides", "AU intensity per side", (
    Column("{key}_r_left", "0..5", "intensity on the person's left side"),
    Column("{key}_r_right", "0..5", "intensity on the person's right side"),
), keyed=True, key_doc="AU names", key_pattern=r"AU\d+", by_key=False, placeholder="AUxx")

AU_PRESENCE = Group("au_presence", "AU presence", (
    Column("{key}_c", "0/1", "action unit present, as OpenFace", "Int8", openface=True),
), keyed=True, key_doc="AU names", key_pattern=r"AU\d+", placeholder="AUxx")

MUSCLES = Group("muscles", "Muscles", (
    Column("muscle_{key}_left", "0..1", "estimated activation of a facial muscle on the person's left side"),
    Column("muscle_{key}_right", "0..1", "on the right side"),
), keyed=True, key_doc="muscle names (`zygomaticus_major`, …; `Face.muscles`)", key_pattern=r"\w+?",
    placeholder="<muscle>")

NERVES = Group("nerves", "Facial-nerve branches", (
    Column("nerve_{key}_left", "0..1", "activity of a facial-nerve branch on the person's left side"),
    Column("nerve_{key}_right", "0..1", "on the right side"),
), keyed=True, key_doc="temporal, zygomatic, buccal, marginal_mandibular, cervical (`Face.nerves`)",
    key_pattern=r"\w+?", placeholder="<branch>")

SYMMETRY = Group("symmetry", "Symmetry", (
    Column("sym_{key}", "mm, deg, ratio or 0/1", "the numeric entries of `Face.symmetry`, nested keys joined with "
           "`_` (`sym_regions_smile_angle_deg_left`): `…_mm_left/right/difference` in millimetres, "
           "`…_deg_left/right/difference` in degrees, `…_asymmetry` a ratio (0 = symmetric), `…_flag` and "
           "`sym_pose_ok` 0/1, `sym_scale_mm_per_iod` mm per inter-ocular distance (docs/aus.md)"),
), keyed=True, key_doc="flattened `Face.symmetry` keys", key_pattern=r"\w+")

EXPRESSION = Group("expression", "Expression label", (
    Column("expression", "", "the expression label (argmax of the scores)", "str"),
))

EXPRESSION_SCORES = Group("expression_scores", "Expression scores", (
    Column("expr_{key}", "0..1", "expression probability per class"),
), keyed=True, keys=EXPRESSIONS, key_doc="the 8 classes of `mimetic.types.EXPRESSIONS`", key_pattern=r"\w+",
    placeholder="<class>")

FACE_TABLE = Table(
    "face_table", "Per face (image table, video `frames.csv`)",
    "One row per face per frame or image (`mimetic.table.frame_from_results(results)`, `mimetic analyze --csv/--parquet`, "
    "`mimetic video --format csv`, a video job's `frames.csv`). With `include_empty=True` a frame without a face "
    "gives one `success = 0` row. AU, muscle, nerve and symmetry columns are those the faces carry (AUs sorted by "
    "number). Missing values are NaN (floats) or empty (nullable integers, labels).",
    (IDENTITY, FACE_BOX, HEAD_ROTATION, HEAD_ANGLES, HEAD_TRANSLATION, LANDMARKS_2D, LANDMARKS_DEPTH, MESH,
     BLENDSHAPES, AU_INTENSITY, AU_SIDES, AU_PRESENCE, MUSCLES, NERVES, SYMMETRY, EXPRESSION, EXPRESSION_SCORES),
)

TIMELINE_IDENTITY = Group("timeline_identity", "Track and frame", (
    _TRACK_ID, _FRAME, _TIMESTAMP,
    Column("success", "0/1", "1 when the track is in this frame (values empty otherwise)", "int8", openface=True),
))

TIMELINE_STATE = Group("timeline_state", "Label, segment and event", (
    Column("expression", "", "the smoothed label (argmax of the smoothed scores)", "str"),
    Column("expression_raw", "", "the frame's own label (argmax of its scores)", "str"),
    Column("segment", "", "index of the track's expression segment containing the frame", "Int64"),
    Column("event", "", "index of the spotted event covering the frame (with spotting)", "Int64"),
    Column("event_kind", "", "`micro` or `macro`, for that event", "str"),
))

TIMELINE = Table(
    "timeline", "Timeline per frame (`Timeline.to_frame`, `timeline.csv`)",
    "One row per analysed frame and face track; a frame in which the track is absent has `success = 0` and empty "
    "values. Expression scores, AU intensities and head angles are smoothed (a centred moving average, "
    "docs/video.md).",
    (TIMELINE_IDENTITY, TIMELINE_STATE, EXPRESSION_SCORES, AU_INTENSITY, HEAD_ANGLES),
)

WINDOW_IDENTITY = Group("window_identity", "Track and window", (
    _TRACK_ID,
    Column("window", "", "index of the window, from the first analysed frame", "int64"),
    Column("start", "s", "start of the window"),
    Column("end", "s", "end of the window"),
    Column("frames", "", "frames of the window with the face", "int64"),
    Column("coverage", "0..1", "their share of the window's analysed frames"),
    Column("expression", "", "argmax of the mean scores (empty without the face)", "str"),
))

WINDOWS = Table(
    "windows", "Timeline per window (`Timeline.windows`, `windows.csv`)",
    "One row per face track per window of seconds; the values are means of the raw per-frame values (NaN in "
    "windows without the face).",
    (WINDOW_IDENTITY, EXPRESSION_SCORES, AU_INTENSITY, HEAD_ANGLES),
)

TABLES = (FACE_TABLE, TIMELINE, WINDOWS)


# -- documentation -------------------------------------------------------------------------------------------------

_DOCS = Path(__file__).resolve().parents[2] / "docs" / "tables.md"
_BEGIN = "<!-- columns: generated by mimetic.columns.markdown(); do not edit by hand -->"
_END = "<!-- end of generated columns -->"


def _doc_name(g: Group, c: Column) -> str:
    if not g.keyed:
        return f"`{c.name}`"
    if g.keys is not None and len(g.keys) <= 4:
        return ", ".join(f"`{c.name.format(key=k)}`" for k in g.keys)
    return f"`{c.name.format(key=g.placeholder)}`"


def markdown() -> str:
    """The column reference of every table, as Markdown (the generated part of ``docs/tables.md``)."""
    lines: list[str] = []
    for t in TABLES:
        lines += [f"### {t.title}", "", t.description, "", "| group | column | unit | OpenFace | meaning |",
                  "|---|---|---|---|---|"]
        for g in t.groups:
            for i, c in enumerate(g.columns):
                listed = g.keys is not None and len(g.keys) <= 4
                keys = f" (`{g.placeholder}`: {g.key_doc})" if g.keyed and not listed and i == 0 else ""
                desc = c.description.replace("|", "\\|") + keys
                lines.append(f"| {g.title if i == 0 else ''} | {_doc_name(g, c)} | {c.unit} | "
                             f"{'yes' if c.openface else ''} | {desc} |")
        lines.append("")
    return "\n".join(lines).rstrip() + "\n"


def update_docs(path: str | Path = _DOCS) -> bool:
    """Rewrite the generated part of ``docs/tables.md``; ``True`` when it changed."""
    path = Path(path)
    text = path.read_text()
    head, rest = text.split(_BEGIN, 1)
    _, tail = rest.split(_END, 1)
    new = f"{head}{_BEGIN}\n\n{markdown()}\n{_END}{tail}"
    if new != text:
        path.write_text(new)
    return new != text

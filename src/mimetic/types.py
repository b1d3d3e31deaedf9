"""Result types shared by every stage: plain frozen dataclasses over numpy arrays.

Each face's payloads are typed too: ``Face.aus`` maps AU codes to :class:`AUValue`, ``Face.muscles`` and
``Face.nerves`` map names to :class:`Sided`, ``Face.symmetry`` is a :class:`Symmetry`. These types are the JSON
contract: ``to_dict()`` writes them field by field (:func:`to_plain`), and the JSON schema and the web API's OpenAPI
models are generated from them (:mod:`mimetic.schema`). ``Doc`` annotations carry the schema's descriptions and
ranges; nothing checks them at run time.

Coordinates: ``landmarks`` are pixels of the analysed image (x right, y down); z is MediaPipe's relative depth
scaled by the image width (smaller = closer to the camera). ``landmarks_norm`` are the same points divided by
the image width/height (x, y in 0..1; z divided by width), exactly as MediaPipe reports them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Annotated, Any, Literal

import numpy as np

if TYPE_CHECKING:
    from mimetic.schema.documents import FaceDocument, ResultDocument

SCHEMA_VERSION = "1.0"

#: The 8 expression classes, in the order of the output contract.
EXPRESSIONS = ("neutral", "happiness", "surprise", "sadness", "anger", "disgust", "fear", "contempt")
ExpressionClass = Literal["neutral", "happiness", "surprise", "sadness", "anger", "disgust", "fear", "contempt"]


class Doc:
    """JSON-schema facts about a result field: a description and keywords (``minimum``, ``maximum``, ...).

    Used as ``Annotated[float, Doc("...", minimum=0)]``; :func:`mimetic.schema.generate_schema` (through pydantic,
    which calls ``__get_pydantic_json_schema__`` on annotation metadata) writes them into the JSON schema. They are
    documentation of the contract, not checks at run time: no stage pays for them.
    """

    __slots__ = ("description", "keywords")

    def __init__(self, description: str = "", **keywords: Any) -> None:
        self.description = description
        self.keywords = keywords

    def __get_pydantic_json_schema__(self, core_schema: Any, handler: Any) -> dict[str, Any]:
        schema = dict(handler(core_schema))
        if self.description:
            schema["description"] = self.description
        schema.update(self.keywords)
        return schema

    def __repr__(self) -> str:
        return f"Doc({self.description!r}, **{self.keywords!r})"


AUScale = Annotated[float, Doc(minimum=0, maximum=5)]
Unit = Annotated[float, Doc(minimum=0, maximum=1)]


#: dataclass field metadata: the key is left out of the document while the value is None (see :func:`optional_key`)
OMIT_NONE = "mimetic_omit_none"


def optional_key() -> Any:
    """A dataclass field (default None) whose key :func:`to_plain` leaves out while it is None: an optional key of
    the document, present only when it has a value (the JSON schema does not require it)."""
    return field(default=None, metadata={OMIT_NONE: True})


def to_plain(value: Any) -> Any:
    """A result value as plain JSON values: dataclasses as dicts of their fields (in order; an
    :func:`optional_key` field only when it is not None), tuples as lists.

    This is how every typed result below becomes its part of a result document (``Face.to_dict``), and how the
    practice results (:mod:`mimetic.practice.results`) become theirs."""
    fields = getattr(type(value), "__dataclass_fields__", None)
    if fields is not None:
        out = {}
        for k, f in fields.items():
            v = getattr(value, k)
            if v is not None or not f.metadata.get(OMIT_NONE):
                out[k] = to_plain(v)
        return out
    if isinstance(value, Mapping):
        return {k: to_plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_plain(v) for v in value]
    return value


@dataclass(frozen=True, slots=True)
class AUValue:
    """One FACS action unit in one face (:func:`mimetic.facs.estimate.estimate_aus`)."""

    intensity: Annotated[float, Doc("0..5 (0 none, 1..5 = A..E): the larger of left and right", minimum=0,
                                    maximum=5)]
    left: Annotated[float, Doc("0..5 on the person's left side", minimum=0, maximum=5)]
    right: Annotated[float, Doc("0..5 on the person's right side", minimum=0, maximum=5)]
    present: Annotated[bool, Doc("intensity >= 1 (A, trace)")]


@dataclass(frozen=True, slots=True)
class Sided:
    """An activity 0..1 on the person's left and right side (a muscle, or a facial-nerve branch)."""

    left: Unit
    right: Unit


@dataclass(frozen=True, slots=True)
class SymmetryRegion:
    """One region's left/right measure at this instant (mm, or degrees for ``*_deg``)."""

    left: float
    right: float
    difference: Annotated[float, Doc("left - right")]
    asymmetry: Annotated[float, Doc("|left - right| / max(|left|, |right|): 0 symmetric, 1 one side only",
                                    minimum=0)]
    flag: Annotated[bool, Doc("|difference| above the region's rest tolerance (withheld when pose_ok is false)")]


@dataclass(frozen=True, slots=True)
class RegionMovement:
    """One region's movement from the baseline face, per side (mm, or degrees for ``*_deg``)."""

    left: float
    right: float
    asymmetry: Annotated[float | None, Doc("movement asymmetry index; null when neither side moved enough",
                                           minimum=0)]
    flag: Annotated[bool, Doc("asymmetry above the normal band")]


@dataclass(frozen=True, slots=True)
class ContemptCheck:
    """A one-sided AU12/AU14 pattern that may be facial asymmetry or palsy rather than contempt
    (:func:`mimetic.expression.prototypes.contempt_check`)."""

    one_sided: Annotated[float, Doc("the contempt evidence 0..1", minimum=0, maximum=1)]
    other_regions: Annotated[bool, Doc("the symmetry measures also flag the brow or the eye")]
    flag: bool


@dataclass(frozen=True, slots=True, kw_only=True)
class Symmetry:
    """Regional left/right symmetry of one face (:func:`mimetic.clinic.symmetry.face_symmetry`)."""

    scale_mm_per_iod: Annotated[float, Doc("millimetres per inter-ocular distance (from the iris diameter, "
                                           "11.7 mm)", exclusiveMinimum=0)]
    scale_source: Literal["iris", "typical"]
    pose_ok: Annotated[bool, Doc("false when the head is turned too far for the far side to be measured; flags "
                                 "are then withheld")]
    baseline: Annotated[bool, Doc("true when movement is measured against a neutral baseline face")]
    normal_band: Annotated[tuple[float, float], Doc("healthy range of the movement asymmetry index")]
    regions: Annotated[dict[str, SymmetryRegion], Doc("region -> its measure at this instant")]
    movement: Annotated[dict[str, RegionMovement] | None,
                        Doc("region -> its movement relative to the baseline (null without a baseline)")] = None
    movement_asymmetry: Annotated[float | None, Doc("mean movement asymmetry index over the regions that moved",
                                                    minimum=0)] = None
    flagged: Annotated[tuple[str, ...], Doc("the flagged regions (movement flags as 'movement:<region>')")] = ()
    flag: Annotated[bool, Doc("any region flagged")] = False
    contempt_check: ContemptCheck | None = None


@dataclass(frozen=True)
class Pose:
    """Head pose in degrees, from MediaPipe's facial transformation matrix.

    Sign convention (camera view, image x right / y down):
    - ``yaw``  > 0: the nose points toward the image's right (the person turns to their own left);
    - ``pitch`` > 0: the face points up (chin raised);
    - ``roll`` > 0: the head tilts counter-clockwise as seen in the image (toward the person's right shoulder).
    A horizontally mirrored image flips the sign of yaw and roll and keeps pitch.
    """

    yaw: Annotated[float, Doc(minimum=-180, maximum=180)]
    pitch: Annotated[float, Doc(minimum=-180, maximum=180)]
    roll: Annotated[float, Doc(minimum=-180, maximum=180)]

    def to_dict(self) -> dict[str, float]:
        return {"yaw": round(self.yaw, 3), "pitch": round(self.pitch, 3), "roll": round(self.roll, 3)}


@dataclass(frozen=True)
class Expression:
    """The expression class and its probabilities: the shipped model (CNN on the aligned crop fused with the
    geometric model) when one is installed, else the AU-prototype scores of ``mimetic.expression.prototypes``."""

    label: ExpressionClass
    scores: Annotated[dict[ExpressionClass, Unit], Doc(required=list(EXPRESSIONS))]
    #: the AU-prototype scores (``mimetic.expression.prototypes``) when ``scores`` come from the trained model
    prototypes: Annotated[dict[ExpressionClass, Unit] | None,
                          Doc("the AU-prototype scores (mimetic.expression.prototypes), present when scores come "
                              "from the trained model")] = None

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {"label": self.label, "scores": {k: round(float(v), 5) for k, v in self.scores.items()}}
        if self.prototypes is not None:
            d["prototypes"] = {k: round(float(v), 5) for k, v in self.prototypes.items()}
        return d


@dataclass(frozen=True, eq=False)
class Face:
    """One face in one image or frame."""

    box: tuple[float, float, float, float]  # x, y, w, h in pixels (tight box around the 478 landmarks)
    score: float  # detection confidence 0..1
    landmarks: np.ndarray  # (478, 3) float32, pixels
    landmarks_norm: np.ndarray  # (478, 3) float32, normalised
    pose: Pose
    blendshapes: dict[str, float]  # the 52 MediaPipe blendshape names (with "_neutral") -> 0..1
    matrix: np.ndarray  # (4, 4) facial transformation matrix (canonical face -> camera, cm)
    track_id: int | None = None
    aus: Mapping[str, AUValue] = field(default_factory=dict)  # AU code -> value (FRAME_AUS order)
    muscles: Mapping[str, Sided] = field(default_factory=dict)  # muscle -> activation 0..1 per side
    nerves: Mapping[str, Sided] = field(default_factory=dict)  # facial-nerve branch -> activity 0..1 per side
    symmetry: Symmetry | None = None
    expression: Expression | None = None

    @property
    def landmarks68(self) -> np.ndarray:
        """The 68 points of the dlib/iBUG layout, (68, 3) pixels; see ``mimetic.face.ibug68``."""
        from mimetic.face.ibug68 import IBUG68_FROM_MEDIAPIPE

        return self.landmarks[list(IBUG68_FROM_MEDIAPIPE)]

    def to_dict(self, *, landmarks: bool = True) -> FaceDocument:
        """This face as its part of the result document (``mimetic.schema.documents.FaceDocument``)."""
        d: dict[str, Any] = {
            "box": [round(float(v), 2) for v in self.box],
            "score": round(float(self.score), 4),
            "track_id": self.track_id,
            "pose": self.pose.to_dict(),
            "blendshapes": {k: round(float(v), 5) for k, v in self.blendshapes.items()},
            "aus": to_plain(self.aus),
            "muscles": to_plain(self.muscles),
            "nerves": to_plain(self.nerves),
            "symmetry": to_plain(self.symmetry),
            "expression": self.expression.to_dict() if self.expression else None,
        }
        if landmarks:
            d["landmarks"] = np.round(self.landmarks.astype(float), 2).tolist()
            d["landmarks_norm"] = np.round(self.landmarks_norm.astype(float), 6).tolist()
            d["landmarks68"] = np.round(self.landmarks68[:, :2].astype(float), 2).tolist()
            d["transform"] = np.round(self.matrix.astype(float), 6).tolist()
        return d  # type: ignore[return-value]


@dataclass(frozen=True, eq=False)
class FrameResult:
    """Everything found in one image or one video frame."""

    source: str  # file name, or "<array>" / "<live>"
    width: int
    height: int
    faces: tuple[Face, ...] = ()
    frame_index: int | None = None  # video frames only
    timestamp: float | None = None  # seconds from the container's time base (video frames only)

    def to_dict(self, *, landmarks: bool = True) -> ResultDocument:
        """The result document (``mimetic.schema.documents.ResultDocument``; JSON: :func:`mimetic.export.dumps`)."""
        d: dict[str, Any] = {
            "schema_version": SCHEMA_VERSION,
            "source": self.source,
            "width": self.width,
            "height": self.height,
            "faces": [f.to_dict(landmarks=landmarks) for f in self.faces],
        }
        if self.frame_index is not None:
            d["frame"] = self.frame_index
            d["timestamp"] = None if self.timestamp is None else round(self.timestamp, 6)
        return d  # type: ignore[return-value]


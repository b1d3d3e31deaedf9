"""The shapes of Mimetic's result documents, as types: what ``Face.to_dict()`` / ``FrameResult.to_dict()`` return
and :func:`mimetic.export.write_json` writes.

The per-face payloads are the result types of :mod:`mimetic.types` themselves (``AUValue``, ``Sided``,
``Symmetry``, ``Pose``, ``Expression``); these ``TypedDict`` s add the document around them. The JSON schema
(:func:`mimetic.schema.generate_schema`) and the web API's OpenAPI models (``mimetic.web.schemas``) are generated
from these types; nothing else describes the contract.
"""

from __future__ import annotations

from typing import Annotated

from typing_extensions import NotRequired, TypedDict  # pydantic reads TypedDicts from typing_extensions on 3.11

from mimetic.types import AUValue, Doc, Expression, Pose, Sided, Symmetry, Unit

__all__ = ["FaceDocument", "ResultDocument", "VideoDocument"]

Point3 = tuple[float, float, float]
Point2 = tuple[float, float]
MatrixRow = tuple[float, float, float, float]


class FaceDocument(TypedDict):
    """One face: box, pose, blendshapes, action units, muscles, nerves, symmetry, expression (and landmarks)."""

    __pydantic_config__ = {"extra": "forbid"}  # type: ignore[misc]

    box: Annotated[tuple[float, float, Annotated[float, Doc(minimum=0)], Annotated[float, Doc(minimum=0)]],
                   Doc("[x, y, w, h] in pixels")]
    score: Annotated[Unit, Doc("detection confidence 0..1")]
    track_id: Annotated[int | None, Doc("the face's track in a video (null for photos)", minimum=0)]
    pose: Annotated[Pose, Doc("head pose in degrees (see mimetic.types.Pose for the signs)")]
    blendshapes: Annotated[dict[str, Unit], Doc("MediaPipe blendshape name -> score 0..1")]
    aus: Annotated[dict[str, AUValue], Doc("FACS action units: intensity on the 0..5 scale, per side, and presence",
                                          propertyNames={"pattern": r"^AU\d\d$"})]
    muscles: Annotated[dict[str, Sided], Doc("muscle name -> activation 0..1 on the person's left and right side")]
    nerves: Annotated[dict[str, Sided], Doc(
        "facial-nerve branch (temporal, zygomatic, buccal, marginal_mandibular, cervical) -> activity 0..1 on the "
        "person's left and right side, derived from the muscles (see mimetic.facs.muscles)")]
    symmetry: Annotated[Symmetry | None, Doc(
        "left/right symmetry measures (see mimetic.clinic.symmetry); null when the symmetry stage did not run")]
    expression: Annotated[Expression | None, Doc("null when the expression stage did not run")]
    landmarks: NotRequired[Annotated[list[Point3], Doc(
        "478 MediaPipe points [x, y, z] in pixels (z: relative depth scaled by the image width)",
        minItems=478, maxItems=478)]]
    landmarks_norm: NotRequired[Annotated[list[Point3], Doc(
        "the same points divided by the image width/height, as MediaPipe reports them", minItems=478,
        maxItems=478)]]
    landmarks68: NotRequired[Annotated[list[Point2], Doc("the 68 iBUG/dlib points [x, y] in pixels", minItems=68,
                                                         maxItems=68)]]
    transform: NotRequired[Annotated[list[MatrixRow], Doc(
        "4x4 facial transformation matrix (canonical face -> camera, cm)", minItems=4, maxItems=4)]]


SchemaVersion = Annotated[str, Doc(const="1.0")]  # mimetic.types.SCHEMA_VERSION (checked by the schema test)


class ResultDocument(TypedDict):
    """What Mimetic found in one image or video frame (``FrameResult.to_dict()``; one line of a JSON Lines file)."""

    __pydantic_config__ = {  # type: ignore[misc]
        "extra": "forbid", "json_schema_extra": {"dependentRequired": {"frame": ["timestamp"],
                                                                       "timestamp": ["frame"]}}}

    schema_version: SchemaVersion
    source: Annotated[str, Doc('file name, or "<array>" / "<live>"')]
    width: Annotated[int, Doc(minimum=1)]
    height: Annotated[int, Doc(minimum=1)]
    faces: list[FaceDocument]
    frame: NotRequired[Annotated[int, Doc("video frame index (video frames only)", minimum=0)]]
    timestamp: NotRequired[Annotated[float | None, Doc("seconds from the container's time base")]]


class VideoDocument(TypedDict):
    """A whole video: ``{schema_version, source, width, height, frames: [result, ...]}``
    (:func:`mimetic.export.video_document`)."""

    __pydantic_config__ = {"extra": "forbid"}  # type: ignore[misc]

    schema_version: SchemaVersion
    source: str
    width: Annotated[int, Doc(minimum=1)]
    height: Annotated[int, Doc(minimum=1)]
    frames: list[ResultDocument]

"""Result types shared by every stage: plain frozen dataclasses over numpy arrays.

Coordinates: ``landmarks`` are pixels of the analysed image (x right, y down); z is MediaPipe's relative depth
scaled by the image width (smaller = closer to the camera). ``landmarks_norm`` are the same points divided by
the image width/height (x, y in 0..1; z divided by width), exactly as MediaPipe reports them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

SCHEMA_VERSION = "1.0"

#: The 8 expression classes, in the order of the output contract.
EXPRESSIONS = ("neutral", "happiness", "surprise", "sadness", "anger", "disgust", "fear", "contempt")


@dataclass(frozen=True)
class Pose:
    """Head pose in degrees, from MediaPipe's facial transformation matrix.

    Sign convention (camera view, image x right / y down):
    - ``yaw``  > 0: the nose points toward the image's right (the person turns to their own left);
    - ``pitch`` > 0: the face points up (chin raised);
    - ``roll`` > 0: the head tilts counter-clockwise as seen in the image (toward the person's right shoulder).
    A horizontally mirrored image flips the sign of yaw and roll and keeps pitch.
    """

    yaw: float
    pitch: float
    roll: float

    def to_dict(self) -> dict[str, float]:
        return {"yaw": round(self.yaw, 3), "pitch": round(self.pitch, 3), "roll": round(self.roll, 3)}


@dataclass(frozen=True)
class Expression:
    label: str
    scores: dict[str, float]
    #: the AU-prototype scores (``mimetic.expression.prototypes``) when ``scores`` come from the trained model
    prototypes: dict[str, float] | None = None

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
    aus: dict[str, dict[str, Any]] = field(default_factory=dict)
    muscles: dict[str, dict[str, float]] = field(default_factory=dict)
    nerves: dict[str, dict[str, float]] = field(default_factory=dict)
    symmetry: dict[str, Any] = field(default_factory=dict)
    expression: Expression | None = None

    @property
    def landmarks68(self) -> np.ndarray:
        """The 68 points of the dlib/iBUG layout, (68, 3) pixels; see ``mimetic.face.ibug68``."""
        from mimetic.face.ibug68 import IBUG68_FROM_MEDIAPIPE

        return self.landmarks[list(IBUG68_FROM_MEDIAPIPE)]

    def to_dict(self, *, landmarks: bool = True) -> dict[str, Any]:
        d: dict[str, Any] = {
            "box": [round(float(v), 2) for v in self.box],
            "score": round(float(self.score), 4),
            "track_id": self.track_id,
            "pose": self.pose.to_dict(),
            "blendshapes": {k: round(float(v), 5) for k, v in self.blendshapes.items()},
            "aus": self.aus,
            "muscles": self.muscles,
            "nerves": self.nerves,
            "symmetry": self.symmetry,
            "expression": self.expression.to_dict() if self.expression else None,
        }
        if landmarks:
            d["landmarks"] = np.round(self.landmarks.astype(float), 2).tolist()
            d["landmarks_norm"] = np.round(self.landmarks_norm.astype(float), 6).tolist()
            d["landmarks68"] = np.round(self.landmarks68[:, :2].astype(float), 2).tolist()
            d["transform"] = np.round(self.matrix.astype(float), 6).tolist()
        return d


@dataclass(frozen=True, eq=False)
class FrameResult:
    """Everything found in one image or one video frame."""

    source: str  # file name, or "<array>" / "<live>"
    width: int
    height: int
    faces: tuple[Face, ...] = ()
    frame_index: int | None = None  # video frames only
    timestamp: float | None = None  # seconds from the container's time base (video frames only)

    def to_dict(self, *, landmarks: bool = True) -> dict[str, Any]:
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
        return d

    def to_frame(self):
        """One row per face (pandas DataFrame, OpenFace-style column names; see ``mimetic.table``)."""
        from mimetic.table import frame_from_results

        return frame_from_results([self])

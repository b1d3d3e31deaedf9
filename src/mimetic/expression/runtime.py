"""One way to open a shipped ONNX model: CPU, sequential, quiet, idle threads asleep."""

from __future__ import annotations

import os


def onnx_session(path: str | os.PathLike, *, threads: int = 1):
    """An onnxruntime InferenceSession on the CPU with ``threads`` intra-op threads.

    Idle pool threads sleep instead of spinning, so several analysers (web workers) can share two cores.
    """
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.intra_op_num_threads = int(threads)
    opts.inter_op_num_threads = 1
    opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
    opts.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    opts.log_severity_level = 3
    return ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])

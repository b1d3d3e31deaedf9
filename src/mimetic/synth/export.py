"""The shipped generator: the EMA generator of a checkpoint (with standing batch-norm statistics) as ONNX (``z``, ``label`` → ``faces``).

Inputs: ``z`` (N, z_dim) float32 standard normal, ``label`` (N,) int64 class index. Output: ``faces`` (N, 1, 48,
48) float32 in [-1, 1]. Metadata: ``classes`` (JSON), ``z_dim``, ``size``, ``mimetic_generator`` (format) and the
training recipe, so :mod:`mimetic.synth.sample` needs nothing else.
"""

from __future__ import annotations

import json
import os
import warnings
from pathlib import Path

import numpy as np
import torch

from mimetic.synth.gan import GanConfig, Generator, standing_stats

GENERATOR_FORMAT = 1
OPSET = 17


def export_generator(checkpoint: str | os.PathLike, path: str | os.PathLike) -> Path:
    """Write the EMA generator of ``checkpoint`` (a ``last.pt`` of :func:`mimetic.synth.train.train_gan`) to
    ``path`` (atomically), check it against torch and return the path."""
    import onnxruntime as ort

    from mimetic.media.atomic import atomic_path
    from mimetic.train.onnxmeta import write_metadata

    st = torch.load(checkpoint, map_location="cpu", weights_only=False)
    cfg = GanConfig.from_dict(st["gan"])
    gen = Generator(cfg)
    gen.load_state_dict(st["G_ema"])
    standing_stats(gen)
    path = Path(path)
    z = torch.randn(4, cfg.z_dim, generator=torch.Generator().manual_seed(0))
    y = torch.arange(4) % len(cfg.classes)
    with atomic_path(path) as tmp, warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(gen, (z, y), str(tmp), opset_version=OPSET, dynamo=False, input_names=["z", "label"],
                          output_names=["faces"], dynamic_axes={"z": {0: "n"}, "label": {0: "n"}, "faces": {0: "n"}},
                          do_constant_folding=True)
        meta = {"classes": json.dumps(list(cfg.classes)), "z_dim": str(cfg.z_dim), "size": str(cfg.size),
                "mimetic_generator": str(GENERATOR_FORMAT), "steps": str(st["step"]),
                "recipe": json.dumps({"gan": st["gan"], "train": st["config"], "data": st["data"]})}
        write_metadata(tmp, meta)
        sess = ort.InferenceSession(str(tmp), providers=["CPUExecutionProvider"])
        got = sess.run(None, {"z": z.numpy(), "label": y.numpy().astype(np.int64)})[0]
        with torch.no_grad():
            want = gen(z, y).numpy()
        diff = float(np.abs(got - want).max())
        if diff > 1e-3:
            raise RuntimeError(f"exported generator disagrees with torch (max |diff| {diff:.2e})")
    return path

"""Refit the classification heads of an exported expression CNN on mixed data (FER+ and posed faces).

The shipped CNN is an int8 ensemble (``mimetic train export … --int8``): each member ends in global average
pooling (176 features) and a linear head ``fc`` (8 classes), the members' softmax outputs are averaged. Its
convolutions learned FER2013's world; posed faces (CK+) are recognised by the same features but the heads were
never shown them, and call many posed anger, contempt and fear faces neutral. Retraining the whole network on
this CPU takes hours per member; refitting only the heads takes seconds, so this module:

- :func:`penultimate` runs the ONNX graph up to the members' pooled features (one pass, the same crops as
  training: ``mimetic.train.prepare``'s cache);
- :func:`refit` fits each member's head (soft cross-entropy, the FER+ vote distribution for FER+ rows and
  one-hot labels for the mixed rows, weighted ``mix_weight`` each, class weights ∝ 1/√frequency as in
  training) starting from the shipped head, with an L2 pull towards it (``pull``), full-batch L-BFGS;
- :func:`write_heads` writes a copy of the ONNX file with the new heads (the FER2013 head, the convolutions and
  their quantization are untouched) and records the recipe in its metadata.

``mimetic train heads CNN.onnx --data ferplus.npz --mix ckplus48_dev.npz --out runs/heads`` does all three and
reports FER+ validation accuracy and a subject-wise cross-validation on the mixed set; docs/training.md.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

#: The heads' weight and bias initialisers in an exported ensemble (member k).
HEAD = "net.members.{k}.fc.{part}"


def _feature_outputs(model) -> list[str]:
    """The names of the pooled-feature tensors feeding each member's main head, in member order."""
    heads = {}
    for node in model.graph.node:
        if node.op_type == "Gemm" and len(node.input) >= 2:
            for k in range(16):
                if node.input[1] == HEAD.format(k=k, part="weight"):
                    heads[k] = node.input[0]
    if not heads:
        raise ValueError("not an exported Mimetic expression ensemble (no net.members.K.fc heads)")
    return [heads[k] for k in sorted(heads)]


def penultimate(onnx_path: str | os.PathLike, crops: np.ndarray, *, threads: int = 1,
                batch: int = 256) -> np.ndarray:
    """``(members, N, F)`` pooled features of ``crops`` ((N, S, S) uint8 aligned crops) for each member."""
    import onnx
    import onnxruntime as ort

    model = onnx.load(str(onnx_path))
    names = _feature_outputs(model)
    del model.graph.output[:]
    for n in names:
        model.graph.output.append(onnx.helper.make_tensor_value_info(n, onnx.TensorProto.FLOAT, None))
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = max(1, int(threads))
    opts.inter_op_num_threads = 1
    sess = ort.InferenceSession(model.SerializeToString(), opts, providers=["CPUExecutionProvider"])
    inp = sess.get_inputs()[0].name
    out = []
    for i in range(0, len(crops), batch):
        x = np.asarray(crops[i:i + batch], dtype=np.float32)[:, None]
        out.append(np.stack(sess.run(names, {inp: x})))
    return np.concatenate(out, axis=1) if out else np.zeros((len(names), 0, 0), np.float32)


def heads_of(onnx_path: str | os.PathLike) -> list[tuple[np.ndarray, np.ndarray]]:
    """The members' main heads ``[(weight (C, F), bias (C,)), …]`` of an exported ensemble."""
    import onnx
    from onnx import numpy_helper

    model = onnx.load(str(onnx_path))
    init = {i.name: numpy_helper.to_array(i) for i in model.graph.initializer}
    out = []
    for k in range(len(_feature_outputs(model))):
        out.append((init[HEAD.format(k=k, part="weight")].copy(), init[HEAD.format(k=k, part="bias")].copy()))
    return out


def fit_head(x: np.ndarray, y: np.ndarray, w0: np.ndarray, b0: np.ndarray, *, class_weight: np.ndarray,
             pull: float = 1e-2, iters: int = 200) -> tuple[np.ndarray, np.ndarray]:
    """One head: minimise mean over rows of ``-Σ_c cw_c y_c log softmax(x W^T + b)_c`` + ``pull`` · |W − W0|²
    (rows of ``y`` may carry a weight: they need not sum to 1). Full-batch L-BFGS from ``(w0, b0)``."""
    import torch

    X = torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32))
    Y = torch.from_numpy(np.ascontiguousarray(y * class_weight[None, :], dtype=np.float32))
    W0 = torch.from_numpy(w0.astype(np.float32))
    W = torch.nn.Parameter(W0.clone())
    b = torch.nn.Parameter(torch.from_numpy(b0.astype(np.float32)).clone())
    opt = torch.optim.LBFGS([W, b], lr=1.0, max_iter=iters, history_size=20, line_search_fn="strong_wolfe")

    def closure():
        opt.zero_grad()
        logp = torch.log_softmax(X @ W.T + b, dim=1)
        loss = -(Y * logp).sum(1).mean() + pull * ((W - W0) ** 2).sum()
        loss.backward()
        return loss

    opt.step(closure)
    return W.detach().numpy().copy(), b.detach().numpy().copy()


def ensemble_probs(feats: np.ndarray, heads: Sequence[tuple[np.ndarray, np.ndarray]]) -> np.ndarray:
    """The ensemble's output (mean of the members' softmax) from pooled features ``(members, N, F)``."""
    ps = []
    for f, (w, b) in zip(feats, heads):
        z = f @ w.T + b
        z = z - z.max(1, keepdims=True)
        e = np.exp(z)
        ps.append(e / e.sum(1, keepdims=True))
    return np.mean(ps, axis=0).astype(np.float32)


def _softmax(z: np.ndarray) -> np.ndarray:
    z = z - z.max(1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(1, keepdims=True)


def refit(feats: np.ndarray, targets: np.ndarray, heads: Sequence[tuple[np.ndarray, np.ndarray]], *,
          class_weight: np.ndarray, pull: float = 1e-2, keep: np.ndarray | None = None,
          ) -> list[tuple[np.ndarray, np.ndarray]]:
    """Refit every member's head on ``(members, N, F)`` features and ``(N, C)`` (weighted) targets.

    ``keep`` (N,) bool: rows whose target is the member's own current answer instead (self-distillation: with
    only such rows the fit returns the head it started from). Mixing the training set's rows in this way keeps
    the model's answers on its own data while the other rows teach it the new faces; without it, a refit of the
    heads on FER+ votes alone already costs ~0.5 points of FER+ validation accuracy (the heads were trained with
    augmentation, the refit sees clean crops)."""
    out = []
    for f, (w, b) in zip(feats, heads):
        y = targets
        if keep is not None and keep.any():
            y = targets.copy()
            y[keep] = _softmax(f[keep] @ w.T + b) / class_weight[None, :] * targets[keep].sum(1, keepdims=True)
        out.append(fit_head(f, y, w, b, class_weight=class_weight, pull=pull))
    return out


def write_heads(onnx_in: str | os.PathLike, onnx_out: str | os.PathLike,
                heads: Sequence[tuple[np.ndarray, np.ndarray]], *, recipe: dict | None = None) -> Path:
    """A copy of ``onnx_in`` with the members' main heads replaced (``recipe`` goes to the ``heads_refit``
    metadata); written atomically."""
    import onnx
    from onnx import numpy_helper

    from mimetic.media.atomic import atomic_path

    model = onnx.load(str(onnx_in))
    by_name = {i.name: i for i in model.graph.initializer}
    for k, (w, b) in enumerate(heads):
        for part, arr in (("weight", w), ("bias", b)):
            name = HEAD.format(k=k, part=part)
            old = by_name[name]
            if tuple(old.dims) != arr.shape:
                raise ValueError(f"{name}: shape {arr.shape} does not match the model's {tuple(old.dims)}")
            old.CopyFrom(numpy_helper.from_array(arr.astype(np.float32), name))
    meta = {p.key: p for p in model.metadata_props}
    value = json.dumps(recipe or {})
    if "heads_refit" in meta:
        meta["heads_refit"].value = value
    else:
        model.metadata_props.add(key="heads_refit", value=value)
    out = Path(onnx_out)
    out.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(out) as tmp:
        onnx.save(model, str(tmp))
    return out


def cached_penultimate(onnx_path: str | os.PathLike, data: str | os.PathLike, *,
                       cache_dir: str | os.PathLike | None = None, threads: int = 1,
                       log: Callable[[str], None] | None = print) -> tuple[np.ndarray, object]:
    """``((members, n_images, F) features, source)`` of every image of ``data`` (rows without a face keep the
    fallback crop, as the CNN sees them), computed once per model file and kept next to the crop cache."""
    from mimetic.expression.fusion import file_sha256
    from mimetic.media.atomic import atomic_path
    from mimetic.train.datasets import read_dataset
    from mimetic.train.prepare import CropCache

    src = read_dataset(data)
    cache = CropCache(src, cache_dir, size=64)
    path = cache.dir / f"penultimate-{file_sha256(onnx_path)[:12]}.npy"
    if path.is_file():
        return np.load(path), src
    rows = np.arange(src.n_images)
    cache.ensure(rows, progress=False)
    parts = []
    for i in range(0, len(rows), 2000):
        parts.append(penultimate(onnx_path, cache.load(rows[i:i + 2000])["crops"], threads=threads))
    feats = np.concatenate(parts, axis=1)
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as fh:
            np.save(fh, feats)
    if log:
        log(f"pooled features of {src.n_images} images → {path}")
    return feats, src

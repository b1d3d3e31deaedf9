"""ONNX export of a trained network, and the check that torch and onnxruntime agree.

The ONNX graph takes ``crops``: (N, 1, S, S) float32 grey values 0..255 (dynamic N) and gives ``probs``: (N, C)
softmax probabilities; a network with an auxiliary head also gives ``probs_aux`` (N, C') over the classes in the
``aux_classes`` metadata entry. Its metadata (``metadata_props``) carries what inference needs: ``classes`` (JSON list),
``crop_size``, ``crop_detail`` (see ``align_crop``; empty: none), ``crop_recipe`` and ``mimetic_format``; a file
exported with ``mirror=True`` averages each crop with its mirror image inside the graph (``mirror_average``: ``1``).
``mimetic train export --int8 DATA`` then quantizes the exported file (:mod:`mimetic.train.quantize`).
"""

from __future__ import annotations

import json
import os
import warnings
from pathlib import Path

import numpy as np
import torch

from mimetic.train.net import WithSoftmax
from mimetic.train.onnxmeta import write_metadata

OPSET = 17
ONNX_FORMAT = 1


def _outputs(model: torch.nn.Module) -> list[str]:
    return ["probs", "probs_aux"] if model.config.aux_classes else ["probs"]


def export_onnx(model: torch.nn.Module, path: str | os.PathLike, *, classes, size: int, detail: int | None = None,
                extra_metadata: dict[str, str] | None = None, opset: int = OPSET, mirror: bool = False) -> Path:
    """Write ``model`` (logits) with a softmax on top to ``path`` (atomically) and return the path.
    ``mirror``: the graph averages each crop with its mirror image (:class:`mimetic.train.net.WithSoftmax`)."""
    from mimetic.media.atomic import atomic_path
    from mimetic.train.prepare import RECIPE

    path = Path(path)
    wrapped = WithSoftmax(model, mirror=mirror).eval()
    dummy = torch.zeros(2, 1, size, size)
    with atomic_path(path) as tmp, warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the TorchScript exporter's deprecation notice
        outputs = _outputs(model)
        torch.onnx.export(wrapped, (dummy,), str(tmp), opset_version=opset, dynamo=False,
                          input_names=["crops"], output_names=outputs,
                          dynamic_axes={"crops": {0: "n"}, **{o: {0: "n"} for o in outputs}},
                          do_constant_folding=True)
        meta = {"classes": json.dumps(list(classes)), "crop_size": str(int(size)), "crop_recipe": str(RECIPE),
                "crop_detail": "" if detail is None else str(int(detail)),
                "mimetic_format": str(ONNX_FORMAT), "mirror_average": "1" if mirror else "0",
                **(extra_metadata or {})}
        if len(outputs) > 1:
            meta["aux_classes"] = json.dumps(list(model.config.aux_classes))
        write_metadata(tmp, meta)
    return path


def check_agreement(model: torch.nn.Module, path: str | os.PathLike, *, size: int, n: int = 16, seed: int = 0,
                    atol: float = 1e-4, mirror: bool = False) -> float:
    """Largest absolute difference between torch and onnxruntime probabilities on ``n`` random crops (and a flat
    one); raises ``AssertionError`` above ``atol``."""
    import onnxruntime as ort

    rng = np.random.default_rng(seed)
    x = rng.integers(0, 256, size=(n, 1, size, size)).astype(np.float32)
    x[0] = 128.0  # a flat crop: the in-network standardisation must stay finite
    with torch.no_grad():
        ref = WithSoftmax(model, mirror=mirror).eval()(torch.from_numpy(x))
    ref = [r.numpy() for r in ref] if isinstance(ref, tuple) else [ref.numpy()]
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 1
    opts.inter_op_num_threads = 1
    sess = ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])
    got = sess.run(_outputs(model), {"crops": x})
    diff = max(float(np.abs(a - b).max()) for a, b in zip(got, ref))
    if not np.isfinite(diff) or diff > atol:
        raise AssertionError(f"{path}: torch and onnxruntime differ by {diff:.3g} (> {atol:g})")
    return diff


def export_checkpoint(checkpoint: str | os.PathLike, path: str | os.PathLike, *, check: bool = True,
                      mirror: bool = False) -> tuple[Path, float | None]:
    """Export ``best.pt`` / ``last.pt`` to ONNX; returns the path and the torch/onnxruntime difference."""
    from mimetic.train.loop import model_from_checkpoint

    model, state = model_from_checkpoint(checkpoint)
    net = state["net"]
    metrics = state.get("metrics") or (state.get("history") or [{}])[-1]
    extra = {"checkpoint": str(checkpoint), "trained_epochs": str(state.get("epoch")),
             "valid_accuracy": f"{metrics.get('valid_acc', float('nan')):.4f}"}
    out = export_onnx(model, path, classes=net["classes"], size=int(net["size"]), detail=net.get("detail"),
                      extra_metadata=extra, mirror=mirror)
    diff = check_agreement(model, out, size=int(net["size"]), mirror=mirror) if check else None
    return out, diff


def export_ensemble(checkpoints: list[str | os.PathLike], path: str | os.PathLike, *,
                    check: bool = True, mirror: bool = False) -> tuple[Path, float | None]:
    """Export several checkpoints (same classes and layout) as one ONNX file that averages their probabilities
    (:class:`mimetic.train.net.Ensemble`). The metadata lists the members (``ensemble_members``: JSON list of the
    checkpoint paths) and their validation accuracies."""
    from mimetic.train.loop import model_from_checkpoint
    from mimetic.train.net import Ensemble

    if len(checkpoints) < 2:
        raise ValueError("an ensemble needs at least two checkpoints (export a single one with export_checkpoint)")
    nets, accs, epochs = [], [], []
    for ck in checkpoints:
        model, state = model_from_checkpoint(ck)
        nets.append(model)
        metrics = state.get("metrics") or (state.get("history") or [{}])[-1]
        accs.append(f"{metrics.get('valid_acc', float('nan')):.4f}")
        epochs.append(str(state.get("epoch")))
    ens = Ensemble(nets).eval()
    net = nets[0].config
    extra = {"ensemble_members": json.dumps([str(c) for c in checkpoints]), "trained_epochs": ",".join(epochs),
             "valid_accuracy": ",".join(accs)}
    out = export_onnx(ens, path, classes=net.classes, size=int(net.size), detail=net.detail, extra_metadata=extra,
                      mirror=mirror)
    diff = check_agreement(ens, out, size=int(net.size), mirror=mirror) if check else None
    return out, diff


def merge_ensembles(models: list[str | os.PathLike], path: str | os.PathLike) -> Path:
    """One ONNX file from several exported Mimetic networks or ensembles (float or int8, as they are): the mean of
    all their members' probabilities, each member weighing the same (a file of k members weighs k), and each
    member's main head renamed ``net.members.K.fc`` in order, so :mod:`mimetic.train.heads` can refit it.

    A new network joins a shipped ensemble this way without the others' float checkpoints: export and quantize it
    alone, then merge. The files must share classes, crop size and detail, mirror averaging and auxiliary classes.
    """
    import onnx
    from onnx import compose, helper, numpy_helper

    from mimetic.media.atomic import atomic_path

    if len(models) < 2:
        raise ValueError("merging needs at least two model files")
    loaded = [onnx.load(str(m)) for m in models]
    metas = [{p.key: p.value for p in m.metadata_props} for m in loaded]
    keys = ("classes", "crop_size", "crop_detail", "crop_recipe", "mirror_average", "aux_classes")
    for m, meta in zip(models[1:], metas[1:]):
        for k in keys:
            if meta.get(k) != metas[0].get(k):
                raise ValueError(f"{m}: {k} {meta.get(k)!r} differs from {models[0]}'s {metas[0].get(k)!r}")
    outputs = [o.name for o in loaded[0].graph.output]
    counts = []
    for i, m in enumerate(loaded):
        heads = sorted({n.input[1] for n in m.graph.node if n.op_type == "Gemm" and len(n.input) > 1
                        and n.input[1].endswith(".fc.weight") and "fc_aux" not in n.input[1]})
        if not heads:
            raise ValueError(f"{models[i]}: not an exported Mimetic expression network (no fc head)")
        counts.append(len(heads))
    total = sum(counts)
    nodes, inits, first = [], [], 0
    for i, (m, k) in enumerate(zip(loaded, counts)):
        p = compose.add_prefix(m, f"m{i}/")
        rename = {f"m{i}/crops": "crops"}
        # the heads, in member order: net.fc (one network) or net.members.J.fc (an ensemble)
        for j in range(k):
            for part in ("weight", "bias"):
                for old in (f"m{i}/net.members.{j}.fc.{part}", f"m{i}/net.fc.{part}" if k == 1 else None):
                    if old:
                        rename[old] = f"net.members.{first + j}.fc.{part}"
        for n in p.graph.node:
            n.input[:] = [rename.get(x, x) for x in n.input]
        for t in p.graph.initializer:
            t.name = rename.get(t.name, t.name)
        nodes += list(p.graph.node)
        inits += list(p.graph.initializer)
        first += k
    for i, k in enumerate(counts):
        inits.append(numpy_helper.from_array(np.array(k / total, np.float32), f"merge/w{i}"))
    for out in outputs:  # the weighted mean of the files' outputs: each member weighs the same
        terms = []
        for i in range(len(counts)):
            nodes.append(helper.make_node("Mul", [f"m{i}/{out}", f"merge/w{i}"], [f"merge/{out}_{i}"]))
            terms.append(f"merge/{out}_{i}")
        nodes.append(helper.make_node("Sum", terms, [out]))
    g0 = loaded[0].graph
    graph = helper.make_graph(nodes, "mimetic_merged", list(g0.input), list(g0.output), inits)
    merged = helper.make_model(graph, opset_imports=list(loaded[0].opset_import), ir_version=loaded[0].ir_version)
    meta = dict(metas[0])
    members = []
    for m, mm, k in zip(models, metas, counts):
        members += json.loads(mm["ensemble_members"]) if "ensemble_members" in mm else [mm.get("checkpoint", str(m))]
    meta.update(ensemble_members=json.dumps(members),
                trained_epochs=",".join(mm.get("trained_epochs", "") for mm in metas),
                valid_accuracy=",".join(mm.get("valid_accuracy", "") for mm in metas),
                merged_from=json.dumps([f"{Path(m).name} ({k} member{'s' if k > 1 else ''})"
                                        for m, k in zip(models, counts)]))
    meta.pop("heads_refit", None)
    for k, v in meta.items():
        merged.metadata_props.add(key=k, value=v)
    onnx.checker.check_model(merged)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path) as tmp:
        onnx.save(merged, str(tmp))
    return path

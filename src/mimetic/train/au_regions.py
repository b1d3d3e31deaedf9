"""Train the AU region networks (``mimetic train au-regions``): one small CNN per face region that sees only that
region of one side and predicts the shipped expression ensemble's probabilities for the whole face.

Why: the AU models are fitted on a few hundred FACS-coded faces of a few dozen people. What a brow, an eye, a nose
or a mouth looks like at rest varies far more across people than those faces show, so an AU model fitted on them
alone mistakes anatomy for movement or misses small movements. The expression ensemble has seen 28,000 faces; a
network taught to reproduce its answer from one region alone learns the expression evidence that region carries —
what a lowered brow or a pressed lip looks like on anyone — from data without FACS codes (distillation as weak
supervision). Its outputs become region features of the AU models (:mod:`mimetic.facs.texture`), fitted on the
coded faces as before (:mod:`mimetic.train.aus`).

Recipe (:class:`RegionTrainConfig`): FER+ ``train`` crops (the expression stage's aligned 64-px crops, from the
crop cache), both sides of every face (the crop and its mirror image: the person's right and left), the teacher's
probabilities on the full crop as soft targets, cross-entropy, AdamW with a one-cycle schedule, seed 0. Reported:
agreement of the region's argmax with the teacher's on the FER+ ``valid`` crops. CK+ is not used, so the AU models'
subject-wise validation on CK+ stays clean.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from mimetic.facs.texture import LEARNED_EMBED, LEARNED_LOGITS, WINDOWS, region_box, region_patches


@dataclass(frozen=True)
class RegionTrainConfig:
    widths: tuple[int, ...] = (16, 32, LEARNED_EMBED)
    epochs: int = 6
    batch: int = 256
    lr: float = 3e-3
    weight_decay: float = 1e-4
    seed: int = 0
    threads: int = 1


def _torch():
    import torch
    from torch import nn

    from mimetic.train.net import standardise

    class RegionNet(nn.Module):
        """Conv-BN-ReLU stages with 2×2 max pooling between them; the patch is standardised inside (zero mean,
        unit variance, +1 in the variance so a flat patch stays finite); global average pooling; one linear layer
        to the classes (:func:`mimetic.train.net.standardise`, as the expression network). ``forward`` returns
        (log-probabilities, pooled features)."""

        def __init__(self, widths: tuple[int, ...], classes: int):
            super().__init__()
            layers: list[nn.Module] = []
            c = 1
            for i, w in enumerate(widths):
                layers += [nn.Conv2d(c, w, 3, 1, 1, bias=False), nn.BatchNorm2d(w), nn.ReLU()]
                if i < len(widths) - 1:
                    layers.append(nn.MaxPool2d(2))
                c = w
            self.features = nn.Sequential(*layers)
            self.fc = nn.Linear(c, classes)

        def embed(self, x):
            return self.features(standardise(x)).mean(dim=(2, 3))

        def forward(self, x):
            e = self.embed(x)
            return torch.log_softmax(self.fc(e), dim=1), e

    class AllRegions(nn.Module):
        """Every region's network as one graph: input per region, output ``<region>_features`` = log-probs then
        pooled features."""

        def __init__(self, nets: dict[str, nn.Module]):
            super().__init__()
            self.names = list(nets)
            self.nets = nn.ModuleList(nets.values())

        def forward(self, *patches):
            return tuple(torch.cat(net(p), dim=1) for net, p in zip(self.nets, patches))

    return torch, RegionNet, AllRegions


def train_region(crops: np.ndarray, targets: np.ndarray, region: str, config: RegionTrainConfig, *,
                 valid: tuple[np.ndarray, np.ndarray] | None = None, log: Callable[[str], None] = print):
    """One region's network trained on both sides of ``crops`` (n, 64, 64) against ``targets`` (n, C)."""
    torch, RegionNet, _ = _torch()
    torch.manual_seed(config.seed)
    both = np.concatenate([crops, crops[:, :, ::-1]])
    x = torch.from_numpy(region_patches(both, region))[:, None]
    y = torch.from_numpy(np.concatenate([targets, targets]).astype(np.float32))
    net = RegionNet(config.widths, targets.shape[1])
    opt = torch.optim.AdamW(net.parameters(), config.lr, weight_decay=config.weight_decay)
    per_epoch = max(1, len(x) // config.batch)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, config.lr, total_steps=config.epochs * per_epoch)
    gen = torch.Generator().manual_seed(config.seed)
    history = []
    for epoch in range(config.epochs):
        t0 = time.time()
        net.train()
        perm = torch.randperm(len(x), generator=gen)
        for i in range(per_epoch):
            b = perm[i * config.batch:(i + 1) * config.batch]
            loss = -(y[b] * net(x[b])[0]).sum(1).mean()
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
        net.eval()
        entry = {"epoch": epoch + 1, "loss": float(loss.detach()), "seconds": round(time.time() - t0, 1)}
        if valid is not None:
            with torch.no_grad():
                pv = net(torch.from_numpy(region_patches(valid[0], region))[:, None])[0].numpy()
            entry["valid_agreement"] = float((pv.argmax(1) == valid[1].argmax(1)).mean())
        history.append(entry)
        log(f"{region} epoch {epoch + 1}/{config.epochs}: " + ", ".join(f"{k} {v:.3f}" if isinstance(v, float)
                                                                       else f"{k} {v}" for k, v in entry.items()
                                                                       if k != "epoch"))
    return net, history


def export_regions(nets: dict, out: str | os.PathLike, *, metadata: dict[str, str]) -> Path:
    """All region networks as one ONNX file (inputs ``<region>`` (n, 1, h, w), outputs ``<region>_features``)."""
    import onnx

    torch, _, AllRegions = _torch()
    from mimetic.media.atomic import atomic_path

    model = AllRegions(nets).eval()
    dummies = []
    for r in nets:
        rows, cols, _ = region_box(r)
        dummies.append(torch.zeros(2, 1, rows.stop - rows.start, cols.stop - cols.start))
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(out) as tmp:
        torch.onnx.export(model, tuple(dummies), str(tmp), input_names=list(nets),
                          output_names=[f"{r}_features" for r in nets],
                          dynamic_axes={**{r: {0: "n"} for r in nets}, **{f"{r}_features": {0: "n"} for r in nets}},
                          opset_version=17, dynamo=False)
        m = onnx.load(str(tmp))
        for k, v in metadata.items():
            m.metadata_props.add(key=k, value=v)
        onnx.save(m, str(tmp))
    return out


def train_au_regions(data: str | os.PathLike, out: str | os.PathLike, *, teacher: str | os.PathLike | None = None,
                     cache_dir: str | os.PathLike | None = None, config: RegionTrainConfig = RegionTrainConfig(),
                     log: Callable[[str], None] = print) -> dict:
    """Train every region's network on FER+ (``data``) against ``teacher`` (default: the shipped expression model)
    and write ``out`` (ONNX) with a JSON report beside it."""
    import torch

    from mimetic.expression.fusion import file_sha256
    from mimetic.expression.model import ExpressionModel, default_path
    from mimetic.train.datasets import read_dataset
    from mimetic.train.prepare import CropCache

    torch.set_num_threads(max(1, config.threads))
    teacher = Path(teacher) if teacher else default_path()
    src = read_dataset(data)
    cache = CropCache(src, cache_dir, size=64)
    cache.ensure(src.rows, progress=False)
    loaded = cache.load(src.rows)
    found = loaded["found"]
    sel = {s: np.flatnonzero((src.split == s) & found) for s in ("train", "valid")}
    crops = {s: loaded["crops"][i] for s, i in sel.items()}
    model = ExpressionModel(teacher, threads=config.threads)
    probs = {s: model.predict(c) for s, c in crops.items()}
    log(f"teacher {teacher.name}: {len(crops['train'])} train and {len(crops['valid'])} valid crops with a face")
    nets, report = {}, {"config": asdict(config), "regions": {}}
    for r in WINDOWS:
        nets[r], hist = train_region(crops["train"], probs["train"], r, config,
                                     valid=(crops["valid"], probs["valid"]), log=log)
        report["regions"][r] = {"history": hist, "valid_agreement": hist[-1].get("valid_agreement")}
    report["teacher"] = f"{teacher.name} sha256 {file_sha256(teacher)[:16]}"
    report["data"] = f"{Path(data).name}: {len(crops['train'])} train crops (both sides), {len(crops['valid'])} valid"
    report["command"] = "mimetic train au-regions ferplus.npz"
    meta = {"mimetic_format": "1", "regions": json.dumps(list(WINDOWS)),
            "features": json.dumps({"log_probs": LEARNED_LOGITS, "pooled": LEARNED_EMBED}),
            "recipe": json.dumps(asdict(config)), "teacher": report["teacher"], "data": report["data"]}
    path = export_regions(nets, out, metadata=meta)
    # the exported graph must give what the networks give
    import onnxruntime as ort

    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    from mimetic.facs.texture import learned_features

    probe = crops["valid"][:32]
    got = learned_features(probe, session=sess)
    with torch.no_grad():
        for r, net in nets.items():
            ref = torch.cat(net(torch.from_numpy(region_patches(probe, r))[:, None]), dim=1).numpy()
            err = float(np.abs(ref - got[r]).max())
            if err > 1e-3:
                raise RuntimeError(f"exported region network {r} differs from the trained one by {err}")
    report["file"] = str(path)
    Path(str(path) + ".json").write_text(json.dumps(report, indent=1) + "\n")
    log(f"wrote {path} and {path}.json")
    return report

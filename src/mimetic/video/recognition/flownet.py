"""The shipped micro-expression recogniser's network, its leave-one-subject-out runner and its ONNX export.

**Network** (after STSTNet, Liong et al. 2019): the onset -> apex flow image (3 x 28 x 28: u, v, optical strain,
each min-max normalised to 0..255 per image, :func:`~.features.flow_image`) through STSTNet's three parallel 3x3
convolutions (3, 5 and 8 channels: one 16-channel convolution), 3x3 max-pooling (stride 3), ReLU, per-sample group
normalisation (no batch statistics: a sample's output never depends on the other samples of its batch), 2x2
average pooling, dropout and one linear layer to the three MEGC classes (negative, positive, surprise): 1,683
parameters.

**Training** (:func:`fit`): class-balanced cross-entropy, Adam with cosine decay over a **fixed** number of epochs
(no early stopping, nothing chosen on held-out data), horizontal flips (a flip mirrors the image and turns ``u``
into ``255 - u``: the flow's horizontal component changes sign) and shifts of up to ``shift`` pixels.

**Ensemble**: ``seeds`` networks (softmax averaged; with ``tta`` each also over the mirror image) and, with weight
``linear`` (fixed beforehand: 0.5), a multinomial logistic regression on the pixels (:func:`fit_linear`: balanced
class weights, one fixed L2 penalty), a different model family whose errors differ from the networks'.

**Leave-one-subject-out** (:func:`loso`): the folds are trained *side by side* as one grouped network (group ``k``
is fold ``k``'s model; the loss of fold ``k`` gives zero weight to its held-out subject, so its weights never see
that subject, and no statistic crosses samples). Each fold's weights get gradients only from its own loss (Adam
and weight decay act element by element), so this trains the folds as separate runs would, except that they draw
their batches in one shared order; the convolutions of all folds are one matrix product, so 68 folds of a tiny
network cost a few minutes of one CPU core. The runner saves each chunk of folds as it finishes (``folds.jsonl``)
and resumes from there.

Needs torch (the ``train`` extra). Inference in the product is :mod:`.runtime` (onnxruntime).
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from mimetic.video.recognition.model import uar, uf1

__all__ = ["FlowNetConfig", "GroupedFlowNet", "fit", "fit_linear", "loso", "scores", "export_onnx", "read_composite",
           "train_final", "MEGC_CLASSES", "BRANCHES"]

#: Class order of the MEGC 2019 composite benchmark (and of the shipped model's output).
MEGC_CLASSES = ("negative", "positive", "surprise")
#: Channels of the three parallel convolutions (STSTNet's).
BRANCHES = (3, 5, 8)


@dataclass
class FlowNetConfig:
    """The recipe: every number that shapes a trained model."""

    epochs: int = 60
    batch: int = 32
    lr: float = 2e-3
    weight_decay: float = 1e-4
    dropout: float = 0.3
    flip: bool = True
    shift: int = 1  # random translation of the flow image, pixels
    seeds: int = 1  # an ensemble of this many networks (probabilities averaged)
    seed: int = 0
    threads: int = 1
    chunk: int = 17  # folds trained side by side (and saved) at a time
    view: str = "flow"  # "flow" (the flow image) or "apex" (the apex frame, grey: features.apex_image)
    tta: bool = False  # average each network's softmax over the image and its mirror (u -> 255 - u)
    linear: float = 0.5  # weight of the logistic-regression member in the ensemble (0: networks only)
    linear_c: float = 0.05  # its inverse L2 regularisation (sklearn's C, balanced class weights)


def read_composite(path: str | os.PathLike) -> dict[str, np.ndarray]:
    """The MEGC 2019 composite file (``megc2019_composite.npz``): ``flow`` (N, 28, 28, 3) uint8, ``label``,
    ``subject``, ``dataset``, ``sample`` and ``classes``. Raises ``ValueError`` when a key is missing."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such file")
    with np.load(path, allow_pickle=False) as d:
        missing = [k for k in ("flow", "label", "subject") if k not in d.files]
        if missing:
            raise ValueError(f"{path}: missing key(s) {', '.join(missing)} (expected the MEGC composite layout)")
        out = {k: d[k] for k in d.files if k != "apex"}
        if "apex" in d.files:
            from mimetic.video.recognition.features import apex_image

            out["apex_image"] = np.stack([apex_image(a) for a in d["apex"]])
    flow = out["flow"]
    if flow.ndim != 4 or flow.shape[-1] != 3:
        raise ValueError(f"{path}: flow must be (N, H, W, 3), not {flow.shape}")
    n = len(flow)
    out.setdefault("dataset", np.array([""] * n))
    out.setdefault("sample", np.array([str(i) for i in range(n)]))
    out.setdefault("classes", np.array(MEGC_CLASSES))
    return out


def _torch():
    import torch

    return torch


def _grouped_module(groups: int, dropout: float, size: int = 28, channels: int = 3):
    """``groups`` independent STSTNet-like networks as one module: input (B, 3, S, S) in 0..255, output
    (B, groups, 3) logits.

    The 3x3 convolution of every network is one matrix product on the shared image patches (``unfold``), which is
    far cheaper on a CPU than a grouped convolution; its weights are ordinary ``Conv2d`` weights
    (:meth:`conv_weight`), which is how the exported graph computes it.
    """
    torch = _torch()
    nn = torch.nn
    width = sum(BRANCHES)
    pooled = -(-size // 3) // 2  # 28 -> 10 -> 5
    feats = width * pooled * pooled

    class Grouped(nn.Module):
        def __init__(self):
            super().__init__()
            self.groups = groups
            self.conv_w = nn.Parameter(torch.randn(9 * channels, groups * width) * (2.0 / (9 * channels)) ** 0.5)
            self.conv_b = nn.Parameter(torch.zeros(groups * width))
            self.norm = nn.GroupNorm(groups, width * groups)
            self.drop = nn.Dropout(dropout)
            self.fc_w = nn.Parameter(torch.randn(groups, feats, 3) * feats ** -0.5)
            self.fc_b = nn.Parameter(torch.zeros(groups, 3))

        def conv_weight(self):
            """(groups * 16, channels, 3, 3): the convolution as ``Conv2d`` weights."""
            return self.conv_w.T.reshape(groups * width, channels, 3, 3)

        def forward(self, x):
            b, _, h, w = x.shape
            x = (x / 255.0 - 0.5) / 0.25  # fixed scaling (no statistic of the data)
            cols = torch.nn.functional.unfold(x, 3, padding=1).transpose(1, 2)  # (B, H*W, 27)
            y = torch.matmul(cols, self.conv_w)  # (B, H*W, G*16)
            y = y.view(b, h, w, -1).permute(0, 3, 1, 2)  # channels-last view
            # max-pooling before the bias and ReLU gives the same result (both are monotonic), on 9x fewer values
            y = torch.nn.functional.max_pool2d(y, 3, 3, padding=1)
            return self._head(torch.relu(y + self.conv_b.view(1, -1, 1, 1)))

        def _head(self, y):
            b = y.shape[0]
            y = torch.nn.functional.avg_pool2d(self.norm(y.contiguous()), 2, 2)
            y = self.drop(y.reshape(b, self.groups, -1))
            return torch.einsum("bgf,gfc->bgc", y, self.fc_w) + self.fc_b

    return Grouped()


GroupedFlowNet = _grouped_module


def _mirror(x, view: str = "flow"):
    """The mirror image of a batch (B, C, S, S) in 0..255: of a flow image, the horizontal flow changes sign
    (``u -> 255 - u``)."""
    torch = _torch()
    x = torch.flip(x, dims=[3])
    if view == "flow":
        return torch.cat([255.0 - x[:, :1], x[:, 1:]], dim=1)
    return x


def _augment(xb, g, cfg: FlowNetConfig):
    torch = _torch()
    if cfg.flip:
        f = torch.rand(len(xb), generator=g) < 0.5
        if f.any():
            xb[f] = _mirror(xb[f], cfg.view)
    if cfg.shift:
        dx, dy = (torch.randint(-cfg.shift, cfg.shift + 1, (2,), generator=g)).tolist()
        if dx or dy:
            xb = torch.roll(xb, (dy, dx), dims=(2, 3))
    return xb


def _grouped_linear(groups: int, features: int):
    """``groups`` independent multinomial logistic regressions on the image pixels (scaled to 0..1): input
    (B, C, S, S) in 0..255, output (B, groups, 3) logits."""
    torch = _torch()
    nn = torch.nn

    class GroupedLinear(nn.Module):
        def __init__(self):
            super().__init__()
            self.w = nn.Parameter(torch.zeros(groups, features, 3))
            self.b = nn.Parameter(torch.zeros(groups, 3))

        def forward(self, x):
            return torch.einsum("bf,gfc->bgc", x.flatten(1) / 255.0, self.w) + self.b

    return GroupedLinear()


def _class_weights(y: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """(G, 3) balanced class weights of each network's own training samples (``n / (3 n_c)``)."""
    cw = np.zeros((weights.shape[1], 3), np.float32)
    for k in range(weights.shape[1]):
        counts = np.bincount(y, weights=weights[:, k], minlength=3)
        cw[k] = np.where(counts > 0, counts.sum() / np.maximum(counts, 1e-9) / 3, 0.0)
    return cw


def fit_linear(flow: np.ndarray, labels: np.ndarray, weights: np.ndarray, c: float = 0.05, steps: int = 300):
    """``weights.shape[1]`` logistic regressions side by side (as :func:`fit`): the pixels of ``flow`` (N, S, S, C)
    uint8 scaled to 0..1, balanced class weights, L2 penalty ``1 / c`` (sklearn's ``C``; the intercept is not
    penalised), full-batch L-BFGS. A convex fit: no seed, no epochs. Returns the grouped module in eval mode."""
    torch = _torch()
    n, groups = weights.shape
    y = np.asarray(labels, np.int64)
    x = torch.from_numpy(np.ascontiguousarray(flow.transpose(0, 3, 1, 2)).astype(np.float32))
    net = _grouped_linear(groups, int(np.prod(x.shape[1:])))
    yt = torch.from_numpy(y)
    w = torch.from_numpy(weights.astype(np.float32)) * torch.from_numpy(_class_weights(y, weights))[:, yt].T
    opt = torch.optim.LBFGS(net.parameters(), lr=1.0, max_iter=steps, history_size=20, line_search_fn="strong_wolfe")

    def closure():
        opt.zero_grad()
        logp = torch.log_softmax(net(x), dim=2)
        nll = -logp.gather(2, yt.view(-1, 1, 1).expand(-1, groups, 1)).squeeze(2)
        loss = c * (nll * w).sum() + 0.5 * (net.w ** 2).sum()
        loss.backward()
        return loss

    opt.step(closure)
    net.eval()
    return net


def fit(flow: np.ndarray, labels: np.ndarray, weights: np.ndarray, config: FlowNetConfig, seed: int,
        progress: Callable[[int], None] | None = None):
    """Train ``weights.shape[1]`` networks side by side. ``flow`` (N, S, S, 3) uint8, ``labels`` (N,) class indices,
    ``weights`` (N, G): 1 where sample ``n`` trains network ``g``, 0 where it must not (its held-out fold). Returns
    the grouped module in eval mode."""
    torch = _torch()
    cfg = config
    n, groups = weights.shape
    torch.manual_seed(seed)
    g = torch.Generator().manual_seed(seed)
    net = _grouped_module(groups, cfg.dropout, flow.shape[1], flow.shape[3])
    y = np.asarray(labels, np.int64)
    cw = _class_weights(y, weights)  # class weights per network, from its own training samples
    x = torch.from_numpy(np.ascontiguousarray(flow.transpose(0, 3, 1, 2)).astype(np.float32))
    yt = torch.from_numpy(y)
    wt = torch.from_numpy(weights.astype(np.float32))
    cwt = torch.from_numpy(cw)
    opt = torch.optim.Adam(net.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=max(cfg.epochs, 1))
    net.train()
    for epoch in range(cfg.epochs):
        order = torch.randperm(n, generator=g)
        for i in range(0, n, cfg.batch):
            idx = order[i:i + cfg.batch]
            if len(idx) < 2:
                continue
            xb = _augment(x[idx].clone(), g, cfg)
            logp = torch.log_softmax(net(xb), dim=2)  # (B, G, 3)
            yb = yt[idx]
            nll = -logp.gather(2, yb.view(-1, 1, 1).expand(-1, groups, 1)).squeeze(2)  # (B, G)
            w = wt[idx] * cwt[:, yb].T  # (B, G): sample mask x class weight
            loss = ((nll * w).sum(0) / w.sum(0).clamp_min(1e-6)).sum()
            opt.zero_grad()
            loss.backward()
            opt.step()
        sched.step()
        if progress is not None:
            progress(epoch + 1)
    net.eval()
    return net


def _predict(net, flow: np.ndarray, tta: bool = False, view: str = "flow"):
    """(N, G, 3) softmax of each network; with ``tta`` averaged over the image and its mirror."""
    torch = _torch()
    x = torch.from_numpy(np.ascontiguousarray(flow.transpose(0, 3, 1, 2)).astype(np.float32))
    with torch.no_grad():
        p = torch.softmax(net(x), dim=2)
        if tta:
            p = 0.5 * (p + torch.softmax(net(_mirror(x, view)), dim=2))
        return p.numpy()


def scores(y_true: np.ndarray, y_pred: np.ndarray, datasets: np.ndarray | None = None) -> dict[str, Any]:
    """UF1, UAR and accuracy over the pooled predictions, overall and per database, with the confusion matrix."""
    y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)

    def one(m):
        return {"n": int(m.sum()), "uf1": round(uf1(y_true[m], y_pred[m], 3), 4),
                "uar": round(uar(y_true[m], y_pred[m], 3), 4),
                "accuracy": round(float((y_true[m] == y_pred[m]).mean()), 4) if m.any() else 0.0}

    out = one(np.ones(len(y_true), bool))
    conf = np.zeros((3, 3), np.int64)
    for t, p in zip(y_true, y_pred):
        conf[t, p] += 1
    out["confusion"] = conf.tolist()
    if datasets is not None:
        out["databases"] = {str(d): one(np.asarray(datasets) == d) for d in sorted(set(datasets)) if d}
    return out


def loso(data: dict[str, np.ndarray], out: str | os.PathLike, config: FlowNetConfig | None = None, *,
         resume: bool = True, log: Callable[[str], None] = print) -> dict[str, Any]:
    """Leave-one-subject-out evaluation of the recipe ``config`` on ``data`` (:func:`read_composite`).

    Writes ``out/folds.jsonl`` (one line per chunk of folds: the held-out subjects and their probabilities per
    seed; seed ``"linear"``: the logistic regression's), then ``out/loso.json`` (scores of the ensemble, of each
    network with the linear member (``per_seed``, ``seed_spread``) and of the members alone (``members``), overall
    and per database, the confusion matrix) and ``out/predictions.csv``. With ``resume``, chunks already in
    ``folds.jsonl`` (same recipe) are not trained again.
    """
    torch = _torch()
    cfg = config or FlowNetConfig()
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    flow = np.asarray(data["flow" if cfg.view == "flow" else "apex_image"], np.uint8)
    y = np.asarray(data["label"], np.int64)
    subj = np.asarray([str(s) for s in data["subject"]])
    dbs = np.asarray([str(s) for s in data.get("dataset", [""] * len(y))])
    subjects = sorted(set(subj))
    recipe = asdict(cfg)
    recipe.pop("threads")
    if recipe["view"] == "flow":  # the default view is not named (journals written before the apex view match)
        recipe.pop("view")
    journal = out / "folds.jsonl"
    # (seed, subject) -> probabilities of its samples; seed "linear": the logistic-regression member
    done: dict[tuple[int | str, str], list[list[float]]] = {}
    if resume and journal.is_file():
        for line in journal.read_text().splitlines():
            try:
                rec = json.loads(line)
            except ValueError:
                continue  # a line cut by an interrupted write
            if rec.get("recipe") == recipe and rec.get("n") == len(y):
                for s, probs in rec["probs"].items():
                    done[(rec["seed"], s)] = probs
        if done:
            log(f"resuming: {len(done)} (seed, fold) results already in {journal}")
    elif journal.is_file():
        journal.unlink()
    threads = torch.get_num_threads()
    torch.set_num_threads(max(1, cfg.threads))
    t0 = time.perf_counter()
    try:
        for k in range(cfg.seeds):
            seed = cfg.seed + k
            todo = [s for s in subjects if (seed, s) not in done]
            for c in range(0, len(todo), cfg.chunk):
                part = todo[c:c + cfg.chunk]
                weights = np.stack([(subj != s).astype(np.float32) for s in part], axis=1)
                t1 = time.perf_counter()
                net = fit(flow, y, weights, cfg, seed * 1000 + subjects.index(part[0]))
                p = _predict(net, flow, cfg.tta, cfg.view)
                probs = {s: p[subj == s, j].round(5).tolist() for j, s in enumerate(part)}
                done.update({(seed, s): v for s, v in probs.items()})
                with journal.open("a") as f:
                    f.write(json.dumps({"recipe": recipe, "n": len(y), "seed": seed, "probs": probs}) + "\n")
                log(f"seed {seed}: folds {len([1 for (sd, _) in done if sd == seed])}/{len(subjects)} "
                    f"({time.perf_counter() - t1:.0f} s for {len(part)})")
        todo = [s for s in subjects if ("linear", s) not in done] if cfg.linear > 0 else []
        if todo:
            t1 = time.perf_counter()
            weights = np.stack([(subj != s).astype(np.float32) for s in todo], axis=1)
            p = _predict(fit_linear(flow, y, weights, cfg.linear_c), flow)
            probs = {s: p[subj == s, j].round(5).tolist() for j, s in enumerate(todo)}
            done.update({("linear", s): v for s, v in probs.items()})
            with journal.open("a") as f:
                f.write(json.dumps({"recipe": recipe, "n": len(y), "seed": "linear", "probs": probs}) + "\n")
            log(f"logistic regression: {len(todo)} folds ({time.perf_counter() - t1:.0f} s)")
    finally:
        torch.set_num_threads(threads)
    P = np.zeros((cfg.seeds, len(y), 3), np.float32)
    for k in range(cfg.seeds):
        for s in subjects:
            P[k, subj == s] = np.asarray(done[(cfg.seed + k, s)], np.float32)
    a = cfg.linear
    lin = np.zeros((len(y), 3), np.float32)
    if a > 0:
        for s in subjects:
            lin[subj == s] = np.asarray(done[("linear", s)], np.float32)
    # each network with the linear member (its seed-to-seed spread), and the whole ensemble
    per_seed = [scores(y, ((1 - a) * P[k] + a * lin).argmax(1), dbs) for k in range(cfg.seeds)]
    ens = (1 - a) * P.mean(0) + a * lin
    members = {"networks": scores(y, P.mean(0).argmax(1), dbs)}
    if a > 0:
        members["linear"] = scores(y, lin.argmax(1), dbs)
    result = {"recipe": recipe, "classes": list(MEGC_CLASSES), "subjects": len(subjects), "samples": len(y),
              "ensemble": scores(y, ens.argmax(1), dbs), "per_seed": per_seed, "members": members,
              "seed_spread": {m: round(float(np.ptp([r[m] for r in per_seed])), 4) for m in ("uf1", "uar")},
              "seconds": round(time.perf_counter() - t0, 1)}
    (out / "loso.json").write_text(json.dumps(result, indent=1))
    import csv

    with (out / "predictions.csv").open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["sample", "subject", "dataset", "label", "predicted", *[f"p_{c}" for c in MEGC_CLASSES]])
        names = data.get("sample", np.arange(len(y)))
        for i in range(len(y)):
            w.writerow([names[i], subj[i], dbs[i], MEGC_CLASSES[y[i]], MEGC_CLASSES[int(ens[i].argmax())],
                        *[f"{v:.4f}" for v in ens[i]]])
    return result


def _ensemble_module(networks, linear=None, weight: float = 0.0, tta: bool = False, view: str = "flow"):
    """The recogniser of one view as one module: input (B, C, S, S) in 0..255, output (B, 3) probabilities:
    ``(1 - weight) *`` the mean softmax of the grouped ``networks`` (with ``tta`` averaged over the image and its
    mirror) ``+ weight *`` the softmax of the logistic regression ``linear``."""
    torch = _torch()

    class Ensemble(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.networks = networks
            self.linear = linear

        def forward(self, x):
            p = torch.softmax(self.networks(x), dim=2).mean(dim=1)
            if tta:
                p = 0.5 * (p + torch.softmax(self.networks(_mirror(x, view)), dim=2).mean(dim=1))
            if self.linear is None:
                return p
            return (1.0 - weight) * p + weight * torch.softmax(self.linear(x), dim=2)[:, 0]

    return Ensemble().eval()


def train_final(data: dict[str, np.ndarray], config: FlowNetConfig | None = None):
    """The recipe trained on every sample, as one module (input (B, C, 28, 28) in 0..255, output (B, 3)
    probabilities): the ``seeds`` networks (grouped, softmax averaged; with ``tta`` also over the mirror image) and,
    with ``linear`` > 0, the logistic regression, weighted as in :func:`loso`."""
    cfg = config or FlowNetConfig()
    torch = _torch()
    threads = torch.get_num_threads()
    torch.set_num_threads(max(1, cfg.threads))
    try:
        y = np.asarray(data["label"], np.int64)
        weights = np.ones((len(y), cfg.seeds), np.float32)
        x = np.asarray(data["flow" if cfg.view == "flow" else "apex_image"], np.uint8)
        net = fit(x, y, weights, cfg, cfg.seed * 1000 + 999)
        lin = fit_linear(x, y, weights[:, :1], cfg.linear_c) if cfg.linear > 0 else None
        return _ensemble_module(net, lin, cfg.linear, cfg.tta, cfg.view)
    finally:
        torch.set_num_threads(threads)


def export_onnx(net, path: str | os.PathLike, *, apex_net=None, fusion: float = 0.5,
                metadata: dict[str, str] | None = None) -> Path:
    """Export a recogniser of :func:`train_final` as ONNX: input ``flow`` (N, 3, 28, 28) float32 in 0..255 (the
    flow image, channels first), output ``probs`` (N, 3). With ``apex_net`` (the apex view's recogniser) also the
    input ``apex`` (N, 1, 28, 28), and ``probs = fusion * flow + (1 - fusion) * apex``. Checks onnxruntime against
    torch."""
    torch = _torch()
    import onnx

    from mimetic.media.atomic import atomic_path

    class Mean(torch.nn.Module):
        def __init__(self, inner, apex=None):
            super().__init__()
            self.inner = inner
            self.apex = apex

        def forward(self, flow, apex=None):
            p = self.inner(flow)
            if self.apex is None:
                return p
            return fusion * p + (1.0 - fusion) * self.apex(apex)

    wrapper = Mean(net, apex_net).eval()
    path = Path(path)
    rng = np.random.default_rng(0)
    x = torch.from_numpy(rng.integers(0, 256, (4, 3, 28, 28)).astype(np.float32))
    a = torch.from_numpy(rng.integers(0, 256, (4, 1, 28, 28)).astype(np.float32))
    inputs = (x,) if apex_net is None else (x, a)
    names = ["flow"] if apex_net is None else ["flow", "apex"]
    with atomic_path(path) as tmp:
        torch.onnx.export(wrapper, inputs, str(tmp), input_names=names, output_names=["probs"],
                          dynamic_axes={**{n: {0: "n"} for n in names}, "probs": {0: "n"}}, opset_version=17,
                          dynamo=False)
        model = onnx.load(str(tmp))
        meta = {"classes": json.dumps(list(MEGC_CLASSES)), "input": "flow image (u, v, strain) 0..255, NCHW"
                + ("; apex: grey face 0..255, NCHW" if apex_net is not None else ""),
                "fusion": str(fusion if apex_net is not None else 1.0), **(metadata or {})}
        for k, v in meta.items():
            p = model.metadata_props.add()
            p.key, p.value = k, str(v)
        onnx.save(model, str(tmp))
        from mimetic.expression.runtime import onnx_session

        sess = onnx_session(tmp)
        got = sess.run(["probs"], {n: t.numpy() for n, t in zip(names, inputs)})[0]
        with torch.no_grad():
            want = wrapper(*inputs).numpy()
        if np.abs(got - want).max() > 1e-4:
            raise RuntimeError(f"onnxruntime and torch disagree by {np.abs(got - want).max():.2e}")
    return path


def read_predictions(folder: str | os.PathLike) -> np.ndarray:
    """(N, 3) ensemble probabilities of a LOSO run (``folder/predictions.csv``, in the data's order)."""
    import csv

    with (Path(folder) / "predictions.csv").open() as f:
        rows = list(csv.DictReader(f))
    return np.array([[float(r[f"p_{c}"]) for c in MEGC_CLASSES] for r in rows], np.float32)


def fused_scores(data: dict[str, np.ndarray], flow_run: str | os.PathLike, apex_run: str | os.PathLike,
                 fusion: float = 0.5) -> dict[str, Any]:
    """Scores of ``fusion * flow + (1 - fusion) * apex`` over two LOSO runs' pooled probabilities (the weight is
    fixed beforehand, never fitted on the held-out predictions)."""
    p = fusion * read_predictions(flow_run) + (1.0 - fusion) * read_predictions(apex_run)
    dbs = np.asarray([str(s) for s in data.get("dataset", [""] * len(p))])
    return scores(np.asarray(data["label"], np.int64), p.argmax(1), dbs)

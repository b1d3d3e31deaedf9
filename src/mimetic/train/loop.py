"""The training loop: augmentation, soft-label loss, class balance, cosine schedule, checkpoints and exact resume.

Everything runs in the main process on in-memory crops (35 k crops of 64×64 are 146 MB): augmentation is done on
whole batches with torch ops drawn from one seeded ``torch.Generator``, so a run is reproducible from its seed and
a resumed run continues bit for bit (same thread count) from where it stopped.

Checkpoints (``out_dir``):

- ``last.pt``: written at the end of every epoch and every ``checkpoint_minutes`` inside an epoch, atomically;
  holds the model, optimiser, scheduler, RNG states (the loop's generator, torch's global one, Python's and
  numpy's), the epoch, the step inside the epoch and that epoch's sample order, the best metric and the history.
- ``best.pt``: the weights with the best validation accuracy so far (model + config + metrics only).
- ``log.jsonl``: one JSON object per line: ``{"event": "step" | "epoch" | "start" | "resume", ...}``.
"""

from __future__ import annotations

import json
import math
import os
import random
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from mimetic.train.net import NetConfig, build

CHECKPOINT_FORMAT = 1


@dataclass
class AugConfig:
    """Batch augmentation. The affine jitter (shift, scale, rotation) is the "random crop"."""

    flip: float = 0.5             # probability of a horizontal flip
    rotate: float = 10.0          # degrees, uniform in ±rotate
    scale: tuple[float, float] = (0.9, 1.1)
    shift: float = 0.08           # fraction of the crop side, uniform in ±shift, x and y
    brightness: float = 0.15      # additive, fraction of 255, uniform in ±brightness
    contrast: tuple[float, float] = (0.75, 1.25)
    gamma: tuple[float, float] = (0.8, 1.25)
    resample: float = 0.25        # probability of a down-and-up resampling (sharpness differences)
    resample_min: int = 28        # smallest intermediate side in that case
    erase: float = 0.4            # probability of one random-erasing rectangle (noise-filled)
    erase_area: tuple[float, float] = (0.02, 0.15)
    # the domain gap between 48-px web crops and other faces (off by default; ``DOMAIN`` switches them on)
    blur: float = 0.0             # probability of a Gaussian blur, σ uniform in blur_sigma (px)
    blur_sigma: tuple[float, float] = (0.5, 1.3)
    sharpen: float = 0.0          # probability of an unsharp mask (σ 1 px), amount uniform in sharpen_amount
    sharpen_amount: tuple[float, float] = (0.5, 1.5)
    noise: float = 0.0            # probability of additive Gaussian noise, σ uniform in noise_sigma (grey levels)
    noise_sigma: tuple[float, float] = (2.0, 10.0)


#: The domain-gap augmentation of issue 25 (``train(..., domain_aug=True)``, ``--domain-aug``): blur, sharpening
#: and sensor noise on top of the default resampling, photometric jitter and erasing.
DOMAIN = {"blur": 0.2, "sharpen": 0.15, "noise": 0.25}


@dataclass
class TrainConfig:
    out_dir: str
    epochs: int = 40
    batch_size: int = 64
    lr: float = 0.05
    optimizer: str = "sgd"        # sgd (Nesterov momentum) | adamw
    momentum: float = 0.9
    weight_decay: float = 5e-4
    warmup_epochs: float = 1.0
    balance: str = "sqrt"         # none | sqrt (loss weights ∝ 1/sqrt(freq)) | inverse (∝ 1/freq) | sampler
    targets: str = "soft"         # soft (the vote distribution) | majority (one-hot of the argmax)
    threads: int = 1
    seed: int = 0
    checkpoint_minutes: float = 10.0
    log_every: int = 50
    progress: bool = True
    max_steps: int | None = None  # stop after this many steps in total (smoke runs, tests)
    widths: tuple[int, ...] = (32, 64, 128, 176)
    blocks: tuple[int, ...] = (1, 2, 2, 1)
    dropout: float = 0.3
    aug: AugConfig = field(default_factory=AugConfig)
    #: weight of the auxiliary head's loss (cross-entropy on its hard labels, same class balancing), when the data
    #: has auxiliary labels
    aux_weight: float = 1.0
    #: start from the weights of this checkpoint (best.pt/last.pt; heads it lacks start fresh) instead of random
    init_from: str | None = None
    #: which validation figure picks best.pt: valid_acc (main head) or valid_mean (mean of both heads' accuracy)
    best_metric: str = "valid_acc"
    #: fp32, or bf16: forward and backward under bfloat16 autocast (weights, optimizer and losses stay float32);
    #: about 2× faster on CPUs with AVX-512 BF16 or AMX, slower on others
    precision: str = "fp32"
    #: class balancing of the auxiliary head's loss (default: the same as ``balance``)
    aux_balance: str | None = None
    #: distillation: an exported ONNX model (one network or an ensemble, same classes and crop size) whose
    #: probabilities on the un-augmented training crops are mixed into the targets (and into the auxiliary
    #: head's, when both have one): target = (1 − teacher_weight) · labels + teacher_weight · teacher
    teacher: str | None = None
    teacher_weight: float = 0.5

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class TrainData:
    """Aligned crops and their targets. ``valid_*`` may be empty (then no validation and no best.pt)."""

    classes: tuple[str, ...]
    train_x: np.ndarray   # (N, S, S) uint8
    train_y: np.ndarray   # (N, C) float32 rows summing to 1
    valid_x: np.ndarray
    valid_y: np.ndarray
    source: str = ""
    detail: int | None = None  # the source images' resolution when below the crop size (48 for FER2013)
    #: a second label set for the auxiliary head: class names and one index per crop (-1: no label)
    aux_classes: tuple[str, ...] = ()
    train_aux: np.ndarray | None = None
    valid_aux: np.ndarray | None = None

    @property
    def size(self) -> int:
        return int(self.train_x.shape[-1])


# -- augmentation ----------------------------------------------------------------------------------------------
def _uniform(g: torch.Generator, n: int, lo: float, hi: float) -> torch.Tensor:
    return torch.rand(n, generator=g) * (hi - lo) + lo


def _gaussian(x: torch.Tensor, sigma: torch.Tensor, radius: int = 3) -> torch.Tensor:
    """Each image of ``x`` (N, 1, S, S) blurred with its own Gaussian σ (N,), separable, borders repeated."""
    n = x.shape[0]
    t = torch.arange(-radius, radius + 1, dtype=x.dtype)
    k = torch.exp(-0.5 * (t[None, :] / sigma[:, None].clamp(min=1e-3)) ** 2)
    k = (k / k.sum(1, keepdim=True))[:, None, None, :]  # (N, 1, 1, K)
    y = F.pad(x.transpose(0, 1), (radius, radius, 0, 0), mode="replicate")  # (1, N, S, S + 2r)
    y = F.conv2d(y, k, groups=n)
    y = F.pad(y, (0, 0, radius, radius), mode="replicate")
    return F.conv2d(y, k.transpose(2, 3), groups=n).transpose(0, 1)


def augment(x: torch.Tensor, a: AugConfig, g: torch.Generator) -> torch.Tensor:
    """``x`` (N, 1, S, S) float 0..255 → augmented copy, every draw from ``g``."""
    n, _, s, _ = x.shape
    if a.flip > 0:
        flip = torch.rand(n, generator=g) < a.flip
        x = torch.where(flip[:, None, None, None], x.flip(-1), x)
    # affine jitter (random crop + zoom + rotation), border pixels repeated like align_crop does
    ang = _uniform(g, n, -a.rotate, a.rotate) * (math.pi / 180)
    sc = _uniform(g, n, *a.scale)
    tx = _uniform(g, n, -a.shift, a.shift) * 2
    ty = _uniform(g, n, -a.shift, a.shift) * 2
    cos, sin = torch.cos(ang) / sc, torch.sin(ang) / sc
    theta = torch.stack([torch.stack([cos, -sin, tx], 1), torch.stack([sin, cos, ty], 1)], 1)
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)
    x = F.grid_sample(x, grid, mode="bilinear", padding_mode="border", align_corners=False)
    if a.resample > 0:
        pick = torch.rand(n, generator=g) < a.resample
        side = int(torch.randint(a.resample_min, s, (1,), generator=g))
        if pick.any():
            low = F.interpolate(x[pick], size=(side, side), mode="area")
            x = x.clone()
            x[pick] = F.interpolate(low, size=(s, s), mode="bilinear", align_corners=False)
    # photometric: contrast around the image mean, brightness, gamma
    c = _uniform(g, n, *a.contrast)[:, None, None, None]
    b = (_uniform(g, n, -a.brightness, a.brightness) * 255)[:, None, None, None]
    m = x.mean(dim=(1, 2, 3), keepdim=True)
    x = ((x - m) * c + m + b).clamp(0, 255)
    gam = _uniform(g, n, *a.gamma)[:, None, None, None]
    x = 255.0 * (x / 255.0).pow(gam)
    if a.blur > 0:
        on = torch.rand(n, generator=g) < a.blur
        x = torch.where(on[:, None, None, None], _gaussian(x, _uniform(g, n, *a.blur_sigma)), x)
    if a.sharpen > 0:
        on = (torch.rand(n, generator=g) < a.sharpen)[:, None, None, None]
        amt = _uniform(g, n, *a.sharpen_amount)[:, None, None, None]
        x = torch.where(on, (x + amt * (x - _gaussian(x, torch.ones(n)))).clamp(0, 255), x)
    if a.noise > 0:
        on = (torch.rand(n, generator=g) < a.noise)[:, None, None, None]
        sd = _uniform(g, n, *a.noise_sigma)[:, None, None, None]
        x = torch.where(on, (x + sd * torch.randn(x.shape, generator=g)).clamp(0, 255), x)
    if a.erase > 0:
        on = (torch.rand(n, generator=g) < a.erase)[:, None, None, None]
        area = _uniform(g, n, *a.erase_area) * s * s
        ratio = torch.exp(_uniform(g, n, math.log(0.3), math.log(3.3)))
        h = (area * ratio).sqrt().clamp(1, s - 1)
        w = (area / ratio).sqrt().clamp(1, s - 1)
        y0 = torch.rand(n, generator=g) * (s - h)
        x0 = torch.rand(n, generator=g) * (s - w)
        ar = torch.arange(s, dtype=torch.float32)
        rows = (ar[None, :] >= y0[:, None]) & (ar[None, :] < (y0 + h)[:, None])
        cols = (ar[None, :] >= x0[:, None]) & (ar[None, :] < (x0 + w)[:, None])
        box = (rows[:, :, None] & cols[:, None, :])[:, None] & on
        noise = torch.rand(x.shape, generator=g) * 255
        x = torch.where(box, noise, x)
    return x


# -- distillation ----------------------------------------------------------------------------------------------
def teacher_probs(teacher: str | os.PathLike, data: "TrainData", cache: Path | None = None, *,
                  echo: Callable[[str], None] = print) -> tuple[np.ndarray, np.ndarray | None]:
    """The teacher's probabilities on ``data.train_x`` (main head, and the auxiliary head when the teacher and
    the data both have the same one), computed once with onnxruntime and kept in ``cache`` (reused by a resumed
    run only when the teacher file and the crops are the same)."""
    from mimetic.expression.fusion import file_sha256
    from mimetic.expression.model import ExpressionModel

    key = f"{file_sha256(teacher)}:{len(data.train_x)}:{data.size}:{int(data.train_x[:64].sum())}"
    if cache is not None and cache.is_file():
        with np.load(cache, allow_pickle=False) as z:
            if str(z["key"]) == key:
                return z["main"], (z["aux"] if z["aux"].size else None)
    m = ExpressionModel(teacher, threads=max(1, torch.get_num_threads()))
    if tuple(m.classes) != tuple(data.classes):
        raise ValueError(f"teacher {teacher}: classes {list(m.classes)} differ from the data's {list(data.classes)}")
    if m.size != data.size:
        raise ValueError(f"teacher {teacher}: crop size {m.size} differs from the data's {data.size}")
    use_aux = bool(data.aux_classes) and tuple(m.aux_classes) == tuple(data.aux_classes)
    t0 = time.perf_counter()
    pm = m.predict(data.train_x)
    pa = m.predict_aux(data.train_x) if use_aux else None
    echo(f"teacher {Path(teacher).name}: probabilities of {len(pm)} training crops in "
         f"{time.perf_counter() - t0:.0f} s (agrees with the majority label on "
         f"{100 * float((pm.argmax(1) == data.train_y.argmax(1)).mean()):.1f} %)"
         + ("; auxiliary head too" if use_aux else ""))
    if cache is not None:
        from mimetic.media.atomic import atomic_path

        with atomic_path(cache) as tmp, open(tmp, "wb") as fh:
            np.savez(fh, key=np.array(key), main=pm, aux=pa if pa is not None else np.zeros(0, np.float32))
    return pm, pa


# -- loss and balance ------------------------------------------------------------------------------------------
def class_weights(targets: np.ndarray, mode: str) -> np.ndarray:
    """Per-class loss weights from the training targets, normalised so the average sample weight is 1."""
    freq = np.asarray(targets, dtype=np.float64).sum(0)
    freq = np.maximum(freq / freq.sum(), 1e-6)
    if mode in ("none", "sampler"):
        w = np.ones_like(freq)
    elif mode == "sqrt":
        w = 1 / np.sqrt(freq)
    elif mode == "inverse":
        w = 1 / freq
    else:
        raise ValueError(f"balance must be none, sqrt, inverse or sampler, not {mode!r}")
    return (w / (freq * w).sum()).astype(np.float32)


def soft_cross_entropy(logits: torch.Tensor, targets: torch.Tensor, weights: torch.Tensor | None = None) -> torch.Tensor:
    """Mean over the batch of ``-Σ_c w_c t_c log p_c``."""
    logp = F.log_softmax(logits, dim=1)
    t = targets if weights is None else targets * weights
    return -(t * logp).sum(1).mean()


def lr_factor(step: int, warmup: int, total: int) -> float:
    """Linear warm-up to 1 over ``warmup`` steps, then cosine to 0 at ``total``."""
    if step < warmup:
        return (step + 1) / warmup
    if total <= warmup:
        return 1.0
    t = min(1.0, (step - warmup) / (total - warmup))
    return 0.5 * (1 + math.cos(math.pi * t))


# -- checkpoints -----------------------------------------------------------------------------------------------
def save_checkpoint(path: Path, state: dict) -> None:
    from mimetic.media.atomic import atomic_path

    with atomic_path(path) as tmp:
        torch.save(state, tmp)


def load_checkpoint(path: str | Path) -> dict:
    state = torch.load(path, map_location="cpu", weights_only=False)
    if state.get("format") != CHECKPOINT_FORMAT:
        raise ValueError(f"{path}: not a mimetic training checkpoint (format {state.get('format')!r})")
    return state


def model_from_checkpoint(path: str | Path) -> tuple[torch.nn.Module, dict]:
    """The network (eval mode) and the checkpoint dict, from ``best.pt`` or ``last.pt``."""
    state = load_checkpoint(path)
    model = build(NetConfig.from_dict(state["net"]))
    model.load_state_dict(state["model"])
    model.eval()
    return model, state


# -- evaluation during training --------------------------------------------------------------------------------
@torch.no_grad()
def predict_probs(model: torch.nn.Module, crops: np.ndarray, batch: int = 256, *, head: str = "main") -> np.ndarray:
    """Softmax probabilities of ``model`` on uint8 crops, in batches; ``head="aux"``: the auxiliary head's."""
    was = model.training
    model.eval()
    out = []
    for i in range(0, len(crops), batch):
        x = torch.from_numpy(np.ascontiguousarray(crops[i:i + batch])).float()[:, None]
        logits = model(x) if head == "main" else model.forward_all(x)[1]
        out.append(torch.softmax(logits, 1).numpy())
    model.train(was)
    return np.concatenate(out) if out else np.zeros((0, 0), np.float32)


def predict_aux_probs(model: torch.nn.Module, crops: np.ndarray, batch: int = 256) -> np.ndarray:
    """The auxiliary head's probabilities (the model must have one)."""
    return predict_probs(model, crops, batch, head="aux")


def validate(model: torch.nn.Module, x: np.ndarray, y: np.ndarray, classes, aux: np.ndarray | None = None,
             aux_classes=()) -> dict:
    from mimetic.train.metrics import metrics

    p = predict_probs(model, x)
    m = metrics(y.argmax(1), p.argmax(1), classes)
    loss = float(-(y * np.log(np.clip(p, 1e-7, 1))).sum(1).mean())
    row = {"valid_loss": loss, "valid_acc": m["accuracy"], "valid_macro_f1": m["macro_f1"],
           "valid_recall": m["recall"]}
    if aux is not None and aux_classes and (aux >= 0).any():
        keep = aux >= 0
        pa = predict_aux_probs(model, x[keep])
        ma = metrics(aux[keep], pa.argmax(1), aux_classes)
        row.update(valid_aux_acc=ma["accuracy"], valid_aux_macro_f1=ma["macro_f1"],
                   valid_mean=(m["accuracy"] + ma["accuracy"]) / 2)
    return row


# -- the loop --------------------------------------------------------------------------------------------------
class _Log:
    def __init__(self, path: Path):
        self.fh = open(path, "a", encoding="utf-8")

    def __call__(self, **row) -> None:
        row = {"time": round(time.time(), 3), **row}
        self.fh.write(json.dumps(row) + "\n")
        self.fh.flush()

    def close(self) -> None:
        self.fh.close()


def _rng_states(g: torch.Generator) -> dict:
    return {"loop": g.get_state(), "torch": torch.get_rng_state(), "python": random.getstate(),
            "numpy": np.random.get_state()}


def _set_rng_states(g: torch.Generator, s: dict) -> None:
    g.set_state(s["loop"])
    torch.set_rng_state(s["torch"])
    random.setstate(s["python"])
    np.random.set_state(s["numpy"])


def fit(data: TrainData, cfg: TrainConfig, *, resume: bool = False,
        echo: Callable[[str], None] = print) -> dict:
    """Train; returns ``{"best": path or None, "last": path, "history": [...], "stopped_early": bool}``.

    ``resume=True`` continues from ``out_dir/last.pt`` (the data, classes and crop size must match)."""
    out = Path(cfg.out_dir)
    out.mkdir(parents=True, exist_ok=True)
    torch.set_num_threads(max(1, int(cfg.threads)))
    n = len(data.train_x)
    if n < 2:
        raise ValueError("need at least 2 training images")
    bs = min(cfg.batch_size, n)
    steps_per_epoch = n // bs
    total_steps = cfg.epochs * steps_per_epoch
    warmup = max(1, int(round(cfg.warmup_epochs * steps_per_epoch)))

    has_aux = bool(data.aux_classes) and data.train_aux is not None
    net_cfg = NetConfig(classes=tuple(data.classes), size=data.size, widths=tuple(cfg.widths),
                        blocks=tuple(cfg.blocks), dropout=cfg.dropout, detail=data.detail,
                        aux_classes=tuple(data.aux_classes) if has_aux else ())
    random.seed(cfg.seed)
    np.random.seed(cfg.seed % 2**32)
    torch.manual_seed(cfg.seed)
    g = torch.Generator().manual_seed(cfg.seed + 1)
    model = build(net_cfg)
    if cfg.init_from and not resume:
        init = load_checkpoint(cfg.init_from)["model"]
        own = model.state_dict()
        usable = {k: v for k, v in init.items() if k in own and own[k].shape == v.shape}
        model.load_state_dict(usable, strict=False)
        fresh = sorted({k.rsplit(".", 1)[0] for k in own if k not in usable})
        echo(f"initialised from {cfg.init_from}" + (f" (fresh: {', '.join(fresh)})" if fresh else ""))
    if cfg.best_metric not in ("valid_acc", "valid_mean"):
        raise ValueError(f"best_metric must be valid_acc or valid_mean, not {cfg.best_metric!r}")
    best_key = cfg.best_metric if has_aux else "valid_acc"
    if cfg.precision not in ("fp32", "bf16"):
        raise ValueError(f"precision must be fp32 or bf16, not {cfg.precision!r}")
    model = model.to(memory_format=torch.channels_last)  # NHWC: faster convolutions on the CPU (same weights)
    if cfg.optimizer == "sgd":
        opt = torch.optim.SGD(model.parameters(), lr=cfg.lr, momentum=cfg.momentum, nesterov=True,
                              weight_decay=cfg.weight_decay)
    elif cfg.optimizer == "adamw":
        opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    else:
        raise ValueError(f"optimizer must be sgd or adamw, not {cfg.optimizer!r}")
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: lr_factor(s, warmup, total_steps))

    targets = data.train_y if cfg.targets == "soft" else (np.eye(len(data.classes), dtype=np.float32)[
        data.train_y.argmax(1)] * data.train_y.sum(1, keepdims=True))  # a row's sum is its weight (synthetic rows)
    cw = class_weights(targets, cfg.balance)  # from the labels alone, with or without a teacher
    weights = torch.from_numpy(cw)
    sample_p = None
    if cfg.balance == "sampler":
        inv = class_weights(targets, "inverse")
        sample_p = torch.from_numpy((targets * inv).sum(1).astype(np.float64))
    teacher_main = teacher_aux = None
    if cfg.teacher:
        if not 0.0 < cfg.teacher_weight <= 1.0:
            raise ValueError(f"teacher_weight must be in (0, 1], not {cfg.teacher_weight!r}")
        teacher_main, teacher_aux = teacher_probs(cfg.teacher, data, out / "teacher.npz", echo=echo)
        targets = ((1 - cfg.teacher_weight) * targets
                   + cfg.teacher_weight * teacher_main * targets.sum(1, keepdims=True)).astype(np.float32)
    xs = torch.from_numpy(np.ascontiguousarray(data.train_x))
    ys = torch.from_numpy(np.ascontiguousarray(targets, dtype=np.float32))
    if has_aux:
        ya = torch.from_numpy(np.asarray(data.train_aux, dtype=np.int64))
        labelled = np.asarray(data.train_aux)[np.asarray(data.train_aux) >= 0]
        aux_w = torch.from_numpy(class_weights(np.eye(len(data.aux_classes), dtype=np.float32)[labelled],
                                               cfg.aux_balance or cfg.balance))
        yas = None  # soft auxiliary targets, with a teacher that has the same auxiliary head
        if teacher_aux is not None:
            hard = np.zeros((n, len(data.aux_classes)), np.float32)
            ok = np.asarray(data.train_aux) >= 0
            hard[ok, np.asarray(data.train_aux)[ok]] = 1.0
            yas = torch.from_numpy((1 - cfg.teacher_weight) * hard
                                   + cfg.teacher_weight * teacher_aux * ok[:, None]).float()

    data_sig = {"n_train": n, "n_valid": int(len(data.valid_x)), "size": data.size, "classes": list(data.classes),
                "source": data.source, "aux_classes": list(net_cfg.aux_classes)}
    epoch, step_in_epoch, global_step = 0, 0, 0
    order: torch.Tensor | None = None
    best = {"metric": best_key, "value": None, "epoch": None}
    history: list[dict] = []
    epoch_loss = [0.0, 0]
    elapsed_before = 0.0
    log = _Log(out / "log.jsonl")
    last_path, best_path = out / "last.pt", out / "best.pt"
    if resume:
        if not last_path.is_file():
            raise FileNotFoundError(f"{last_path}: no checkpoint to resume from")
        st = load_checkpoint(last_path)
        if st["data"]["n_train"] != n or st["data"]["classes"] != list(data.classes) or st["data"]["size"] != data.size:
            raise ValueError(f"{last_path}: the checkpoint was made on other data ({st['data']}) than this run "
                             f"({data_sig})")
        model.load_state_dict(st["model"])
        opt.load_state_dict(st["optimizer"])
        sched.load_state_dict(st["scheduler"])
        epoch, step_in_epoch, global_step = st["epoch"], st["step_in_epoch"], st["global_step"]
        order = st["order"]
        best, history, epoch_loss = st["best"], st["history"], st["epoch_loss"]
        elapsed_before = st.get("elapsed", 0.0)
        _set_rng_states(g, st["rng"])
        log(event="resume", epoch=epoch, step_in_epoch=step_in_epoch, global_step=global_step)
        echo(f"resumed from {last_path}: epoch {epoch + 1}, step {step_in_epoch}/{steps_per_epoch}")
    else:
        log(event="start", config=cfg.to_dict(), data=data_sig, class_weights=cw.tolist())

    def state(kind: str) -> dict:
        return {"format": CHECKPOINT_FORMAT, "kind": kind, "net": net_cfg.to_dict(), "config": cfg.to_dict(),
                "data": data_sig, "model": model.state_dict(), "optimizer": opt.state_dict(),
                "scheduler": sched.state_dict(), "epoch": epoch, "step_in_epoch": step_in_epoch,
                "global_step": global_step, "order": order, "rng": _rng_states(g), "best": best,
                "history": history, "epoch_loss": epoch_loss, "class_weights": cw.tolist(),
                "elapsed": elapsed_before + (time.perf_counter() - t_start)}

    t_start = time.perf_counter()
    t_ckpt = time.monotonic()
    stopped = False
    model.train()
    bar = _Bar(cfg.progress, steps_per_epoch)
    try:
        while epoch < cfg.epochs and not stopped:
            if order is None:  # a new epoch: draw its sample order
                if sample_p is None:
                    order = torch.randperm(n, generator=g)
                else:
                    order = torch.multinomial(sample_p, n, replacement=True, generator=g)
                step_in_epoch, epoch_loss = 0, [0.0, 0]
            bar.start(epoch, cfg.epochs, step_in_epoch)
            t_epoch = time.perf_counter()
            while step_in_epoch < steps_per_epoch:
                idx = order[step_in_epoch * bs:(step_in_epoch + 1) * bs]
                x = augment(xs[idx].float()[:, None], cfg.aug, g).contiguous(memory_format=torch.channels_last)
                with torch.autocast("cpu", dtype=torch.bfloat16, enabled=cfg.precision == "bf16"):
                    main, aux = model.forward_all(x)
                loss = soft_cross_entropy(main.float(), ys[idx], weights)
                if has_aux and (ya[idx] >= 0).any():
                    if yas is not None:  # soft targets, averaged over the rows that have a label
                        k = (ya[idx] >= 0).float()
                        aux_loss = soft_cross_entropy(aux.float(), yas[idx], aux_w) * len(idx) / k.sum()
                    else:
                        aux_loss = F.cross_entropy(aux.float(), ya[idx], weight=aux_w, ignore_index=-1)
                    loss = loss + cfg.aux_weight * aux_loss
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
                sched.step()
                step_in_epoch += 1
                global_step += 1
                epoch_loss[0] += loss.item()
                epoch_loss[1] += 1
                bar.advance(epoch_loss[0] / epoch_loss[1])
                if cfg.log_every and global_step % cfg.log_every == 0:
                    log(event="step", epoch=epoch, step=step_in_epoch, global_step=global_step,
                        loss=round(loss.item(), 5), lr=sched.get_last_lr()[0])
                if cfg.max_steps is not None and global_step >= cfg.max_steps:
                    stopped = True
                    break
                if cfg.checkpoint_minutes and time.monotonic() - t_ckpt >= 60 * cfg.checkpoint_minutes:
                    save_checkpoint(last_path, state("last"))
                    t_ckpt = time.monotonic()
            bar.stop()
            if step_in_epoch < steps_per_epoch:  # stopped inside an epoch (max_steps)
                save_checkpoint(last_path, state("last"))
                break
            row = {"epoch": epoch + 1, "train_loss": epoch_loss[0] / max(epoch_loss[1], 1),
                   "lr": sched.get_last_lr()[0], "seconds": time.perf_counter() - t_epoch, "steps": steps_per_epoch}
            if len(data.valid_x):
                row.update(validate(model, data.valid_x, data.valid_y, data.classes,
                                    data.valid_aux if has_aux else None, net_cfg.aux_classes))
            history.append(row)
            log(event="epoch", **row)
            epoch += 1
            order, step_in_epoch = None, 0
            improved = best_key in row and (best["value"] is None or row[best_key] > best["value"])
            if improved:
                best = {"metric": best_key, "value": row[best_key], "epoch": epoch}
                save_checkpoint(best_path, {"format": CHECKPOINT_FORMAT, "kind": "best", "net": net_cfg.to_dict(),
                                            "config": cfg.to_dict(), "data": data_sig, "model": model.state_dict(),
                                            "epoch": epoch, "metrics": row})
            save_checkpoint(last_path, state("last"))
            t_ckpt = time.monotonic()
            echo(_epoch_line(row, cfg.epochs, improved))
            if cfg.max_steps is not None and global_step >= cfg.max_steps:
                stopped = True
    except KeyboardInterrupt:
        save_checkpoint(last_path, state("last"))
        echo(f"interrupted: checkpoint written to {last_path}; continue with --resume")
        raise
    finally:
        bar.stop()
        log.close()
    return {"best": best_path if best_path.is_file() else None, "last": last_path, "history": history,
            "epoch": epoch, "global_step": global_step, "stopped_early": stopped and epoch < cfg.epochs,
            "best_metric": best}


def _epoch_line(row: dict, epochs: int, improved: bool) -> str:
    s = f"epoch {row['epoch']}/{epochs}: train loss {row['train_loss']:.4f}, {row['seconds']:.0f} s"
    if "valid_acc" in row:
        s += (f"; valid loss {row['valid_loss']:.4f}, accuracy {100 * row['valid_acc']:.2f} %, "
              f"macro-F1 {100 * row['valid_macro_f1']:.2f} %")
    if "valid_aux_acc" in row:
        s += f"; auxiliary head accuracy {100 * row['valid_aux_acc']:.2f} %"
    return s + ("  (best)" if improved else "")


class _Bar:
    """A rich progress bar over the steps of one epoch (nothing when disabled)."""

    def __init__(self, enabled: bool, steps: int):
        self.enabled, self.steps = enabled, steps
        self._p = None
        self._task = None

    def start(self, epoch: int, epochs: int, done: int) -> None:
        if not self.enabled:
            return
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

        self._p = Progress(TextColumn("epoch {task.fields[epoch]}"), BarColumn(), MofNCompleteColumn(),
                           TextColumn("loss {task.fields[loss]:.4f}"), TimeElapsedColumn(), TimeRemainingColumn(),
                           transient=True)
        self._p.start()
        self._task = self._p.add_task("train", total=self.steps, completed=done, epoch=f"{epoch + 1}/{epochs}", loss=0.0)

    def advance(self, loss: float) -> None:
        if self._p is not None:
            self._p.update(self._task, advance=1, loss=loss)

    def stop(self) -> None:
        if self._p is not None:
            self._p.stop()
            self._p = None

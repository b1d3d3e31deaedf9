"""Training the conditional GAN (``mimetic synth train``): data, the hinge-loss loop, checkpoints and exact resume.

``train_gan(data, out_dir)`` reads any dataset :func:`mimetic.train.datasets.read_dataset` reads (the FER+ npz in
practice), takes the aligned crops of its ``train`` split from the crop cache (filled once, as for ``mimetic train
fit``), shrinks them to 48 px and trains :mod:`mimetic.synth.gan` for ``steps`` steps. The run folder holds
``last.pt`` (written every few minutes, atomically: an interrupted run resumes with ``resume=True`` where it
stopped, bit for bit), ``log.jsonl`` (losses), ``samples/step-NNNNNN.png`` (a fixed-noise grid, one row per class)
and, at the end, ``generator.onnx`` (the EMA generator, see :mod:`mimetic.synth.export`).
"""

from __future__ import annotations

import copy
import json
import os
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
from torch.nn import functional as F

from mimetic.synth.crops import shrink, to_crops
from mimetic.synth.gan import (Discriminator, GanConfig, GanTrainConfig, Generator, diff_augment, standing_stats,
                               to_unit)

CHECKPOINT_FORMAT = 1


def load_gan_data(data: str | os.PathLike, *, classes: str | None = "8", cache_dir: str | os.PathLike | None = None,
                  split: str = "train", progress: bool = True) -> tuple[tuple[str, ...], np.ndarray, np.ndarray]:
    """``(classes, crops48 (N, 48, 48) uint8, labels (N,) int)``: the majority-labelled crops of one split."""
    from mimetic.train.datasets import read_dataset
    from mimetic.train.prepare import prepare

    src = read_dataset(data, classes)
    rows = np.flatnonzero(src.split == split)
    if len(rows) == 0:
        raise ValueError(f"{data}: no {split!r} rows")
    cache = prepare(src, cache_dir, splits=(split,), progress=progress)
    crops = cache.load(src.rows[rows], keys=("crops",))["crops"]
    return tuple(src.classes), shrink(crops), src.targets[rows].argmax(1).astype(np.int64)


def _atomic_save(path: Path, state: dict) -> None:
    tmp = path.with_suffix(".tmp")
    torch.save(state, tmp)
    os.replace(tmp, path)


def sample_grid(gen: Generator, z: torch.Tensor, n_classes: int) -> np.ndarray:
    """A (classes × per-class) grid of generated 48-px faces as one uint8 image (rows: classes), from a copy of
    ``gen`` with standing batch-norm statistics."""
    per = z.shape[0] // n_classes
    y = torch.arange(n_classes).repeat_interleave(per)
    gen = standing_stats(copy.deepcopy(gen))
    with torch.no_grad():
        im = to_crops(gen(z[: per * n_classes], y).numpy(), gen.cfg.size)
    s = gen.cfg.size
    return im.reshape(n_classes, per, s, s).transpose(0, 2, 1, 3).reshape(n_classes * s, per * s)


def train_gan(data: str | os.PathLike, out_dir: str | os.PathLike, cfg: GanTrainConfig | None = None, *,
              classes: str | None = "8", resume: bool = False, cache_dir: str | os.PathLike | None = None,
              progress: bool = True, echo: Callable[[str], None] = print, max_seconds: float | None = None,
              gan: GanConfig | None = None) -> dict:
    """Train (or resume) a conditional GAN on ``data``'s training crops; returns a summary dict.

    ``max_seconds``: stop (with a checkpoint) after this much training time in this call, to be resumed later."""
    cfg = cfg or GanTrainConfig(out_dir=str(out_dir))
    out = Path(out_dir)
    (out / "samples").mkdir(parents=True, exist_ok=True)
    torch.set_num_threads(max(1, int(cfg.threads)))
    names, x, y = load_gan_data(data, classes=classes, cache_dir=cache_dir, progress=progress)
    n_cls = len(names)
    gcfg = gan or GanConfig(classes=names)
    if tuple(gcfg.classes) != names:
        raise ValueError(f"GanConfig classes {gcfg.classes} differ from the data's {names}")
    counts = np.bincount(y, minlength=n_cls)
    if (counts == 0).any():
        raise ValueError(f"{data}: no training faces of {', '.join(np.asarray(names)[counts == 0])}")
    w_cls = counts.astype(np.float64) ** -cfg.balance
    p = w_cls[y] / w_cls[y].sum()
    torch.manual_seed(cfg.seed)
    G, D = Generator(gcfg), Discriminator(gcfg)
    G_ema = copy.deepcopy(G).eval()
    for q in G_ema.parameters():
        q.requires_grad_(False)
    opt_g = torch.optim.Adam(G.parameters(), lr=cfg.lr_g, betas=cfg.betas)
    opt_d = torch.optim.Adam(D.parameters(), lr=cfg.lr_d, betas=cfg.betas)
    g = torch.Generator().manual_seed(cfg.seed + 1)
    rng = np.random.default_rng(cfg.seed + 2)
    z_fixed = torch.randn(n_cls * 8, gcfg.z_dim, generator=torch.Generator().manual_seed(12345))
    step, elapsed = 0, 0.0
    last = out / "last.pt"
    sig = {"n_train": int(len(x)), "classes": list(names), "source": str(data)}
    if resume:
        if not last.is_file():
            raise FileNotFoundError(f"{last}: no checkpoint to resume from")
        st = torch.load(last, map_location="cpu", weights_only=False)
        if st["data"] != sig or st["gan"] != gcfg.to_dict():
            raise ValueError(f"{last}: made on other data or another architecture ({st['data']}, {st['gan']})")
        G.load_state_dict(st["G"]); D.load_state_dict(st["D"]); G_ema.load_state_dict(st["G_ema"])
        opt_g.load_state_dict(st["opt_g"]); opt_d.load_state_dict(st["opt_d"])
        step, elapsed = st["step"], st["elapsed"]
        g.set_state(st["torch_rng"])
        rng.bit_generator.state = st["np_rng"]
        echo(f"resumed from {last} at step {step}/{cfg.steps}")
    log = open(out / "log.jsonl", "a", encoding="utf-8")
    if not resume:
        log.write(json.dumps({"event": "start", "config": cfg.to_dict(), "gan": gcfg.to_dict(), "data": sig,
                              "class_counts": counts.tolist()}) + "\n")
    echo(f"{data}: {len(x)} training faces, classes {', '.join(f'{c} {k}' for c, k in zip(names, counts))}; "
         f"{cfg.steps} steps of {cfg.batch_size}; {cfg.threads} thread(s)")

    def state() -> dict:
        return {"format": CHECKPOINT_FORMAT, "G": G.state_dict(), "D": D.state_dict(), "G_ema": G_ema.state_dict(),
                "opt_g": opt_g.state_dict(), "opt_d": opt_d.state_dict(), "step": step, "elapsed": elapsed,
                "torch_rng": g.get_state(), "np_rng": rng.bit_generator.state, "data": sig,
                "gan": gcfg.to_dict(), "config": cfg.to_dict()}

    bar = None
    if progress:
        from tqdm import tqdm

        bar = tqdm(total=cfg.steps, initial=step, unit="step", dynamic_ncols=True)
    t_call, t_ck = time.perf_counter(), time.perf_counter()
    sums = np.zeros(3)
    bs = cfg.batch_size
    G.train(); D.train()
    while step < cfg.steps:
        t0 = time.perf_counter()
        idx = rng.choice(len(x), bs, p=p)
        real = to_unit(x[idx])
        yr = torch.from_numpy(y[idx])
        # discriminator: hinge on augmented real and generated batches
        z = torch.randn(bs, gcfg.z_dim, generator=g)
        with torch.no_grad():
            fake = G(z, yr)
        d_real = D(diff_augment(real, g), yr)
        d_fake = D(diff_augment(fake, g), yr)
        loss_d = F.relu(1 - d_real).mean() + F.relu(1 + d_fake).mean()
        opt_d.zero_grad(set_to_none=True)
        loss_d.backward()
        opt_d.step()
        # generator
        z = torch.randn(bs, gcfg.z_dim, generator=g)
        loss_g = -D(diff_augment(G(z, yr), g), yr).mean()
        opt_g.zero_grad(set_to_none=True)
        loss_g.backward()
        opt_g.step()
        with torch.no_grad():  # the average warms up (decay (1+t)/(10+t) until it reaches cfg.ema)
            decay = min(cfg.ema, (1 + step) / (10 + step))
            for pe, pg in zip(G_ema.parameters(), G.parameters()):
                pe.lerp_(pg, 1 - decay)
            for be, bg in zip(G_ema.buffers(), G.buffers()):
                be.copy_(bg)
        step += 1
        elapsed += time.perf_counter() - t0
        sums += (loss_d.item(), loss_g.item(), (d_real.mean() - d_fake.mean()).item())
        if bar is not None:
            bar.update(1)
            bar.set_postfix(d=f"{loss_d.item():.3f}", g=f"{loss_g.item():.3f}")
        if step % 100 == 0:
            m = sums / 100
            log.write(json.dumps({"step": step, "loss_d": round(m[0], 4), "loss_g": round(m[1], 4),
                                  "margin": round(m[2], 4), "elapsed": round(elapsed, 1)}) + "\n")
            log.flush()
            sums[:] = 0
            if bar is None:
                echo(f"step {step}/{cfg.steps}: loss D {m[0]:.3f}, G {m[1]:.3f} ({elapsed / step:.2f} s/step)")
        done = step >= cfg.steps
        if step % cfg.sample_every == 0 or done:
            import cv2

            cv2.imwrite(str(out / "samples" / f"step-{step:06d}.png"), sample_grid(G_ema, z_fixed, n_cls))
            G.train()
        out_of_time = max_seconds is not None and time.perf_counter() - t_call > max_seconds
        if done or out_of_time or time.perf_counter() - t_ck > 60 * cfg.checkpoint_minutes:
            _atomic_save(last, state())
            t_ck = time.perf_counter()
        if out_of_time:
            echo(f"stopped at step {step} after {max_seconds:.0f} s (resume to go on)")
            break
    if bar is not None:
        bar.close()
    log.close()
    summary = {"data": str(data), "out_dir": str(out), "steps": step, "target_steps": cfg.steps,
               "seconds": round(elapsed, 1), "classes": list(names), "class_counts": counts.tolist(),
               "last_checkpoint": str(last)}
    if step >= cfg.steps:
        from mimetic.synth.export import export_generator

        onnx = export_generator(last, out / "generator.onnx")
        summary["onnx"] = str(onnx)
        echo(f"exported {onnx} ({onnx.stat().st_size / 1e6:.2f} MB)")
    (out / "summary.json").write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
    return summary

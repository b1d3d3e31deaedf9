"""``mimetic synth …``: train the conditional face GAN, sample it into class folders, measure what it makes.

``sample`` needs only the base install (the shipped generator is ONNX); ``train``, ``export`` and ``evaluate``
need the train extra. See docs/synthetic.md.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Optional

import typer

from mimetic.cli.common import exit_on_error
from mimetic.cli.train import ERRORS, _need_torch

app = typer.Typer(
    name="synth",
    help="Synthetic expression faces: train the conditional GAN, sample class folders for training, measure "
    "fidelity, class fidelity and copying (docs/synthetic.md).",
    no_args_is_help=True,
)


@app.command("train")
def train_cmd(
    data: Annotated[Path, typer.Argument(help="Training faces: the FER+ .npz (its train split), or any dataset "
                                         "`mimetic train fit` reads.")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Run folder: last.pt, log.jsonl, samples/, "
                                      "generator.onnx.")],
    steps: Annotated[int, typer.Option("--steps", min=1, help="Training steps (one discriminator and one "
                                       "generator update each).")] = 12000,
    batch_size: Annotated[int, typer.Option("--batch-size", min=2, help="Faces per step.")] = 64,
    threads: Annotated[int, typer.Option("--threads", min=1, help="torch threads.")] = 2,
    seed: Annotated[int, typer.Option("--seed", help="Random seed.")] = 0,
    resume: Annotated[bool, typer.Option("--resume", help="Continue from OUT/last.pt.")] = False,
    max_minutes: Annotated[Optional[float], typer.Option("--max-minutes", min=0.1, help="Stop (with a checkpoint) "
                                                         "after this long; --resume goes on.")] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="A line per 100 steps instead of a bar.")] = False,
) -> None:
    """Train the class-conditional GAN (checkpoints every 5 minutes; resumable); exports OUT/generator.onnx."""
    _need_torch()
    from mimetic.synth.gan import GanTrainConfig
    from mimetic.synth.train import train_gan

    cfg = GanTrainConfig(out_dir=str(out), steps=steps, batch_size=batch_size, threads=threads, seed=seed)
    with exit_on_error(*ERRORS):
        s = train_gan(data, out, cfg, resume=resume, progress=not quiet, echo=typer.echo,
                      max_seconds=None if max_minutes is None else 60 * max_minutes)
    typer.echo(json.dumps(s))


@app.command("export")
def export_cmd(
    checkpoint: Annotated[Path, typer.Argument(help="A run's last.pt.")],
    out: Annotated[Path, typer.Argument(help="The ONNX file to write.")],
) -> None:
    """Export a checkpoint's EMA generator to ONNX (what `mimetic synth sample --generator` reads)."""
    _need_torch()
    from mimetic.synth.export import export_generator

    with exit_on_error(*ERRORS):
        p = export_generator(checkpoint, out)
    typer.echo(f"wrote {p} ({p.stat().st_size / 1e6:.2f} MB)")


@app.command("sample")
def sample_cmd(
    out: Annotated[Path, typer.Option("--out", "-o", help="Folder of class folders (<class>/NNNN-NNNNN.png, "
                                      "64-px aligned grey crops) and synthetic.json.")],
    classes: Annotated[Optional[list[str]], typer.Option("--class", "-c", help="A class to generate (repeat; "
                                                         "default: every class).")] = None,
    n: Annotated[int, typer.Option("--n", min=1, help="Faces per class.")] = 500,
    generator: Annotated[Optional[Path], typer.Option("--generator", help="A generator.onnx (default: the "
                                                      "shipped one).")] = None,
    seed: Annotated[int, typer.Option("--seed", help="Random seed (a different seed adds different faces to the "
                                      "same folder).")] = 0,
    truncation: Annotated[Optional[float], typer.Option("--truncation", min=0.1, help="Redraw noise components "
                                                        "beyond this (more typical faces, less variety).")] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar.")] = False,
) -> None:
    """Generate faces per expression class into class folders that `mimetic train fit --synthetic` reads."""
    from mimetic.synth.sample import write_samples

    with exit_on_error(*ERRORS):
        m = write_samples(out, n, classes, generator=generator, seed=seed, truncation=truncation,
                          progress=not quiet)
    typer.echo(f"{out}: " + ", ".join(f"{c} {k}" for c, k in m["counts"].items()))


@app.command("evaluate")
def evaluate_cmd(
    data: Annotated[Path, typer.Argument(help="The FER+ .npz (train: copying check; valid: the real floor; test: "
                                         "the comparison).")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Folder for report.json, grid.png, nearest.png.")],
    generator: Annotated[Optional[Path], typer.Option("--generator", help="A generator.onnx (default: the "
                                                      "shipped one).")] = None,
    n: Annotated[int, typer.Option("--n", min=10, help="Generated faces per class.")] = 1000,
    seed: Annotated[int, typer.Option("--seed", help="Random seed.")] = 0,
    truncation: Annotated[Optional[float], typer.Option("--truncation", min=0.1)] = None,
    threads: Annotated[int, typer.Option("--threads", min=1)] = 1,
) -> None:
    """Fréchet distance in the expression CNN's features (against real-vs-real), the classifier's accuracy on
    generated faces, and the nearest training face of each generated face."""
    from mimetic.synth.measures import evaluate_generator, report_markdown

    with exit_on_error(*ERRORS):
        r = evaluate_generator(data, out, generator=generator, n_per_class=n, seed=seed, truncation=truncation,
                               threads=threads, echo=typer.echo)
    typer.echo(report_markdown(r))
    nt = r["nearest_train"]
    typer.echo(f"nearest training face (standardised RMS): generated p1/p5/p50 "
               f"{'/'.join(map(str, nt['generated_percentiles'].values()))}, real test "
               f"{'/'.join(map(str, nt['test_percentiles'].values()))}; generated nearer than the closest 1 % of "
               f"test faces: {100 * nt['generated_below_test_p1']:.1f} %")


@app.command("effect")
def effect_cmd(
    data: Annotated[Path, typer.Argument(help="The FER+ .npz (trained on train, scored on valid and test).")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Folder: one run per arm and seed, effect.json.")],
    arms: Annotated[list[str], typer.Option("--arm", help="`real` (no generated faces) or NAME=DIR (a `mimetic "
                                            "synth sample` folder); repeat.")],
    seeds: Annotated[int, typer.Option("--seeds", min=1, help="Seeds per arm (0 … N−1).")] = 3,
    epochs: Annotated[int, typer.Option("--epochs", min=1, help="Epochs per run (the same for every arm).")] = 6,
    widths: Annotated[str, typer.Option("--widths", help="Network widths per stage.")] = "16,32,64,96",
    blocks: Annotated[str, typer.Option("--blocks", help="Residual blocks per stage.")] = "1,1,1,1",
    synthetic_weight: Annotated[float, typer.Option("--synthetic-weight", min=0.0)] = 1.0,
    threads: Annotated[int, typer.Option("--threads", min=1)] = 1,
    only: Annotated[Optional[str], typer.Option("--only", help="Train only this arm (run arms in parallel "
                                                "processes; a last call without --only writes the table).")] = None,
) -> None:
    """Train the same network and schedule with and without generated faces, several seeds each; print test
    accuracy, macro-F1 and the rare classes' recall (mean ± sd, and the paired difference from `real`)."""
    _need_torch()
    from mimetic.synth.effect import augmentation_effect, effect_markdown

    spec: dict[str, str | None] = {}
    for a in arms:
        name, _, folder = a.partition("=")
        if not folder and name != "real":
            raise typer.BadParameter(f"--arm {a!r}: use `real` or NAME=DIR")
        spec[name] = folder or None
    with exit_on_error(*ERRORS):
        r = augmentation_effect(data, out, spec, seeds=seeds, epochs=epochs,
                                widths=tuple(int(v) for v in widths.split(",")),
                                blocks=tuple(int(v) for v in blocks.split(",")), synthetic_weight=synthetic_weight,
                                threads=threads, only=only, echo=typer.echo)
    for split in ("valid", "test"):
        typer.echo(f"\nFER+ {split}:\n" + effect_markdown(r, split))

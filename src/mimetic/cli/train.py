"""``mimetic train …`` (train, export, quantize, fuse and ship the expression models) and ``mimetic evaluate``.

Every command needs the ``train`` extra except ``evaluate`` and ``quantize`` on ONNX files. The bodies call the plain
functions of :mod:`mimetic.train`; progress and results are printed here.
"""

from __future__ import annotations

import shlex
from pathlib import Path
from typing import Annotated, Optional

import typer

from mimetic.cli.common import err, exit_on_error

app = typer.Typer(
    name="train",
    help="Train, export, quantize, fuse and ship the expression models (needs the train extra; see "
    "docs/training.md).",
    no_args_is_help=True,
)

TRAIN_EXTRA = "install the train extra: pip install -e '.[train]'"
DATA_FORMATS = {"npz": "ferplus", "ferplus": "ferplus", "fer2013": "fer2013csv", "folder": "folder", "csv": "csv"}
ERRORS = (ValueError, FileNotFoundError)


def _need_torch() -> None:
    import importlib.util

    if importlib.util.find_spec("torch") is None:
        err(TRAIN_EXTRA)
        raise typer.Exit(1)


def _single_thread() -> None:
    """One torch thread where torch is present (keeps MKL/OpenMP from taking every core; runs stay reproducible)."""
    try:
        import torch
    except ImportError:
        return
    torch.set_num_threads(1)


@app.command()
def fit(
    data: Annotated[Path, typer.Argument(help="Training data: the FER+ .npz, Kaggle's fer2013.csv, a class-per-folder "
                                         "tree (ROOT/<class>/ or ROOT/<split>/<class>/) or a CSV of path,label[,split].")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Run folder (created): last.pt, best.pt, log.jsonl, "
                                      "summary.json and the exported expression.onnx.")],
    classes: Annotated[str, typer.Option("--classes", help="Class set: 8 (neutral, happiness, surprise, sadness, "
                                         "anger, disgust, fear, contempt), 7 (FER2013: no contempt) or a comma list "
                                         "such as neutral,happiness,sadness.")] = "8",
    epochs: Annotated[int, typer.Option("--epochs", min=1, help="Epochs (the cosine schedule is laid out over them; "
                                        "keep the same value when resuming).")] = 40,
    batch_size: Annotated[int, typer.Option("--batch-size", min=1, help="Crops per step.")] = 64,
    lr: Annotated[float, typer.Option("--lr", min=0.0, help="Peak learning rate (SGD with Nesterov momentum).")] = 0.05,
    threads: Annotated[int, typer.Option("--threads", min=1, help="torch threads (runs are deterministic for a "
                                         "given seed and thread count).")] = 1,
    resume: Annotated[bool, typer.Option("--resume", help="Continue from OUT/last.pt with the same options.")] = False,
    seed: Annotated[int, typer.Option("--seed", help="Random seed (sample order, augmentation, initialisation).")] = 0,
    fmt: Annotated[Optional[str], typer.Option("--format", help="Data format: npz, fer2013, folder or csv "
                                               "(default: from the path).")] = None,
    aux_labels: Annotated[Optional[str], typer.Option("--aux-labels", help="fer2013: a second head learns the "
                                                      "original FER2013 labels of the FER+ images (the shipped "
                                                      "model has one).")] = None,
    init_from: Annotated[Optional[Path], typer.Option("--init-from", help="Start from another run's best.pt or "
                                                      "last.pt (fine-tuning) instead of random weights.")] = None,
    best_metric: Annotated[str, typer.Option("--best-metric", help="valid_acc (main head) or valid_mean (mean of "
                                             "both heads) picks best.pt.")] = "valid_acc",
    warmup: Annotated[float, typer.Option("--warmup", min=0.0, help="Warm-up epochs.")] = 1.0,
    precision: Annotated[str, typer.Option("--precision", help="fp32, or bf16 (bfloat16 autocast: about 2x faster "
                                           "on CPUs with AVX-512 BF16 or AMX, slower on others).")] = "fp32",
    aux_balance: Annotated[Optional[str], typer.Option("--aux-balance", help="Class balancing of the FER2013 head: "
                                                       "none, sqrt or inverse (default: as the main head).")] = None,
    teacher: Annotated[Optional[Path], typer.Option("--teacher", help="Distillation: an exported model (one network "
                                                    "or an ensemble) whose probabilities on the training crops are "
                                                    "mixed into the targets.")] = None,
    teacher_weight: Annotated[float, typer.Option("--teacher-weight", min=0.0, max=1.0,
                                                  help="Share of the teacher in the targets.")] = 0.5,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bars (a line per epoch instead).")] = False,
) -> None:
    """Train the expression CNN.

    Aligns and caches the crops once, trains with checkpoints (resumable), exports best.pt to OUT/expression.onnx.
    """
    if fmt is not None and fmt.lower() not in DATA_FORMATS:
        raise typer.BadParameter(f"unknown format {fmt!r}; choose from npz, fer2013, folder, csv")
    _need_torch()
    from mimetic.train.run import train

    with exit_on_error(*ERRORS):
        train(data, out, classes=classes, epochs=epochs, batch_size=batch_size, lr=lr, threads=threads,
              resume=resume, seed=seed, fmt=DATA_FORMATS[fmt.lower()] if fmt else None, progress=not quiet,
              aux_labels=aux_labels, init_from=init_from, best_metric=best_metric, warmup_epochs=warmup,
              precision=precision, aux_balance=aux_balance, teacher=teacher, teacher_weight=teacher_weight,
              echo=typer.echo)


@app.command()
def prepare(
    data: Annotated[Path, typer.Argument(help="Dataset: the FER+ .npz, fer2013.csv, a class-per-folder tree or a "
                                         "path,label CSV.")],
    size: Annotated[Optional[int], typer.Option("--size", min=8, help="Crop side in pixels (default: the CNN's, "
                                                "64).")] = None,
    cache_dir: Annotated[Optional[Path], typer.Option("--cache-dir", help="The crop cache (default $MIMETIC_CACHE "
                                                      "or ~/.cache/mimetic).")] = None,
    limit: Annotated[Optional[int], typer.Option("--limit", min=1, help="Only the first N images (to measure the "
                                                 "rate).")] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="A line per part instead of a progress bar.")] = False,
) -> None:
    """Landmark and align every image of a dataset once and cache the crops.

    Resumable; the other train commands fill the cache themselves when needed.
    """
    _single_thread()
    import json

    import numpy as np

    from mimetic.train.datasets import read_dataset
    from mimetic.train.prepare import CropCache

    with exit_on_error(*ERRORS):
        src = read_dataset(data)
        cache = CropCache(src, cache_dir, **({"size": size} if size else {}))
        idx = None if limit is None else np.arange(min(limit, src.n_images))
        st = cache.ensure(idx, progress=not quiet, log=typer.echo)
    if st["images"]:
        typer.echo(f"aligned {st['images']} images in {st['seconds']:.1f} s ({st['images'] / st['seconds']:.1f}/s); "
                   f"no face found in {st['not_found']} ({100 * st['not_found'] / st['images']:.2f} %)")
    typer.echo(json.dumps(cache.stats()))


@app.command()
def geometric(
    data: Annotated[Path, typer.Argument(help="Dataset (the FER+ npz, or any format `mimetic train fit` reads).")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Output folder: expression_geometric.onnx, "
                                      "geometric_log.jsonl, geometric_summary.json.")],
    classes: Annotated[Optional[str], typer.Option("--classes", help="8 (default), 7 or a comma list.")] = None,
    epochs: Annotated[int, typer.Option("--epochs", min=1)] = 60,
    lr: Annotated[float, typer.Option("--lr", min=0.0, help="Peak learning rate (AdamW).")] = 2e-3,
    hidden: Annotated[str, typer.Option("--hidden", help="Hidden layer widths (comma list).")] = "512,256",
    dropout: Annotated[float, typer.Option("--dropout", min=0.0, max=1.0)] = 0.4,
    noise: Annotated[float, typer.Option("--noise", min=0.0, help="Gaussian feature noise (standard units).")] = 0.15,
    seed: Annotated[int, typer.Option("--seed")] = 0,
    threads: Annotated[int, typer.Option("--threads", min=1)] = 1,
    cache_dir: Annotated[Optional[Path], typer.Option("--cache-dir", help="The crop cache.")] = None,
) -> None:
    """Train the geometric expression model and export it to ONNX.

    An MLP on AUs, blendshapes, frontal landmarks and pose.
    """
    _need_torch()
    try:
        widths = tuple(int(h) for h in hidden.split(",") if h.strip())
    except ValueError:
        raise typer.BadParameter(f"--hidden must be a comma list of integers, not {hidden!r}")
    from mimetic.train.geometric import train_geometric

    with exit_on_error(*ERRORS):
        train_geometric(data, out, classes=classes, epochs=epochs, lr=lr, seed=seed, threads=threads, hidden=widths,
                        dropout=dropout, noise=noise, cache_dir=cache_dir, echo=typer.echo)


@app.command()
def export(
    checkpoints: Annotated[list[Path], typer.Argument(help="best.pt / last.pt; two or more make one averaging "
                                                      "ensemble.")],
    out: Annotated[Path, typer.Option("--out", "-o", help="The ONNX file to write.")],
    mirror: Annotated[bool, typer.Option("--mirror", help="Average each crop with its mirror image inside the graph "
                                         "(twice the compute).")] = False,
    int8: Annotated[Optional[Path], typer.Option("--int8", metavar="DATA", help="Then quantize to int8, calibrated "
                                                 "on training crops of this dataset (as `mimetic train "
                                                 "quantize`).")] = None,
    calibration: Annotated[Optional[int], typer.Option("--calibration", min=1, help="Calibration crops for --int8 "
                                                       "(default: as `mimetic train quantize`).")] = None,
    cache_dir: Annotated[Optional[Path], typer.Option("--cache-dir", help="The crop cache for --int8.")] = None,
) -> None:
    """Export a checkpoint (or several, as an ensemble) to ONNX and check that torch and onnxruntime agree."""
    _need_torch()
    from mimetic.train.export import export_checkpoint, export_ensemble

    with exit_on_error(*ERRORS):
        if len(checkpoints) == 1:
            path, diff = export_checkpoint(checkpoints[0], out, mirror=mirror)
        else:
            path, diff = export_ensemble(checkpoints, out, mirror=mirror)
    typer.echo(f"exported {path} ({path.stat().st_size / 1e6:.2f} MB); torch vs onnxruntime max |diff| {diff:.2e}")
    if int8 is not None:
        _quantize(path, int8, path, calibration=calibration, cache_dir=cache_dir)


def _quantize(model: Path, data: Path, out: Path, *, calibration: int | None = None, seed: int = 0,
              cache_dir: Path | None = None) -> None:
    from mimetic.train.quantize import quantize_model

    with exit_on_error(*ERRORS):
        r = quantize_model(model, data, out, seed=seed, cache_dir=cache_dir,
                           **({"calibration": calibration} if calibration else {}))
    typer.echo(f"quantized {r['out']} ({r['out'].stat().st_size / 1e6:.2f} MB) on {r['calibration']} crops; on "
               f"{r['held_out']} other training crops: " + ", ".join(f"{k} {v:.4f}" for k, v in r["comparison"].items()))


@app.command()
def quantize(
    model: Annotated[Path, typer.Argument(help="The float ONNX file (from `mimetic train fit` or `mimetic train "
                                          "export`).")],
    data: Annotated[Path, typer.Option("--data", help="The dataset whose training crops calibrate the ranges.")],
    out: Annotated[Path, typer.Option("--out", "-o", help="The int8 ONNX file to write (may be MODEL itself).")],
    calibration: Annotated[Optional[int], typer.Option("--calibration", min=1, help="Calibration crops (default "
                                                       "1000).")] = None,
    seed: Annotated[int, typer.Option("--seed", help="Which training crops calibrate and which are compared.")] = 0,
    cache_dir: Annotated[Optional[Path], typer.Option("--cache-dir", help="The crop cache.")] = None,
) -> None:
    """Quantize an exported expression CNN to int8.

    Calibrated on training crops; reports how it differs from the float file on other training crops.
    """
    _quantize(model, data, out, calibration=calibration, seed=seed, cache_dir=cache_dir)


@app.command()
def fuse(
    cnn: Annotated[Path, typer.Option("--cnn", help="The CNN's expression.onnx.")],
    geo: Annotated[Path, typer.Option("--geo", help="The geometric model's expression_geometric.onnx.")],
    data: Annotated[Path, typer.Option("--data", help="The FER+ npz.")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Output folder: expression_fusion.json, eval/.")],
    bias: Annotated[bool, typer.Option("--bias/--no-bias", help="Fit a per-class bias (or the weight and scale "
                                       "only).")] = True,
    threads: Annotated[int, typer.Option("--threads", min=1, help="Inference threads.")] = 1,
    cache_dir: Annotated[Optional[Path], typer.Option("--cache-dir", help="The crop cache.")] = None,
) -> None:
    """Fit the CNN + geometric fusion and evaluate CNN, geometric and fused.

    The fusion is fitted on the validation split; the three are evaluated on the test sets.
    """
    _single_thread()
    from mimetic.train.fuse import fit_and_evaluate

    with exit_on_error(*ERRORS):
        fit_and_evaluate(cnn, geo, data, out, bias=bias, threads=threads, cache_dir=cache_dir, log=typer.echo)


@app.command()
def ship(
    cnn: Annotated[Path, typer.Option("--cnn", help="The trained CNN (runs/<name>/expression.onnx).")],
    data: Annotated[Path, typer.Option("--data", help="The FER+ npz.")],
    geo: Annotated[Optional[Path], typer.Option("--geo", help="The geometric model (default: the shipped one, or "
                                                "train one).")] = None,
    out: Annotated[Optional[Path], typer.Option("--out", "-o", help="Run folder for the evaluation (default: <cnn "
                                                "folder>/ship).")] = None,
    models_dir: Annotated[Optional[Path], typer.Option("--models-dir", help="Where to ship (default: the package's "
                                                       "models/).")] = None,
    bias: Annotated[bool, typer.Option("--bias/--no-bias", help="Fusion with (or without) the per-class "
                                       "bias.")] = True,
    threads: Annotated[int, typer.Option("--threads", min=1, help="Inference threads.")] = 1,
    cache_dir: Annotated[Optional[Path], typer.Option("--cache-dir", help="The crop cache.")] = None,
) -> None:
    """Ship a trained expression CNN into the models folder, with its model card.

    Fits the fusion, evaluates CNN / geometric / fused, copies the model files and writes MODEL_CARD.md with the
    measured numbers.
    """
    _single_thread()
    from mimetic.train.ship import ship as run_ship

    command = f".venv/bin/mimetic train ship --cnn {shlex.quote(str(cnn))} --data {shlex.quote(str(data))}"
    for flag, value in (("--geo", geo), ("--out", out), ("--models-dir", models_dir)):
        if value is not None:
            command += f" {flag} {shlex.quote(str(value))}"
    command += ("" if bias else " --no-bias") + (f" --threads {threads}" if threads != 1 else "")
    with exit_on_error(*ERRORS):
        run_ship(cnn, data, geo=geo, out=out, bias=bias, threads=threads, cache_dir=cache_dir, command=command,
                 log=typer.echo, **({"models_dir": models_dir} if models_dir is not None else {}))


def evaluate(
    model: Annotated[Path, typer.Argument(help="An expression model: expression.onnx, or a best.pt / last.pt "
                                          "checkpoint (needs the train extra).")],
    data: Annotated[Path, typer.Argument(help="Labelled data: the FER+ .npz (FER+ test, 8 classes, and FER2013 "
                                         "PrivateTest, 7 classes, all and confident), or any training format (its "
                                         "test split).")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Folder for metrics.json and confusion_*.png.")],
    split: Annotated[str, typer.Option("--split", help="Which split to evaluate on.")] = "test",
    threads: Annotated[int, typer.Option("--threads", min=1, help="Inference threads.")] = 1,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar.")] = False,
) -> None:
    """Evaluate an expression model: accuracy, macro-F1 and per-class recall, plus confusion-matrix PNGs."""
    if model.suffix == ".pt":
        _need_torch()
    from mimetic.train.evaluate import evaluate_model

    with exit_on_error(*ERRORS):
        results = evaluate_model(model, data, out, split=split, threads=threads, progress=not quiet, log=typer.echo)
    for m in results.values():
        typer.echo(f"confusion matrix: {m['confusion_png']}")
    typer.echo(f"metrics: {out / 'metrics.json'}")

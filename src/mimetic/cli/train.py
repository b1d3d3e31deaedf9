"""``mimetic train …`` (train, export, quantize, fuse and ship the expression models; ``micro``: the micro-expression
recogniser) and ``mimetic evaluate``.

Every command needs the ``train`` extra except ``evaluate`` and ``quantize`` on ONNX files. The bodies call the plain
functions of :mod:`mimetic.train`; progress and results are printed here.
"""

from __future__ import annotations

import json

import shlex
from pathlib import Path
from typing import Annotated, Optional

import typer

from mimetic.cli.common import err, exit_on_error

app = typer.Typer(
    name="train",
    help="Train, export, quantize, fuse and ship the expression models, and train the micro-expression recogniser "
    "(needs the train extra; see docs/training.md and docs/video.md).",
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
    synthetic: Annotated[Optional[Path], typer.Option("--synthetic", help="A folder of generated faces (`mimetic "
                                                      "synth sample`) mixed into the training rows.")] = None,
    synthetic_weight: Annotated[float, typer.Option("--synthetic-weight", min=0.0, help="How much one generated "
                                                    "face counts in the loss (a real face counts 1).")] = 1.0,
    domain_aug: Annotated[bool, typer.Option("--domain-aug", help="Add blur, sharpening and sensor noise to the "
                                             "augmentation (the gap between 48-px web crops and other faces).")] = False,
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
              synthetic=synthetic, synthetic_weight=synthetic_weight, domain_aug=domain_aug, echo=typer.echo)


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
    mix: Annotated[Optional[list[Path]], typer.Option("--mix", help="More labelled data (e.g. ckplus48_dev.npz) "
                                                      "whose faces all join the training rows.")] = None,
    mix_weight: Annotated[float, typer.Option("--mix-weight", min=0.0, help="Loss weight of each --mix row.")] = 1.0,
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
                        dropout=dropout, noise=noise, cache_dir=cache_dir, mix=tuple(mix or ()),
                        mix_weight=mix_weight, echo=typer.echo)


@app.command()
def posed(
    cnn: Annotated[Path, typer.Option("--cnn", help="The exported CNN whose heads are refitted: the ensemble as "
                                      "exported, before any refit (the model card's step 1a).")],
    data: Annotated[Path, typer.Option("--data", help="The FER+ npz.")] = Path("../shared/datasets/ferplus.npz"),
    mix: Annotated[Path, typer.Option("--mix", help="Posed faces with subjects (ckplus48_dev.npz).")] = Path(
        "../shared/datasets/ckplus48_dev.npz"),
    out: Annotated[Path, typer.Option("--out", "-o", help="Run folder: expression.onnx, geometric/, cv.json.")] = Path(
        "runs/posed"),
    heads_weight: Annotated[float, typer.Option("--heads-weight", min=0.0, help="Loss weight of a posed face in "
                                                "the CNN heads' refit.")] = 3.0,
    aug_weight: Annotated[float, typer.Option("--aug-weight", min=0.0, help="Loss weight of each of the 8 augmented "
                                              "copies of a posed face in the heads' refit.")] = 1.0,
    geo_weight: Annotated[float, typer.Option("--geo-weight", min=0.0, help="Loss weight of a posed face in the "
                                              "geometric model.")] = 5.0,
    folds: Annotated[int, typer.Option("--folds", min=2, help="Subject-wise cross-validation folds.")] = 5,
    cv: Annotated[bool, typer.Option("--cv/--no-cv", help="Run the subject-wise cross-validation first.")] = True,
    before: Annotated[Optional[Path], typer.Option("--before", help="Models folder to compare with in the CV "
                                                   "(default: the package's shipped models).")] = None,
    cache_dir: Annotated[Optional[Path], typer.Option("--cache-dir", help="The crop cache.")] = None,
    au_cache: Annotated[Optional[Path], typer.Option("--au-cache", help="The landmark cache of `mimetic train aus "
                                                     "--cache-dir`: each CV fold refits the AU models without its "
                                                     "subjects (without it the posed CV numbers are optimistic: "
                                                     "the shipped AU models saw every subject's FACS codes).")] = None,
) -> None:
    """Teach the expression model posed faces: refit the CNN heads and retrain the geometric model with them,
    after a subject-wise cross-validation of the same recipe (docs/training.md, "Posed faces").

    --cnn must be the exported ensemble before any refit (the model card's step 1a)."""
    _need_torch()
    _single_thread()
    from mimetic.train.posed import train_posed

    with exit_on_error(*ERRORS):
        train_posed(cnn, data, mix, out, heads_weight=heads_weight,
                    geo_weight=geo_weight, aug_weight=aug_weight, folds=folds, cv=cv, cache_dir=cache_dir,
                    before=before, au_cache=au_cache, log=typer.echo)


@app.command()
def aus(
    coded: Annotated[Path, typer.Argument(help="FACS-coded face crops: an .npz with images, subject and facs_code "
                                          "(e.g. ckplus48_dev.npz).")],
    ferplus: Annotated[Path, typer.Argument(help="ferplus.npz: its neutral-majority faces are the negatives.")],
    cache_dir: Annotated[Path, typer.Option("--cache-dir", help="Where the landmarks of the crops are kept.")] =
    Path(".cache/aus"),
    out: Annotated[Optional[Path], typer.Option("--out", "-o", help="The model file to write (default: the shipped "
                                                "mimetic/facs/au_model.json).")] = None,
    neutral: Annotated[int, typer.Option("--neutral", min=100, help="FER+ train neutral faces to use.")] = 3000,
) -> None:
    """Refit the AU models on FACS-coded crops (subject-wise cross-validated; see docs/aus.md)."""
    from mimetic.train.aus import train_aus

    with exit_on_error(*ERRORS):
        train_aus(coded, ferplus, cache_dir=cache_dir, out=out, n_neutral=neutral)


@app.command("au-regions")
def au_regions(
    ferplus: Annotated[Path, typer.Argument(help="ferplus.npz: its train crops teach the networks, valid reports.")],
    out: Annotated[Path, typer.Option("--out", "-o", help="The ONNX file to write (the shipped one is "
                                      "mimetic/models/au_regions.onnx).")] = Path("runs/au_regions/au_regions.onnx"),
    teacher: Annotated[Optional[Path], typer.Option("--teacher", help="The expression model whose answers are "
                                                    "learned (default: the shipped one).")] = None,
    epochs: Annotated[int, typer.Option("--epochs", min=1)] = 6,
    threads: Annotated[int, typer.Option("--threads", min=1)] = 1,
    cache_dir: Annotated[Optional[Path], typer.Option("--cache-dir", help="The crop cache (default: "
                                                      "~/.cache/mimetic).")] = None,
) -> None:
    """Train the AU region networks (one small CNN per face region, distilled from the expression model on FER+;
    the AU models read their outputs: docs/aus.md). Refit the AU models after it (`mimetic train aus`)."""
    from mimetic.train.au_regions import RegionTrainConfig, train_au_regions

    with exit_on_error(*ERRORS):
        train_au_regions(ferplus, out, teacher=teacher, cache_dir=cache_dir,
                         config=RegionTrainConfig(epochs=epochs, threads=threads), log=typer.echo)


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


@app.command()
def merge(
    models: Annotated[list[Path], typer.Argument(help="Exported networks or ensembles (.onnx, float or int8), e.g. "
                                                 "the shipped ensemble and a new network exported alone.")],
    out: Annotated[Path, typer.Option("--out", "-o", help="The ONNX file to write.")],
) -> None:
    """Merge exported networks into one ensemble (the mean of every member, each weighing the same), without their
    float checkpoints: how a newly trained network joins the shipped members. Refit the heads after
    (`mimetic train posed --cnn OUT`)."""
    from mimetic.train.export import merge_ensembles

    with exit_on_error(*ERRORS):
        path = merge_ensembles(models, out)
    from mimetic.expression.model import ExpressionModel

    members = json.loads(ExpressionModel(path).metadata["ensemble_members"])
    typer.echo(f"merged {len(members)} members into {path} ({path.stat().st_size / 1e6:.2f} MB)")


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
    cross: Annotated[Optional[Path], typer.Option("--cross", help="cv.json of `mimetic train posed`: the "
                                                  "cross-dataset section of the model card.")] = None,
) -> None:
    """Ship a trained expression CNN into the models folder, with its model card.

    Fits the fusion, evaluates CNN / geometric / fused, copies the model files and writes MODEL_CARD.md with the
    measured numbers.
    """
    _single_thread()
    from mimetic.train.ship import ship as run_ship

    command = f".venv/bin/mimetic train ship --cnn {shlex.quote(str(cnn))} --data {shlex.quote(str(data))}"
    for flag, value in (("--geo", geo), ("--out", out), ("--models-dir", models_dir), ("--cross", cross)):
        if value is not None:
            command += f" {flag} {shlex.quote(str(value))}"
    command += ("" if bias else " --no-bias") + (f" --threads {threads}" if threads != 1 else "")
    with exit_on_error(*ERRORS):
        run_ship(cnn, data, geo=geo, out=out, bias=bias, threads=threads, cache_dir=cache_dir, command=command,
                 log=typer.echo, cross=cross, **({"models_dir": models_dir} if models_dir is not None else {}))


def evaluate(
    paths: Annotated[list[Path], typer.Argument(
        help="[MODEL] DATA. DATA: labelled faces — the FER+ .npz (FER+ test, 8 classes, and FER2013 PrivateTest), "
             "another .npz with images and labels (CK+48), a class-per-folder tree (ROOT/<class>/ or "
             "ROOT/<split>/<class>/; numbered folders with --label-map), a CSV of path,label[,split] or Kaggle's "
             "fer2013.csv. MODEL (optional): an expression.onnx or a best.pt / last.pt checkpoint to score alone; "
             "without it the shipped model is scored as the product answers (CNN, geometric model and their "
             "fusion).")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Folder for metrics.json, results.md and "
                                      "confusion_*.png.")] = Path("mimetic-evaluation"),
    split: Annotated[str, typer.Option("--split", help="test, valid, train, all, or auto: the test split where the "
                                       "data has one, else every image.")] = "auto",
    label_map: Annotated[Optional[str], typer.Option(
        "--label-map", help="Names of the classes in the data: a preset (rafdb, affectnet, ckplus, jaffe) or "
                            "NAME=CLASS pairs such as 1=surprise,2=fear.")] = None,
    names_from: Annotated[Optional[str], typer.Option(
        "--names-from", help="Take each image's class from its file name instead of its folder: jaffe "
                             "(KA.AN1.39.tiff is anger).")] = None,
    threads: Annotated[int, typer.Option("--threads", min=1, help="Inference threads.")] = 1,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar.")] = False,
) -> None:
    """Score expression recognition on labelled faces: accuracy, macro-F1, per-class recall, calibration (ECE)
    and the confusion matrix, printed and written as PNGs.

    Sets lacking some of the model's classes (CK+ has no neutral) are also scored on the classes they have
    (``…_present``); the 8-way answer shows how often a face was called a class the set does not have."""
    if not 1 <= len(paths) <= 2:
        err("give DATA, or MODEL DATA")
        raise typer.Exit(2)
    model, data = (paths[0], paths[1]) if len(paths) == 2 else (None, paths[0])
    if model is not None and model.suffix == ".pt":
        _need_torch()
    read_kw = {"label_map": label_map, "names_from": names_from}
    with exit_on_error(*ERRORS):
        if model is None:
            from mimetic.train.fuse import evaluate_shipped

            results = evaluate_shipped(data, out, split=split, threads=threads, read_kw=read_kw,
                                       progress=not quiet, log=typer.echo)
            shown = results["fused"]
        else:
            from mimetic.train.evaluate import evaluate_model

            shown = evaluate_model(model, data, out, split=split, threads=threads, progress=not quiet,
                                   log=typer.echo, read_kw=read_kw)
    from mimetic.train.evaluate import confusion_text

    for m in shown.values():
        typer.echo(f"\n{m['name']} (rows: true class; columns: the answer)\n{confusion_text(m)}")
        typer.echo(f"confusion matrix: {m['confusion_png']}")
    typer.echo(f"metrics: {out / 'metrics.json'}")


@app.command()
def micro(
    data: Annotated[Path, typer.Argument(help="The MEGC 2019 composite file (megc2019_composite.npz: onset->apex flow "
                                         "images, labels, subjects).")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Run folder (created): folds.jsonl (resume), loso.json, "
                                      "predictions.csv, micro_expression.onnx.")],
    epochs: Annotated[int, typer.Option("--epochs", min=1, help="Fixed epochs (no early stopping).")] = 60,
    seeds: Annotated[int, typer.Option("--seeds", min=1, help="Networks per model (an ensemble; in the LOSO, the "
                                       "spread between them is reported).")] = 3,
    seed: Annotated[int, typer.Option("--seed", help="First random seed.")] = 0,
    lr: Annotated[float, typer.Option("--lr", min=0.0, help="Peak learning rate (Adam, cosine).")] = 2e-3,
    threads: Annotated[int, typer.Option("--threads", min=1, help="torch threads.")] = 1,
    loso_eval: Annotated[bool, typer.Option("--loso/--no-loso", help="Leave-one-subject-out evaluation first.")] = True,
    resume: Annotated[bool, typer.Option("--resume/--restart",
                                         help="Reuse the folds already in OUT/folds.jsonl.")] = True,
    ship: Annotated[bool, typer.Option("--ship", help="Copy the exported model into the package's models/.")] = False,
    apex: Annotated[bool, typer.Option("--apex/--no-apex", help="Add the apex-frame view (a second network per seed, "
                                       "fused with the flow by averaging: --fusion).")] = False,
    fusion: Annotated[float, typer.Option("--fusion", min=0.0, max=1.0, help="Weight of the flow view in the "
                                          "fusion (fixed, never fitted on held-out data).")] = 0.5,
    tta: Annotated[bool, typer.Option("--tta/--no-tta", help="Average each network over the image and its mirror "
                                      "(u -> 255 - u), in the LOSO and inside the exported graph.")] = False,
    linear: Annotated[float, typer.Option("--linear", min=0.0, max=1.0, help="Weight of the logistic regression on "
                                          "the pixels in the ensemble (fixed; 0: networks only).")] = 0.5,
) -> None:
    """Train and evaluate the micro-expression recogniser (leave one subject out), export it to ONNX.

    The LOSO never looks at the held-out subject (fixed epochs, no statistics across samples); the exported model
    is the same recipe trained on every subject. See docs/video.md.
    """
    _need_torch()
    import json
    import shutil
    from dataclasses import replace

    from mimetic.video.recognition.flownet import (FlowNetConfig, export_onnx, fused_scores, loso, read_composite,
                                                   train_final)

    cfg = FlowNetConfig(epochs=epochs, seeds=seeds, seed=seed, lr=lr, threads=threads, tta=tta, linear=linear)
    cfg_apex = replace(cfg, view="apex")
    with exit_on_error(*ERRORS):
        d = read_composite(data)
        if apex and "apex_image" not in d:
            raise ValueError(f"{data}: no apex frames for --apex")
        out.mkdir(parents=True, exist_ok=True)
        runs = [("flow", cfg, out)] + ([("apex", cfg_apex, out / "apex")] if apex else [])
        for view, c, folder in runs if loso_eval else ():
            r = loso(d, folder, c, resume=resume, log=typer.echo)
            e = r["ensemble"]
            typer.echo(f"[{view} view]")
            dbs = ", ".join(f"{k} UF1 {v['uf1']:.4f} UAR {v['uar']:.4f}" for k, v in e.get("databases", {}).items())
            lin = f" + logistic regression ({c.linear:g})" if c.linear > 0 else ""
            typer.echo(f"LOSO ({r['subjects']} subjects, {r['samples']} clips), ensemble of {seeds} networks{lin}: "
                       f"UF1 {e['uf1']:.4f}, UAR {e['uar']:.4f}; {dbs}")
            parts = ", ".join(f"{k} UF1 {v['uf1']:.4f} / UAR {v['uar']:.4f}" for k, v in r["members"].items())
            typer.echo(f"members alone: {parts}")
            singles = ", ".join(f"UF1 {s['uf1']:.4f} / UAR {s['uar']:.4f}" for s in r["per_seed"])
            typer.echo(f"each network alone{lin}: {singles}; confusion (rows: truth negative, positive, surprise): "
                       f"{e['confusion']}")
        if apex and loso_eval:
            f = fused_scores(d, out, out / "apex", fusion)
            (out / "fused.json").write_text(json.dumps({"fusion": fusion, **f}, indent=1))
            dbs = ", ".join(f"{k} UF1 {v['uf1']:.4f} UAR {v['uar']:.4f}" for k, v in f["databases"].items())
            typer.echo(f"fused ({fusion} flow + {1 - fusion:g} apex): UF1 {f['uf1']:.4f}, UAR {f['uar']:.4f}; {dbs}; "
                       f"confusion {f['confusion']}")
        net = train_final(d, cfg)
        apex_net = train_final(d, cfg_apex) if apex else None
        path = export_onnx(net, out / "micro_expression.onnx", apex_net=apex_net, fusion=fusion,
                           metadata={"recipe": json.dumps({k: v for k, v in vars(cfg).items() if k not in
                                                           ("threads", "view")} | {"apex": apex}),
                                     "data": "MEGC 2019 composite (SMIC-HS, CASME II, SAMM), 442 clips, 68 subjects"})
    typer.echo(f"exported {path} ({path.stat().st_size / 1e3:.1f} kB)")
    if ship:
        from mimetic.video.recognition.runtime import DEFAULT_PATH

        shutil.copyfile(path, DEFAULT_PATH)
        typer.echo(f"shipped to {DEFAULT_PATH}")

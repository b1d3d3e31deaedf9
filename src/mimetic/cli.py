"""The ``mimetic`` command. Heavy imports happen inside commands so ``mimetic --help`` starts fast.

Exit status: 0 when every input worked, 1 when some failed (each is reported), 2 for usage errors.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Annotated, Optional

import typer

app = typer.Typer(
    name="mimetic",
    help="Measure what a face does: landmarks, head pose, blendshapes (and AUs, muscles, expression) "
    "from photos, folders and videos.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

FORMATS = ("json", "csv", "parquet")


def _version(value: bool) -> None:
    if value:
        from mimetic import __version__

        typer.echo(f"mimetic {__version__}")
        raise typer.Exit()


@app.callback()
def _root(version: Annotated[bool, typer.Option("--version", callback=_version, is_eager=True,
                                                help="Print the version and exit.")] = False) -> None:
    pass


def _parse_formats(value: str) -> list[str]:
    fmts = [f.strip().lower() for f in value.split(",") if f.strip()]
    bad = [f for f in fmts if f not in FORMATS]
    if bad or not fmts:
        raise typer.BadParameter(f"unknown format {', '.join(bad) or value!r}; choose from {', '.join(FORMATS)}")
    return fmts


def _err(msg: str) -> None:
    typer.secho(f"error: {msg}", fg=typer.colors.RED, err=True)


@app.command()
def analyze(
    paths: Annotated[list[str], typer.Argument(help="Image or video files, folders (searched recursively) or "
                                                    "glob patterns such as 'photos/**/*.jpg'.")],
    out: Annotated[Optional[Path], typer.Option("--out", "-o", help="Output folder (created). Without it, only a "
                                                "summary is printed.")] = None,
    formats: Annotated[str, typer.Option("--format", "-f", help="Comma-separated outputs: json, csv, parquet.")] = "json,csv",
    json_out: Annotated[Optional[Path], typer.Option("--json", help="Write JSON here: a .json file for a single "
                                                     "image, else a folder.")] = None,
    overlay: Annotated[bool, typer.Option("--overlay", help="Also write images/videos with the mesh, boxes, "
                                          "pose axes and labels drawn.")] = False,
    max_faces: Annotated[int, typer.Option("--max-faces", min=1, help="Most faces per image or frame.")] = 20,
    min_face: Annotated[int, typer.Option("--min-face", min=0, help="Smallest face to search for in photos, in "
                                          "pixels (0: no tile search; faster).")] = 48,
    fps: Annotated[Optional[float], typer.Option("--fps", min=0.001, help="Videos: analyse at most this many frames "
                                                 "per second.")] = None,
    stride: Annotated[int, typer.Option("--stride", min=1, help="Videos: analyse every Nth frame.")] = 1,
    mesh: Annotated[bool, typer.Option("--mesh/--no-mesh", help="Tables: add all 478 mesh points as columns.")] = False,
    landmarks: Annotated[bool, typer.Option("--landmarks/--no-landmarks", help="JSON: include landmark arrays.")] = True,
    max_pixels: Annotated[int, typer.Option("--max-pixels", min=1, help="Refuse images larger than this many "
                                            "pixels (decompression-bomb guard).")] = 100_000_000,
    baseline: Annotated[Optional[Path], typer.Option("--baseline", help="The same person's neutral face (an "
                                                     "image): AU intensities and symmetry become relative to it.")] = None,
    report: Annotated[bool, typer.Option("--report", help="Print a readable report per face: AUs with left/right "
                                         "bars, nerve branches, symmetry.")] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar or per-file lines.")] = False,
) -> None:
    """Analyse images and videos; write JSON per input, a table (one row per face per frame) and overlays."""
    fmts = _parse_formats(formats)
    from mimetic.batch.run import run_batch

    code = run_batch(paths, out=out, formats=fmts, json_out=json_out, overlay=overlay, max_faces=max_faces,
                     min_face=min_face, fps=fps, stride=stride, mesh=mesh, landmarks=landmarks,
                     max_pixels=max_pixels, quiet=quiet, baseline=baseline, report=report)
    raise typer.Exit(code)


@app.command()
def video(
    file: Annotated[Path, typer.Argument(help="A video file (mp4, mov, mkv, webm, avi, ...).")],
    out: Annotated[Optional[Path], typer.Option("--out", "-o", help="Output folder for the table and JSON lines.")] = None,
    formats: Annotated[str, typer.Option("--format", "-f", help="Comma-separated: json (JSON lines), csv, parquet.")] = "csv",
    annotate: Annotated[Optional[Path], typer.Option("--annotate", help="Write an annotated video here (.mp4).")] = None,
    fps: Annotated[Optional[float], typer.Option("--fps", min=0.001, help="Analyse at most this many frames per second.")] = None,
    stride: Annotated[int, typer.Option("--stride", min=1, help="Analyse every Nth frame.")] = 1,
    start: Annotated[float, typer.Option("--start", min=0.0, help="Start time in seconds.")] = 0.0,
    end: Annotated[Optional[float], typer.Option("--end", min=0.0, help="End time in seconds.")] = None,
    max_faces: Annotated[int, typer.Option("--max-faces", min=1, help="Most faces per frame.")] = 20,
    mesh: Annotated[bool, typer.Option("--mesh/--no-mesh", help="Tables: add all 478 mesh points as columns.")] = False,
    baseline: Annotated[Optional[str], typer.Option("--baseline", help="Neutral reference: an image of the same "
                                                    "person, or 'auto' for the calmest face in the first 5 s.")] = None,
    timeline: Annotated[Optional[Path], typer.Option("--timeline", help="Write the per-track timeline here "
                                                     "(.csv or .parquet), with .windows, .changes (and .events) "
                                                     "tables beside it.")] = None,
    report: Annotated[Optional[Path], typer.Option("--report", help="Write a self-contained HTML report here "
                                                   "(plots also as PNG in <name>_plots/ beside it).")] = None,
    spot: Annotated[bool, typer.Option("--spot", help="Spot micro- and macro-expressions (onset, apex, offset).")] = False,
    window: Annotated[float, typer.Option("--window", min=0.001, help="Seconds per row of the windowed "
                                          "timeline.")] = 1.0,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar.")] = False,
) -> None:
    """Analyse one video as a stream: per-frame table, JSON lines, an annotated copy, the expression timeline,
    micro-expression spotting and an HTML report."""
    fmts = _parse_formats(formats)
    if end is not None and end <= start:
        raise typer.BadParameter("--end must be after --start")
    if timeline is not None and timeline.suffix.lower() not in (".csv", ".parquet"):
        raise typer.BadParameter("--timeline must end in .csv or .parquet")
    if report is not None and report.suffix.lower() not in (".html", ".htm"):
        raise typer.BadParameter("--report must end in .html")
    from mimetic.batch.run import run_video_command

    raise typer.Exit(run_video_command(file, out=out, formats=fmts, annotate=annotate, fps=fps, stride=stride,
                                       start=start, end=end, max_faces=max_faces, mesh=mesh, quiet=quiet,
                                       baseline=baseline, timeline=timeline, report=report, spot=spot,
                                       window=window))


@app.command()
def muscles(
    image: Annotated[Path, typer.Argument(help="A photo with a face.")],
    out: Annotated[Path, typer.Option("--out", "-o", help="The picture to write (.png or .jpg).")] = Path("muscles.png"),
    face: Annotated[int, typer.Option("--face", min=1, help="Which face, numbered as in `mimetic analyze` (1 = "
                                      "most confident).")] = 1,
    canonical: Annotated[bool, typer.Option("--canonical", help="Draw on a canonical front-view face instead of "
                                            "the photo.")] = False,
    bars: Annotated[Optional[Path], typer.Option("--bars", help="Also write the AU bar chart (left/right) here.")] = None,
    baseline: Annotated[Optional[Path], typer.Option("--baseline", help="The same person's neutral face.")] = None,
) -> None:
    """Draw the muscle map: each mimetic muscle coloured by its activation, per side."""
    from mimetic.batch.pictures import muscles_command

    raise typer.Exit(muscles_command(image, out, face=face, canonical=canonical, bars=bars, baseline=baseline))


@app.command("evaluate-aus")
def evaluate_aus(
    labels: Annotated[Path, typer.Argument(help="CSV with columns path,facs: image paths (relative to the CSV) and "
                                           "FACS codes such as 1+2+5B+26 or L12A+R14.")],
    out: Annotated[Optional[Path], typer.Option("--out", "-o", help="Also write the full report as JSON.")] = None,
) -> None:
    """Score the AU estimator against FACS-coded images: per-AU precision, recall, F1, intensity correlation."""
    from mimetic.batch.pictures import evaluate_aus_command

    raise typer.Exit(evaluate_aus_command(labels, out))


@app.command()
def models(
    as_json: Annotated[bool, typer.Option("--json", help="Print as JSON.")] = False,
) -> None:
    """List every model file in use with its path, size and SHA-256."""
    from mimetic.errors import MimeticError
    from mimetic.face.model import model_files

    try:
        rows = model_files()
    except MimeticError as e:
        _err(str(e))
        raise typer.Exit(1)
    if as_json:
        import json

        typer.echo(json.dumps(rows, indent=2))
        return
    for r in rows:
        typer.echo(f"{r['name']}\n  role:   {r['role']}\n  path:   {r['path']}\n  size:   {r['size']:,} bytes\n"
                   f"  sha256: {r['sha256']}")


@app.command()
def serve(
    host: Annotated[str, typer.Option("--host", help="Address to listen on (0.0.0.0: every interface).")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", min=1, max=65535, help="Port to listen on.")] = 8000,
    data_dir: Annotated[Optional[Path], typer.Option("--data-dir", help="Where jobs, results and the database live "
                                                     "(default: $MIMETIC_DATA_DIR or ~/.local/share/mimetic).")] = None,
    database_url: Annotated[Optional[str], typer.Option("--database-url", help="SQLAlchemy URL (default: "
                                                        "$MIMETIC_DATABASE_URL or SQLite in the data directory).")] = None,
    image_workers: Annotated[Optional[int], typer.Option("--image-workers", min=1, help="Threads analysing photos, "
                                                         "each with its own analyzer (default 2).")] = None,
    job_workers: Annotated[Optional[int], typer.Option("--job-workers", min=1, help="Threads running video jobs "
                                                       "(default 1).")] = None,
    log_level: Annotated[str, typer.Option("--log-level", help="debug, info, warning or error.")] = "info",
) -> None:
    """Start the web app: photo, video and live webcam pages and the JSON API (docs at /docs)."""
    try:
        from mimetic.web.serve import serve as run_server
        from mimetic.web.settings import Settings
    except ImportError as e:  # the web dependencies are missing
        _err(f"the web app needs its dependencies ({e.name}); install mimetic with its default dependencies")
        raise typer.Exit(1)
    try:
        settings = Settings.from_env(host=host, port=port, data_dir=data_dir, database_url=database_url,
                                     image_workers=image_workers, job_workers=job_workers)
    except ValueError as e:
        _err(str(e))
        raise typer.Exit(2)
    run_server(settings, log_level=log_level.lower())


TRAIN_EXTRA = "install the train extra: pip install -e '.[train]'"
DATA_FORMATS = {"npz": "ferplus", "ferplus": "ferplus", "fer2013": "fer2013csv", "folder": "folder", "csv": "csv"}


def _need_torch() -> None:
    import importlib.util

    if importlib.util.find_spec("torch") is None:
        _err(TRAIN_EXTRA)
        raise typer.Exit(1)


@app.command()
def train(
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
    """Train the expression CNN (needs the train extra). Aligns and caches the crops once, trains with checkpoints
    (resumable), exports best.pt to OUT/expression.onnx. See docs/training.md."""
    if fmt is not None and fmt.lower() not in DATA_FORMATS:
        raise typer.BadParameter(f"unknown format {fmt!r}; choose from npz, fer2013, folder, csv")
    _need_torch()
    from mimetic.errors import MimeticError
    from mimetic.train.cli_impl import train as run_train

    try:
        run_train(data, out, classes=classes, epochs=epochs, batch_size=batch_size, lr=lr, threads=threads,
                  resume=resume, seed=seed, fmt=DATA_FORMATS[fmt.lower()] if fmt else None, progress=not quiet,
                  aux_labels=aux_labels, init_from=init_from, best_metric=best_metric, warmup_epochs=warmup,
                  precision=precision, aux_balance=aux_balance, teacher=teacher, teacher_weight=teacher_weight,
                  echo=typer.echo)
    except (MimeticError, ValueError, FileNotFoundError) as e:
        _err(str(e))
        raise typer.Exit(1)


@app.command()
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
    from mimetic.errors import MimeticError
    from mimetic.train.cli_impl import evaluate as run_evaluate

    try:
        results = run_evaluate(model, data, out, split=split, threads=threads, progress=not quiet, echo=typer.echo)
    except (MimeticError, ValueError, FileNotFoundError) as e:
        _err(str(e))
        raise typer.Exit(1)
    for m in results.values():
        typer.echo(f"confusion matrix: {m['confusion_png']}")
    typer.echo(f"metrics: {out / 'metrics.json'}")


@app.command()
def explain(
    image: Annotated[Path, typer.Argument(help="A photo with a face.")],
    out: Annotated[Path, typer.Option("--out", "-o", help="The picture to write (.png or .jpg): the heatmap over "
                                      "the photo with the label and score.")] = Path("heat.png"),
    face: Annotated[int, typer.Option("--face", min=1, help="Which face, numbered as in `mimetic analyze` (1 = "
                                      "most confident).")] = 1,
    method: Annotated[str, typer.Option("--method", help="occlusion (onnxruntime), gradcam (torch + the training "
                                        "checkpoint) or auto (gradcam when possible).")] = "auto",
    checkpoint: Annotated[Optional[Path], typer.Option("--checkpoint", help="The shipped network's best.pt, for "
                                                       "Grad-CAM (or set MIMETIC_EXPRESSION_CHECKPOINT).")] = None,
) -> None:
    """Show which face regions drove the expression prediction: a heatmap over the photo."""
    if method not in ("auto", "occlusion", "gradcam"):
        raise typer.BadParameter(f"unknown method {method!r}; choose from occlusion, gradcam, auto")
    from mimetic.expression.explain import explain_command

    raise typer.Exit(explain_command(image, out, face=face, method=method, checkpoint=checkpoint))


def main() -> None:
    try:
        app()
    except KeyboardInterrupt:
        _err("interrupted")
        sys.exit(130)


if __name__ == "__main__":
    main()

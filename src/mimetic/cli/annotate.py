"""``mimetic annotate …``: labelling projects from the command line (issue 20; docs/annotation.md).

The commands open the data directory's database directly, as its administrator: they act as the project's owner.
``import`` creates the project (owned by ``--owner``) when it does not exist yet.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Optional

import typer

from mimetic.cli.common import err, exit_on_error, note

app = typer.Typer(name="annotate", help="Labelling projects: import images, measure agreement, export a training set, "
                  "retrain and compare with the shipped model (see docs/annotation.md; the web pages are under "
                  "/annotate).", no_args_is_help=True)

FORMATS = ("folders", "csv", "votes", "labelstudio")
DataDir = Annotated[Optional[Path], typer.Option("--data-dir", help="The server's data directory (default: "
                                                 "$MIMETIC_DATA_DIR or ~/.local/share/mimetic).")]


def _store(data_dir: Path | None):
    from mimetic.store.annotation import AnnotationStore
    from mimetic.store.db import default_database_url
    from mimetic.web.settings import default_data_dir

    d = Path(data_dir) if data_dir else default_data_dir()
    return AnnotationStore(default_database_url(d), d, migrate=True)


def _project(store, ref: str):
    p = store.lookup(ref)
    if p is None:
        err(f"no project {ref!r} (give its id, or a name no other project has)")
        raise typer.Exit(1)
    return p


@app.command("import")
def import_(
    project: Annotated[str, typer.Argument(help="Project id or name (created when --owner is given and no project "
                                           "has this name).")],
    source: Annotated[Path, typer.Argument(help="A folder of images, a .zip, a video (frames sampled at --fps), an "
                                           "image, or a Label Studio JSON export (with --images).")],
    owner: Annotated[Optional[str], typer.Option("--owner", help="E-mail of the account that owns a new "
                                                 "project.")] = None,
    labels: Annotated[str, typer.Option("--labels", help="A new project's labels: 8 (the expressions) or a comma "
                                        "list.")] = "8",
    aus: Annotated[Optional[str], typer.Option("--aus", help="A new project's AU checkboxes: a comma list such as "
                                               "AU6,AU12, or 'default'.")] = None,
    fps: Annotated[float, typer.Option("--fps", min=0.01, help="Frames per second taken from a video.")] = 1.0,
    images: Annotated[Optional[Path], typer.Option("--images", help="Label Studio import: the folder holding the "
                                                   "tasks' images (matched by file name).")] = None,
    prelabel: Annotated[bool, typer.Option("--prelabel/--no-prelabel", help="Analyse each image once for the "
                                           "suggestion and the face crop.")] = True,
    data_dir: DataDir = None,
) -> None:
    """Add images to a project (kept in the data directory)."""
    from mimetic.annotate.labels import LabelSet

    store = _store(data_dir)
    p = store.lookup(project)
    with exit_on_error(ValueError):
        if p is None:
            if not owner:
                err(f"no project {project!r}; give --owner EMAIL to create it")
                raise typer.Exit(1)
            uid = store.user_id(owner)
            if uid is None:
                err(f"no account {owner!r}")
                raise typer.Exit(1)
            p = store.create_project(uid, project, LabelSet.parse(labels, aus))
            note(f"created project {p.name!r} ({p.id})")
        if source.suffix.lower() == ".json":
            _import_labelstudio(store, p, source, images)
            return
        from mimetic.annotate.ingest import members

        refused: list = []
        pre = None
        analyzer = None
        if prelabel:
            from mimetic import Analyzer
            from mimetic.annotate.prelabel import prelabel as run_prelabel

            analyzer = Analyzer()
            pre = lambda rgb: run_prelabel(analyzer, rgb)  # noqa: E731
        try:
            out = store.ingest(p.owner_id, p.id, members(source, refused, fps=fps), prelabel=pre, refused=refused,
                               progress=lambda n: note(f"{n} images") if n % 100 == 0 else None)
        finally:
            if analyzer is not None:
                analyzer.close()
    for r in out["refused"]:
        err(f"{r['name']}: {r['reason']}")
    typer.echo(f"{p.name}: {out['added']} images added, {out['duplicates']} duplicates, {len(out['refused'])} "
               f"refused; kept in {store.folder(p.id)}")
    if out["refused"]:
        raise typer.Exit(1)


def _import_labelstudio(store, p, source: Path, images: Path | None) -> None:
    from mimetic.annotate.exports import from_labelstudio
    from mimetic.errors import InputError
    from mimetic.media.images import read_image

    if images is None:
        err("a Label Studio import needs --images FOLDER (where the tasks' images are)")
        raise typer.Exit(2)
    files = {f.name: f for f in images.rglob("*") if f.is_file()}

    def load(it):
        f = files.get(it.name)
        try:
            return read_image(f) if f else None
        except InputError as e:
            err(str(e))
            return None

    n = store.import_items(p.owner_id, p.id, from_labelstudio(source), load)
    typer.echo(f"{p.name}: {n['items']} items and {n['votes']} votes imported, {n['skipped']} skipped")


@app.command()
def export(
    project: Annotated[str, typer.Argument(help="Project id or name.")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Output folder (created).")],
    fmt: Annotated[str, typer.Option("--format", "-f", help="folders (OUT/<split>/<label>/), csv (OUT/labels.csv "
                                     "+ OUT/images/), votes (OUT/votes.csv, FER+-style counts) or labelstudio "
                                     "(OUT/labelstudio.json).")] = "folders",
    valid_fraction: Annotated[float, typer.Option("--valid-fraction", min=0.0, max=0.9, help="Share of the images "
                                                  "(image-wise, stable) in the valid split.")] = 0.2,
    data_dir: DataDir = None,
) -> None:
    """Export a project's labels (the final label: the review, else the majority)."""
    from mimetic.annotate import exports

    if fmt not in FORMATS:
        raise typer.BadParameter(f"choose from {', '.join(FORMATS)}", param_hint="--format")
    store = _store(data_dir)
    p = _project(store, project)
    items = store.items(p.owner_id, p.id)
    with exit_on_error(OSError):
        if fmt == "folders":
            counts = exports.to_folders(items, out, valid_fraction=valid_fraction)
            typer.echo(f"{sum(counts.values())} images in {out}: " + ", ".join(f"{k} {v}" for k, v in counts.items()))
        elif fmt == "csv":
            typer.echo(exports.to_csv(items, out, valid_fraction=valid_fraction))
        elif fmt == "votes":
            typer.echo(exports.to_votes(items, p.label_set.labels, out, valid_fraction=valid_fraction))
        else:
            out.mkdir(parents=True, exist_ok=True)
            path = out / "labelstudio.json"
            path.write_text(json.dumps(exports.to_labelstudio(items), indent=1), encoding="utf-8")
            typer.echo(path)


@app.command()
def agreement(
    project: Annotated[str, typer.Argument(help="Project id or name.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
    data_dir: DataDir = None,
) -> None:
    """Cohen's kappa (two annotators, and every pair), Fleiss' kappa, per-class agreement, the model confusion."""
    from mimetic.annotate.agreement import agreement as measure
    from mimetic.annotate.agreement import model_confusion

    store = _store(data_dir)
    p = _project(store, project)
    items = store.items(p.owner_id, p.id)
    ag = measure(items, p.label_set.answers)
    conf = model_confusion(items, p.label_set.labels)
    if as_json:
        typer.echo(json.dumps({"agreement": ag.to_dict(), "model": conf}, indent=1))
        return

    def f(x):
        return "-" if x is None else f"{x:.3f}"

    typer.echo(f"{p.name}: {len(items)} items, {ag.items} with votes, {ag.items_multi} with two or more; "
               f"annotators: {', '.join(ag.annotators) or 'none'}")
    typer.echo(f"percent agreement {f(ag.percent)}  Cohen's kappa {f(ag.cohen)}  Fleiss' kappa {f(ag.fleiss)}  "
               f"to review: {ag.disagreements}")
    for pair, k in ag.pairwise_cohen.items():
        typer.echo(f"  Cohen {pair}: {f(k)}")
    typer.echo("per class (specific agreement, kappa): " + ", ".join(
        f"{c} {f(ag.specific[c])}/{f(ag.category_kappa[c])}" for c in ag.labels if ag.specific[c] is not None))
    typer.echo(f"model vs final label: {conf['n']} items, accuracy {f(conf['accuracy'])}")


@app.command()
def retrain(
    project: Annotated[str, typer.Argument(help="Project id or name.")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Run folder (created; must be new or empty): data/, "
                                      "best.pt, expression.onnx, eval/, comparison.json, comparison.md.")],
    split: Annotated[str, typer.Option("--split", help="image (a hash of the image name) or subject (a hash of the "
                                       "item's subject: every image of one person on the same side).")] = "image",
    valid_share: Annotated[float, typer.Option("--valid-share", min=0.01, max=0.9, help="Share of the items held "
                                               "out for the comparison (never trained on).")] = 0.2,
    epochs: Annotated[int, typer.Option("--epochs", min=1, help="Training epochs.")] = 20,
    batch_size: Annotated[int, typer.Option("--batch-size", min=1, help="Crops per step.")] = 64,
    lr: Annotated[Optional[float], typer.Option("--lr", min=0.0, help="Peak learning rate (default 0.01 with "
                                                "--init-from, else 0.05).")] = None,
    teacher: Annotated[Optional[Path], typer.Option("--teacher", help="Distil from this expression ONNX model "
                                                    "(default: the shipped one, as the Analyzer loads it).")] = None,
    no_teacher: Annotated[bool, typer.Option("--no-teacher", help="Train on the project's labels alone (the new "
                                             "model then has the project's labels as classes).")] = False,
    teacher_weight: Annotated[float, typer.Option("--teacher-weight", min=0.01, max=1.0, help="Share of the "
                                                  "teacher's probabilities in the targets.")] = 0.5,
    init_from: Annotated[Optional[Path], typer.Option("--init-from", help="Start from a training checkpoint "
                                                      "(best.pt / last.pt) instead of random weights.")] = None,
    seed: Annotated[int, typer.Option("--seed", help="Random seed of the training.")] = 0,
    threads: Annotated[int, typer.Option("--threads", min=1, help="torch and onnxruntime threads.")] = 1,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bars (a line per epoch instead).")] = False,
    data_dir: DataDir = None,
) -> None:
    """Fine-tune the expression model on a project's labels and compare it with the shipped one on held-out items.

    Never replaces the shipped model: the report says which is better, and you decide whether to use the new one.
    """
    import importlib.util

    from mimetic.cli.train import TRAIN_EXTRA

    if teacher is not None and no_teacher:
        raise typer.BadParameter("give --teacher or --no-teacher, not both", param_hint="--no-teacher")
    if importlib.util.find_spec("torch") is None:
        err(TRAIN_EXTRA)
        raise typer.Exit(1)
    from mimetic.annotate.retrain import retrain as run_retrain

    store = _store(data_dir)
    p = _project(store, project)
    items = store.items(p.owner_id, p.id)
    with exit_on_error(ValueError, FileNotFoundError):
        c = run_retrain(items, p.label_set.labels, out, project=p.name, split=split, valid_share=valid_share,
                        epochs=epochs, batch_size=batch_size, lr=lr,
                        teacher=None if no_teacher else (teacher or "shipped"), teacher_weight=teacher_weight,
                        init_from=init_from, seed=seed, threads=threads, progress=not quiet, log=typer.echo)
    for name, m in c["models"].items():
        typer.echo(f"{name}: n={m['n']}  accuracy {100 * m['accuracy']:.1f} %  macro-F1 {100 * m['macro_f1']:.1f} %"
                   f"  ({m['how']})")
    typer.echo(f"verdict: {c['verdict']}")
    typer.echo(f"report: {out / 'comparison.md'} and {out / 'comparison.json'}")
    typer.echo(f"the shipped model is unchanged; to use the new one: {c['use']}")

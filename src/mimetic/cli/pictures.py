"""``mimetic muscles``, ``mimetic explain`` and ``mimetic evaluate-aus``: pictures and scores for one face or a
labelled sample. Each command runs the :class:`mimetic.Analyzer` and hands its result to a plain function (a
renderer, the explainer, the AU evaluation)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from mimetic.cli.common import err, exit_on_error, note, save_picture


def _one_face(image: Path, number: int, *, baseline: Path | None = None):
    """``(rgb, face)``: face ``number`` (1-based, as in ``mimetic analyze``) of ``image``, analysed once."""
    from mimetic.analyzer import Analyzer
    from mimetic.media.images import read_image

    with exit_on_error():
        rgb = read_image(image)
        with Analyzer() as analyzer:
            if baseline is not None:
                analyzer.set_baseline(baseline)
            result = analyzer.analyze_array(rgb, source=str(image))
    if len(result.faces) < number:
        err(f"{image}: found {len(result.faces)} face(s), no face #{number}")
        raise typer.Exit(1)
    return rgb, result.faces[number - 1]


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
    from mimetic.render.musclemap import au_bar_chart, canonical_muscle_map, muscle_map

    rgb, f = _one_face(image, face, baseline=baseline)
    save_picture(canonical_muscle_map(f) if canonical else muscle_map(f, rgb), out)
    note(f"muscle map: {out}")
    if bars is not None:
        save_picture(au_bar_chart(f.aus, title=f"{image.name} #{face}"), bars)
        note(f"AU bar chart: {bars}")


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
    from mimetic.expression.explain import METHODS

    if method not in METHODS:
        raise typer.BadParameter(f"unknown method {method!r}; choose from {', '.join(METHODS)}")
    from mimetic.expression.explain import explain as explain_face
    from mimetic.expression.explain import render_explanation, resolve_method
    from mimetic.expression.model import available, default_path

    if not available():
        err(f"no expression model at {default_path()}: ship one (mimetic train ship, see docs/training.md) or set "
            "MIMETIC_EXPRESSION_MODEL")
        raise typer.Exit(1)
    with exit_on_error(RuntimeError, ValueError):
        how = resolve_method(method, checkpoint)
    rgb, f = _one_face(image, face)
    save_picture(render_explanation(rgb, f, explain_face(rgb, f, method=how, checkpoint=checkpoint)), out)
    label = f.expression.label if f.expression is not None else "?"
    note(f"{image} face #{face}: {label} ({how}) → {out}")


def evaluate_aus(
    labels: Annotated[Path, typer.Argument(help="CSV with columns path,facs: image paths (relative to the CSV) and "
                                           "FACS codes such as 1+2+5B+26 or L12A+R14; or an .npz with images and "
                                           "facs_code (small crops are enlarged 4x in a grey margin).")],
    out: Annotated[Optional[Path], typer.Option("--out", "-o", help="Also write the full report as JSON.")] = None,
) -> None:
    """Score the AU estimator against FACS-coded images: per-AU precision, recall, F1, intensity correlation."""
    from mimetic.analyzer import Analyzer
    from mimetic.errors import MimeticError
    from mimetic.export import dumps
    from mimetic.facs.codes import evaluate_aus_csv, evaluate_aus_npz
    from mimetic.media.atomic import atomic_write_text

    try:
        with Analyzer() as analyzer:
            evaluate = evaluate_aus_npz if labels.suffix.lower() == ".npz" else evaluate_aus_csv
            report = evaluate(labels, analyzer)
    except (MimeticError, ValueError, OSError) as e:
        err(f"{labels}: {e}")
        raise typer.Exit(1)
    typer.echo(f"{report['n_scored']} of {report['n_images']} images scored")
    typer.echo(f"{'AU':<6}{'support':>8}{'precision':>11}{'recall':>8}{'F1':>7}{'r':>7}{'ICC':>7}")
    fmt = lambda v: "   -" if v is None else f"{v:.2f}"  # noqa: E731
    for code, m in report["per_au"].items():
        typer.echo(f"{code:<6}{m['support']:>8}{fmt(m['precision']):>11}{fmt(m['recall']):>8}{fmt(m['f1']):>7}"
                   f"{fmt(m['pearson_r']):>7}{fmt(m['icc']):>7}")
    typer.echo(f"macro F1 {fmt(report['macro_f1'])}; mean intensity r {fmt(report['mean_pearson_r'])}")
    for e in report["errors"]:
        err(f"{e['path']}: {e['error']}")
    if out is not None:
        atomic_write_text(out, dumps(report, indent=2))
    if report["errors"]:
        raise typer.Exit(1)

"""The ``mimetic muscles`` and ``mimetic evaluate-aus`` commands."""

from __future__ import annotations

import json
from pathlib import Path

from mimetic.errors import MimeticError


def _console():
    from rich.console import Console

    return Console(stderr=True, soft_wrap=True)


def _save_png(rgb, path: Path) -> None:
    from PIL import Image

    from mimetic.media.atomic import atomic_path

    fmt = "JPEG" if path.suffix.lower() in (".jpg", ".jpeg") else "PNG"
    with atomic_path(path) as tmp:
        Image.fromarray(rgb).save(tmp, format=fmt)


def muscles_command(image: Path, out: Path, *, face: int, canonical: bool, bars: Path | None,
                    baseline: Path | None) -> int:
    from mimetic.analyzer import Analyzer
    from mimetic.media.images import read_image
    from mimetic.render.musclemap import au_bar_chart, canonical_muscle_map, muscle_map

    console = _console()
    try:
        with Analyzer() as analyzer:
            if baseline is not None:
                analyzer.set_baseline(baseline)
            rgb = read_image(image)
            result = analyzer.analyze_array(rgb, source=str(image))
    except MimeticError as e:
        console.print(f"[red]error:[/red] {e}", highlight=False)
        return 1
    if len(result.faces) < face:
        console.print(f"[red]error:[/red] {image}: found {len(result.faces)} face(s), no face #{face}", highlight=False)
        return 1
    f = result.faces[face - 1]
    _save_png(canonical_muscle_map(f) if canonical else muscle_map(f, rgb), out)
    console.print(f"muscle map: {out}", highlight=False)
    if bars is not None:
        _save_png(au_bar_chart(f.aus, title=f"{image.name} #{face}"), bars)
        console.print(f"AU bar chart: {bars}", highlight=False)
    return 0


def evaluate_aus_command(labels: Path, out: Path | None) -> int:
    from mimetic.facs.codes import evaluate_aus_csv
    from mimetic.media.atomic import atomic_write_text

    console = _console()
    try:
        report = evaluate_aus_csv(labels)
    except (MimeticError, ValueError, OSError) as e:
        console.print(f"[red]error:[/red] {labels}: {e}", highlight=False)
        return 1
    print(f"{report['n_scored']} of {report['n_images']} images scored")
    print(f"{'AU':<6}{'support':>8}{'precision':>11}{'recall':>8}{'F1':>7}{'r':>7}")
    fmt = lambda v: "   -" if v is None else f"{v:.2f}"  # noqa: E731
    for code, m in report["per_au"].items():
        print(f"{code:<6}{m['support']:>8}{fmt(m['precision']):>11}{fmt(m['recall']):>8}{fmt(m['f1']):>7}"
              f"{fmt(m['pearson_r']):>7}")
    print(f"macro F1 {fmt(report['macro_f1'])}; mean intensity r {fmt(report['mean_pearson_r'])}")
    for err in report["errors"]:
        text = f"{err['path']}: {err['error']}" if isinstance(err, dict) else str(err)
        console.print(f"[red]error:[/red] {text}", highlight=False)
    if out is not None:
        atomic_write_text(out, json.dumps(report, indent=2))
    return 1 if report["errors"] else 0

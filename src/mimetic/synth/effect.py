"""Does training on generated faces help? (``mimetic synth effect``)

The same network and schedule (``mimetic train fit``'s loop, :func:`mimetic.train.run.train`) trained once per
arm and seed: ``real`` (the dataset alone) and one arm per synthetic folder (``--arm NAME=DIR``, mixed in with
``--synthetic-weight``), each with seeds 0…k−1 (a seed fixes the initialisation, the sample order and the
augmentation, so arm differences at one seed are paired). Every run is scored on FER+ validation and test
(majority labels, 8 classes): accuracy, macro-F1 and each class's recall. The report gives each arm's mean and
sample standard deviation over seeds, and its paired difference from ``real`` (mean ± sd of the per-seed
differences), so a gain can be told from seed noise.

Runs are kept in ``OUT/<arm>/seed<k>/`` (a finished run is not repeated; an interrupted one resumes).
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path

import numpy as np

RARE = ("disgust", "fear", "contempt")
#: The figures summarised per arm: accuracy, macro-F1 and the rare classes' recall.
FIGURES = ("accuracy", "macro_f1") + tuple(f"recall_{c}" for c in RARE)


def _scores(model, x: np.ndarray, y: np.ndarray, classes) -> dict:
    from mimetic.train.loop import predict_probs
    from mimetic.train.metrics import metrics

    m = metrics(y, predict_probs(model, x).argmax(1), classes)
    return {"accuracy": m["accuracy"], "macro_f1": m["macro_f1"], "recall": m["recall"]}


def _figures(scores: dict) -> dict[str, float]:
    """The :data:`FIGURES` of one run on one split."""
    return {"accuracy": scores["accuracy"], "macro_f1": scores["macro_f1"],
            **{f"recall_{c}": scores["recall"][c] for c in RARE}}


def _at(crops: np.ndarray, size: int) -> np.ndarray:
    """The cached 64-px crops at the side the network was trained at."""
    import cv2

    if crops.shape[-1] == size:
        return crops
    return np.stack([cv2.resize(c, (size, size), interpolation=cv2.INTER_AREA) for c in crops])


def _summary(values: list[float]) -> dict:
    a = np.asarray(values, np.float64)
    return {"mean": round(float(a.mean()), 4), "sd": round(float(a.std(ddof=1)) if len(a) > 1 else 0.0, 4),
            "values": [round(float(v), 4) for v in a]}


def augmentation_effect(data: str | os.PathLike, out_dir: str | os.PathLike, arms: dict[str, str | None], *,
                        seeds: int = 3, epochs: int = 6, widths: tuple[int, ...] = (16, 32, 64, 96),
                        blocks: tuple[int, ...] = (1, 1, 1, 1), synthetic_weight: float = 1.0, threads: int = 1,
                        cache_dir: str | os.PathLike | None = None, only: str | None = None,
                        echo: Callable[[str], None] = print) -> dict:
    """Train every arm × seed (``arms``: name → synthetic folder, ``None`` for the real-only arm named ``real``)
    and return (and write to ``OUT/effect.json``) the per-run scores and the summary. ``only``: run just that
    arm (to spread arms over processes); the summary covers the runs that exist."""
    from mimetic.train.datasets import read_dataset
    from mimetic.train.loop import model_from_checkpoint
    from mimetic.train.prepare import prepare
    from mimetic.train.run import train

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    src = read_dataset(data, "8")
    cache = prepare(src, cache_dir, splits=("valid", "test"), progress=False)
    evalsets = {}
    for split in ("valid", "test"):
        rows = np.flatnonzero(src.split == split)
        evalsets[split] = (cache.load(src.rows[rows], keys=("crops",))["crops"], src.targets[rows].argmax(1))
    runs: dict[str, dict[int, dict]] = {}
    for arm, folder in arms.items():
        runs[arm] = {}
        for seed in range(seeds):
            run = out / arm / f"seed{seed}"
            done = run / "scores.json"
            if done.is_file():
                runs[arm][seed] = json.loads(done.read_text())
                continue
            if only is not None and arm != only:
                continue
            echo(f"{arm}, seed {seed}: training ({epochs} epochs) …")
            s = train(data, run, epochs=epochs, seed=seed, threads=threads, resume=(run / "last.pt").is_file(),
                      synthetic=folder, synthetic_weight=synthetic_weight, widths=widths, blocks=blocks,
                      export=False, progress=False, cache_dir=cache_dir, echo=lambda m: None)
            model, st = model_from_checkpoint(s["best_checkpoint"])
            scores = {k: _scores(model, _at(x, st["net"]["size"]), y, src.classes) for k, (x, y) in evalsets.items()}
            scores["best_epoch"] = s["best"]["epoch"]
            done.write_text(json.dumps(scores, indent=2) + "\n", encoding="utf-8")
            runs[arm][seed] = scores
            echo(f"{arm}, seed {seed}: test accuracy {100 * scores['test']['accuracy']:.2f} %, macro-F1 "
                 f"{scores['test']['macro_f1']:.4f}")
    report: dict = {"data": str(data), "arms": {a: (str(f) if f else None) for a, f in arms.items()},
                    "seeds": seeds, "epochs": epochs, "widths": list(widths), "blocks": list(blocks),
                    "synthetic_weight": synthetic_weight, "runs": {a: {str(k): v for k, v in r.items()}
                                                                  for a, r in runs.items()}, "summary": {}}
    base = runs.get("real", {})
    for arm, r in runs.items():
        if not r:
            continue
        row: dict = {"n_seeds": len(r)}
        paired = sorted(set(r) & set(base)) if arm != "real" else []
        for split in ("valid", "test"):
            figs = {s: _figures(v[split]) for s, v in r.items()}
            row[split] = {k: _summary([f[k] for f in figs.values()]) for k in FIGURES}
            if paired:
                before = {s: _figures(base[s][split]) for s in paired}
                row[split + "_minus_real"] = {k: _summary([figs[s][k] - before[s][k] for s in paired])
                                              for k in FIGURES}
        report["summary"][arm] = row
    (out / "effect.json").write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    return report


def effect_markdown(report: dict, split: str = "test") -> str:
    """The summary as a Markdown table: mean ± sd over seeds, and the paired difference from ``real``."""
    keys = FIGURES
    lines = ["| arm | seeds | " + " | ".join(k.replace("_", " ") for k in keys) + " |",
             "|---|---:|" + "---:|" * len(keys)]
    for arm, row in report["summary"].items():
        cells = [f"{100 * row[split][k]['mean']:.2f} ± {100 * row[split][k]['sd']:.2f}" for k in keys]
        lines.append(f"| {arm} | {row['n_seeds']} | " + " | ".join(cells) + " |")
        d = row.get(split + "_minus_real")
        if d:
            cells = [f"{100 * d[k]['mean']:+.2f} ± {100 * d[k]['sd']:.2f}" for k in keys]
            lines.append(f"| {arm} − real (paired) | {row['n_seeds']} | " + " | ".join(cells) + " |")
    return "\n".join(lines)

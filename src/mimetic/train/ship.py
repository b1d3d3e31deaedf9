"""Ship a trained expression CNN: fit the fusion, evaluate CNN / geometric / fused, copy the model files into
``src/mimetic/models/`` and write ``MODEL_CARD.md`` with the measured numbers.

    mimetic train ship --cnn runs/ferplus8/expression.onnx --data /work/shared/datasets/ferplus.npz

Steps (all outputs of the run go to ``out``, default ``<cnn folder>/ship``):

1. the geometric model: ``geo``, else the shipped ``models/expression_geometric.onnx``, else one is trained
   (``mimetic.train.geometric``, ~2 min);
2. :func:`mimetic.train.fuse.fit_fusion` on the FER+ ``valid`` split → ``expression_fusion.json``;
3. :func:`mimetic.train.fuse.evaluate_all` on FER+ test and FER2013 PrivateTest (all, confident) → ``eval/``;
4. the decision: the fusion ships only if its out-of-fold validation accuracy beats the CNN alone; otherwise the
   CNN ships alone (the fusion JSON then says ``"mode": "cnn"``, and inference runs the CNN only);
5. ``expression.onnx``, ``expression_geometric.onnx``, ``expression_fusion.json`` and the shipped model's
   confusion matrices (``expression_confusion_*.png``) are copied into the models folder;
6. the per-face inference cost is measured on a fixture photo (one onnxruntime thread, warm);
7. ``MODEL_CARD.md`` is written from the measured numbers and the training logs (nothing is filled in by hand).
"""

from __future__ import annotations

import json
import os
import platform
import shlex
import shutil
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from mimetic.expression.fusion import MODELS_DIR, FusedExpression, Fusion, file_sha256
from mimetic.train.fuse import FUSION_NAME

REPO = Path(__file__).resolve().parents[3]
FIXTURE = REPO / "tests" / "data" / "images" / "astronaut_nasa.jpg"
CNN_NAME, GEO_NAME = "expression.onnx", "expression_geometric.onnx"
CARD_SETS = ("ferplus_test", "fer2013_private")


#: The heading of the micro-expression recogniser's section of MODEL_CARD.md (written by hand, kept on ship).
MICRO_SECTION = "# Micro-expression recogniser"


def _copy(src: Path, dst: Path) -> Path:
    from mimetic.media.atomic import atomic_path

    src, dst = Path(src), Path(dst)
    if src.resolve() == dst.resolve():
        return dst
    dst.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(dst) as tmp:
        shutil.copyfile(src, tmp)
    return dst


def _read_jsonl(path: Path) -> list[dict]:
    rows = []
    if path.is_file():
        for line in path.read_text(encoding="utf-8").splitlines():
            try:
                rows.append(json.loads(line))
            except json.JSONDecodeError:
                continue
    return rows


def measure_cost(models_dir: Path, image: Path = FIXTURE, runs: int = 300) -> dict | None:
    """Median / p90 milliseconds per face of the shipped model on ``image`` (crop + CNN [+ features + MLP +
    fusion], one thread, warm; the AUs and frontal points come from ``enrich_face`` as at inference)."""
    if not image.is_file():
        return None
    from mimetic.analyzer import Analyzer
    from mimetic.facs.estimate import estimate_aus, knot_aus
    from mimetic.facs.geometry import frontal_points
    from mimetic.facs.texture import face_crop
    from mimetic.media.images import read_image

    rgb = read_image(image)
    with Analyzer() as a:
        faces = a.analyze_array(rgb).faces
    if not faces:
        return None
    face = faces[0]
    model = FusedExpression(models_dir / CNN_NAME, models_dir / GEO_NAME, models_dir / FUSION_NAME)
    frontal = frontal_points(face)
    aus = knot_aus(face, frontal=frontal)
    # the AUs the analyzer reports (its AU stage runs for the expression too), which feature version 2 reads
    reported = estimate_aus(face, frontal=frontal, crop=face_crop(rgb, face))

    def bench(fn) -> tuple[float, float]:
        for _ in range(30):
            fn()
        ts = []
        for _ in range(runs):
            t = time.perf_counter()
            fn()
            ts.append(time.perf_counter() - t)
        return float(np.median(ts) * 1e3), float(np.percentile(ts, 90) * 1e3)

    crop = model.cnn.crop(rgb, face)
    return {"image": image.name, "mode": model.mode, "runs": runs,
            "per_face_ms": bench(lambda: model.classify_face(rgb, face, aus=aus, frontal=frontal, reported=reported)),
            "aus_ms": bench(lambda: estimate_aus(face, frontal=frontal, crop=face_crop(rgb, face))),
            "crop_ms": bench(lambda: model.cnn.crop(rgb, face)),
            "cnn_ms": bench(lambda: model.cnn.predict(crop[None])),
            "machine": f"{platform.machine()}, {os.cpu_count()} logical CPUs, Python {platform.python_version()}"}


def ship(cnn: str | os.PathLike, data: str | os.PathLike, *, geo: str | os.PathLike | None = None,
         out: str | os.PathLike | None = None, models_dir: str | os.PathLike = MODELS_DIR, bias: bool = True,
         threads: int = 1, command: str | None = None, cache_dir: str | os.PathLike | None = None,
         cross: str | os.PathLike | None = None, log: Callable[[str], None] = print) -> dict:
    """Fit, evaluate, decide, copy and write the model card (see the module docstring). Returns a summary."""
    from mimetic.expression.model import ExpressionModel
    from mimetic.train.fuse import fit_and_evaluate

    cnn = Path(cnn)
    models = Path(models_dir)
    out = Path(out) if out is not None else cnn.parent / "ship"
    out.mkdir(parents=True, exist_ok=True)
    if not cnn.is_file():
        raise FileNotFoundError(f"{cnn}: no such CNN model file")
    classes = ExpressionModel(cnn).classes
    from mimetic.types import EXPRESSIONS

    if tuple(classes) != EXPRESSIONS:
        raise ValueError(f"{cnn}: the shipped model must have the 8 classes {list(EXPRESSIONS)}, not {list(classes)}")
    geo_path = Path(geo) if geo else models / GEO_NAME
    geo_summary = None
    if not geo_path.is_file():
        from mimetic.train.geometric import train_geometric

        log(f"no geometric model at {geo_path}: training one into {out / 'geometric'}")
        geo_summary = train_geometric(data, out / "geometric", threads=threads, cache_dir=cache_dir, echo=log)
        geo_path = Path(geo_summary["onnx"])
    fusion, results = fit_and_evaluate(cnn, geo_path, data, out, bias=bias, threads=threads, cache_dir=cache_dir,
                                       log=log)
    shipped = "fused" if fusion.mode == "fused" else "cnn"
    # copy into the package
    _copy(cnn, models / CNN_NAME)
    _copy(geo_path, models / GEO_NAME)
    final = Fusion(**{**{k: getattr(fusion, k) for k in fusion.__dataclass_fields__}, "cnn_file": CNN_NAME,
                      "geometric_file": GEO_NAME})
    final.save(models / FUSION_NAME)
    pngs = {}
    for name in CARD_SETS:
        src_png = out / "eval" / f"confusion_{shipped}_{name}.png"
        if src_png.is_file():
            pngs[name] = _copy(src_png, models / f"expression_confusion_{name}.png").name
    cost = measure_cost(models)
    cross_cv = json.loads(Path(cross).read_text()) if cross else None
    card = model_card(cnn=cnn, geo=geo_path, data=Path(data), fusion=final, results=results, pngs=pngs, cost=cost,
                      models=models, command=command, cross=cross_cv)
    from mimetic.media.atomic import atomic_write_text

    old = models / "MODEL_CARD.md"
    if old.is_file() and MICRO_SECTION in old.read_text():  # the micro-expression model's section is kept
        card = card.rstrip("\n") + "\n\n" + old.read_text()[old.read_text().index(MICRO_SECTION):]
    atomic_write_text(models / "MODEL_CARD.md", card)
    atomic_write_text(out / "MODEL_CARD.md", card)
    log(f"shipped ({shipped}) into {models}: {CNN_NAME}, {GEO_NAME}, {FUSION_NAME}, MODEL_CARD.md")
    return {"mode": shipped, "decision": fusion.info.get("decision"), "models_dir": str(models), "out": str(out),
            "cost": cost}


# -- the model card --------------------------------------------------------------------------------------------
def _pct(v: float) -> str:
    return f"{100 * v:.2f} %"


def _cnn_recipe(cnn: Path) -> tuple[dict | None, list[dict], dict]:
    rows = _read_jsonl(cnn.parent / "log.jsonl")
    start = next((r for r in reversed(rows) if r.get("event") == "start"), None)
    epochs = [r for r in rows if r.get("event") == "epoch"]
    summary = {}
    if (cnn.parent / "summary.json").is_file():
        try:
            summary = json.loads((cnn.parent / "summary.json").read_text())
        except json.JSONDecodeError:
            summary = {}
    return start, epochs, summary


def _subset_args(data: Path, start: dict) -> dict:
    """``max_train`` / ``drop_unaligned`` of a logged run (not in its config): from the logged training count."""
    d = start.get("data", {})
    n = d.get("n_train")
    if n is None:
        return {}
    try:
        from mimetic.train.datasets import read_dataset

        src = read_dataset(data, d.get("classes"))
    except Exception:  # the card still gets written; the call then omits the subset
        return {}
    full = int((src.split == "train").sum())
    if n >= full:
        return {}
    return {"max_train": int(n)}


def _train_call(data: Path, out_dir: Path, start: dict) -> tuple[str, str | None]:
    """The Python call (and, when the options allow, the CLI command) that repeat a logged CNN run."""
    cfg = start["config"]
    keys = ("epochs", "batch_size", "lr", "threads", "seed", "optimizer", "weight_decay", "warmup_epochs", "balance",
            "targets", "max_steps", "aux_weight", "init_from", "best_metric", "precision", "aux_balance",
            "teacher", "teacher_weight")
    kw = {k: cfg[k] for k in keys if k in cfg and cfg[k] is not None}
    if kw.get("aux_weight") == 1.0:
        del kw["aux_weight"]
    if "teacher" not in kw:
        kw.pop("teacher_weight", None)
    for k, default in (("best_metric", "valid_acc"), ("precision", "fp32")):
        if kw.get(k) == default:
            del kw[k]
    if start.get("data", {}).get("aux_classes"):
        kw["aux_labels"] = "fer2013"
    classes = start.get("data", {}).get("classes")
    if classes:
        from mimetic.types import EXPRESSIONS

        kw = {"classes": "8" if tuple(classes) == EXPRESSIONS else ",".join(classes), **kw}
    kw.update(_subset_args(data, start))
    args = ", ".join(f"{k}={v!r}" for k, v in kw.items())
    py = f"from mimetic.train.run import train; train({str(data)!r}, {str(out_dir)!r}, {args}, progress=False)"
    defaults = {"optimizer": "sgd", "weight_decay": 5e-4, "balance": "sqrt", "targets": "soft"}
    cli = None
    if all(kw.get(k, v) == v for k, v in defaults.items()) and \
            not ({"max_steps", "max_train", "aux_weight"} & set(kw)):
        cli = (f"mimetic train fit {shlex.quote(str(data))} --out {shlex.quote(str(out_dir))} --classes "
               f"{shlex.quote(kw.get('classes', '8'))} --epochs {cfg.get('epochs')} --batch-size {cfg.get('batch_size')} "
               f"--lr {cfg.get('lr')} --warmup {cfg.get('warmup_epochs')} --threads {cfg.get('threads')} "
               f"--seed {cfg.get('seed')}")
        if "aux_labels" in kw:
            cli += " --aux-labels fer2013"
        if "init_from" in kw:
            cli += f" --init-from {shlex.quote(str(kw['init_from']))}"
        if "best_metric" in kw:
            cli += f" --best-metric {kw['best_metric']}"
        if "precision" in kw:
            cli += f" --precision {kw['precision']}"
        if "aux_balance" in kw:
            cli += f" --aux-balance {kw['aux_balance']}"
        if "teacher" in kw:
            cli += f" --teacher {shlex.quote(str(kw['teacher']))} --teacher-weight {kw['teacher_weight']}"
    return f'.venv/bin/python -c "{py}"', cli


def _runs_behind(cnn: Path, members: list[Path]) -> list[tuple[Path, dict, list[dict]]]:
    """Every logged run behind the shipped CNN, each once, a run before the runs started from it: the chain of
    ``cnn``'s own folder, or of each ensemble member's."""
    out: list[tuple[Path, dict, list[dict]]] = []
    for chain in ([_run_chain(m) for m in members] if members else [_run_chain(cnn)]):
        for item in chain:
            if item[0] not in [r[0] for r in out]:
                out.append(item)
    return out


def _sources(meta: dict[str, str]) -> list[Path]:
    """The checkpoints an exported file was made from: its ensemble members, or the one checkpoint."""
    members = [Path(m) for m in json.loads(meta.get("ensemble_members") or "[]")]
    return members or ([Path(meta["checkpoint"])] if meta.get("checkpoint") else [])


def _run_chain(cnn: Path) -> list[tuple[Path, dict, list[dict]]]:
    """The logged runs behind ``cnn``'s folder, first one first: a fine-tuning run (``init_from``) is preceded by
    the run it started from, when that run's log is still there."""
    chain: list[tuple[Path, dict, list[dict]]] = []
    folder = cnn.parent
    while folder is not None and len(chain) < 5:
        rows = _read_jsonl(folder / "log.jsonl")
        start = next((r for r in reversed(rows) if r.get("event") == "start"), None)
        if start is None:
            break
        chain.append((folder, start, [r for r in rows if r.get("event") == "epoch"]))
        init = start["config"].get("init_from")
        folder = Path(init).parent if init else None
    return chain[::-1]


def model_card(*, cnn: Path, geo: Path, data: Path, fusion: Fusion, results: dict, pngs: dict[str, str],
               cost: dict | None, models: Path, command: str | None = None, cross: dict | None = None) -> str:
    """MODEL_CARD.md from measured numbers only (``cross``: the subject-wise CV of ``mimetic train posed``)."""
    from mimetic.expression.geometric import GeometricModel
    from mimetic.expression.model import ExpressionModel
    from mimetic.train.fuse import SET_TITLES, TITLES, results_markdown

    cm = ExpressionModel(cnn)
    gm = GeometricModel(geo)
    start, epochs, summary = _cnn_recipe(cnn)
    if start is None:  # an ensemble's (or re-exported file's) folder has no log: the data line comes from its runs
        behind = _runs_behind(cnn, _sources(cm.metadata))
        start = behind[-1][1] if behind else None
    shipped = "fused" if fusion.mode == "fused" else "cnn"
    info = fusion.info
    L: list[str] = []
    add = L.append
    add("# Expression model (8 classes)")
    add("")
    add(f"What `mimetic` reports as `expression` ({', '.join(cm.classes)}), from "
        + ("**the fusion of the CNN on the aligned face crop with the geometric model** (AUs, blendshapes, "
           "frontal landmarks, pose)." if shipped == "fused" else
           "**the CNN on the aligned face crop alone** (the fusion with the geometric model did not beat it on "
           "validation; see Decision)."))
    add("Inference runs on onnxruntime (no torch): `mimetic.expression.fusion.FusedExpression`, called by "
        "`mimetic.stages.enrich_face`. The AU-prototype scores stay available as `expression.prototypes`.")
    add("")
    add("These scores describe the facial configuration a face shows, not what the person feels.")
    add("")
    add("## Files")
    add("")
    add("| file | role | size | SHA-256 |")
    add("|---|---|---:|---|")
    roles = {CNN_NAME: ("CNN" if "ensemble_members" not in cm.metadata else
                        f"CNN (ensemble of {len(json.loads(cm.metadata['ensemble_members']))} networks, probabilities "
                        "averaged)") + ": `crops` (N, 1, 64, 64) grey 0..255 → `probs` (N, 8)"
                       + (f" and `probs_aux` (N, {len(cm.aux_classes)}): a second head trained on the original "
                          "FER2013 labels" if cm.aux_classes else "")
                       + ("; each crop averaged with its mirror image" if cm.metadata.get("mirror_average") == "1"
                          else "") + ("; int8-quantized" if cm.metadata.get("quantization") else ""),
             GEO_NAME: f"geometric MLP: `features` (N, {gm.n_features}) → `probs` (N, 8)"
                       + ("" if shipped == "fused" else " (not used: CNN shipped alone)"),
             FUSION_NAME: f"fusion parameters, mode `{fusion.mode}`, with the two files' hashes"}
    for name, role in roles.items():
        p = models / name
        size = p.stat().st_size
        add(f"| `{name}` | {role} | {size / 1e6:.2f} MB | `{file_sha256(p)}` |" if size >= 100_000 else
            f"| `{name}` | {role} | {size / 1e3:.1f} kB | `{file_sha256(p)}` |")
    add("")
    add("## Data")
    add("")
    add(f"`{data.name}`: FER2013 faces (48×48 grey, web-scraped, Goodfellow et al. 2013) with FER+ crowd labels "
        "(10 annotators per image, Barsoum et al. 2016). Splits: `train` for training, `valid` (FER2013 PublicTest) "
        "for model selection and for fitting the fusion, `test` (FER2013 PrivateTest) for the numbers below only.")
    add("")
    d = (start or {}).get("data", {})
    if "n_train" in d and "n_valid" in d:
        add(f"- CNN: {d['n_train']:,} training and {d['n_valid']:,} validation crops "
            "(rows whose FER+ majority vote is unknown / not-a-face dropped); targets = the vote distribution.")
    grec = json.loads(gm.metadata.get("recipe", "{}") or "{}")
    mixed = grec.get("config", {}).get("mix") or []
    if grec:
        add(f"- Geometric model: {grec['train']:,} training and {grec['valid']:,} validation faces with landmarks "
            f"({grec['train_without_face']:,} training images where MediaPipe found no face are left out)"
            + "".join(f"; plus {m['rows']:,} faces of `{m['data']}` (weight {grec['config'].get('mix_weight', 1):g})"
                      for m in mixed) + ".")
    refit = json.loads(cm.metadata.get("heads_refit") or "null")
    if refit:
        add(f"- CNN heads refitted (`mimetic train posed`) on the FER+ training crops and the faces of "
            f"`{refit.get('mix')}` (CK+48 posed expressions, research-only terms; weight {refit.get('heads_weight'):g}"
            + (f", plus 8 augmented copies of each at weight {refit['aug_weight']:g}" if refit.get("aug_weight")
               else "") + "). The other CK+ subjects are kept outside the project to check the result.")
    add(f"- Fusion: fitted on {info['n']:,} validation images ({info['without_face']} without landmarks, where "
        "the geometric model gives the uniform distribution).")
    detail = cm.metadata.get("crop_detail") or ""
    add(f"- Faces are aligned by `mimetic.expression.crop.align_crop` (similarity transform from 10 MediaPipe "
        f"landmarks onto FER2013's average geometry, grey, {cm.size}×{cm.size}"
        + (f"; photos limited to the training crops' {detail}-pixel detail" if detail else "")
        + "), the same at training and at inference.")
    add("")
    add("## Recipe")
    add("")
    meta = cm.metadata
    members = [Path(m) for m in json.loads(meta.get("ensemble_members") or "[]")]
    chain = _runs_behind(cnn, _sources(meta))
    mirror, quant = meta.get("mirror_average") == "1", meta.get("quantization")
    member_folders = {m.parent for m in members}
    for k, (folder, st, eps) in enumerate(chain):
        c = st["config"]
        secs = sum(float(e.get("seconds", 0)) for e in eps)
        stage = "" if len(chain) == 1 else (f" — run {k + 1} of {len(chain)}, `{folder.name}`"
                                            + (", ensemble member" if folder in member_folders else ""))
        aux = st.get("data", {}).get("aux_classes")
        add(f"- **CNN**{stage} (`mimetic.train.net.ExpressionNet`, widths {c.get('widths')}, blocks "
            f"{c.get('blocks')}, dropout {c.get('dropout')}): "
            + (f"started from the weights of `{Path(c['init_from']).parent.name}`; " if c.get("init_from") else "")
            + f"{c.get('epochs')} epoch(s), batch {c.get('batch_size')}, "
            f"{c.get('optimizer')} lr {c.get('lr')} (warm-up {c.get('warmup_epochs')} epoch, cosine), weight decay "
            f"{c.get('weight_decay')}, class balance `{c.get('balance')}`, targets `{c.get('targets')}`, seed "
            f"{c.get('seed')}, {c.get('threads')} thread(s)"
            + (", bfloat16 autocast" if c.get("precision") == "bf16" else "")
            + f"; augmentation `{json.dumps(c.get('aug'))}`"
            + (f"; a second head learns the original FER2013 label of each image ({len(aux)} classes, "
               f"cross-entropy, weight {c.get('aux_weight', 1.0)}, class balance "
               f"`{c.get('aux_balance') or c.get('balance')}`) and best.pt is chosen by "
               f"`{c.get('best_metric', 'valid_acc')}`" if aux else "")
            + (f"; distilled from `{c['teacher']}` (targets = {1 - c.get('teacher_weight', 0.5):g} · labels + "
               f"{c.get('teacher_weight', 0.5):g} · that model's probabilities on the un-augmented training crops)"
               if c.get("teacher") else "")
            + f". {len(eps)} epoch(s) logged, {secs / 3600:.2f} h of training.")
    if members:
        add(f"- **Ensemble**: the shipped CNN averages the probabilities (both heads) of {len(members)} networks "
            f"(`mimetic.train.net.Ensemble`, one ONNX file): " + ", ".join(
                f"`{m.parent.name}/{m.name}` (epoch {e}, validation accuracy {_pct(float(v))})" for m, e, v in
                zip(members, meta.get("trained_epochs", "").split(","), meta.get("valid_accuracy", "").split(",")))
            + ".")
    elif meta.get("trained_epochs"):
        picked = chain[-1][1]["config"].get("best_metric", "valid_acc") if chain else "valid_acc"
        add(f"- Exported checkpoint: epoch {meta['trained_epochs']}, the best by `{picked}` on validation "
            f"(main-head validation accuracy {_pct(float(meta['valid_accuracy']))}).")
    if mirror or quant:
        add("- **Inference graph** (`mimetic train export`): " + "; ".join(x for x in (
            "each crop runs together with its mirror image and the two probabilities are averaged (left/right "
            "symmetric by construction, twice the compute)" if mirror else "",
            f"post-training quantization with onnxruntime ({quant}; `mimetic.train.quantize`)" if quant else "")
            if x) + ".")
    if grec:
        g = grec["config"]
        add(f"- **Geometric model** (`mimetic.train.geometric`): MLP {gm.n_features} → "
            f"{' → '.join(map(str, g['hidden']))} → 8, dropout {g['dropout']}, soft cross-entropy on the votes, "
            f"class balance `{g['balance']}`, AdamW lr {g['lr']} (weight decay {g['weight_decay']}, batch "
            f"{g['batch_size']}, cosine), {g['epochs']} epochs (kept: epoch {grec['best_epoch']}, validation "
            f"accuracy {_pct(grec['valid_accuracy'])} on faces with landmarks), mirror augmentation p {g['mirror']}, "
            f"feature noise {g['noise']}; seed {g['seed']}. The exported graph standardises the features and "
            "averages a face with its mirror image.")
    if refit:
        add(f"- **Heads refitted** (`mimetic.train.heads`, from `{refit.get('base')}`): each member's last layer "
            f"refitted on its pooled features — FER+ training rows with the member's own answer as target "
            f"(self-distillation), posed rows one-hot with weight {refit.get('heads_weight'):g}"
            + (f" and 8 augmented copies of each (mirror, gamma, blur, down-up, JPEG, noise, rotation/zoom; "
               f"`mimetic.train.posed.augment`) at weight {refit['aug_weight']:g}" if refit.get("aug_weight") else "")
            + f", L2 pull "
            f"{refit.get('pull'):g} towards the previous weights, L-BFGS; convolutions, quantization and the FER2013 "
            "head unchanged.")
    bias = "none" if fusion.bias is None else "[" + ", ".join(f"{b:+.3f}" for b in fusion.bias) + "]"
    temp = (f"; then a temperature T = {fusion.temperature:.3f} divides the logits (fitted on the validation "
            "split's majority labels, so a probability says how often the answer is right; expected calibration "
            f"error on validation {_pct(info['ece']['before_temperature'])} → "
            f"{_pct(info['ece']['after_temperature'])})") if fusion.temperature != 1.0 and "ece" in info else ""
    add(f"- **Fusion** (`mimetic.train.fuse`): p ∝ exp(scale · ((1 − w) · log p_cnn + w · log p_geo) + bias), "
        f"fitted on the validation split ({info['objective']}): w = {fusion.weight:.4f}, scale = "
        f"{fusion.scale:.4f}, bias = {bias} (classes in the order above){temp}.")
    if fusion.aux:
        ax = fusion.aux
        abias = "none" if ax.get("bias") is None else "[" + ", ".join(f"{b:+.3f}" for b in ax["bias"]) + "]"
        add(f"- **FER2013 head fusion**: the same form for the second head and the geometric model restricted to "
            f"its {len(ax['classes'])} classes ({', '.join(ax['classes'])}), fitted on the validation split's "
            f"original FER2013 labels: w = {ax['weight']:.4f}, scale = {ax['scale']:.4f}, bias = {abias}"
            + (f". Decision on validation: {info['aux']['decision']}." if info.get("aux", {}).get("decision")
               else "."))
    add("")
    add("## Decision")
    add("")
    acc = info["accuracy"]
    add(f"Shipped: **{'fused' if shipped == 'fused' else 'CNN alone'}**. On the validation split the CNN alone "
        f"scores {_pct(acc['cnn'])}, the geometric model {_pct(acc['geometric'])}, the fusion {_pct(acc['fused'])} "
        f"with the parameters fitted on all of it and {_pct(acc['fused_out_of_fold'])} out-of-fold "
        f"({info['folds']}-fold cross-validation inside the validation split; the decision uses this number): "
        f"{info['decision']}.")
    add("")
    add("## Measured accuracy")
    add("")
    add("Test splits, never used for training, fitting or selection. Accuracy and macro-F1 "
        "(`mimetic.train.evaluate.metrics`); "
        + ("FER2013 numbers come from the second head, trained on FER2013's own labels (CNN: that head; fused: "
           + ("that head alone, as the validation decision above says" if fusion.aux.get("mode") == "head" else
              "that head fused with the geometric model")
           + "; geometric: its 8-class output without contempt, renormalised)" if cm.aux_classes and fusion.aux else
           "FER2013 numbers map the 8-class output to 7 classes by dropping contempt and renormalising")
        + "; \"confident\" = the images whose original FER2013 label was recovered with high confidence.")
    add("")
    add(results_markdown(results))
    add("")
    eces = [f"{SET_TITLES.get(k, k)} {_pct(v['calibration']['ece'])}" for k, v in results.get(shipped, {}).items()
            if isinstance(v, dict) and "calibration" in v]
    if eces:
        add("Calibration of the shipped model's probabilities (expected calibration error of the top answer, 15 "
            "bins; the fusion's scale, fitted on validation, acts as its temperature): " + "; ".join(eces) + ".")
        add("")
    name = "ferplus_test"
    if name in results.get(shipped, {}):
        m = results[shipped][name]
        add(f"Per-class results of the shipped model ({TITLES[shipped]}) on {SET_TITLES[name]}:")
        add("")
        add("| class | support | recall | precision | F1 |")
        add("|---|---:|---:|---:|---:|")
        for c in m["recall"]:
            add(f"| {c} | {m['support'][c]} | {_pct(m['recall'][c])} | {_pct(m['precision'][c])} | "
                f"{_pct(m['f1'][c])} |")
        add("")
    for name, png in pngs.items():
        add(f"![Confusion matrix, {SET_TITLES.get(name, name)}]({png})")
        add("")
    if cross:
        add("## Cross-dataset")
        add("")
        rc = cross["recipe"]
        add(f"Posed faces ({cross['mix']}: {cross['fused']['n']} crops of {cross['subjects']} subjects, 7 classes, no "
            f"neutral) are in the training mix (`mimetic train posed`: the CNN's heads refitted with each posed face "
            f"weighted {rc['heads_weight']:g}"
            + (f" and 8 augmented copies of each at {rc['aug_weight']:g}" if rc.get("aug_weight") else "")
            + f", the geometric model retrained with them weighted {rc['geo_weight']:g}; "
            "the fusion fitted on FER+ validation alone). So they are scored by **subject-wise cross-validation** "
            f"({cross['folds']} folds of whole subjects; each fold's subjects were left out of every step that "
            "scored them" + (", the AU models the geometric features read included" if "per fold" in
                             cross.get("au_models", "") else
                             f"; AU models: {cross['au_models']}" if cross.get("au_models") else "")
            + "). \"On its classes\": the answer restricted to the set's classes; \"answered neutral\": "
            "the share of these posed expressions the 8-way answer calls neutral.")
        add("")
        add("| set, protocol | model | on its classes | answered neutral | per-class recall |")
        add("|---|---|---:|---:|---|")
        for key, label in (("before", "before (FER+ only)"), ("cnn", "CNN, refitted heads"),
                           ("geometric", "geometric, retrained"), ("fused", "**fused (shipped)**")):
            r = cross[key]
            rec = ", ".join(f"{c} {100 * v:.0f}" for c, v in r["recall"].items())
            add(f"| {cross['mix']}, {cross['folds']}-fold by subject | {label} | {_pct(r['accuracy_present'])} | "
                f"{_pct(r['answered_neutral'])} | {rec} |")
        add("")
        add(f"FER+ validation, fused, with each fold's models: {_pct(cross['ferplus_valid_fused'])} (the model "
            f"before: {_pct(cross['before']['ferplus_valid'])}; both in-sample for the fusion). Expected calibration "
            f"error of the fused answer on the posed faces (out of fold): {_pct(cross['fused']['ece'])}. Other CK+ "
            "subjects, JAFFE and in-the-wild sets are kept outside the project and measured there; "
            "`mimetic evaluate DATA` scores any labelled set the same way.")
        add("")
    if cost:
        med, p90 = cost["per_face_ms"]
        add("## Inference cost")
        add("")
        add(f"Per face on `{cost['image']}`, warm, one onnxruntime thread ({cost['machine']}; {cost['runs']} runs; "
            f"other work may have shared the CPU): **{med:.2f} ms median** ({p90:.2f} ms p90) for the expression "
            f"(mode `{cost['mode']}`), of which the crop {cost['crop_ms'][0]:.2f} ms and the CNN "
            f"{cost['cnn_ms'][0]:.2f} ms. The geometric model reads the AUs the analyzer reports, which its AU stage "
            "computes for the expression too"
            + (f" ({cost['aus_ms'][0]:.2f} ms median, the texture crop included; not in the figure above)"
               if cost.get("aus_ms") else "") + ".")
        add("")
    add("## Against the project's targets")
    add("")
    add("| metric | goal | minimum | measured (shipped model) | |")
    add("|---|---|---|---|---|")

    def verdict(v: float, goal: float, minimum: float, higher: bool = True) -> str:
        ok_goal = v >= goal if higher else v <= goal
        ok_min = v >= minimum if higher else v <= minimum
        return "goal met" if ok_goal else ("minimum met" if ok_min else "below the minimum")

    sm = results.get(shipped, {})
    if "ferplus_test" in sm:
        a = sm["ferplus_test"]["accuracy"]
        add(f"| FER+ test accuracy, 8 classes | ≥ 88 % | ≥ 84 % | {_pct(a)} | {verdict(a, 0.88, 0.84)} |")
    if "fer2013_private" in sm:
        a = sm["fer2013_private"]["accuracy"]
        add(f"| FER2013 PrivateTest accuracy, 7 classes | ≥ 73 % | ≥ 70 % | {_pct(a)} | {verdict(a, 0.73, 0.70)} |")
    if cost:
        med = cost["per_face_ms"][0]
        add(f"| inference per face, warm | ≤ 3 ms | ≤ 5 ms | {med:.2f} ms | {verdict(med, 3, 5, higher=False)} |")
    files = [CNN_NAME] + ([GEO_NAME, FUSION_NAME] if shipped == "fused" else [])
    mb = sum((models / f).stat().st_size for f in files) / 1e6
    add(f"| model file(s) | ≤ 5 MB | ≤ 20 MB | {mb:.2f} MB ({' + '.join(files)}) | {verdict(mb, 5, 20, higher=False)} |")
    add("")
    add("## Reproduce")
    add("")
    add("```bash")
    for k, (folder, st, _) in enumerate(chain):
        py, cli = _train_call(data, folder, st)
        add(f"# 1{'abcdefg'[k] if len(chain) > 1 else ''}. the CNN"
            + (f", run {k + 1}" if len(chain) > 1 else "") + " (hours; add resume=True / --resume after an "
            "interruption)")
        add(py)
        if cli:
            add(f"#    same as: {cli}")
    flags = (" --mirror" if mirror else "") + (f" --int8 {shlex.quote(str(data))}" if quant else "")
    exported = members or ([Path(meta["checkpoint"])] if flags and meta.get("checkpoint") else [])
    if exported:
        add(f"# 1{'abcdefg'[len(chain)]}. " + ("the ensemble of the members, one ONNX file" if members else
                                             "the exported inference graph"))
        base = (Path("runs") / Path(refit["base"]).stem / "expression.onnx") if refit else cnn
        add(".venv/bin/mimetic train export " + " ".join(shlex.quote(str(m)) for m in exported)
            + f"{flags} --out {shlex.quote(str(base))}")
    if refit:
        add("# 1r. refit the heads with the posed faces (and the geometric model, step 2; subject-wise CV first)")
        add(f".venv/bin/mimetic train posed --cnn {shlex.quote(str(base)) if exported else 'src/mimetic/models/expression.onnx'} "
            f"--data {shlex.quote(str(data))} --mix ../shared/datasets/{refit.get('mix')} --heads-weight "
            f"{refit.get('heads_weight'):g}" + (f" --aug-weight {refit['aug_weight']:g}" if refit.get("aug_weight")
                                                 else "") + f" --out {shlex.quote(str(cnn.parent))}"
            + (" --au-cache AU_CACHE   # AU_CACHE: `mimetic train aus --cache-dir`; each CV fold refits the AU models"
               if cross and "per fold" in cross.get("au_models", "") else ""))
    if grec:
        g = grec["config"]
        add("# 2. the geometric model (minutes)")
        add(f".venv/bin/mimetic train geometric {shlex.quote(str(data))} --out runs/geometric "
            f"--epochs {g['epochs']} --lr {g['lr']} --hidden {','.join(map(str, g['hidden']))} --dropout "
            f"{g['dropout']} --noise {g['noise']} --seed {g['seed']} --threads {g['threads']}"
            + "".join(f" --mix ../shared/datasets/{m['data']}" for m in mixed)
            + (f" --mix-weight {g.get('mix_weight', 1):g}" if mixed else "")
            + ("   # (also written by step 1r)" if refit else ""))
    add("# 3. fusion, evaluation, shipping and this card")
    add(command or f".venv/bin/mimetic train ship --cnn {shlex.quote(str(cnn))} --data "
                   f"{shlex.quote(str(data))}")
    add("```")
    add("")
    add("Runs are deterministic for a given seed and thread count.")
    add("")
    add("## Known limits")
    add("")
    add("- FER2013 is low-resolution (48×48 grey), largely posed, and web-scraped: the faces are mostly adults, "
        "frontal, in good light; its labels are noisy (FER+ relabelled it for that reason). Photos are "
        "limited to 48-pixel detail before the CNN so they look like its training crops.")
    add("- Expect lower accuracy on profile or strongly turned faces (the crop and the geometric features assume a "
        "face MediaPipe can landmark; beyond about 30° of yaw the far side is guessed), on children (few in "
        "FER2013), on occluded faces (hands, masks, glasses, microphones) and on subtle or mixed expressions.")
    rare = [c for c in ("contempt", "disgust", "fear")
            if c in results.get(shipped, {}).get("ferplus_test", {}).get("recall", {})]
    if rare:
        m = results[shipped]["ferplus_test"]
        add("- Rare classes are the weakest: " + ", ".join(
            f"{c} recall {_pct(m['recall'][c])} ({m['support'][c]} test images)" for c in rare) + ".")
    add("- An expression label describes a facial configuration, not a felt emotion; do not use it to make "
        "decisions about people.")
    add("")
    return "\n".join(L)

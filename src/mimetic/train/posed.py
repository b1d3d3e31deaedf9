"""Posed faces in the mix: the recipe that teaches the shipped expression model CK+-style posed expressions, and
its subject-wise cross-validation.

FER2013's world is 48-px web faces with a large neutral class; a model trained there calls many posed anger,
contempt and fear faces *neutral*. Three steps add posed faces (``ckplus48_dev.npz``: 495 crops, 59 subjects, 7
classes, no neutral) without retraining the CNN's convolutions:

1. **CNN heads** (:mod:`mimetic.train.heads`): each member's linear head is refitted on its pooled features of the
   FER+ training crops (target: the member's own answer — self-distillation, so FER+ behaviour is kept where the
   posed faces do not pull) and of the posed crops (one-hot, each row weighted ``heads_weight``), plus 8
   :func:`augment` copies of each posed crop (mirror, gamma, blur, down-up resampling, JPEG, noise, small
   rotation/zoom; weight ``aug_weight`` each): the domain gap between a 48-px lab crop and other faces.
2. **Geometric model** (:func:`mimetic.train.geometric.train_geometric` with ``mix``): the posed rows join the
   FER+ training rows, weighted ``geo_weight``.
3. **Fusion** (:func:`mimetic.train.fuse.fit_params`) on the FER+ validation split alone: the posed set has no
   neutral class, so fitting the fusion's class bias on it would teach the model that neutral is rare.

:func:`subject_cv` measures the recipe the only honest way on data it trains on: ``folds`` folds of whole
subjects; for each, steps 1-3 run without that fold's subjects and the fold is scored — 7-class accuracy (the
classes CK+ has), the share of posed faces answered *neutral* in the 8-way answer, per-class recall, and FER+
validation accuracy of the fused model (the fusion's own fitting split, so in-sample; the shipped model's FER+
test accuracy is measured by ``mimetic train ship``). ``mimetic train posed`` runs the CV and then the recipe on
all subjects, writing ``OUT/expression.onnx``, ``OUT/geometric/expression_geometric.onnx`` and ``OUT/cv.json``;
``mimetic train ship --cnn OUT/expression.onnx --geo OUT/geometric/expression_geometric.onnx --cross OUT/cv.json``
ships them with the cross-dataset section of the model card.
"""

from __future__ import annotations

import json
import os
import warnings
from collections.abc import Callable
from pathlib import Path

import numpy as np

#: Defaults chosen on the subject-wise CV and FER+ validation (docs/training.md, "Posed faces").
HEADS_WEIGHT = 3.0
#: weight of each of the :func:`augment` copies of a posed crop in the heads' refit
AUG_WEIGHT = 1.0
GEO_WEIGHT = 5.0
HEADS_PULL = 1e-3
FOLDS = 5


def augment(crop: np.ndarray, rng: np.random.Generator) -> list[np.ndarray]:
    """Eight copies of an aligned grey crop for the domain gap: mirror, gamma 0.75 and 1.3, Gaussian blur (σ 1),
    down to 28 px and up again, JPEG quality 25, Gaussian noise (σ 8), a rotation of ±10° with a zoom of 0.92-1.08
    (borders repeated, as ``align_crop`` does)."""
    import cv2

    c = np.asarray(crop, dtype=np.uint8)
    s = c.shape[0]
    f = c.astype(np.float32) / 255.0
    out = [c[:, ::-1], 255.0 * f ** 0.75, 255.0 * f ** 1.3, cv2.GaussianBlur(c, (0, 0), 1.0),
           cv2.resize(cv2.resize(c, (28, 28), interpolation=cv2.INTER_AREA), (s, s), interpolation=cv2.INTER_CUBIC)]
    ok, enc = cv2.imencode(".jpg", c, [cv2.IMWRITE_JPEG_QUALITY, 25])
    out.append(cv2.imdecode(enc, cv2.IMREAD_GRAYSCALE))
    out.append(c + rng.normal(0.0, 8.0, c.shape))
    m = cv2.getRotationMatrix2D((s / 2, s / 2), float(rng.uniform(-10, 10)), float(rng.uniform(0.92, 1.08)))
    out.append(cv2.warpAffine(c, m, (s, s), borderMode=cv2.BORDER_REPLICATE))
    return [np.ascontiguousarray(np.clip(o, 0, 255)).astype(np.uint8) for o in out]


def _seven_class(p: np.ndarray, y: np.ndarray, classes) -> dict:
    """Accuracy over the classes present in ``y`` (the others masked), the share answered neutral (8-way) and
    per-class recall."""
    have = np.unique(y)
    q = np.full_like(p, -1.0)
    q[:, have] = p[:, have]
    pred = q.argmax(1)
    return {"accuracy_present": float((pred == y).mean()),
            "answered_neutral": float((p.argmax(1) == list(classes).index("neutral")).mean()),
            "accuracy_8way": float((p.argmax(1) == y).mean()),
            "recall": {classes[c]: float((pred[y == c] == c).mean()) for c in have}, "n": int(len(y))}


class _Data:
    """Pooled CNN features, geometric features and labels of FER+ (train, valid) and the posed set."""

    def __init__(self, cnn: Path, data: Path, mix: Path, cache_dir, log):
        from mimetic.train.datasets import read_dataset
        from mimetic.train.heads import cached_penultimate, heads_of, penultimate
        from mimetic.train.loop import class_weights
        from mimetic.train.prepare import CropCache

        ff, _ = cached_penultimate(cnn, data, cache_dir=cache_dir, log=log)
        cf, _ = cached_penultimate(cnn, mix, cache_dir=cache_dir, log=log)
        self.fer = fer = read_dataset(data)
        self.posed = posed = read_dataset(mix)
        if "subject" not in posed.extra:
            raise ValueError(f"{mix}: needs a 'subject' array for a subject-wise split")
        tr, va = fer.split == "train", fer.split == "valid"
        self.ftr, self.ytr = ff[:, fer.rows[tr]], fer.targets[tr]
        self.fva, self.yva = ff[:, fer.rows[va]], fer.targets[va]
        self.fposed, self.yposed = cf[:, posed.rows], posed.labels
        crops = CropCache(posed, cache_dir, size=64).load(posed.rows)["crops"]
        rng = np.random.default_rng(0)
        copies = [augment(c, rng) for c in crops]
        self.aug_of = np.repeat(np.arange(len(crops)), len(copies[0]))  # posed row of each copy
        self.faug = penultimate(cnn, np.stack([a for row in copies for a in row]))
        self.class_weight = class_weights(self.ytr, "sqrt")
        self.heads0 = heads_of(cnn)
        self.data, self.mix, self.cache_dir, self.log = data, mix, cache_dir, log
        self.gva, self.gva_found, self.gposed, self.gposed_found = self.geometric()
        self.classes = fer.classes

    def geometric(self, au_model: Path | None = None):
        """``(FER+ valid features, found, posed features, found)`` with the fitted AU models ``au_model``."""
        from mimetic.train.geometric import cached_features

        va = self.fer.split == "valid"
        gf, gfound, _ = cached_features(self.data, cache_dir=self.cache_dir, log=self.log, au_model=au_model)
        gc, gcfound, _ = cached_features(self.mix, cache_dir=self.cache_dir, log=self.log, au_model=au_model)
        return gf[self.fer.rows[va]], gfound[self.fer.rows[va]], gc[self.posed.rows], gcfound[self.posed.rows]

    def heads(self, keep: np.ndarray, weight: float, pull: float, aug_weight: float = AUG_WEIGHT):
        from mimetic.train.heads import refit

        eye = np.eye(len(self.classes), dtype=np.float32)
        ka = keep[self.aug_of]
        x = np.concatenate([self.ftr, self.fposed[:, keep], self.faug[:, ka]], axis=1)
        y = np.concatenate([self.ytr, weight * eye[self.yposed[keep]], aug_weight * eye[self.yposed[self.aug_of[ka]]]])
        own = np.zeros(x.shape[1], bool)
        own[:self.ftr.shape[1]] = True
        return refit(x, y, self.heads0, class_weight=self.class_weight, pull=pull, keep=own)


def fold_au_model(coded: str | os.PathLike, data: str | os.PathLike, held_out, au_cache: str | os.PathLike,
                  path: str | os.PathLike) -> Path:
    """The AU models fitted without any FACS-coded row of the ``held_out`` subjects (``coded``'s ``subject``
    array), written once to ``path`` (an existing file is reused): what a CV fold's geometric features read."""
    from mimetic.train.aus import fit_cached, write_model

    path = Path(path)
    if not path.is_file():
        with np.load(coded, allow_pickle=False) as z:
            keep = ~np.isin(z["subject"], np.unique(np.asarray(held_out)))
        write_model(fit_cached(coded, data, au_cache, keep=keep, log=lambda s: None), path)
    return path


def subject_cv(cnn: str | os.PathLike, data: str | os.PathLike, mix: str | os.PathLike, out: str | os.PathLike, *,
               heads_weight: float = HEADS_WEIGHT, geo_weight: float = GEO_WEIGHT, pull: float = HEADS_PULL,
               aug_weight: float = AUG_WEIGHT, folds: int = FOLDS, seed: int = 0,
               cache_dir: str | os.PathLike | None = None, before: str | os.PathLike | None = None,
               au_cache: str | os.PathLike | None = None, log: Callable[[str], None] = print,
               _data: "_Data | None" = None) -> dict:
    """Subject-wise cross-validation of the recipe (module docstring); writes ``out/cv.json`` and returns it.
    ``before``: a models folder (``expression.onnx``, ``expression_geometric.onnx``, ``expression_fusion.json``;
    default the package's) scored on the same faces for comparison — in-sample if it was trained on them.

    The geometric features read the fitted AUs, whose models were fitted on the posed set's FACS codes (which
    define its expression labels). ``au_cache`` (the landmark cache of ``mimetic train aus --cache-dir``): each
    fold refits the AU models without its subjects (:func:`mimetic.train.aus.fit_cached`, ~1 min a fold), so the
    fold is scored by models that never saw it. Without it the shipped AU models are used and the posed numbers
    are optimistic (recorded in ``cv.json``)."""
    from mimetic.expression.fusion import MODELS_DIR, Fusion, fuse
    from mimetic.expression.geometric import GeometricModel
    from mimetic.media.atomic import atomic_write_text
    from mimetic.train.datasets import subject_folds
    from mimetic.train.fuse import fit_params, fit_temperature, geometric_probs
    from mimetic.train.geometric import train_geometric
    from mimetic.train.heads import ensemble_probs

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    d = _data or _Data(Path(cnn), Path(data), Path(mix), cache_dir, log)
    fold = subject_folds(d.posed.extra["subject"], folds, seed)
    n = len(d.yposed)
    fused = np.zeros((n, len(d.classes)), np.float32)
    cnn_only = np.zeros_like(fused)
    geo_only = np.zeros_like(fused)
    valid_acc = []
    lv = d.yva.argmax(1)
    for k in range(folds):
        keep = fold != k
        heads = d.heads(keep, heads_weight, pull, aug_weight)
        pc_va, pc_k = ensemble_probs(d.fva, heads), ensemble_probs(d.fposed[:, ~keep], heads)
        gdir = out / "cv" / f"fold{k}"
        au_model = None
        if au_cache is not None:
            au_model = fold_au_model(mix, data, d.posed.extra["subject"][~keep], au_cache, gdir / "au_model.json")
        gva, gva_found, gposed, gposed_found = d.geometric(au_model) if au_model else (
            d.gva, d.gva_found, d.gposed, d.gposed_found)
        if not (gdir / "expression_geometric.onnx").is_file():
            train_geometric(data, gdir, mix=[mix], mix_weight=geo_weight, mix_keep=[keep], cache_dir=cache_dir,
                            seed=seed, au_model=au_model, echo=lambda s: None)
        with warnings.catch_warnings():  # a fold's AU models are not the shipped ones
            warnings.simplefilter("ignore", RuntimeWarning)
            g = GeometricModel(gdir / "expression_geometric.onnx")
        pg_va = geometric_probs(g, gva, gva_found)
        pg_k = geometric_probs(g, gposed[~keep], gposed_found[~keep])
        w, s, b = fit_params(pc_va, pg_va, d.yva)
        t = fit_temperature(fuse(pc_va, pg_va, w, s, b), lv)
        fused[~keep] = fuse(pc_k, pg_k, w, s, b, t)
        cnn_only[~keep], geo_only[~keep] = pc_k, pg_k
        valid_acc.append(float((fuse(pc_va, pg_va, w, s, b).argmax(1) == lv).mean()))
        log(f"fold {k + 1}/{folds}: {int((~keep).sum())} posed faces of {len(np.unique(d.posed.extra['subject'][~keep]))} "
            f"subjects; fusion weight {w:.3f}; FER+ valid fused {100 * valid_acc[-1]:.2f} %")
    from mimetic.train.heads import heads_of

    bdir = Path(before) if before is not None else MODELS_DIR
    shipped_fusion = Fusion.load(bdir / "expression_fusion.json")
    g0 = GeometricModel(bdir / "expression_geometric.onnx")
    h_before = heads_of(bdir / "expression.onnx")  # same convolutions as ``cnn`` (only the heads are refitted)
    p_ship = shipped_fusion.apply(ensemble_probs(d.fposed, h_before),
                                  geometric_probs(g0, d.gposed, d.gposed_found))
    p_ship_va = shipped_fusion.apply(ensemble_probs(d.fva, h_before), geometric_probs(g0, d.gva, d.gva_found))
    from mimetic.train.metrics import calibration

    result = {
        "data": Path(data).name, "mix": Path(mix).name, "folds": folds, "seed": seed,
        "subjects": int(len(np.unique(d.posed.extra["subject"]))),
        "recipe": {"heads_weight": heads_weight, "aug_weight": aug_weight, "geo_weight": geo_weight, "pull": pull},
        "au_models": ("refitted per fold without the fold's subjects" if au_cache is not None else
                      "the shipped ones, fitted on every subject's FACS codes: the posed numbers are optimistic"),
        "fused": {**_seven_class(fused, d.yposed, d.classes), "ece": calibration(fused, d.yposed)["ece"]},
        "cnn": _seven_class(cnn_only, d.yposed, d.classes),
        "geometric": _seven_class(geo_only, d.yposed, d.classes),
        "before": {**_seven_class(p_ship, d.yposed, d.classes),
                   "ferplus_valid": float((p_ship_va.argmax(1) == lv).mean()), "models": str(bdir)},
        "ferplus_valid_fused": float(np.mean(valid_acc)),
        "ferplus_valid_fused_per_fold": valid_acc,
    }
    atomic_write_text(out / "cv.json", json.dumps(result, indent=2) + "\n")
    f, b0 = result["fused"], result["before"]
    log(f"subject-wise CV ({folds} folds, {result['subjects']} subjects): {Path(mix).name} "
        f"{100 * f['accuracy_present']:.1f} % on its classes (before {100 * b0['accuracy_present']:.1f} %), "
        f"answered neutral {100 * f['answered_neutral']:.1f} % (before {100 * b0['answered_neutral']:.1f} %); "
        f"FER+ valid fused {100 * result['ferplus_valid_fused']:.2f} % (before {100 * b0['ferplus_valid']:.2f} %, "
        "both in-sample for the fusion)")
    return result


def train_posed(cnn: str | os.PathLike, data: str | os.PathLike, mix: str | os.PathLike, out: str | os.PathLike, *,
                heads_weight: float = HEADS_WEIGHT, geo_weight: float = GEO_WEIGHT, pull: float = HEADS_PULL,
                aug_weight: float = AUG_WEIGHT, folds: int = FOLDS, seed: int = 0, cv: bool = True,
                cache_dir: str | os.PathLike | None = None, before: str | os.PathLike | None = None,
                au_cache: str | os.PathLike | None = None, log: Callable[[str], None] = print) -> dict:
    """:func:`subject_cv` (unless ``cv`` is false), then the recipe on every posed subject: ``out/expression.onnx``
    (the CNN with refitted heads) and ``out/geometric/expression_geometric.onnx``. Returns a summary."""
    from mimetic.train.geometric import train_geometric
    from mimetic.train.heads import write_heads

    from mimetic.expression.model import ExpressionModel

    out = Path(out)
    if "heads_refit" in ExpressionModel(cnn).metadata:
        raise ValueError(f"{cnn}: its heads were refitted already; start from the exported ensemble (the model "
                         "card's step 1a), not from a refitted file")
    d = _Data(Path(cnn), Path(data), Path(mix), cache_dir, log)  # features and augmented copies, computed once
    result = subject_cv(cnn, data, mix, out, heads_weight=heads_weight, geo_weight=geo_weight, pull=pull,
                        aug_weight=aug_weight, folds=folds, seed=seed, cache_dir=cache_dir, before=before,
                        au_cache=au_cache, log=log, _data=d) if cv else None
    heads = d.heads(np.ones(len(d.yposed), bool), heads_weight, pull, aug_weight)
    recipe = {"base": Path(cnn).name, "data": Path(data).name, "mix": Path(mix).name, "heads_weight": heads_weight,
              "aug_weight": aug_weight, "augment": "8 copies per posed crop (mimetic.train.posed.augment)",
              "pull": pull, "targets": "FER+ rows: the member's own answer; posed rows: one-hot"}
    path = write_heads(cnn, out / "expression.onnx", heads, recipe=recipe)
    geo = train_geometric(data, out / "geometric", mix=[mix], mix_weight=geo_weight, cache_dir=cache_dir, seed=seed,
                          echo=log)
    log(f"wrote {path} and {geo['onnx']}")
    return {"cnn": str(path), "geo": geo["onnx"], "cv": result}

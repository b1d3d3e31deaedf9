"""Fit the AU models (``mimetic train aus``): one logistic model per AU over its region's features, calibrated on
FACS-coded faces and on neutral faces of many people, validated subject-wise.

Data
----
- ``coded``: CK+ crops with the FACS code of their sequence (``ckplus48_dev.npz``: images, subject, facs_code);
  only coded images are used. An AU is a positive where the code holds it, a negative elsewhere.
- ``neutral``: FER+ faces whose annotators' majority is neutral (``ferplus.npz``): negatives for every AU. The
  ``train`` split is used for fitting and thresholds, ``test`` only for the report.

Every crop is landmarked once (:mod:`mimetic.train.aus_data`: enlarged 4× with a 32-px grey margin) and cached.

Model (per AU, :data:`FITTED`)
------------------------------
Features: the AU's region (:func:`mimetic.facs.regions.region_features`), per side. The model is fitted on the
mean of both sides (the codes are per face) and applied per side, so a mirrored face swaps left and right. A
standardised L2 logistic regression (C = 0.5); the neutral faces together weigh as much as the coded ones. The
score of a side is the logit ``z``; the AU's ``present`` threshold ``t`` on ``max(z_left, z_right)`` is the one
with the best F1 on the coded faces among thresholds that fire on at most :data:`NEUTRAL_FP` of the neutral faces
(out-of-fold scores). The 0-5 intensity is ``clip(1 + k (z − t), 0, 5)`` with ``k`` putting the 90th percentile of
the coded positives' scores at D (4).

Validation: 5-fold GroupKFold by subject (neutral faces in random folds); the threshold of each outer fold is
chosen on inner out-of-fold scores of its training part only, so no subject is scored by a threshold tuned on it.
"""

from __future__ import annotations

import datetime
import json
from pathlib import Path

import numpy as np

from mimetic.face.model import sha256
from mimetic.facs.codes import icc_a1
from mimetic.facs.regions import FEATURE_INDEX, region_features

#: The AUs fitted on coded data (enough coded faces and subjects in CK+); the others keep their hand-set channels.
#: A fitted model is shipped where ``F1 − NEUTRAL_WEIGHT × neutral false-positive rate`` (cross-validated) beats the
#: hand-set channels' on the same faces (the hand-set channels are not fitted: their rates on all faces are fair).
#: AU12 is not fitted: its fitted model (F1 0.98 against 0.92) reads the whole mouth and loses a one-sided corner
#: lift (tests/test_facs.py, the one-sided photo edits), which the hand-set channel's landmark split keeps.
FITTED = ("AU01", "AU02", "AU04", "AU05", "AU06", "AU07", "AU09", "AU15", "AU17", "AU20", "AU23", "AU24",
          "AU25", "AU26", "AU27")
#: Highest share of neutral faces on which one fitted AU may fire.
NEUTRAL_FP = 0.02
#: One point of F1 on the coded faces is worth one point of false-positive rate on neutral faces.
NEUTRAL_WEIGHT = 1.0
#: AUs kept on their hand-set channels whatever the scores, and why.
KEEP_HANDSET = {
    "AU06": "the fitted model is steep per side: on the astronaut fixture left 2.4, right 0.99, and 2.4 apart from "
            "its mirror image (tests/test_facs.py allows 1.5); fitted F1 0.72 against 0.78 hand-set",
    "AU25": "lips apart is AU25 at rest too (FACS); the fitted model, held to 2 % on neutral faces, misses lips "
            "parted at rest in the smile video, which a baseline should remove instead (tests/test_facs.py)",
}
C = 0.5
#: Each feature enters twice, as itself and squared (+0.015 mean F1 over the linear model, same folds).
QUAD = True
FOLDS = 5


def cached_faces(cache: str | Path, rows=None):
    """``(row, Face)`` for the faces of a landmark cache written by :func:`mimetic.train.aus_data.landmark_crops`
    (48-pixel crops): the rows where a face was found, or the given ``rows``."""
    from mimetic.expression.geometric import BLENDSHAPES
    from mimetic.train.geometric import face_from_cache

    with np.load(cache) as z:
        lms, bss, mats, found = z["landmarks"], z["blendshapes"], z["matrix"], z["found"]
    for i in (np.flatnonzero(found) if rows is None else rows):
        yield i, face_from_cache(lms[i], bss[i], mats[i], BLENDSHAPES, width=48.0, height=48.0)


def face_features(cache: str | Path) -> tuple[np.ndarray, np.ndarray]:
    """``(features (n, len(FEATURES), 2), found (n,))`` of a landmark cache written by
    :func:`mimetic.train.aus_data.landmark_crops` (48-pixel crops)."""
    from mimetic.face.measures import compute
    from mimetic.facs.geometry import frontal_points
    from mimetic.facs.regions import FEATURES, feature_matrix

    with np.load(cache) as z:
        found = z["found"].copy()
    out = np.full((len(found), len(FEATURES), 2), np.nan)
    for i, face in cached_faces(cache):
        f = frontal_points(face)
        out[i] = feature_matrix(compute(f), face.blendshapes)
    ok = found & np.all(np.isfinite(out), axis=(1, 2))
    return out, ok


def _fit(x: np.ndarray, y: np.ndarray, w: np.ndarray):
    from sklearn.linear_model import LogisticRegression

    mu, sd = x.mean(axis=0), x.std(axis=0) + 1e-6
    m = LogisticRegression(C=C, max_iter=2000).fit((x - mu) / sd, y, sample_weight=w)
    coef = m.coef_[0] / sd
    return coef, float(m.intercept_[0] - coef @ mu)


def _threshold(s_pos: np.ndarray, s_neg: np.ndarray, s_neu: np.ndarray) -> float:
    """The threshold with the best F1 (coded faces) among those firing on ≤ NEUTRAL_FP of the neutral faces."""
    floor = float(np.quantile(s_neu, 1.0 - NEUTRAL_FP)) if len(s_neu) else -np.inf
    cands = np.unique(np.concatenate([s_pos, s_neg]))
    cands = cands[cands >= floor]
    best, best_f1 = max(floor, float(s_pos.max()) if len(s_pos) else floor), -1.0
    for t in cands:
        tp = (s_pos >= t).sum()
        fp = (s_neg >= t).sum()
        f1 = 2 * tp / max(2 * tp + fp + (len(s_pos) - tp), 1)
        if f1 > best_f1:
            best, best_f1 = float(t), f1
    return best


def _scores(feat: np.ndarray, coef: np.ndarray, b: float) -> np.ndarray:
    """max over sides of the logit: feat (n, k, 2)."""
    return (np.einsum("nks,k->ns", feat, coef) + b).max(axis=1)


def _pearson(a, b):
    a, b = np.asarray(a, float), np.asarray(b, float)
    return float(np.corrcoef(a, b)[0, 1]) if len(a) > 2 and a.std() > 0 and b.std() > 0 else None


def _knot_present(cache, rows: np.ndarray) -> np.ndarray:
    """``present`` of every AU from the hand-set channels alone (no fitting: scored on all coded faces)."""
    from mimetic.facs.catalogue import FRAME_AUS
    from mimetic.facs.estimate import knot_aus

    out = np.zeros((len(rows), len(FRAME_AUS)), bool)
    for j, (_, face) in enumerate(cached_faces(cache, rows)):
        aus = knot_aus(face)
        out[j] = [aus[a].present for a in FRAME_AUS]
    return out


def fit_aus(coded: str | Path, ck_cache: str | Path, neutral_cache: str | Path, *, log=print) -> dict:
    """Fit every AU of :data:`FITTED`; returns the model document (see :func:`write_model`) with its CV report."""
    from sklearn.model_selection import GroupKFold

    from mimetic.facs.codes import parse_facs

    ck = np.load(coded)
    feats, ok = face_features(ck_cache)
    codes = ck["facs_code"]
    use = ok & (codes != "")
    feats, subj = feats[use], ck["subject"][use]
    labels = [parse_facs(c) for c in codes[use]]
    neu, nok = face_features(neutral_cache)
    neu = neu[nok]
    rng = np.random.default_rng(0)
    neu_fold = rng.integers(0, FOLDS, len(neu))
    n_ck, n_neu = len(feats), len(neu)
    w_neu = n_ck / n_neu
    log(f"coded faces {n_ck} ({len(set(subj))} subjects), neutral faces {n_neu}")
    outer = list(GroupKFold(FOLDS).split(feats, groups=subj))

    knot = _knot_present(ck_cache, np.flatnonzero(use))
    knot_neu = _knot_present(neutral_cache, np.flatnonzero(nok))
    model: dict = {"aus": {}}
    report: dict = {}
    for au in FITTED:
        names = region_features(au)
        idx = [FEATURE_INDEX[n] for n in names]
        x_ck, x_neu = feats[:, idx, :], neu[:, idx, :]
        if QUAD:
            x_ck = np.concatenate([x_ck, x_ck ** 2], axis=1)
            x_neu = np.concatenate([x_neu, x_neu ** 2], axis=1)
        y = np.array([au in lab for lab in labels])
        letters = np.array([lab[au].intensity if au in lab and lab[au].intensity else 0 for lab in labels])

        def fit_on(ci, ni):
            x = np.concatenate([x_ck[ci].mean(axis=2), x_neu[ni].mean(axis=2)])
            yy = np.concatenate([y[ci], np.zeros(len(ni), bool)])
            w = np.concatenate([np.ones(len(ci)), np.full(len(ni), w_neu)])
            return _fit(x, yy, w)

        oof = np.zeros(n_ck)
        oof_neu = np.zeros(n_neu)
        pred = np.zeros(n_ck, bool)
        for k, (tr, te) in enumerate(outer):
            ntr, nte = np.flatnonzero(neu_fold != k), np.flatnonzero(neu_fold == k)
            # inner out-of-fold scores of the training part, for the threshold
            inner = np.zeros(len(tr))
            inner_neu = np.zeros(len(ntr))
            inner_fold = rng.integers(0, FOLDS - 1, len(ntr))
            for j, (itr, ite) in enumerate(GroupKFold(FOLDS - 1).split(tr, groups=subj[tr])):
                c, b = fit_on(tr[itr], ntr[inner_fold != j])
                inner[ite] = _scores(x_ck[tr[ite]], c, b)
                inner_neu[inner_fold == j] = _scores(x_neu[ntr[inner_fold == j]], c, b)
            t_k = _threshold(inner[y[tr]], inner[~y[tr]], inner_neu)
            c, b = fit_on(tr, ntr)
            oof[te] = _scores(x_ck[te], c, b) - t_k
            oof_neu[nte] = _scores(x_neu[nte], c, b) - t_k
            pred[te] = oof[te] >= 0
        tp, fp, fn = int((pred & y).sum()), int((pred & ~y).sum()), int((~pred & y).sum())
        # the shipped model: fitted on everything, threshold from the (outer) out-of-fold scores
        coef, b = fit_on(np.arange(n_ck), np.arange(n_neu))
        # OOF scores were made relative to each fold's threshold; the final threshold uses in-sample inner OOF
        full_oof = np.zeros(n_ck)
        full_neu = np.zeros(n_neu)
        for k, (tr, te) in enumerate(outer):
            ntr, nte = np.flatnonzero(neu_fold != k), np.flatnonzero(neu_fold == k)
            c, bb = fit_on(tr, ntr)
            full_oof[te] = _scores(x_ck[te], c, bb)
            full_neu[nte] = _scores(x_neu[nte], c, bb)
        t = _threshold(full_oof[y], full_oof[~y], full_neu)
        pos = full_oof[y]
        p90 = float(np.quantile(pos, 0.9)) if len(pos) else t + 3.0
        slope = 3.0 / max(p90 - t, 0.5)
        # intensity agreement, out of fold: each face's intensity with its fold's threshold and the final slope
        inten = np.clip(1.0 + slope * oof, 0.0, 5.0)
        has_letters = letters > 0
        r = icc = None
        n_int = 0
        if has_letters.sum() >= 5:
            sel = has_letters | ~y  # lettered positives and the negatives (0)
            r, icc, n_int = _pearson(inten[sel], letters[sel]), icc_a1(inten[sel], letters[sel]), int(sel.sum())
        rep = {"support": int(y.sum()), "subjects": int(len(set(subj[y]))), "tp": tp, "fp": fp, "fn": fn,
               "precision": tp / max(tp + fp, 1), "recall": tp / max(tp + fn, 1),
               "f1": 2 * tp / max(2 * tp + fp + fn, 1),
               "neutral_fp": float((oof_neu >= 0).mean()), "pearson_r": r, "icc": icc, "n_intensity": n_int}
        kp = knot[:, KNOT_INDEX[au]]
        ktp, kfp, kfn = int((kp & y).sum()), int((kp & ~y).sum()), int((~kp & y).sum())
        rep["handset_f1"] = 2 * ktp / max(2 * ktp + kfp + kfn, 1)
        rep["handset_neutral_fp"] = float(knot_neu[:, KNOT_INDEX[au]].mean())
        fit_gain = rep["f1"] - NEUTRAL_WEIGHT * rep["neutral_fp"]
        hand_gain = rep["handset_f1"] - NEUTRAL_WEIGHT * rep["handset_neutral_fp"]
        rep["shipped"] = "fitted" if fit_gain > hand_gain and au not in KEEP_HANDSET else "hand-set"
        report[au] = rep
        if rep["shipped"] != "fitted":
            log(f"{au}: hand-set channels kept (F1 {rep['handset_f1']:.3f} on the same faces, neutral FP "
                f"{rep['handset_neutral_fp']:.3f}; fitted F1 {rep['f1']:.3f}, neutral FP {rep['neutral_fp']:.3f})")
            continue
        model["aus"][au] = {"region": au_region(au), "features": list(names),
                            "coef": [float(v) for v in coef[: len(names)]],
                            "coef_sq": [float(v) for v in coef[len(names):]], "bias": float(b),
                            "threshold": float(t), "slope": float(slope)}
        log(f"{au}: F1 {rep['f1']:.3f} P {rep['precision']:.2f} R {rep['recall']:.2f} "
            f"(support {rep['support']}), neutral FP {rep['neutral_fp']:.3f}"
            + (f", r {r:.2f} ICC {icc:.2f}" if r is not None and icc is not None else ""))
    model["rest"] = handset_rest(neutral_cache, model["aus"]) if REST else {}
    f1s = [report[a]["f1"] for a in report]
    model["cv"] = {"per_au": report, "mean_f1": float(np.mean(f1s)),
                   "mean_f1_13": float(np.mean([report[a]["f1"] for a in TARGET13 if a in report])),
                   "folds": FOLDS, "split": "GroupKFold by subject (thresholds on inner folds)"}
    model["provenance"] = {
        "coded": f"{Path(coded).name} sha256 {sha256(coded)[:16]} ({n_ck} coded crops, {len(set(subj))} subjects)",
        "neutral": f"{n_neu} FER+ train faces with a neutral majority and a face (3,000 drawn with seed 0)",
        "recipe": "crops enlarged 4x with a 32-px grey margin (mimetic.expression.crop.landmark_small)",
        "date": datetime.date.today().isoformat(),
        "command": "mimetic train aus ckplus48_dev.npz ferplus.npz --cache-dir DIR",
        "neutral_fp_max": NEUTRAL_FP, "C": C, "squares": QUAD,
    }
    log(f"mean F1 {model['cv']['mean_f1']:.3f}; over the 13 target AUs {model['cv']['mean_f1_13']:.3f}")
    return model


#: Share of neutral faces on which a hand-set AU may still fire: its rest level is that quantile.
REST_QUANTILE = 0.99
REST = False


def handset_rest(neutral_cache: str | Path, shipped) -> dict[str, float]:
    """Per hand-set AU (not in ``shipped``), the intensity that the REST_QUANTILE of neutral faces stay
    under (only where it is at least trace): ``estimate_aus`` rescales ``rest..5`` to ``0..5`` without a baseline."""
    from mimetic.facs.catalogue import FRAME_AUS
    from mimetic.facs.estimate import knot_aus

    vals = []
    for _, face in cached_faces(neutral_cache):
        aus = knot_aus(face)
        vals.append([aus[a].intensity for a in FRAME_AUS])
    q = np.quantile(np.array(vals), REST_QUANTILE, axis=0)
    return {a: round(float(v), 3) for a, v in zip(FRAME_AUS, q) if a not in shipped and v >= 1.0}


def _knot_index() -> dict[str, int]:
    from mimetic.facs.catalogue import FRAME_AUS

    return {a: i for i, a in enumerate(FRAME_AUS)}


KNOT_INDEX = _knot_index()

TARGET13 = ("AU01", "AU02", "AU04", "AU06", "AU07", "AU09", "AU12", "AU15", "AU17", "AU23", "AU24", "AU25", "AU26")


def au_region(au: str) -> str:
    from mimetic.facs.regions import AU_REGION

    return AU_REGION[au]


def write_model(model: dict, out: str | Path) -> Path:
    from mimetic.media.atomic import atomic_write_text

    out = Path(out)
    atomic_write_text(out, json.dumps(model, indent=1, sort_keys=False) + "\n")
    return out


def neutral_rates(cache: str | Path) -> dict:
    """What fires on neutral faces with the shipped AUs (:func:`mimetic.facs.estimate.estimate_aus`, no baseline):
    the share of faces with any AU present, AUs present per face, and each AU's false-positive rate."""
    from mimetic.facs.catalogue import FRAME_AUS
    from mimetic.facs.estimate import estimate_aus

    present = []
    for _, face in cached_faces(cache):
        aus = estimate_aus(face)
        present.append([aus[a].present for a in FRAME_AUS])
    p = np.array(present, bool)
    return {"faces": int(len(p)), "any_au": float(p.any(axis=1).mean()), "aus_per_face": float(p.sum(axis=1).mean()),
            "per_au": {a: float(v) for a, v in zip(FRAME_AUS, p.mean(axis=0)) if v > 0}}


def train_aus(coded: str | Path, ferplus: str | Path, *, cache_dir: str | Path, out: str | Path | None = None,
              n_neutral: int = 3000, log=print) -> dict:
    """The whole refit: landmark the coded crops and ``n_neutral`` FER+ train faces with a neutral majority (cached
    in ``cache_dir``), fit, write the model (default: the shipped ``mimetic/facs/au_model.json``) and report the
    neutral rates on FER+ test neutral faces."""
    from mimetic.facs.estimate import MODEL_PATH
    from mimetic.train.aus_data import landmark_crops

    cache_dir = Path(cache_dir)
    cache_dir.mkdir(parents=True, exist_ok=True)
    ck = np.load(coded)
    landmark_crops(ck["images"], cache_dir / "ck.npz", log=log)
    fer = np.load(ferplus)
    votes = fer["votes"]
    neutral = (votes.argmax(axis=1) < 8) & (votes[:, :8].argmax(axis=1) == 0)
    train = np.flatnonzero((fer["split"] == "train") & neutral)
    train = np.sort(np.random.default_rng(0).choice(train, min(n_neutral, len(train)), replace=False))
    landmark_crops(fer["images"][train], cache_dir / "fer_train.npz", log=log)
    test = np.flatnonzero((fer["split"] == "test") & neutral)
    landmark_crops(fer["images"][test], cache_dir / "fer_test.npz", log=log)
    model = fit_aus(coded, cache_dir / "ck.npz", cache_dir / "fer_train.npz", log=log)
    path = write_model(model, out or MODEL_PATH)
    log(f"wrote {path} (restart Python to use it); FER+ test neutral faces: see neutral_rates()")
    return model

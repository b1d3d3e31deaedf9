"""FACS code strings (``"1+2+5B+26"``, ``"L12A+R14"``) and the AU evaluation tool.

Code syntax accepted by :func:`parse_facs`:

- AUs joined by ``+`` (also ``,``, ``;`` or spaces): ``1+2+5B+26``, ``1 + 2``, ``1,2``;
- an optional ``AU`` prefix: ``AU12``, ``au 12``, ``AU-12``;
- an optional intensity letter A-E after the number, either case: ``12E``, ``5b`` (A = 1 … E = 5); ``*`` (any
  intensity, as in prototype tables) is accepted and ignored;
- an optional side before the number (or after it): ``L12``, ``R14``, ``12L``; ``U`` = unilateral, side not given;
  ``T`` / ``B`` (top / bottom, used by some coders for lip AUs such as ``T28``/``B28``) are kept as ``location``;
- a whole number written as a decimal, as FACS files exported from numeric tables do: ``25.0`` (but ``25.5`` is
  an error: an AU number is a whole number);
- ``0``, ``neutral``, ``none`` or an empty string: no AU.

Anything else raises ``ValueError`` naming the bad part. AUs that Mimetic does not estimate (e.g. AU38, AU54) are
parsed and kept; the evaluation ignores them.

:func:`evaluate_aus` runs an :class:`mimetic.Analyzer` over labelled images and reports, per AU, precision, recall
and F1 of ``present`` against the label, and the Pearson correlation of the estimated intensity with the labelled
intensity letters (absent = 0) where the labels carry intensities. :func:`evaluate_aus_csv` does the same for a
CSV file with columns ``path`` and ``facs`` (paths relative to the CSV file).
"""

from __future__ import annotations

import csv
import math
import os
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from mimetic.types import AUValue

__all__ = ["CodedAU", "enlarge_crop", "evaluate_aus", "evaluate_aus_csv", "evaluate_aus_npz", "format_facs",
           "parse_facs", "parse_facs_tokens"]

_EMPTY = {"", "0", "neutral", "none", "-"}
_TOKEN = re.compile(
    r"^(?P<pre>[LRUTB])?(?:AU)?(?P<num>\d{1,3})(?P<frac>\.\d+)?(?P<int>[A-E*])?(?P<suf>[LR])?$", re.IGNORECASE
)
_AU_SPACE = re.compile(r"\bAU\s*[-_]?\s*(?=\d)", re.IGNORECASE)
_PREFIX_SPACE = re.compile(r"\b([LRUTB])\s+(?=(?:AU)?\d)", re.IGNORECASE)


@dataclass(frozen=True)
class CodedAU:
    """One AU of a FACS code."""

    number: int
    intensity: int | None = None  # 1..5 = A..E; None when not given
    side: str | None = None  # "L", "R", "U" (unilateral, side not given) or None (both / not stated)
    location: str | None = None  # "T" (top) / "B" (bottom) when given

    @property
    def code(self) -> str:
        return f"AU{self.number:02d}"

    @property
    def letter(self) -> str:
        return "" if self.intensity is None else "ABCDE"[self.intensity - 1]

    def __str__(self) -> str:
        return f"{self.side or self.location or ''}{self.number}{self.letter}"


def parse_facs_tokens(code: str) -> list[CodedAU]:
    """Every AU token of ``code`` in order (an AU may appear twice, e.g. ``L12+R12``)."""
    if not isinstance(code, str):
        raise ValueError(f"a FACS code must be a string, not {type(code).__name__}")
    text = code.strip()
    if text.lower() in _EMPTY:
        return []
    text = _AU_SPACE.sub("AU", text)
    text = _PREFIX_SPACE.sub(r"\1", text)
    out = []
    for raw in re.split(r"[+,;\s]+", text):
        if not raw:
            continue
        if raw.lower() in _EMPTY:
            continue
        m = _TOKEN.match(raw)
        if not m:
            raise ValueError(f"can't read {raw!r} in FACS code {code!r}: expected an AU like 12, 5B, L12A, AU12")
        frac = m.group("frac")
        if frac and float(frac) != 0.0:
            raise ValueError(f"{raw!r} in FACS code {code!r}: an AU number is a whole number")
        number = int(m.group("num"))
        if number <= 0:
            raise ValueError(f"{raw!r} in FACS code {code!r}: AU numbers start at 1")
        letter = (m.group("int") or "").upper()
        intensity = "ABCDE".index(letter) + 1 if letter and letter != "*" else None
        pre = (m.group("pre") or "").upper()
        suf = (m.group("suf") or "").upper()
        if pre in "LR" and pre and suf and pre != suf:
            raise ValueError(f"{raw!r} in FACS code {code!r}: two different sides")
        side = (pre if pre in ("L", "R", "U") else None) or suf or None
        location = pre if pre in ("T", "B") else None
        out.append(CodedAU(number, intensity, side, location))
    return out


def parse_facs(code: str) -> dict[str, CodedAU]:
    """Parse a FACS code string into ``{"AU12": CodedAU, ...}`` (sorted by AU number).

    An AU given twice is merged: the higher intensity wins and ``L`` + ``R`` become both sides (``side=None``).
    Raises ``ValueError`` for anything that is not a FACS code (see the module docstring for the syntax).
    """
    merged: dict[str, CodedAU] = {}
    for t in parse_facs_tokens(code):
        old = merged.get(t.code)
        if old is None:
            merged[t.code] = t
            continue
        ints = [i for i in (old.intensity, t.intensity) if i is not None]
        side = old.side if old.side == t.side else None
        merged[t.code] = CodedAU(t.number, max(ints) if ints else None, side, old.location or t.location)
    return dict(sorted(merged.items(), key=lambda kv: kv[1].number))


def format_facs(aus: Mapping[str, AUValue], *, threshold: float = 1.0) -> str:
    """AU estimates (``Face.aus``) as a FACS code: present AUs with their letter, L/R when one-sided.

    An AU counts as one-sided when the weaker side is below ``threshold`` (trace).
    """
    parts = []
    for code, d in sorted(aus.items(), key=lambda kv: int(re.sub(r"\D", "", kv[0]) or 0)):
        i = d.intensity
        if i < threshold:
            continue
        letter = "ABCDE"[min(4, max(0, int(math.floor(i)) - 1))]
        left, right = d.left, d.right
        side = "L" if right < threshold <= left else "R" if left < threshold <= right else ""
        number = int(re.sub(r"\D", "", code))
        parts.append(f"{side}{number}{letter}")
    return "+".join(parts) if parts else "0"


# -- evaluation -----------------------------------------------------------------------------------------------------


def _pearson(x: list[float], y: list[float]) -> float | None:
    if len(x) < 3:
        return None
    a, b = np.asarray(x, float), np.asarray(y, float)
    if a.std() < 1e-12 or b.std() < 1e-12:
        return None
    return float(np.corrcoef(a, b)[0, 1])


def icc_a1(a, b) -> float | None:
    """ICC(A,1) of two raters (absolute agreement, two-way random, single measures; McGraw & Wong 1996)."""
    x = np.stack([np.asarray(a, float), np.asarray(b, float)], axis=1)
    n, k = x.shape
    if n < 3:
        return None
    gm = x.mean()
    msr = k * ((x.mean(axis=1) - gm) ** 2).sum() / (n - 1)
    msc = n * ((x.mean(axis=0) - gm) ** 2).sum() / (k - 1)
    sse = ((x - x.mean(axis=1, keepdims=True) - x.mean(axis=0, keepdims=True) + gm) ** 2).sum()
    mse = sse / ((n - 1) * (k - 1))
    den = msr + (k - 1) * mse + k * (msc - mse) / n
    return float((msr - mse) / den) if den > 0 else None


def _ratio(num: int, den: int) -> float | None:
    return num / den if den else None


def evaluate_aus(rows: Iterable[tuple[str | os.PathLike, str]], analyzer=None, *,
                 aus: Iterable[str] | None = None) -> dict[str, Any]:
    """Score the AU estimator on labelled images.

    ``rows``: ``(image path or RGB array, FACS code)`` pairs. ``analyzer``: an :class:`mimetic.Analyzer` (one is created and
    closed when omitted). The largest face of each image is scored. ``aus``: the AUs to score (default: every AU
    Mimetic estimates that appears in at least one label; an image whose code lacks an AU is a negative for it).

    Returns a dict: ``n_images``, ``n_scored``, ``errors`` (``[{"path", "error"}]`` for unreadable images,
    images without a face and bad codes), ``per_au`` (``{AU: {support, predicted, tp, fp, fn, tn, precision,
    recall, f1, pearson_r, icc, n_intensity}}``; ``icc``: ICC(A,1) of the 0-5 intensity with the letters;
    ``None`` where undefined), ``macro_f1`` and ``mean_pearson_r``
    (over AUs where defined), and ``side`` (for one-sided labels L/R: how often the estimate's stronger side
    matches: ``{n, correct, accuracy}``).
    """
    from mimetic.facs.catalogue import FRAME_AUS

    own = None
    if analyzer is None:
        from mimetic import Analyzer

        analyzer = own = Analyzer()
    labels: list[dict[str, CodedAU]] = []
    preds: list[Mapping[str, AUValue]] = []
    errors: list[dict[str, str]] = []
    n_images = 0
    try:
        for path, code in rows:
            n_images += 1
            try:
                label = parse_facs(code)
            except ValueError as e:
                errors.append({"path": _name(path), "error": str(e)})
                continue
            try:
                if isinstance(path, np.ndarray):
                    result = analyzer.analyze_array(np.ascontiguousarray(path))
                else:
                    result = analyzer.analyze_image(path)
            except Exception as e:  # noqa: BLE001 - one bad file must not stop the evaluation
                errors.append({"path": _name(path), "error": f"{type(e).__name__}: {e}"})
                continue
            if not result.faces:
                errors.append({"path": _name(path), "error": "no face found"})
                continue
            face = max(result.faces, key=lambda f: f.box[2] * f.box[3])
            labels.append(label)
            preds.append(face.aus)
    finally:
        if own is not None:
            own.close()

    if aus is None:
        seen = {c for lab in labels for c in lab}
        codes = [c for c in FRAME_AUS if c in seen]
    else:
        codes = [c if str(c).upper().startswith("AU") else f"AU{int(c):02d}" for c in aus]
        codes = [c.upper() for c in codes]
    per_au: dict[str, dict[str, Any]] = {}
    side_n = side_ok = 0
    for c in codes:
        tp = fp = fn = tn = 0
        xs: list[float] = []
        ys: list[float] = []
        for lab, pred in zip(labels, preds):
            truth = c in lab
            p = pred.get(c)
            hit = p is not None and p.present
            tp += truth and hit
            fp += (not truth) and hit
            fn += truth and not hit
            tn += (not truth) and not hit
            if not truth:
                xs.append(0.0)
                ys.append(p.intensity if p is not None else 0.0)
            elif lab[c].intensity is not None:
                xs.append(float(lab[c].intensity))
                ys.append(p.intensity if p is not None else 0.0)
            if truth and lab[c].side in ("L", "R") and p is not None:
                side_n += 1
                stronger = "L" if p.left >= p.right else "R"
                side_ok += stronger == lab[c].side
        precision = _ratio(tp, tp + fp)
        recall = _ratio(tp, tp + fn)
        f1 = _ratio(2 * tp, 2 * tp + fp + fn)
        has_int = any(lab[c].intensity is not None for lab in labels if c in lab)
        per_au[c] = {"support": tp + fn, "predicted": tp + fp, "tp": tp, "fp": fp, "fn": fn, "tn": tn,
                     "precision": precision, "recall": recall, "f1": f1,
                     "pearson_r": _pearson(xs, ys) if has_int else None,
                     "icc": icc_a1(xs, ys) if has_int else None,
                     "n_intensity": len(xs) if has_int else 0}
    f1s = [v["f1"] for v in per_au.values() if v["f1"] is not None and v["support"] > 0]
    rs = [v["pearson_r"] for v in per_au.values() if v["pearson_r"] is not None]
    return {
        "n_images": n_images,
        "n_scored": len(labels),
        "errors": errors,
        "per_au": per_au,
        "macro_f1": float(np.mean(f1s)) if f1s else None,
        "mean_pearson_r": float(np.mean(rs)) if rs else None,
        "side": {"n": side_n, "correct": side_ok, "accuracy": _ratio(side_ok, side_n)},
    }


def _name(item) -> str:
    return getattr(item, "name", None) or ("<array>" if isinstance(item, np.ndarray) else str(item))


#: Small crops (an .npz of 48-pixel faces) are enlarged this many times and framed by a grey margin (pixels after
#: enlarging) before the analyser sees them, as a user would hand over a small crop.
CROP_UPSCALE, CROP_MARGIN = 4, 32


def enlarge_crop(image: np.ndarray, upscale: int = CROP_UPSCALE, margin: int = CROP_MARGIN) -> np.ndarray:
    """A small grey or RGB crop enlarged ``upscale``× (bicubic) in a grey (128) frame of ``margin`` pixels, as RGB."""
    import cv2

    img = np.asarray(image, dtype=np.uint8)
    h, w = img.shape[:2]
    big = cv2.resize(img, (w * upscale, h * upscale), interpolation=cv2.INTER_CUBIC)
    if big.ndim == 2:
        big = np.repeat(big[:, :, None], 3, axis=2)
    return cv2.copyMakeBorder(big[:, :, :3], margin, margin, margin, margin, cv2.BORDER_CONSTANT, value=(128,) * 3)


def evaluate_aus_npz(npz_path: str | os.PathLike, analyzer=None, *, image_key: str = "images",
                     code_key: str = "facs_code", aus: Iterable[str] | None = None) -> dict[str, Any]:
    """:func:`evaluate_aus` on an .npz of face crops (``images`` (n, h, w[, 3]) uint8 and ``facs_code`` (n,) str;
    images with an empty code are skipped: not coded). Crops smaller than 128 pixels are enlarged with
    :func:`enlarge_crop` first. Raises ``ValueError`` when a key is missing. The report gains ``"npz"``."""
    npz_path = Path(npz_path)
    with np.load(npz_path, allow_pickle=False) as z:
        missing = [k for k in (image_key, code_key) if k not in z.files]
        if missing:
            raise ValueError(f"{npz_path.name}: missing key(s) {', '.join(missing)}; found {', '.join(z.files)}")
        images, codes = z[image_key], z[code_key].astype(str)
    small = max(images.shape[1:3]) < 128
    rows = ((enlarge_crop(img) if small else img, code) for img, code in zip(images, codes) if code.strip())
    report = evaluate_aus(rows, analyzer, aus=aus)
    report["npz"] = str(npz_path)
    return report


def evaluate_aus_csv(csv_path: str | os.PathLike, analyzer=None, *, path_column: str = "path",
                     code_column: str = "facs", aus: Iterable[str] | None = None) -> dict[str, Any]:
    """:func:`evaluate_aus` on a CSV file with columns ``path`` and ``facs`` (paths relative to the CSV file).

    Raises ``ValueError`` when a column is missing. The report gains ``"csv"``: the file read.
    """
    csv_path = Path(csv_path)
    base = csv_path.parent
    with open(csv_path, newline="", encoding="utf-8-sig") as fh:
        reader = csv.DictReader(fh)
        fields = [f.strip() for f in (reader.fieldnames or [])]
        missing = [c for c in (path_column, code_column) if c not in fields]
        if missing:
            raise ValueError(f"{csv_path.name}: missing column(s) {', '.join(missing)}; found {', '.join(fields)}")
        rows = []
        for rec in reader:
            rec = {(k or "").strip(): v for k, v in rec.items()}
            p = Path((rec.get(path_column) or "").strip())
            rows.append((p if p.is_absolute() else base / p, rec.get(code_column) or ""))
    report = evaluate_aus(rows, analyzer, aus=aus)
    report["csv"] = str(csv_path)
    return report

"""Expression scores from the AU vector with the EMFACS / FACS-Investigator's-Guide prototypes.

This is the interpretable half of the expression model (a CNN on the face crop is the other half; the fusion of the
two is done elsewhere). The prototype table :data:`PROTOTYPES` is the one in ``shared/reference/facs-and-clinic.md``
§3 (Friesen & Ekman EMFACS-7; FACS 2002 Investigator's Guide prototypes and major variants as reproduced in open
code; the disgust row is unverified there). Scoring (§3.2 of the same file):

1. An AU's *evidence* is ``clip(intensity / full, 0, 1)`` with ``full`` = 2 (B) by default, or the intensity
   letter given in the prototype (``"12C"`` → full at C = 3, ``"5B"`` → 2). ``"25|26|27"`` takes the best of them.
2. A variant's score is the geometric mean of its required AUs' evidence (every AU is needed), plus
   ``OPTIONAL_BONUS`` × the mean evidence of its optional AUs, capped at 1. An emotion's score is its best variant.
3. The score is multiplied by ``(1 − 0.8 × evidence)`` for each opposing AU (e.g. AU12 suppresses sadness, anger,
   fear and disgust; AU4 and AU15 suppress happiness; AU4 suppresses surprise).
4. Contempt is one-sided 12/14 (``R12A+R14A``), so it is scored from the left/right *difference*:
   ``clip(max(|ΔAU12|, |ΔAU14|) / 2, 0, 1) × (1 − clip(min(AU12 left, right) / 3, 0, 1))`` (a strong smile on
   both sides is not contempt even when it is a little uneven).
5. Neutral scores ``1 − max(other scores)``; probabilities are ``softmax(TEMPERATURE × scores)``.

A one-sided 12/14 pattern is also what a facial palsy looks like (one side cannot move), so
:func:`contempt_check` flags it: the mimetic pipeline stores that flag in ``Face.symmetry.contempt_check``.
These scores say "the face shows the AU pattern of X", not what the person feels (Barrett et al. 2019).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np

from mimetic.types import EXPRESSIONS, AUValue, ContemptCheck, Expression, Symmetry

TEMPERATURE = 6.0
OPTIONAL_BONUS = 0.1
DEFAULT_FULL = 2.0  # intensity (B) at which an AU counts as full evidence
OPPOSING_STRENGTH = 0.8
#: contempt evidence from which :func:`contempt_check` flags a possible asymmetry / palsy
CONTEMPT_FLAG_AT = 0.5


@dataclass(frozen=True)
class Prototype:
    emotion: str
    variants: tuple[str, ...]  # FACS-style AU combinations, e.g. "1+2+5B+26", "4+5+7+23+25|26"
    optional: tuple[str, ...] = ()
    opposing: tuple[str, ...] = ()
    note: str = ""


# fmt: off
PROTOTYPES: tuple[Prototype, ...] = (
    Prototype("happiness", ("6+12", "12C"), opposing=("4", "15")),
    Prototype("surprise", ("1+2+5B+26", "1+2+5B+27", "1+2+5B", "1+2+26", "1+2+27", "5B+26", "5B+27"),
              opposing=("4",)),
    Prototype("sadness", ("1+4+11+15B", "1+4+15", "6+15", "1+4+11", "1+4+15B+17", "11+15B", "11+17"),
              optional=("17",), opposing=("12",)),
    Prototype("anger", ("4+5+7+10+22+23+25|26", "4+5+7+10+23+25|26", "4+5+7+23+25|26", "4+5+7+17+23",
                        "4+5+7+17+24", "4+5+7+23", "4+5+7+24", "4+7+23|24", "4+5+23|24", "5+7+23|24"),
              opposing=("12",), note="the last three rows stand for 'any prototype missing one of 4, 5, 7'"),
    Prototype("disgust", ("9", "9+16+15|26", "9+17", "10", "10+16+25|26", "10+17", "9+15+16"),
              opposing=("12",), note="disgust row unverified in the reference"),
    Prototype("fear", ("1+2+4+5+20+25|26|27", "1+2+4+5+25|26|27", "1+2+4+5", "5+20+25|26|27", "1+2+4+5+20"),
              optional=("7",), opposing=("12",)),
)
# fmt: on

_TERM = re.compile(r"^(\d+)([A-E])?$")


def _parse_variant(text: str) -> tuple[tuple[tuple[str, float], ...], ...]:
    """"4+5B+25|26" -> ((("AU04", 2.0),), (("AU05", 2.0),), (("AU25", 2.0), ("AU26", 2.0)))."""
    terms = []
    for part in text.split("+"):
        alts = []
        for alt in part.split("|"):
            m = _TERM.match(alt.strip())
            if not m:
                raise ValueError(f"bad prototype term {alt!r} in {text!r}")
            full = DEFAULT_FULL if m.group(2) is None else float("ABCDE".index(m.group(2)) + 1)
            alts.append((f"AU{int(m.group(1)):02d}", full))
        terms.append(tuple(alts))
    return tuple(terms)


def _compile():
    """Index arrays so that all variants of all emotions are scored with a handful of numpy operations."""
    pairs: dict[tuple[str, float], int] = {}
    terms: list[list[int]] = []

    def term(alts) -> int:
        terms.append([pairs.setdefault(a, len(pairs)) for a in alts])
        return len(terms) - 1

    var_terms: list[int] = []  # the term indices of every variant, variant after variant
    var_start, var_len, var_text, emo_start, extra = [], [], [], [], []
    for p in PROTOTYPES:
        emo_start.append(len(var_start))
        for text in p.variants:
            ts = [term(alts) for alts in _parse_variant(text)]
            var_start.append(len(var_terms))
            var_terms.extend(ts)
            var_len.append(len(ts))
            var_text.append(text)
        extra.append(([term(_parse_variant(o)[0]) for o in p.optional],
                      [term(_parse_variant(o)[0]) for o in p.opposing]))
    codes = sorted({c for c, _ in pairs})
    pair_au = np.array([codes.index(c) for c, _ in pairs])
    pair_full = np.array([f for _, f in pairs])
    width = max(len(t) for t in terms)
    dummy = len(pairs)  # index of a 0-evidence slot
    alts = np.array([t + [dummy] * (width - len(t)) for t in terms])
    return (codes, pair_au, pair_full, alts, np.array(var_terms), np.array(var_start), np.array(var_len, float),
            var_text, emo_start, extra)


(_CODES, _PAIR_AU, _PAIR_FULL, _ALTS, _VAR_TERMS, _VAR_START, _VAR_LEN, _VAR_TEXT, _EMO_START, _EXTRA) = _compile()
_EMO_END = _EMO_START[1:] + [len(_VAR_START)]


def _term_evidence(aus: Mapping[str, AUValue]) -> np.ndarray:
    """Evidence 0..1 of every compiled term (the best of its alternatives)."""
    inten = np.array([aus[c].intensity if c in aus else 0.0 for c in _CODES], dtype=np.float64)
    ev = np.append(np.clip(inten[_PAIR_AU] / _PAIR_FULL, 0.0, 1.0), 0.0)
    return ev[_ALTS].max(axis=1)


_NONE = AUValue(0.0, 0.0, 0.0, False)


def contempt_evidence(aus: Mapping[str, AUValue]) -> float:
    """One-sided 12/14 evidence (0..1), see step 4 of the module docstring."""
    au12, au14 = aus.get("AU12", _NONE), aus.get("AU14", _NONE)
    d12 = abs(au12.left - au12.right)
    d14 = abs(au14.left - au14.right)
    both12 = min(au12.left, au12.right)
    return min(1.0, max(d12, d14) / 2.0) * (1.0 - min(1.0, both12 / 3.0))


@dataclass(frozen=True)
class PrototypeScores:
    scores: dict[str, float]  # the 8 classes, in EXPRESSIONS order, probabilities summing to 1
    raw: dict[str, float]  # the 0..1 match scores before the softmax
    matched: dict[str, str] = field(default_factory=dict)  # emotion -> best-matching variant
    label: str = "neutral"

    def expression(self) -> Expression:
        return Expression(self.label, dict(self.scores))


def score_prototypes(aus: Mapping[str, AUValue]) -> PrototypeScores:
    """Score the 8 expression classes (:data:`mimetic.types.EXPRESSIONS`) from the AU values (``Face.aus``)."""
    te = _term_evidence(aus)
    # geometric mean of each variant's terms
    gm = np.multiply.reduceat(te[_VAR_TERMS], _VAR_START) ** (1.0 / _VAR_LEN)
    raw: dict[str, float] = {}
    matched: dict[str, str] = {}
    for e, p in enumerate(PROTOTYPES):
        a, b = _EMO_START[e], _EMO_END[e]
        optional, opposing = _EXTRA[e]
        g = gm[a:b]
        if optional:
            g = np.where(g > 0, np.minimum(1.0, g + OPTIONAL_BONUS * float(te[optional].mean())), 0.0)
        k = int(np.argmax(g))
        best = float(g[k])
        for t in opposing:
            best *= 1.0 - OPPOSING_STRENGTH * float(te[t])
        raw[p.emotion] = best
        matched[p.emotion] = _VAR_TEXT[a + k] if best > 0 else ""
    raw["contempt"] = contempt_evidence(aus)
    matched["contempt"] = "L/R 12+14 (one-sided)"
    raw["neutral"] = 1.0 - max(raw.values())
    s = np.array([raw[e] for e in EXPRESSIONS])
    p = np.exp(TEMPERATURE * (s - s.max()))
    p /= p.sum()
    scores = {e: round(float(v), 5) for e, v in zip(EXPRESSIONS, p)}
    label = EXPRESSIONS[int(np.argmax(p))]
    return PrototypeScores(scores=scores, raw={e: round(raw[e], 4) for e in EXPRESSIONS},
                           matched={e: matched.get(e, "") for e in EXPRESSIONS if e != "neutral"}, label=label)


def contempt_check(aus: Mapping[str, AUValue], symmetry: Symmetry | None = None) -> ContemptCheck:
    """Flag a one-sided 12/14 pattern that may be facial asymmetry or palsy rather than contempt.

    Returns ``ContemptCheck(one_sided 0..1, other_regions, flag)``: ``one_sided`` is the contempt evidence;
    ``other_regions`` is True when the symmetry measures also flag the brow or the eye (contempt moves only the
    mouth; a palsy usually shows in the upper face too). ``flag`` = ``one_sided >= CONTEMPT_FLAG_AT``.
    """
    one = contempt_evidence(aus)
    other = False
    if symmetry is not None:
        for group in (symmetry.regions, symmetry.movement or {}):
            for key in ("brow_height_mm", "palpebral_fissure_mm"):
                entry = group.get(key)
                if entry is not None and entry.flag:
                    other = True
    return ContemptCheck(round(one, 3), other, one >= CONTEMPT_FLAG_AT)

"""MEGC-style evaluation of spotted intervals, and readers for the CAS(ME)² and SAMM long-video annotations.

The protocol (Micro-Expression Grand Challenge, MEGC 2019 onwards; see docs/video.md):

- a spotted interval ``W_s`` is a true positive when it overlaps a ground-truth interval ``W_gt`` of the same video
  with ``IoU = |W_s ∩ W_gt| / |W_s ∪ W_gt| >= 0.5`` (frames counted inclusively); each ground-truth interval is
  matched at most once, and so is each spotted interval (greedy, highest IoU first);
- counts are pooled over the whole dataset: ``recall = TP / #GT``, ``precision = TP / #spotted``,
  ``F1 = 2PR / (P + R)``; reported for micro-expressions, macro-expressions and overall.

Annotation readers return :class:`Interval` rows: ``video`` (a key that names one long video, e.g.
``"15_0401"`` or ``"006_1"``), ``subject``, ``onset``/``apex``/``offset`` frame numbers (as in the
tables: 1-based for both datasets), ``kind`` ("micro" or "macro") and the emotion/AU text where the table has them.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = ["Interval", "Score", "iou", "match_intervals", "evaluate", "read_casme2_lv", "read_samm_lv",
           "events_to_intervals"]

#: CAS(ME)² long videos: "micro" when offset - onset + 1 <= this many frames at 30 fps (0.5 s); the dataset's
#: own table marks the type in a column, which wins when present.
CASME2_FPS = 30.0
SAMM_FPS = 200.0


@dataclass(frozen=True)
class Interval:
    """One interval of one video (frames inclusive)."""

    video: str
    onset: int
    offset: int
    kind: str = ""  # "micro" | "macro" | "" (unknown)
    apex: int | None = None
    subject: str = ""
    emotion: str = ""
    aus: str = ""

    @property
    def length(self) -> int:
        return self.offset - self.onset + 1


@dataclass(frozen=True)
class Score:
    """Pooled counts and metrics for one kind of interval (or all)."""

    tp: int
    n_true: int
    n_spotted: int

    @property
    def recall(self) -> float:
        return self.tp / self.n_true if self.n_true else 0.0

    @property
    def precision(self) -> float:
        return self.tp / self.n_spotted if self.n_spotted else 0.0

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r > 0 else 0.0

    def to_dict(self) -> dict[str, float | int]:
        return {"tp": self.tp, "n_true": self.n_true, "n_spotted": self.n_spotted, "recall": round(self.recall, 4),
                "precision": round(self.precision, 4), "f1": round(self.f1, 4)}


def iou(a: tuple[int, int], b: tuple[int, int]) -> float:
    """Temporal IoU of two inclusive frame intervals ``(onset, offset)``."""
    inter = min(a[1], b[1]) - max(a[0], b[0]) + 1
    if inter <= 0:
        return 0.0
    union = (a[1] - a[0] + 1) + (b[1] - b[0] + 1) - inter
    return inter / union


def match_intervals(truth: Sequence[tuple[int, int]], spotted: Sequence[tuple[int, int]], *,
                    threshold: float = 0.5) -> list[tuple[int, int, float]]:
    """Greedy one-to-one matching by IoU (highest first): ``[(truth_index, spotted_index, iou), ...]`` for the
    pairs with ``IoU >= threshold``."""
    from mimetic.face.boxes import match_greedy

    return match_greedy(list(truth), list(spotted), threshold=threshold, overlap=iou)


def evaluate(truth: Iterable[Interval], spotted: Iterable[Interval], *, threshold: float = 0.5,
             by_kind: bool = True) -> dict[str, Score]:
    """MEGC scores: ``{"overall": Score, "micro": Score, "macro": Score}`` (the last two with ``by_kind``).

    Matching is per video. Overall, any spotted interval may match any truth interval; per kind, the truth of
    that kind is matched against the spotted intervals of that kind (as the MEGC evaluation scripts do).
    """
    truth, spotted = list(truth), list(spotted)
    kinds = [("overall", None)] + ([("micro", "micro"), ("macro", "macro")] if by_kind else [])
    out = {}
    for name, kind in kinds:
        t_sel = [x for x in truth if kind is None or x.kind == kind]
        s_sel = [x for x in spotted if kind is None or x.kind == kind]
        tp = 0
        for video in {x.video for x in t_sel} | {x.video for x in s_sel}:
            tv = [(x.onset, x.offset) for x in t_sel if x.video == video]
            sv = [(x.onset, x.offset) for x in s_sel if x.video == video]
            tp += len(match_intervals(tv, sv, threshold=threshold))
        out[name] = Score(tp, len(t_sel), len(s_sel))
    return out


def events_to_intervals(events: Iterable[Any], video: str = "", *, frame_offset: int = 0) -> list[Interval]:
    """Spotter :class:`~mimetic.video.spotting.Event` objects as intervals (``frame_offset=1`` gives the 1-based
    frame numbers of the dataset tables when the events come from 0-based decoded frames)."""
    return [Interval(video, e.onset_frame + frame_offset, e.offset_frame + frame_offset, e.kind,
                     e.apex_frame + frame_offset) for e in events]


# -- readers -------------------------------------------------------------------------------------------------------

def _int(v) -> int | None:
    try:
        if v is None or (isinstance(v, float) and v != v):
            return None
        return int(float(v))
    except (TypeError, ValueError):
        return None


def _col(row: Mapping[str, Any], *names: str):
    low = {k.lower().replace(" ", "").replace("_", ""): k for k in row}
    for n in names:
        k = low.get(n.lower().replace(" ", "").replace("_", ""))
        if k is not None:
            return row[k]
    return None


#: Column order of the CAS(ME)² annotation sheet (``CAS(ME)^2code_final.xlsx``, first sheet, no header row).
CASME2_COLUMNS = ("participant", "clip", "onset", "apex", "offset", "aus", "emotion", "type", "self_reported")


def read_casme2_lv(source, *, naming: Mapping[str, str] | None = None) -> list[Interval]:
    """Read the CAS(ME)² long-video annotations (``CAS(ME)^2code_final.xlsx``, a CSV export, or a DataFrame).

    The first sheet has no header row; its columns, in order: participant (e.g. 15), clip (``"anger1_1"``: the
    stimulus video ``anger1``, expression 1), onset, apex, offset (frame numbers in the long video, 1-based), AUs,
    estimated emotion, type (``"macro-expression"`` / ``"micro-expression"``), self-reported emotion. A table
    with a header row naming these columns is read by name instead.

    ``video`` key: ``"<participant>_<code>"`` where ``code`` is the stimulus code of the long video's file name
    (``15_0401girlcrashing`` -> ``"15_0401"``), taken from the workbook's "naming rule2" sheet (code, stimulus) or
    from ``naming`` ({stimulus: code}); without either it is ``"<participant>_<stimulus>"``. An offset of 0 (the
    dataset's "no clear offset") is replaced by the apex, as the MEGC baselines do.
    """
    import pandas as pd

    if isinstance(source, pd.DataFrame):
        df = source.copy()
    else:
        p = Path(source)
        if p.suffix.lower() in (".xlsx", ".xls"):
            book = pd.ExcelFile(p)
            df = book.parse(book.sheet_names[0], header=None)
            if naming is None:
                for sheet in book.sheet_names[1:]:
                    if "rule2" in sheet.replace(" ", "").lower():
                        rule = book.parse(sheet, header=None, converters={0: str})
                        naming = {str(r[1]).strip(): str(r[0]).strip().zfill(4) for r in rule.itertuples(index=False)
                                  if len(r) > 1 and str(r[1]) != "nan"}
        else:
            df = pd.read_csv(p, header=None)
    cols = [str(c).strip().lower() for c in df.columns]
    if "onset" not in cols:  # no names yet: is the first row a header?
        first = [str(c).strip().lower() for c in df.iloc[0]] if len(df) else []
        if "onset" in first:
            df = df.iloc[1:].reset_index(drop=True)
            df.columns = first
        else:
            df = df.iloc[:, :len(CASME2_COLUMNS)]
            df.columns = list(CASME2_COLUMNS[:df.shape[1]])
    out = []
    for r in df.to_dict("records"):
        participant = _col(r, "participant", "subject")
        clip = str(_col(r, "clip", "filename", "video", "expression") or "").strip()
        onset, apex, offset = (_int(_col(r, k, k + "frame")) for k in ("onset", "apex", "offset"))
        if onset is None or not clip or clip == "nan":
            continue
        if not offset:
            offset = apex if apex else onset
        if not apex:
            apex = None
        subj = str(_int(participant) if _int(participant) is not None else participant).strip()
        stimulus = clip.split("_")[0]
        code = (naming or {}).get(stimulus, stimulus)
        kind = _kind_from_text(str(_col(r, "type", "expressiontype") or "")) or (
            "micro" if (offset - onset + 1) / CASME2_FPS < 0.5 else "macro")
        emotion = str(_col(r, "emotion", "estimatedemotion") or "")
        aus = str(_col(r, "aus", "au", "actionunits") or "")
        out.append(Interval(f"{subj}_{code}", onset, offset, kind, apex, subj, "" if emotion == "nan" else emotion,
                            "" if aus == "nan" else aus))
    return out


def _kind_from_text(text: str) -> str:
    t = str(text).lower()
    if "micro" in t:
        return "micro"
    if "macro" in t:
        return "macro"
    return ""


def read_samm_lv(source) -> list[Interval]:
    """Read the SAMM Long Videos annotation table (``SAMM_LongVideos_V3_Release.xlsx`` or a CSV export).

    Columns used (by name; the release has a few title rows above the header, which are skipped): ``Subject``,
    ``Filename`` (e.g. ``006_1_2``: subject 006, long video ``006_1``, expression 2), ``Onset``, ``Apex``,
    ``Offset`` (frames), ``Type`` ("Micro - 1/2" / "Macro"), ``Action Units``, ``Estimated Emotion``. The
    interval's ``video`` key is the long video (the file name without its last ``_n``). An apex or offset of -1
    (unknown) is replaced by the onset/apex.
    """
    import pandas as pd

    if isinstance(source, pd.DataFrame):
        raw = source
        header_found = True
    else:
        p = Path(source)
        raw = pd.read_excel(p, header=None) if p.suffix.lower() in (".xlsx", ".xls") else pd.read_csv(p, header=None)
        header_found = False
    if not header_found:
        hdr = None
        for i in range(min(len(raw), 30)):
            cells = [str(c).strip().lower() for c in raw.iloc[i]]
            if "onset" in " ".join(cells) and any(c.startswith("filename") for c in cells):
                hdr = i
                break
        if hdr is None:
            raise ValueError("no header row with 'Filename' and 'Onset' found in the SAMM table")
        raw.columns = [str(c).strip() for c in raw.iloc[hdr]]
        raw = raw.iloc[hdr + 1:].reset_index(drop=True)
    out = []
    for r in raw.to_dict("records"):
        name = str(_col(r, "filename", "file name") or "").strip()
        onset = _int(_col(r, "onset", "onsetframe", "onset frame"))
        if not name or name == "nan" or onset is None:
            continue
        apex = _int(_col(r, "apex", "apexframe", "apex frame"))
        offset = _int(_col(r, "offset", "offsetframe", "offset frame"))
        if apex is not None and apex < 0:
            apex = None
        if offset is None or offset < 0:
            offset = apex if apex is not None else onset
        parts = name.split("_")
        video = "_".join(parts[:2]) if len(parts) >= 3 else name
        subject = str(_col(r, "subject") or parts[0]).strip()
        if subject.endswith(".0"):
            subject = subject[:-2]
        subject = subject.zfill(3) if subject.isdigit() else subject
        kind = _kind_from_text(str(_col(r, "type") or "")) or (
            "micro" if (offset - onset + 1) / SAMM_FPS < 0.5 else "macro")
        emotion = str(_col(r, "estimated emotion", "emotion") or "")
        aus = str(_col(r, "action units", "aus") or "")
        out.append(Interval(video, onset, offset, kind, apex, subject, "" if emotion == "nan" else emotion,
                            "" if aus == "nan" else aus))
    return out

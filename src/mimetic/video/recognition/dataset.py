"""Micro-expression datasets laid out like CASME II: one folder of frames per sample and a coding table.

CASME II (``CASME2-coding-*.xlsx``; frames ``CASME2_RAW_selected/sub01/EP02_01f/img46.jpg``), SAMM
(``SAMM_Micro_FACS_Codes_v2.xlsx``; frames ``SAMM/006/006_1_2/006_05562.jpg``) and datasets converted to that
layout are read the same way:

- the **coding table** (CSV or Excel) has one row per sample with (matched case- and space-insensitively)
  ``Subject``, ``Filename``, ``OnsetFrame``, ``ApexFrame``, ``OffsetFrame`` and ``Estimated Emotion`` (or
  ``Emotion``/``label``); SAMM's "Onset Frame" style names work too;
- the **frames** of a sample are in a folder named like ``Filename`` one level below ``root`` (``root/*/Filename``)
  or directly below it; a frame's number is the last integer in its file name (``img46.jpg`` -> 46,
  ``006_05562.jpg`` -> 5562), which is what the onset/apex/offset columns refer to.

SMIC has no apex annotation: give ``apex="middle"`` to use the middle frame between onset and offset.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

__all__ = ["MESample", "read_casme2", "frame_files", "CASME2_5_CLASSES", "MEGC_3_CLASSES"]

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff"}
_LAST_INT = re.compile(r"(\d+)(?!.*\d)")

#: The usual 5-class CASME II protocol (others = "others"; fear and sadness, too rare, dropped).
CASME2_5_CLASSES: dict[str, str] = {"happiness": "happiness", "disgust": "disgust", "repression": "repression",
                                    "surprise": "surprise", "others": "others"}
#: MEGC 2019 composite classes.
MEGC_3_CLASSES: dict[str, str] = {
    "happiness": "positive", "happy": "positive", "surprise": "surprise", "disgust": "negative",
    "repression": "negative", "anger": "negative", "contempt": "negative", "fear": "negative",
    "sadness": "negative", "negative": "negative", "positive": "positive",
}  # fmt: skip


@dataclass(frozen=True)
class MESample:
    """One annotated micro-expression: where its frames are and which of them are onset, apex, offset."""

    subject: str
    name: str
    folder: Path
    onset: int
    apex: int
    offset: int
    label: str
    emotion: str  # the table's own text, before any class mapping

    def frame(self, number: int) -> Path:
        """The file of frame ``number`` (raises ``FileNotFoundError``)."""
        files = frame_files(self.folder)
        if number in files:
            return files[number]
        raise FileNotFoundError(f"{self.folder}: no frame numbered {number}")


_CACHE: dict[Path, dict[int, Path]] = {}


def frame_files(folder: str | os.PathLike) -> dict[int, Path]:
    """``{frame number: path}`` for the images in ``folder`` (numbers from the last integer of each name)."""
    folder = Path(folder)
    if folder not in _CACHE:
        out = {}
        for p in folder.iterdir():
            if p.suffix.lower() in IMAGE_SUFFIXES:
                m = _LAST_INT.search(p.stem)
                if m:
                    out[int(m.group(1))] = p
        if len(_CACHE) > 4096:
            _CACHE.clear()
        _CACHE[folder] = out
    return _CACHE[folder]


def _norm(name: str) -> str:
    return re.sub(r"[^a-z]", "", str(name).lower())


def _pick(columns, *names) -> str | None:
    by = {_norm(c): c for c in columns}
    for n in names:
        if _norm(n) in by:
            return by[_norm(n)]
    return None


def _read_table(path: Path):
    import pandas as pd

    if path.suffix.lower() in (".xlsx", ".xls"):
        raw = pd.read_excel(path, header=None)
    else:
        raw = pd.read_csv(path, header=None)
    for i in range(min(len(raw), 30)):  # SAMM's sheet has title rows above the header
        cells = [_norm(c) for c in raw.iloc[i]]
        if any(c.startswith("onset") for c in cells) and any(c in ("filename", "file") for c in cells):
            df = raw.iloc[i + 1:].reset_index(drop=True)
            df.columns = [str(c).strip() for c in raw.iloc[i]]
            return df
    raise ValueError(f"{path}: no header row with Filename and Onset columns")


def read_casme2(root: str | os.PathLike, coding: str | os.PathLike, *,
                labels: Mapping[str, str] | None = None, apex: str = "table") -> list[MESample]:
    """Read the samples of a CASME II-like dataset (see the module docstring).

    ``labels`` maps the table's emotion text (lower case) to a class; rows whose emotion is not in it are skipped
    (default: keep every emotion as its own class). ``apex="middle"`` ignores the apex column (SMIC).
    Samples whose folder or onset/apex frames are missing are skipped.
    """
    root = Path(root)
    df = _read_table(Path(coding))
    cols = df.columns
    c_subj = _pick(cols, "Subject", "sub", "participant")
    c_file = _pick(cols, "Filename", "file", "video")
    c_on = _pick(cols, "OnsetFrame", "Onset Frame", "Onset")
    c_ap = _pick(cols, "ApexFrame", "Apex Frame", "Apex")
    c_off = _pick(cols, "OffsetFrame", "Offset Frame", "Offset")
    c_em = _pick(cols, "Estimated Emotion", "Emotion", "label", "class", "Objective Classes")
    missing = [n for n, c in (("Subject", c_subj), ("Filename", c_file), ("Onset", c_on), ("Offset", c_off),
                              ("Emotion", c_em)) if c is None]
    if missing:
        raise ValueError(f"{coding}: missing column(s) {', '.join(missing)}")
    folders: dict[str, Path] = {}
    for p in list(root.iterdir()) + [q for d in root.iterdir() if d.is_dir() for q in d.iterdir()]:
        if p.is_dir():
            folders.setdefault(f"{p.parent.name}/{p.name}", p)
            folders.setdefault(p.name, p)
    out = []
    for r in df.to_dict("records"):
        name = str(r[c_file]).strip()
        subject = str(r[c_subj]).strip()
        if subject.endswith(".0"):
            subject = subject[:-2]
        try:
            onset, offset = int(float(r[c_on])), int(float(r[c_off]))
        except (TypeError, ValueError):
            continue
        try:
            ap = int(float(r[c_ap])) if (c_ap is not None and apex != "middle") else (onset + offset) // 2
        except (TypeError, ValueError):  # CASME II writes "/" for a few unknown apexes
            ap = (onset + offset) // 2
        emotion = str(r[c_em]).strip()
        label = emotion.lower()
        if labels is not None:
            if label not in labels:
                continue
            label = labels[label]
        folder = None
        for key in (f"sub{subject.zfill(2)}/{name}", f"{subject.zfill(3)}/{name}", f"{subject}/{name}", name):
            if key in folders:
                folder = folders[key]
                break
        if folder is None:
            continue
        files = frame_files(folder)
        if onset not in files or ap not in files:
            continue
        out.append(MESample(subject, name, folder, onset, ap, offset, label, emotion))
    return out

"""Label sets of a labelling project, as data."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from mimetic.types import EXPRESSIONS

#: The two answers every label set offers besides its labels (FER+'s ``NF`` and ``unknown``).
NOT_A_FACE = "not_a_face"
UNSURE = "unsure"
SPECIAL = (NOT_A_FACE, UNSURE)
#: FACS intensity letters, trace (A) to maximum (E).
INTENSITIES = ("A", "B", "C", "D", "E")
#: The AUs offered when a project asks for AU checkboxes without naming them.
DEFAULT_AUS = ("AU1", "AU2", "AU4", "AU5", "AU6", "AU7", "AU9", "AU10", "AU12", "AU14", "AU15", "AU17", "AU20",
               "AU23", "AU24", "AU25", "AU26", "AU27")

_LABEL = re.compile(r"^[a-z0-9][a-z0-9_\-]{0,39}$")
_AU = re.compile(r"^AU[0-9]{1,2}[LR]?$")


@dataclass(frozen=True)
class LabelSet:
    """The answers of a project: ``labels`` (keys 1–9 in this order), optional ``aus`` checkboxes, each with an
    intensity A–E when ``au_intensity``; ``blind``: annotators never see the model's suggestion."""

    labels: tuple[str, ...] = EXPRESSIONS
    aus: tuple[str, ...] = ()
    au_intensity: bool = True
    blind: bool = False

    def __post_init__(self) -> None:
        labels = tuple(str(x).strip().lower() for x in self.labels)
        if len(labels) < 2:
            raise ValueError(f"a label set needs at least 2 labels, got {list(labels)}")
        for x in labels:
            if not _LABEL.match(x):
                raise ValueError(f"label {x!r}: use lower-case letters, digits, '_' or '-' (at most 40)")
            if x in SPECIAL:
                raise ValueError(f"label {x!r} is reserved (every project offers {', '.join(SPECIAL)})")
        if len(set(labels)) != len(labels):
            raise ValueError(f"a label is given twice in {list(labels)}")
        aus = tuple(str(a).strip().upper() for a in self.aus)
        for a in aus:
            if not _AU.match(a):
                raise ValueError(f"{a!r} is not an AU name such as AU12")
        if len(set(aus)) != len(aus):
            raise ValueError(f"an AU is given twice in {list(aus)}")
        object.__setattr__(self, "labels", labels)
        object.__setattr__(self, "aus", aus)

    @classmethod
    def parse(cls, labels: str | Iterable[str] | None = None, aus: str | Iterable[str] | None = None,
              au_intensity: bool = True, blind: bool = False) -> "LabelSet":
        """From comma lists (``"neutral,happiness"``; ``aus="default"`` for :data:`DEFAULT_AUS`)."""
        if labels is None or (isinstance(labels, str) and labels.strip().lower() in ("", "8", "default")):
            lab: tuple[str, ...] = EXPRESSIONS
        elif isinstance(labels, str):
            lab = tuple(s.strip() for s in labels.split(",") if s.strip())
        else:
            lab = tuple(labels)
        if aus is None:
            au: tuple[str, ...] = ()
        elif isinstance(aus, str):
            au = DEFAULT_AUS if aus.strip().lower() == "default" else tuple(s.strip() for s in aus.split(",")
                                                                            if s.strip())
        else:
            au = tuple(aus)
        return cls(lab, au, au_intensity, blind)

    @property
    def answers(self) -> tuple[str, ...]:
        """Every valid vote: the labels, then ``not_a_face`` and ``unsure``."""
        return self.labels + SPECIAL

    def check_vote(self, label: str, aus: Mapping[str, str | None] | None = None) -> tuple[str, dict[str, str]]:
        """(label, aus) normalised, or ValueError saying what is wrong."""
        lab = str(label).strip().lower()
        if lab not in self.answers:
            raise ValueError(f"{label!r} is not one of {', '.join(self.answers)}")
        out: dict[str, str] = {}
        for a, level in (aus or {}).items():
            a = str(a).strip().upper()
            if a not in self.aus:
                raise ValueError(f"{a} is not in this project's AUs ({', '.join(self.aus) or 'none'})")
            lv = (str(level).strip().upper() if level else "") if self.au_intensity else ""
            if self.au_intensity and lv not in INTENSITIES:
                raise ValueError(f"{a}: intensity {level!r} is not one of A–E")
            out[a] = lv
        return lab, out

    def to_dict(self) -> dict[str, Any]:
        return {"labels": list(self.labels), "aus": list(self.aus), "au_intensity": self.au_intensity,
                "blind": self.blind}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any] | None) -> "LabelSet":
        d = d or {}
        return cls(tuple(d.get("labels") or EXPRESSIONS), tuple(d.get("aus") or ()), bool(d.get("au_intensity", True)),
                   bool(d.get("blind", False)))

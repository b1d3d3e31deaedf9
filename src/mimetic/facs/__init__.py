"""FACS: the action-unit catalogue (data), AU estimation from blendshapes and landmark geometry, the muscles and
facial-nerve branches behind the AUs, and FACS code strings / evaluation. See ``docs/aus.md``.

>>> from mimetic.facs import estimate_aus, parse_facs
>>> aus = estimate_aus(face)  # {"AU12": AUValue(intensity=3.1, left=3.1, right=2.8, present=True), ...}
>>> parse_facs("1+2+5B+26")["AU05"].intensity
2
"""

from mimetic.facs.catalogue import AUS, BRANCHES, FRAME_AUS, MUSCLES, au
from mimetic.facs.codes import evaluate_aus, evaluate_aus_csv, format_facs, parse_facs
from mimetic.facs.estimate import PRESENT_AT, estimate_aus
from mimetic.facs.muscles import muscles_and_nerves

__all__ = ["AUS", "BRANCHES", "FRAME_AUS", "MUSCLES", "PRESENT_AT", "au", "estimate_aus", "evaluate_aus",
           "evaluate_aus_csv", "format_facs", "muscles_and_nerves", "parse_facs"]

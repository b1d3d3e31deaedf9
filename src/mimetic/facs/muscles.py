"""Mimetic-muscle activations and facial-nerve branch summaries, per side, derived from the AU intensities.

- **Muscle activation** (0..1) per side = the strongest evidence among the AUs that the muscle produces:
  ``max over AUs of (weight(muscle, AU) × intensity_side(AU) / 5)``, with the weights of
  :data:`mimetic.facs.catalogue.MUSCLES` (e.g. orbicularis oris is driven by AU18/22/23/24/28; depressor labii
  inferioris fully by AU16 and weakly by AU25). A maximum, not a sum: one muscle doing one of several things.
- **Nerve branch activity** (0..1) per side, for the five facial-nerve branches = the strongest activation among
  the muscles the branch supplies, times the branch's innervation weight for that muscle
  (``max over muscles of (branch_weight × activation)``). It says "this branch is visibly driving something",
  which is what a clinician checks branch by branch; it is not a nerve measurement.

Muscles of mastication (AU26/27, trigeminal) are left out: AU26 is a relaxation. Levator palpebrae superioris
(AU5, oculomotor) is reported as a muscle but belongs to no facial-nerve branch.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from mimetic.facs.catalogue import BRANCHES, FRAME_AUS, MUSCLES
from mimetic.types import AUValue, Sided

MUSCLE_NAMES: tuple[str, ...] = tuple(m.key for m in MUSCLES)

_AU_INDEX = {a: i for i, a in enumerate(FRAME_AUS)}
_MA = np.zeros((len(MUSCLES), len(FRAME_AUS)))  # muscle x AU weights
_BM = np.zeros((len(BRANCHES), len(MUSCLES)))  # branch x muscle weights
for _m, _mu in enumerate(MUSCLES):
    for _au, _w in _mu.aus.items():
        if _au in _AU_INDEX:
            _MA[_m, _AU_INDEX[_au]] = _w
    for _b, _w in _mu.branches.items():
        _BM[BRANCHES.index(_b), _m] = _w


def _sided(aus: Mapping[str, AUValue]) -> np.ndarray:
    """AU intensities as an array (len(FRAME_AUS), 2) = (left, right)."""
    out = np.zeros((len(FRAME_AUS), 2))
    for a, i in _AU_INDEX.items():
        d = aus.get(a)
        if d is not None:
            out[i] = d.left, d.right
    return out


def muscle_activations(aus: Mapping[str, AUValue]) -> np.ndarray:
    """Activations (len(MUSCLES), 2) in 0..1, (left, right)."""
    x = _sided(aus) / 5.0  # (A, 2)
    return np.clip((_MA[:, :, None] * x[None]).max(axis=1), 0.0, 1.0)


def branch_activity(act: np.ndarray) -> np.ndarray:
    """Nerve-branch activity (len(BRANCHES), 2) in 0..1 from muscle activations (len(MUSCLES), 2)."""
    return (_BM[:, :, None] * act[None]).max(axis=1)


def _as_sided(names, arr: np.ndarray) -> dict[str, Sided]:
    return {n: Sided(left, right) for n, (left, right) in zip(names, np.round(arr, 3).tolist())}


def muscles_and_nerves(aus: Mapping[str, AUValue]) -> tuple[dict[str, Sided], dict[str, Sided]]:
    """``(muscles, nerves)`` ready for ``Face.muscles`` and ``Face.nerves``: ``{name: Sided(left, right)}``."""
    act = muscle_activations(aus)
    return _as_sided(MUSCLE_NAMES, act), _as_sided(BRANCHES, branch_activity(act))


def muscles_from_aus(aus: Mapping[str, AUValue]) -> dict[str, Sided]:
    """Muscle activations ``{muscle: Sided(left 0..1, right 0..1)}`` (see the module docstring)."""
    return muscles_and_nerves(aus)[0]


def nerves_from_aus(aus: Mapping[str, AUValue]) -> dict[str, Sided]:
    """Facial-nerve branch activity ``{branch: Sided(left 0..1, right 0..1)}`` (see the module docstring)."""
    return muscles_and_nerves(aus)[1]

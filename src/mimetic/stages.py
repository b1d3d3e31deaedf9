"""The stages that run on each found face, after the landmarks: one place, so every entry point gets the same.

``enrich_face`` fills, from the landmarks and blendshapes alone (no pixels are read; ~0.5 ms per face):

- ``aus``: FACS AU intensities 0..5 per side (:func:`mimetic.facs.estimate.estimate_aus`);
- ``muscles`` and ``nerves``: mimetic-muscle activations and facial-nerve branch activity 0..1 per side
  (:mod:`mimetic.facs.muscles`);
- ``symmetry``: regional left/right measures in mm with flags (:func:`mimetic.clinic.symmetry.face_symmetry`), plus
  ``symmetry["contempt_check"]``: a one-sided 12/14 pattern that may be asymmetry/palsy rather than contempt
  (:func:`mimetic.expression.prototypes.contempt_check`);
- ``expression``: **only when the face has none yet**, the AU-prototype scores
  (:func:`mimetic.expression.prototypes.score_prototypes`) as ``Expression(label, probabilities)``. The CNN
  expression model, when it lands, replaces this with its fused result.

With ``baseline`` (the same person's neutral face) AU intensities and symmetry movement are relative to it.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from mimetic.types import Face


def enrich_face(face: Face, rgb: np.ndarray | None = None, *, baseline: Face | None = None) -> Face:
    """Return ``face`` with ``aus``, ``muscles``, ``nerves``, ``symmetry`` (and a prototype ``expression``)."""
    from mimetic.clinic.symmetry import face_symmetry
    from mimetic.expression.prototypes import contempt_check, score_prototypes
    from mimetic.facs.estimate import estimate_aus
    from mimetic.facs.geometry import frontal_points
    from mimetic.facs.muscles import muscles_and_nerves

    frontal = frontal_points(face)
    aus = estimate_aus(face, baseline, frontal=frontal)
    muscles, nerves = muscles_and_nerves(aus)
    sym = face_symmetry(face, baseline, frontal=frontal)
    sym["contempt_check"] = contempt_check(aus, sym)
    changes = {"aus": aus, "muscles": muscles, "nerves": nerves, "symmetry": sym}
    if face.expression is None:
        changes["expression"] = score_prototypes(aus).expression()
    return dataclasses.replace(face, **changes)

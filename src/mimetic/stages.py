"""The stages that run on each found face, after the landmarks: one place, so every entry point gets the same.

``enrich_face`` fills, from the landmarks and blendshapes alone (no pixels are read; ~0.5 ms per face):

- ``aus``: FACS AU intensities 0..5 per side (:func:`mimetic.facs.estimate.estimate_aus`);
- ``muscles`` and ``nerves``: mimetic-muscle activations and facial-nerve branch activity 0..1 per side
  (:mod:`mimetic.facs.muscles`);
- ``symmetry``: regional left/right measures in mm with flags (:func:`mimetic.clinic.symmetry.face_symmetry`), plus
  ``symmetry["contempt_check"]``: a one-sided 12/14 pattern that may be asymmetry/palsy rather than contempt
  (:func:`mimetic.expression.prototypes.contempt_check`);
- ``expression``: **only when the face has none yet**. When a trained model is shipped
  (``mimetic/models/expression.onnx``, or ``$MIMETIC_EXPRESSION_MODEL``) and the image ``rgb`` is given: the CNN
  on the aligned crop fused with the geometric model as ``models/expression_fusion.json`` says
  (:mod:`mimetic.expression.fusion`; loaded once per process, ~2-3 ms per face), with the AU-prototype scores
  kept in ``Expression.prototypes``. Otherwise the AU-prototype scores
  (:func:`mimetic.expression.prototypes.score_prototypes`) as ``Expression(label, probabilities)``.

With ``baseline`` (the same person's neutral face) AU intensities and symmetry movement are relative to it.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from mimetic.types import EXPRESSIONS, Expression, Face


def enrich_face(face: Face, rgb: np.ndarray | None = None, *, baseline: Face | None = None) -> Face:
    """Return ``face`` with ``aus``, ``muscles``, ``nerves``, ``symmetry`` (and an ``expression``: see above)."""
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
        changes["expression"] = _expression(face, rgb, aus if baseline is None else None, frontal,
                                            score_prototypes(aus))
    return dataclasses.replace(face, **changes)


def _expression(face: Face, rgb: np.ndarray | None, aus: dict | None, frontal: np.ndarray, proto) -> Expression:
    """The shipped model's expression (prototype scores attached), or the prototype scores alone.

    ``aus``: the face's absolute AU estimates (``None`` when the caller's are relative to a baseline: the
    geometric model was trained on absolute ones, so they are computed again)."""
    from mimetic.expression.fusion import shipped_model

    model = shipped_model() if rgb is not None else None
    if model is None:
        return proto.expression()
    probs = model.classify_face(rgb, face, aus=aus, frontal=frontal)
    scores = {c: float(probs.get(c, 0.0)) for c in EXPRESSIONS}
    label = max(scores, key=scores.__getitem__)
    return Expression(label, scores, prototypes=dict(proto.scores))

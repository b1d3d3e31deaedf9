"""The stages that run on each found face, after the landmarks: one place, so every entry point gets the same.

``enrich_face`` fills, from the landmarks, the blendshapes and (when ``rgb`` is given) the aligned grey face crop
(:func:`mimetic.facs.texture.face_crop`, made once and shared by the AUs and the expression network):

- ``aus``: FACS AU intensities 0..5 per side (:func:`mimetic.facs.estimate.estimate_aus`; the fitted AUs read
  their region's texture in the crop; no crop is made for them when ``au_model.json`` has no texture weights,
  :data:`mimetic.facs.estimate.READS_TEXTURE`);
- ``muscles`` and ``nerves``: mimetic-muscle activations and facial-nerve branch activity 0..1 per side
  (:mod:`mimetic.facs.muscles`);
- ``symmetry``: regional left/right measures in mm with flags (:func:`mimetic.clinic.symmetry.face_symmetry`), plus
  ``symmetry.contempt_check``: a one-sided 12/14 pattern that may be asymmetry/palsy rather than contempt
  (:func:`mimetic.expression.prototypes.contempt_check`);
- ``expression``: **only when the face has none yet**. When the analyzer has an expression model (the shipped
  ``mimetic/models/expression.onnx``, or the one its options name; loaded by and owned by the
  :class:`~mimetic.Analyzer`) and the image ``rgb`` is given: the CNN on the aligned crop fused with the geometric
  model as ``models/expression_fusion.json`` says (:mod:`mimetic.expression.fusion`, ~2-3 ms per face), with the
  AU-prototype scores kept in ``Expression.prototypes``. Otherwise the AU-prototype scores
  (:func:`mimetic.expression.prototypes.score_prototypes`) as ``Expression(label, probabilities)``.

Each of ``aus`` (with muscles and nerves), ``symmetry`` and ``expression`` runs only when it is in ``stages``
(:mod:`mimetic.options`); a stage that is off leaves its field empty (``{}`` / ``None``) and costs nothing.

With ``baseline`` (the same person's neutral face) AU intensities and symmetry movement are relative to it.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Collection

import numpy as np

from mimetic.options import ALL_STAGES
from mimetic.types import EXPRESSIONS, Expression, Face


def enrich_face(face: Face, rgb: np.ndarray | None = None, *, baseline: Face | None = None,
                stages: Collection[str] = ALL_STAGES, expression_model=None) -> Face:
    """Return ``face`` with the switched-on ``stages`` filled (see above and :mod:`mimetic.options`).

    ``expression_model``: the analyzer's :class:`~mimetic.expression.fusion.FusedExpression` (``None``: the
    AU-prototype scores); it runs only when ``rgb`` is given."""
    from mimetic.clinic.symmetry import face_symmetry
    from mimetic.expression.prototypes import contempt_check, score_prototypes
    from mimetic.facs.estimate import READS_TEXTURE, estimate_aus
    from mimetic.facs.geometry import frontal_points
    from mimetic.facs.muscles import muscles_and_nerves
    from mimetic.facs.texture import face_crop

    want_aus, want_sym = "aus" in stages, "symmetry" in stages
    want_expr = "expression" in stages and face.expression is None
    if not (want_aus or want_sym or want_expr):
        return face
    frontal = frontal_points(face)
    # the aligned grey crop, made once: the fitted AUs read its texture (when the shipped models have texture
    # weights), the expression network reads it too when it reads the same crop (size and detail)
    for_model = want_expr and rgb is not None and _reads_texture_crop(expression_model)
    for_aus = (want_aus or want_expr) and baseline is None and READS_TEXTURE
    crop = face_crop(rgb, face) if rgb is not None and (for_aus or for_model) else None
    aus = estimate_aus(face, baseline, frontal=frontal, crop=crop) if (want_aus or want_expr) else None
    changes: dict = {}
    if want_aus:
        muscles, nerves = muscles_and_nerves(aus)
        changes.update(aus=aus, muscles=muscles, nerves=nerves)
    if want_sym:
        sym = face_symmetry(face, baseline, frontal=frontal)
        if want_aus:
            sym = dataclasses.replace(sym, contempt_check=contempt_check(aus, sym))
        changes["symmetry"] = sym
    if want_expr:
        changes["expression"] = _expression(face, rgb, expression_model, None, frontal, score_prototypes(aus),
                                            crop if for_model else None, aus if baseline is None else None)
    return dataclasses.replace(face, **changes)


def _reads_texture_crop(model) -> bool:
    """Whether the expression model's CNN reads :func:`mimetic.facs.texture.face_crop` (the same size and detail),
    so one crop serves both."""
    from mimetic.facs.texture import CROP_DETAIL, CROP_SIZE

    cnn = getattr(model, "cnn", None)
    return getattr(cnn, "size", None) == CROP_SIZE and getattr(cnn, "detail", None) == CROP_DETAIL


def _expression(face: Face, rgb: np.ndarray | None, model, aus: dict | None, frontal: np.ndarray,
                proto, crop: np.ndarray | None = None, reported: dict | None = None) -> Expression:
    """The expression model's answer (prototype scores attached), or the prototype scores alone.

    ``aus``: the geometric model's own AU features (:func:`mimetic.facs.estimate.knot_aus`) when already at hand;
    ``None``: computed by the model (they are not ``Face.aus``). ``crop``: the network's crop when the caller has
    it (:func:`_reads_texture_crop`). ``reported``: the face's ``estimate_aus`` without a baseline, read by the
    geometric model (``None``: computed by the model when it needs them)."""
    if model is None or rgb is None:
        return proto.expression()
    probs = model.classify_face(rgb, face, aus=aus, frontal=frontal, crop=crop, reported=reported)
    scores = {c: float(probs.get(c, 0.0)) for c in EXPRESSIONS}
    label = max(scores, key=scores.__getitem__)
    return Expression(label, scores, prototypes=dict(proto.scores))

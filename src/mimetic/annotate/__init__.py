"""Annotation: label sets, votes, agreement, the final label and the exports of a labelling project (issue 20).

Plain data and functions only (no web, database or CLI imports): the store (:mod:`mimetic.store.annotation`), the
``mimetic annotate`` commands and the web pages call these.

- :mod:`mimetic.annotate.labels`: :class:`LabelSet` (the 8 expressions by default, custom labels, AU checkboxes with
  intensity A–E) and the two special answers ``not_a_face`` and ``unsure``;
- :mod:`mimetic.annotate.items`: :class:`Vote`, :class:`Item`, :func:`final_label` (the review, else the majority);
- :mod:`mimetic.annotate.agreement`: Cohen's and Fleiss' κ, per-class agreement, annotator-vs-model confusion;
- :mod:`mimetic.annotate.exports`: class folders, the ``path,label`` CSV ``mimetic train`` reads, a FER+-style vote
  table, Label Studio JSON (export and import);
- :mod:`mimetic.annotate.retrain`: train on a project's labels and compare with the shipped model on held-out items
  (``mimetic annotate retrain``; imports :mod:`mimetic.train` when called).
"""

from mimetic.annotate.items import Item, Vote, final_label, majority
from mimetic.annotate.labels import NOT_A_FACE, UNSURE, LabelSet

__all__ = ["Item", "LabelSet", "NOT_A_FACE", "UNSURE", "Vote", "final_label", "majority"]

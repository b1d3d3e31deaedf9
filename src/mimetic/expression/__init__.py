"""Expression: AU-prototype scoring (``prototypes``), the aligned crop (``crop``), the CNN (``model``), the geometric
model (``geometric``), their fusion (``fusion``) and explanations (``explain``)."""

from mimetic.expression.prototypes import PROTOTYPES, contempt_check, score_prototypes

__all__ = ["PROTOTYPES", "contempt_check", "score_prototypes"]

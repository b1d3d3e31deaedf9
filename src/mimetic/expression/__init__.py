"""Expression: AU-prototype scoring (``mimetic.expression.prototypes``); the CNN and the fusion come later."""

from mimetic.expression.prototypes import PROTOTYPES, contempt_check, score_prototypes

__all__ = ["PROTOTYPES", "contempt_check", "score_prototypes"]

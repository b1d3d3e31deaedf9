"""Mimetic: measure what a face does.

``from mimetic import Analyzer`` is the entry point; heavy modules load lazily so the CLI starts fast.
"""

from __future__ import annotations

__version__ = "0.1.0"
__all__ = ["Analyzer", "AnalyzerOptions", "Face", "FrameResult", "Pose", "Expression", "SCHEMA_VERSION", "__version__"]


def __getattr__(name: str):
    if name == "Analyzer":
        from mimetic.analyzer import Analyzer

        return Analyzer
    if name == "AnalyzerOptions":
        from mimetic.options import AnalyzerOptions

        return AnalyzerOptions
    if name in ("Face", "FrameResult", "Pose", "Expression", "SCHEMA_VERSION", "EXPRESSIONS"):
        from mimetic import types

        return getattr(types, name)
    raise AttributeError(f"module 'mimetic' has no attribute {name!r}")

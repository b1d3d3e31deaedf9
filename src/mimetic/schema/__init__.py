"""The JSON Schema (draft 2020-12) of Mimetic's result documents, shipped as package data.

``result.schema.json`` describes one document as written by ``FrameResult.to_dict()`` (one image or video frame;
also each line of a JSON Lines file) and the whole-video document ``{schema_version, source, width, height,
frames: [...]}`` written by :func:`mimetic.export.write_json`. Validation needs the ``jsonschema`` package (the
``test`` extra); loading the schema does not.
"""

from __future__ import annotations

import copy
import json
from functools import lru_cache
from importlib import resources
from typing import Any

__all__ = ["SCHEMA_FILE", "load_schema", "validate"]

SCHEMA_FILE = "result.schema.json"


@lru_cache(maxsize=1)
def _schema_text() -> str:
    return resources.files(__name__).joinpath(SCHEMA_FILE).read_text(encoding="utf-8")


def load_schema() -> dict[str, Any]:
    """The result schema as a dict (a fresh copy each call)."""
    return copy.deepcopy(_loaded())


@lru_cache(maxsize=1)
def _loaded() -> dict[str, Any]:
    return json.loads(_schema_text())


@lru_cache(maxsize=1)
def _validator() -> Any:
    from jsonschema import Draft202012Validator

    schema = _loaded()
    Draft202012Validator.check_schema(schema)
    return Draft202012Validator(schema)


def validate(doc: Any) -> None:
    """Check ``doc`` (a parsed result document) against the schema.

    Raises ``jsonschema.ValidationError`` describing the most relevant error when it doesn't conform.
    """
    from jsonschema.exceptions import best_match

    error = best_match(_validator().iter_errors(doc))
    if error is not None:
        raise error

"""The web app's JSON responses, written by Mimetic's one JSON serialiser (:func:`mimetic.export.dumps`).

``create_app`` makes :class:`JSONResponse` the default response class, so every route that returns plain data
(and every error body) is written like the result files: NaN and infinities as ``null``, numpy values and result
dataclasses converted. Routes with a typed ``response_model`` are serialised by pydantic-core, the engine under
``dumps``, with the same ``null`` for NaN (pydantic's ``ser_json_inf_nan`` default).
"""

from __future__ import annotations

from typing import Any

from fastapi.responses import JSONResponse as _StarletteJSON

from mimetic.export import dumps

__all__ = ["JSONResponse"]


class JSONResponse(_StarletteJSON):
    def render(self, content: Any) -> bytes:
        return dumps(content).encode("utf-8")

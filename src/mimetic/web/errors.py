"""Errors as JSON: ``{"error": {"status": 413, "code": "too_large", "message": "..."}}`` with the right status.

Routes raise :class:`ApiError`; :func:`input_error` turns the analysis core's ``InputError`` (bad image or video)
into the matching status: 415 when the content is not an image/video at all, 413 when it is too large, 422 when
it is damaged, empty or otherwise unusable. A full disk (file system or database) answers 507 "the server's disk
is full" (:func:`disk_full`); the code that was writing removes what it had begun.
"""

from __future__ import annotations

import errno
import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from sqlalchemy.exc import SQLAlchemyError
from starlette.exceptions import HTTPException as StarletteHTTPException

from mimetic.errors import InputError
from mimetic.web.responses import JSONResponse

#: status -> short machine-readable code
CODES = {
    400: "bad_request", 404: "not_found", 405: "method_not_allowed", 408: "upload_timeout", 409: "conflict",
    413: "too_large", 415: "unsupported_media_type", 422: "unprocessable", 500: "internal_error",
    503: "busy", 504: "timeout", 507: "disk_full",
}

#: what a request that found the disk full is told (507); nothing of it was kept
DISK_FULL_MESSAGE = ("the server's disk is full: nothing of this request was kept; try again later (the server's "
                     "administrator needs to free space)")
_DISK_FULL_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT})


def disk_full(exc: BaseException | None) -> bool:
    """Whether ``exc`` (or what caused it) is a full disk: ENOSPC or EDQUOT from the file system, SQLite's
    "database or disk is full", or PostgreSQL's disk_full (SQLSTATE 53100)."""
    seen: set[int] = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        if isinstance(exc, OSError) and exc.errno in _DISK_FULL_ERRNOS:
            return True
        if "database or disk is full" in str(exc) or getattr(exc, "sqlstate", None) == "53100":
            return True
        exc = getattr(exc, "orig", None) or exc.__cause__ or exc.__context__
    return False

# InputError causes (mimetic.media.images / mimetic.media.video) by the status they mean.
_UNSUPPORTED = ("not an image file", "not a video", "no video stream", "cannot decode codec", "is an image")
_TOO_LARGE = ("megapixel limit", "image too large", "longer than the")


class ApiError(Exception):
    def __init__(self, status: int, message: str, *, code: str | None = None, headers: dict[str, str] | None = None,
                 extra: dict[str, Any] | None = None):
        super().__init__(message)
        self.status = status
        self.message = message
        self.code = code or CODES.get(status, "error")
        self.headers = headers
        self.extra = extra or {}


def input_error(exc: InputError, *, label: str = "upload") -> ApiError:
    """The ApiError for an input the analysis core refused; the message names no server path."""
    cause = exc.cause
    if any(k in cause for k in _UNSUPPORTED):
        status = 415
    elif any(k in cause for k in _TOO_LARGE):
        status = 413
    else:
        status = 422
    return ApiError(status, f"{label}: {cause}")


def error_body(status: int, message: str, code: str | None = None, **extra: Any) -> dict[str, Any]:
    return {"error": {"status": status, "code": code or CODES.get(status, "error"), "message": message, **extra}}


def install(app: FastAPI) -> None:
    """JSON error handlers for ApiError, HTTP errors, validation errors and anything unexpected."""

    @app.exception_handler(ApiError)
    async def _api_error(_request: Request, exc: ApiError) -> JSONResponse:
        return JSONResponse(error_body(exc.status, exc.message, exc.code, **exc.extra), status_code=exc.status,
                            headers=exc.headers)

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(_request: Request, exc: StarletteHTTPException) -> JSONResponse:
        message = exc.detail if isinstance(exc.detail, str) else "request failed"
        if exc.status_code == 404 and message == "Not Found":
            message = "no such page or resource"
        return JSONResponse(error_body(exc.status_code, message), status_code=exc.status_code,
                            headers=getattr(exc, "headers", None))

    @app.exception_handler(RequestValidationError)
    async def _validation(_request: Request, exc: RequestValidationError) -> JSONResponse:
        problems = []
        for e in exc.errors():
            where = ".".join(str(p) for p in e.get("loc", ()) if p not in ("query", "body", "path"))
            problems.append(f"{where}: {e.get('msg', 'invalid')}" if where else e.get("msg", "invalid"))
        message = "invalid parameters: " + "; ".join(problems)
        return JSONResponse(error_body(422, message, details=problems), status_code=422)

    def _server_error(exc: Exception) -> JSONResponse:
        if disk_full(exc):
            logging.getLogger("mimetic.web").error("the disk is full: %s", exc)
            return JSONResponse(error_body(507, DISK_FULL_MESSAGE), status_code=507, headers={"Retry-After": "60"})
        logging.getLogger("mimetic.web").error("unexpected error", exc_info=exc)
        return JSONResponse(error_body(500, f"internal error ({type(exc).__name__})"), status_code=500)

    @app.exception_handler(OSError)
    async def _os_error(_request: Request, exc: OSError) -> JSONResponse:
        return _server_error(exc)

    @app.exception_handler(SQLAlchemyError)
    async def _database_error(_request: Request, exc: SQLAlchemyError) -> JSONResponse:
        return _server_error(exc)

    @app.exception_handler(Exception)
    async def _unexpected(_request: Request, exc: Exception) -> JSONResponse:  # pragma: no cover - safety net
        return _server_error(exc)

"""The API's error answers: every failure is the JSON envelope of :mod:`perfsheriff.wire.errors`.

``{"error": {"status": 404, "code": "not_found", "message": "...", "field": "revision"}}``

A user's mistake is a 4xx that says what is wrong (the status from the one map,
:func:`perfsheriff.wire.status_of`, that the dashboard uses too); only a defect
of perfsheriff itself is a 500, and its message gives nothing away.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from perfsheriff.errors import PerfsheriffError
from perfsheriff.wire import envelope, field_of, status_of

log = logging.getLogger("perfsheriff.api")


class ApiError(Exception):
    """An error raised by a route with its HTTP status (authentication, permissions, limits)."""

    def __init__(self, status: int, message: str, *, field: str | None = None, headers: dict[str, str] | None = None):
        super().__init__(message)
        self.status = status
        self.message = message
        self.field = field
        self.headers = headers


def error_body(status: int, message: str, field: str | None = None) -> dict[str, Any]:
    return envelope(status, message, field).model_dump()


def error_response(
    status: int, message: str, field: str | None = None, headers: dict[str, str] | None = None
) -> JSONResponse:
    return JSONResponse(error_body(status, message, field), status_code=status, headers=headers)


def install(app: FastAPI) -> None:
    """Register the handlers that turn every exception into the JSON error shape."""

    @app.exception_handler(ApiError)
    async def api_error(_request: Request, exc: ApiError) -> JSONResponse:
        return error_response(exc.status, exc.message, exc.field, exc.headers)

    @app.exception_handler(PerfsheriffError)
    async def user_error(_request: Request, exc: PerfsheriffError) -> JSONResponse:
        return error_response(status_of(exc), str(exc), field_of(exc))

    @app.exception_handler(RequestValidationError)
    async def invalid(_request: Request, exc: RequestValidationError) -> JSONResponse:
        first = exc.errors()[0] if exc.errors() else {"msg": "invalid request", "loc": ()}
        location = [str(part) for part in first.get("loc", ()) if part != "body"]
        field = ".".join(location) or None
        if first.get("type") == "json_invalid":
            return error_response(400, f"the body is not valid JSON: {first.get('msg', '')}".rstrip(": "))
        message = str(first.get("msg", "invalid request"))
        return error_response(422, f"{field}: {message}" if field else message, field)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(_request: Request, exc: StarletteHTTPException) -> JSONResponse:
        return error_response(exc.status_code, str(exc.detail), headers=getattr(exc, "headers", None))

    @app.exception_handler(Exception)
    async def internal(request: Request, exc: Exception) -> JSONResponse:
        log.exception("internal error on %s %s", request.method, request.url.path, exc_info=exc)
        return error_response(500, "internal error: the server's log has the details")

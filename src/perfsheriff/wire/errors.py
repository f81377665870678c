"""Errors on the wire: the one envelope, and the one map from perfsheriff's errors to HTTP statuses.

``{"error": {"status": 404, "code": "not_found", "message": "...", "field": "revision"}}``

The API answers every error with this envelope, and the dashboard's pages
answer a user's error with the same status: a user's mistake is a 4xx that says
what is wrong, an unreachable database a 503 (try again later), and only a
defect of perfsheriff itself a 500.
"""

from __future__ import annotations

from pydantic import Field

from perfsheriff.errors import ConflictError, FormatError, InputError, NotFoundError, PerfsheriffError, StoreError
from perfsheriff.wire.values import Answer

CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "too_large",
    415: "unsupported_media_type",
    422: "invalid",
    500: "internal",
    503: "unavailable",
}


class ErrorDetail(Answer):
    status: int
    code: str
    message: str
    field: str | None = Field(description="the request field, header or parameter it is about")


class ErrorEnvelope(Answer):
    """Every error of the API: ``{"error": {"status": 404, "code": "not_found", "message": ..., "field": ...}}``."""

    error: ErrorDetail


def envelope(status: int, message: str, field: str | None = None) -> ErrorEnvelope:
    return ErrorEnvelope(
        error=ErrorDetail(status=status, code=CODES.get(status, "error"), message=message, field=field)
    )


def status_of(error: PerfsheriffError) -> int:
    """The HTTP status of a user's error (or of the database being unreachable)."""
    if isinstance(error, NotFoundError):
        return 404
    if isinstance(error, ConflictError):
        return 409
    if isinstance(error, StoreError):
        return 503
    if isinstance(error, FormatError | InputError):
        return 422
    return 400


def field_of(error: PerfsheriffError) -> str | None:
    """The request field an error is about, if it names one."""
    if error.field is not None:
        return error.field
    if isinstance(error, InputError):
        return error.where
    return None

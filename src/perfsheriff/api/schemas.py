"""The routers of /api/v1 and the checks every request parameter gets (the bodies are :mod:`perfsheriff.wire`'s
models)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Request

from perfsheriff.api.errors import ApiError
from perfsheriff.api.limits import GuardedRoute
from perfsheriff.model import MAX_ID
from perfsheriff.wire import ErrorEnvelope, has_nul

# Ids are 64-bit and branch positions 32-bit in the database: a larger number is refused here, as a 422,
# rather than by the database driver (SQLite) or the server (PostgreSQL), which would make it a 500.
IdPath = Annotated[int, Path(ge=1, le=MAX_ID)]

#: Every route's error answers, in its OpenAPI description (instead of FastAPI's validation error shape).
ERRORS: dict[int | str, dict[str, object]] = {
    "4XX": {"model": ErrorEnvelope, "description": "the request is wrong: the error envelope says why"},
    503: {"model": ErrorEnvelope, "description": "the database is unavailable: try again later"},
}


async def refuse_nul_parameters(request: Request) -> None:
    """A router dependency: no path or query parameter may hold a NUL character."""
    for name, value in (*request.path_params.items(), *request.query_params.multi_items()):
        if has_nul(value):
            raise ApiError(422, f"{name}: must not contain NUL characters", field=name)


def api_router() -> APIRouter:
    """A router of /api/v1: its routes authorise before reading a body (:class:`GuardedRoute`), refuse NUL
    characters in parameters, and document the error envelope."""
    return APIRouter(
        prefix="/api/v1", dependencies=[Depends(refuse_nul_parameters)], route_class=GuardedRoute, responses=ERRORS
    )

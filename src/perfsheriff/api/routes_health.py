"""Liveness for load balancers, metrics for Prometheus, and (when the ``api_docs`` setting asks) Swagger UI.

``/metrics`` shows counts and machine-class names: with ``public_read`` off it needs a token, like every
other read.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse, JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from perfsheriff import __version__
from perfsheriff.api.auth import require
from perfsheriff.roles import Role
from perfsheriff.service.views.health import database_ok
from perfsheriff.wire import Health

router = APIRouter()


@router.get(
    "/health",
    response_model=Health,
    summary="Is the server up and its database reachable?",
    responses={503: {"model": Health, "description": "the database is unreachable"}},
)
def health(request: Request) -> Any:
    ok = database_ok(request.app.state.engine)
    body = {"status": "ok" if ok else "unavailable", "database": "ok" if ok else "unreachable", "version": __version__}
    return body if ok else JSONResponse(body, status_code=503)


@router.get(
    "/metrics", summary="Prometheus metrics", response_class=Response, dependencies=[Depends(require(Role.READ))]
)
def metrics(request: Request) -> Response:
    return Response(generate_latest(request.app.state.metrics.registry), media_type=CONTENT_TYPE_LATEST)


#: Swagger UI's assets, pinned to one release (``perfsheriff`` ships no copy of them).
SWAGGER_UI = "https://cdn.jsdelivr.net/npm/swagger-ui-dist@5.17.14"


def add_api_docs(app: FastAPI) -> None:
    """Serve Swagger UI at ``/docs`` (the ``api_docs`` setting), its assets from a pinned release."""

    @app.get("/docs", include_in_schema=False)
    def docs() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url="/openapi.json",
            title="perfsheriff API",
            swagger_js_url=f"{SWAGGER_UI}/swagger-ui-bundle.js",
            swagger_css_url=f"{SWAGGER_UI}/swagger-ui.css",
            swagger_favicon_url="/static/favicon.svg",
        )

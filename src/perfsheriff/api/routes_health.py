"""Liveness for load balancers and metrics for Prometheus."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from perfsheriff import __version__
from perfsheriff.service.health import database_ok

router = APIRouter()


@router.get("/health", summary="Is the server up and its database reachable?")
def health(request: Request) -> Any:
    ok = database_ok(request.app.state.engine)
    body = {"status": "ok" if ok else "unavailable", "database": "ok" if ok else "unreachable", "version": __version__}
    return body if ok else JSONResponse(body, status_code=503)


@router.get("/metrics", summary="Prometheus metrics", response_class=Response)
def metrics(request: Request) -> Response:
    return Response(generate_latest(request.app.state.metrics.registry), media_type=CONTENT_TYPE_LATEST)

"""The FastAPI application: JSON under /api/v1, OpenAPI at /openapi.json, /health, /metrics, and the dashboard at /.

``create_app`` takes the engine, settings and (optionally) the project
configuration, so tests and ``perfsheriff serve`` build the same app.
"""

from __future__ import annotations

import gc
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from sqlalchemy.engine import Engine

from perfsheriff import __version__
from perfsheriff.api import errors, routes_health, routes_read, routes_triage, routes_write
from perfsheriff.api.auth import TokenCache
from perfsheriff.api.limits import RequestGuard
from perfsheriff.api.metrics import Metrics, MetricsMiddleware
from perfsheriff.config import Settings
from perfsheriff.projectfile import ProjectFile
from perfsheriff.web import pages as web_pages


@asynccontextmanager
async def _lifespan(_app: FastAPI) -> AsyncIterator[None]:
    # What exists once the server has started (modules, the app, its routes) lives as long as the
    # process: keep it out of the collector's full passes. A long series' rows make one every few
    # requests, and walking the whole heap each time added ~100 ms to one request in ten.
    gc.freeze()
    yield


def create_app(engine: Engine, settings: Settings, project_file: ProjectFile | None = None) -> FastAPI:
    app = FastAPI(
        title="perfsheriff",
        version=__version__,
        description="Benchmark results, alerts, comparisons and the job queue of perfsheriff.",
        docs_url=None,  # Swagger UI only when the api_docs setting asks for it, from a pinned version
        redoc_url=None,
        lifespan=_lifespan,
    )
    app.state.engine = engine
    app.state.settings = settings
    app.state.project_file = project_file
    app.state.metrics = Metrics(engine)
    app.state.token_cache = TokenCache()
    errors.install(app)
    app.include_router(routes_health.router)
    app.include_router(routes_read.router)
    app.include_router(routes_write.router)
    app.include_router(routes_triage.router)
    if settings.api_docs:
        routes_health.add_api_docs(app)
    web_pages.mount(app)  # the dashboard at /
    app.add_middleware(RequestGuard, max_bytes=settings.max_request_bytes)
    app.add_middleware(MetricsMiddleware, metrics=app.state.metrics)
    return app

"""The FastAPI application: JSON under /api/v1, OpenAPI at /docs, /health and /metrics.

``create_app`` takes the engine, settings and (optionally) the project
configuration, so tests and ``perfsheriff serve`` build the same app.
"""

from __future__ import annotations

from fastapi import FastAPI
from sqlalchemy.engine import Engine

from perfsheriff import __version__
from perfsheriff.api import errors, routes_health, routes_read, routes_write
from perfsheriff.api.limits import RequestGuard
from perfsheriff.api.metrics import Metrics, MetricsMiddleware
from perfsheriff.config import Settings
from perfsheriff.projectfile import ProjectFile


def create_app(engine: Engine, settings: Settings, project_file: ProjectFile | None = None) -> FastAPI:
    app = FastAPI(
        title="perfsheriff",
        version=__version__,
        description="Benchmark results, alerts, comparisons and the job queue of perfsheriff.",
        docs_url="/docs",
        redoc_url=None,
    )
    app.state.engine = engine
    app.state.settings = settings
    app.state.project_file = project_file
    app.state.metrics = Metrics(engine)
    errors.install(app)
    app.include_router(routes_health.router)
    app.include_router(routes_read.router)
    app.include_router(routes_write.router)
    app.add_middleware(RequestGuard, max_bytes=settings.max_request_bytes)
    app.add_middleware(MetricsMiddleware, metrics=app.state.metrics)
    return app

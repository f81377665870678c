"""The running server, composed: the HTTP API and the dashboard side by side over one store.

``create_app`` builds the application from the engine, the settings and
(optionally) the project configuration, so that tests and ``perfsheriff serve``
build the same one. :func:`run` serves it under uvicorn: in this process, or in
``workers`` processes that each build their own from a :class:`WorkerArgs`
handed to them as an argument (the settings travel as a value, not through the
environment).

Both sides answer a user's error with the status of one map
(:func:`perfsheriff.wire.status_of`): an unreachable database is a 503 on a
dashboard page as on the API.
"""

from __future__ import annotations

import functools
import gc
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from fastapi import FastAPI
from sqlalchemy.engine import Engine

from perfsheriff import __version__, projectfile
from perfsheriff.api import app as api
from perfsheriff.api.limits import RequestGuard
from perfsheriff.api.metrics import MetricsMiddleware
from perfsheriff.config import Settings
from perfsheriff.projectfile import ProjectFile
from perfsheriff.service.database import open_engine
from perfsheriff.web import pages as web


@asynccontextmanager
async def _lifespan(_app: FastAPI) -> AsyncIterator[None]:
    # What exists once the server has started (modules, the app, its routes) lives as long as the
    # process: keep it out of the collector's full passes. A long series' rows make one every few
    # requests, and walking the whole heap each time added ~100 ms to one request in ten.
    gc.freeze()
    yield


def create_app(engine: Engine, settings: Settings, project_file: ProjectFile | None = None) -> FastAPI:
    """The API (JSON under /api/v1, OpenAPI at /openapi.json, /health, /metrics) and the dashboard at /."""
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
    api.mount(app)
    web.mount(app)
    app.add_middleware(RequestGuard, max_bytes=settings.max_request_bytes)
    app.add_middleware(MetricsMiddleware, metrics=app.state.metrics)
    return app


def openapi_description() -> dict[str, Any]:
    """The OpenAPI description the server serves at /openapi.json (built without a database)."""
    engine = sa.create_engine("sqlite://")  # never connected: the description needs no database
    try:
        return create_app(engine, Settings()).openapi()
    finally:
        engine.dispose()


@dataclass(frozen=True, slots=True)
class WorkerArgs:
    """What a server worker process builds its app from: the settings (with the database URL the parent
    migrated) and the project configuration's path (registered by the parent)."""

    settings: Settings
    config: Path | None = None


def worker_app(args: WorkerArgs) -> FastAPI:
    """The app of one worker process (uvicorn calls it in the process, as a factory)."""
    project_file = projectfile.load(args.config) if args.config is not None else None
    return create_app(open_engine(args.settings.resolved_database_url(Path.cwd())), args.settings, project_file)


def run(
    engine: Engine,
    settings: Settings,
    project_file: ProjectFile | None = None,
    *,
    config: Path | None = None,
    host: str,
    port: int,
    workers: int = 1,
    log_level: str = "info",
) -> None:
    """Serve in this process, or (``workers`` > 1) in as many processes, each building its own app from
    the settings (with ``engine``'s URL) and ``config``, the path ``project_file`` was read from."""
    import uvicorn  # the web server is loaded by ``serve`` only
    from uvicorn.supervisors import Multiprocess

    if workers == 1:
        app = create_app(engine, settings, project_file)
        uvicorn.run(app, host=host, port=port, log_level=log_level, access_log=False)
        return
    url = engine.url.render_as_string(hide_password=False)
    args = WorkerArgs(settings.model_copy(update={"database_url": url}), config)
    # uvicorn.run wants an import string for workers; its supervisor takes any picklable factory.
    factory = functools.partial(worker_app, args)
    server = uvicorn.Config(
        factory, factory=True, workers=workers, host=host, port=port, log_level=log_level, access_log=False
    )
    Multiprocess(server, sockets=[server.bind_socket()]).run()

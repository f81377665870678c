"""The API within the server: JSON under /api/v1, /health, /metrics, and (the ``api_docs`` setting) Swagger UI.

:func:`mount` adds it to the application that :mod:`perfsheriff.server` composes
(beside the dashboard), whose state holds the engine, settings and project
configuration.
"""

from __future__ import annotations

from fastapi import FastAPI

from perfsheriff.api import errors, routes_health, routes_read, routes_triage, routes_write
from perfsheriff.api.auth import TokenCache
from perfsheriff.api.metrics import Metrics

ROUTERS = (routes_health.router, routes_read.router, routes_write.router, routes_triage.router)


def mount(app: FastAPI) -> None:
    """Serve the API from ``app``: its error answers, its routes, its metrics and token cache."""
    app.state.metrics = Metrics(app.state.engine)
    app.state.token_cache = TokenCache()
    errors.install(app)
    for router in ROUTERS:
        app.include_router(router)
    if app.state.settings.api_docs:
        routes_health.add_api_docs(app)

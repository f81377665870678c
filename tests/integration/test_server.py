"""The server as composed: the API and the dashboard side by side, one error map, workers built from arguments."""

from __future__ import annotations

import asyncio
import pickle
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy.engine import Engine

from perfsheriff.config import Settings
from perfsheriff.server import WorkerArgs, create_app, worker_app
from perfsheriff.store import database
from support.benchrepo import BenchProject


def get(app: FastAPI, *paths: str) -> list[httpx.Response]:
    """Answers of ``app`` in this process (no socket), in order."""

    async def fetch() -> list[httpx.Response]:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as http:
            return [await http.get(path) for path in paths]

    return asyncio.run(fetch())


@pytest.mark.parametrize("where", ["sqlite-folder", "postgresql-closed-port"])
def test_an_unreachable_database_is_a_503_on_the_dashboard_as_on_the_api(tmp_path: Path, where: str) -> None:
    # A folder cannot be opened as an SQLite file; nothing listens on port 1.
    url = f"sqlite:///{tmp_path}" if where == "sqlite-folder" else "postgresql+psycopg://perf@127.0.0.1:1/perf"
    engine = database.create_engine(url)
    try:
        page, graph, answer, health = get(
            create_app(engine, Settings()), "/", "/series/abc/data", "/api/v1/projects", "/health"
        )
        assert page.status_code == 503
        assert page.headers["content-type"].startswith("text/html")
        assert "cannot reach the database" in page.text
        assert graph.status_code == 503
        assert answer.status_code == 503
        assert answer.json()["error"]["code"] == "unavailable"
        assert "cannot reach the database" in answer.json()["error"]["message"]
        assert (health.status_code, health.json()["database"]) == (503, "unreachable")
    finally:
        engine.dispose()


def test_a_worker_builds_its_app_from_the_arguments_it_is_handed(
    engine: Engine, engine_url: str, project: BenchProject
) -> None:
    args = WorkerArgs(Settings(database_url=engine_url, public_read=False, max_request_bytes=12345), project.config)
    app = worker_app(pickle.loads(pickle.dumps(args)))  # as the worker process receives it
    try:
        assert app.state.settings.public_read is False
        assert app.state.settings.max_request_bytes == 12345
        assert app.state.engine.url.render_as_string(hide_password=False) == engine_url
        assert app.state.project_file.project.name == "bench-project"
        (answer,) = get(app, "/api/v1/projects")
        assert answer.status_code == 401  # not public: the argument holds
    finally:
        app.state.engine.dispose()

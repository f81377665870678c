"""Shared fixtures: databases (SQLite and PostgreSQL, both real) and paths."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from perfsheriff.store import database
from support.databases import POSTGRES_ADMIN_URL, PostgresDatabases, rolled_back_engine

REPO_ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO_ROOT.parent / "shared" / "data"
FIXTURES = Path(__file__).resolve().parent / "fixtures"


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One migrated SQLite file, copied for each test (migrating once keeps the suite fast)."""
    path = tmp_path_factory.mktemp("sqlite-template") / "template.db"
    engine = database.create_engine(f"sqlite:///{path}")
    database.upgrade(engine)
    with engine.connect() as conn:
        conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    engine.dispose()
    return path


def _postgres_unavailable(reason: str) -> None:
    if os.environ.get("CI"):
        pytest.fail(f"PostgreSQL is required in CI and unreachable: {reason}")
    pytest.skip(f"PostgreSQL unreachable at {POSTGRES_ADMIN_URL}: {reason}")


@pytest.fixture(scope="session")
def postgres_databases() -> Iterator[PostgresDatabases]:
    """One migrated template database on the PostgreSQL server, cloned per test that commits; all dropped
    at the end of the session."""
    try:
        databases = PostgresDatabases(POSTGRES_ADMIN_URL)
    except sa.exc.OperationalError as exc:
        _postgres_unavailable(str(exc.orig).splitlines()[0])
    yield databases
    databases.close()


@pytest.fixture(scope="session")
def postgres_url(postgres_databases: PostgresDatabases) -> str:
    """The session's migrated PostgreSQL database; tests reach it through rolled-back engines, so it stays
    empty."""
    return postgres_databases.clone("perfsheriff_session")


def _commits(request: pytest.FixtureRequest) -> bool:
    """Whether the test's rows must be visible to other connections: a URL handed to a server or a CLI,
    or threads racing on the database (marker ``commits``)."""
    return "engine_url" in request.fixturenames or request.node.get_closest_marker("commits") is not None


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def engine(request: pytest.FixtureRequest, tmp_path: Path, sqlite_template: Path) -> Iterator[Engine]:
    """A real, migrated, empty database: an SQLite file, or on the PostgreSQL server either a transaction
    rolled back at the end of the test or, for a test that commits, a database of its own
    (tests/support/databases.py)."""
    if request.param == "sqlite":
        path = tmp_path / "perfsheriff.db"
        shutil.copy(sqlite_template, path)
        created = database.create_engine(f"sqlite:///{path}")
        yield created
        created.dispose()
    elif _commits(request):
        databases: PostgresDatabases = request.getfixturevalue("postgres_databases")
        url = databases.clone()
        created = database.create_engine(url)
        yield created
        created.dispose()
        databases.drop(url)
    else:
        with rolled_back_engine(request.getfixturevalue("postgres_url")) as created:
            yield created


@pytest.fixture
def engine_url(engine: Engine) -> str:
    return engine.url.render_as_string(hide_password=False)


@pytest.fixture
def project(tmp_path: Path) -> Any:
    """A project repository with a known culprit inside a roll-up, and its perfsheriff.toml (benchrepo)."""
    from support.benchrepo import build_project

    return build_project(tmp_path / "project")


@pytest.fixture
def server(engine_url: str, tmp_path: Path, project: Any) -> Iterator[Any]:
    """A real ``perfsheriff serve`` process over the test's database, registered with ``project``."""
    from support.liveserver import start_server

    live = start_server(engine_url, tmp_path, config=project.config)
    yield live
    live.stop()

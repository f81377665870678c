"""Shared fixtures: databases (SQLite and PostgreSQL, both real) and paths."""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from perfsheriff.store import database
from perfsheriff.store.schema import metadata
from support.databases import POSTGRES_ADMIN_URL

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
def postgres_url() -> Iterator[str]:
    """A fresh, migrated PostgreSQL database for this test session, dropped at the end."""
    admin = sa.create_engine(POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT")
    name = f"perfsheriff_test_{uuid.uuid4().hex[:10]}"
    try:
        with admin.connect() as conn:
            conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    except sa.exc.OperationalError as exc:
        admin.dispose()
        _postgres_unavailable(str(exc.orig).splitlines()[0])
    url = admin.url.set(database=name).render_as_string(hide_password=False)
    engine = database.create_engine(url)
    database.upgrade(engine)
    engine.dispose()
    yield url
    with admin.connect() as conn:
        conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    admin.dispose()


def _truncate_all(engine: Engine) -> None:
    names = ", ".join(f'"{table.name}"' for table in metadata.sorted_tables)
    with engine.begin() as conn:
        conn.exec_driver_sql(f"TRUNCATE {names} RESTART IDENTITY CASCADE")


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def engine(request: pytest.FixtureRequest, tmp_path: Path, sqlite_template: Path) -> Iterator[Engine]:
    """A real, migrated, empty database: an SQLite file, or the PostgreSQL server."""
    if request.param == "sqlite":
        path = tmp_path / "perfsheriff.db"
        shutil.copy(sqlite_template, path)
        created = database.create_engine(f"sqlite:///{path}")
    else:
        created = database.create_engine(request.getfixturevalue("postgres_url"))
        _truncate_all(created)
    yield created
    created.dispose()


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

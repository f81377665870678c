"""``perfsheriff db upgrade`` on a new database, and the message when one is not migrated."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from perfsheriff.store import database
from support.cli import run_cli


@pytest.fixture
def empty_postgres(postgres_url: str) -> Iterator[str]:
    """A new, empty PostgreSQL database beside the session's one."""
    admin = sa.create_engine(postgres_url, isolation_level="AUTOCOMMIT")
    name = f"perfsheriff_empty_{uuid.uuid4().hex[:8]}"
    with admin.connect() as conn:
        conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    yield admin.url.set(database=name).render_as_string(hide_password=False)
    with admin.connect() as conn:
        conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    admin.dispose()


@pytest.mark.postgres
def test_postgres_needs_an_explicit_upgrade(empty_postgres: str, tmp_path: Path) -> None:
    before = run_cli("series", "--db", empty_postgres, cwd=tmp_path)
    assert before.returncode == 1
    assert "perfsheriff db upgrade" in before.stderr
    upgraded = run_cli("db", "upgrade", "--db", empty_postgres, cwd=tmp_path)
    assert upgraded.returncode == 0, upgraded.stderr
    assert f"schema {database.head_revision()}" in upgraded.stdout
    after = run_cli("series", "--db", empty_postgres, "--json", cwd=tmp_path)
    assert (after.returncode, after.stdout.strip()) == (0, "[]")


def test_an_sqlite_file_at_an_older_schema_is_migrated_by_the_next_command(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'old.db'}"
    old = database.create_engine(url)
    database.upgrade(old, "0007")
    old.dispose()
    listed = run_cli("series", "--db", url, "--json", cwd=tmp_path)
    assert (listed.returncode, listed.stdout.strip()) == (0, "[]"), listed.stderr
    current = database.create_engine(url)
    assert database.current_revision(current) == database.head_revision()
    current.dispose()


def test_unreachable_database_is_one_line(tmp_path: Path) -> None:
    url = "postgresql+psycopg://nobody@127.0.0.1:1/none"
    result = run_cli("series", "--db", url, cwd=tmp_path)
    assert result.returncode == 1
    assert "cannot reach the database" in result.stderr
    assert "Traceback" not in result.stderr


def test_not_a_database_url(tmp_path: Path) -> None:
    result = run_cli("series", "--db", "mysql://x/y", cwd=tmp_path)
    assert result.returncode == 1
    assert "unsupported database" in result.stderr

"""The PostgreSQL test fixtures themselves: a rolled-back engine keeps nothing, a clone starts migrated."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from perfsheriff.store import database
from support.databases import PostgresDatabases, rolled_back_engine

pytestmark = pytest.mark.postgres


def _names(url: str) -> list[str]:
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            return list(conn.execute(sa.text("SELECT name FROM projects ORDER BY name")).scalars())
    finally:
        engine.dispose()


def _add(engine: sa.Engine, *names: str) -> None:
    with engine.begin() as conn:
        for name in names:
            conn.execute(sa.text("INSERT INTO projects (name, repository) VALUES (:name, '')"), {"name": name})


def test_commits_are_seen_by_the_engine_and_gone_after_the_test(postgres_databases: PostgresDatabases) -> None:
    url = postgres_databases.clone("perfsheriff_check")
    try:
        with rolled_back_engine(url) as engine:
            _add(engine, "kept")
            with pytest.raises(sa.exc.IntegrityError):
                _add(engine, "undone", "kept")  # one transaction: the duplicate undoes the first row too
            engine.dispose()  # as code under test may do: the outer transaction survives it
            with engine.connect() as conn:
                seen = list(conn.execute(sa.text("SELECT name FROM projects")).scalars())
            assert seen == ["kept"]
            assert _names(url) == []  # another connection never sees uncommitted rows
        assert _names(url) == []
    finally:
        postgres_databases.drop(url)


def test_a_clone_is_migrated_and_empty(postgres_databases: PostgresDatabases) -> None:
    url = postgres_databases.clone("perfsheriff_check")
    try:
        engine = database.create_engine(url)
        try:
            with engine.connect() as conn:
                version = conn.execute(sa.text("SELECT version_num FROM alembic_version")).scalar_one()
        finally:
            engine.dispose()
        assert version == database.head_revision()
        assert _names(url) == []
    finally:
        postgres_databases.drop(url)

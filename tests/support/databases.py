"""The tests' PostgreSQL: where the server is, databases cloned from one migrated template, and engines
whose every transaction is rolled back when the test ends.

Set PERFSHERIFF_TEST_POSTGRES to use another server.

Two ways to give a test an empty database, chosen per test by ``tests/conftest.py``:

- **Rolled back** (the default): the test's engine holds one connection inside one outer transaction, and
  each transaction the code under test opens and commits is a savepoint inside it. Ending the test rolls
  the outer transaction back, so nothing it wrote outlives it and nothing needs truncating.
- **Committed**: a test whose rows another connection must see (a ``perfsheriff serve`` process, a CLI
  opening the URL itself, threads racing for the same rows) gets a database of its own, cloned from the
  migrated template with ``CREATE DATABASE ... TEMPLATE`` and dropped afterwards.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import psycopg
import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlalchemy.pool import StaticPool

from perfsheriff.store import database

POSTGRES_ADMIN_URL = os.environ.get("PERFSHERIFF_TEST_POSTGRES", "postgresql+psycopg://postgres@127.0.0.1:5432/test")


class PostgresDatabases:
    """Databases on the test server, all cloned from one migrated template; dropped by :meth:`close`."""

    def __init__(self, admin_url: str = POSTGRES_ADMIN_URL) -> None:
        self.admin = sa.create_engine(admin_url, isolation_level="AUTOCOMMIT")
        self.template = self._create(f"perfsheriff_template_{uuid.uuid4().hex[:10]}", template=None)
        self._made: list[str] = [self.template]
        migrated = database.create_engine(self.url(self.template))
        try:
            database.upgrade(migrated)
        finally:
            migrated.dispose()

    def url(self, name: str) -> str:
        return self.admin.url.set(database=name).render_as_string(hide_password=False)

    def clone(self, prefix: str = "perfsheriff_test") -> str:
        """The URL of a new database holding the migrated, empty schema (about 50 ms)."""
        name = self._create(f"{prefix}_{uuid.uuid4().hex[:10]}", template=self.template)
        self._made.append(name)
        return self.url(name)

    def drop(self, url: str) -> None:
        """Drop a clone, closing what still connects to it (a server process that outlived its test)."""
        name = sa.make_url(url).database
        with self.admin.connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        if name in self._made:
            self._made.remove(name)

    def close(self) -> None:
        for name in reversed(self._made):
            self.drop(self.url(name))
        self.admin.dispose()

    def _create(self, name: str, template: str | None) -> str:
        clause = f' TEMPLATE "{template}"' if template else ""
        with self.admin.connect() as conn:
            conn.exec_driver_sql(f'CREATE DATABASE "{name}"{clause}')
        return name


class _SavepointConnection:
    """A psycopg connection whose transactions are savepoints inside one outer transaction.

    SQLAlchemy ends a transaction by calling the DBAPI connection's ``commit`` or ``rollback``; here they
    release or roll back to the savepoint that :meth:`begin` set, and ``close`` keeps the connection, so
    the outer transaction spans the whole test and :meth:`discard` undoes everything at its end.
    Transactions the code nests on one thread stack as savepoints of their own.
    """

    def __init__(self, real: psycopg.Connection[Any]) -> None:
        object.__setattr__(self, "_real", real)
        object.__setattr__(self, "_open", [])

    def __getattr__(self, name: str) -> Any:
        return getattr(self._real, name)

    def __setattr__(self, name: str, value: Any) -> None:
        setattr(self._real, name, value)

    def begin(self) -> None:
        name = f"perfsheriff_test_{len(self._open)}"
        self._real.execute(f"SAVEPOINT {name}")
        self._open.append(name)

    def commit(self) -> None:
        if self._open:
            self._real.execute(f"RELEASE SAVEPOINT {self._open.pop()}")

    def rollback(self) -> None:
        if self._open:
            name = self._open.pop()
            self._real.execute(f"ROLLBACK TO SAVEPOINT {name}")
            self._real.execute(f"RELEASE SAVEPOINT {name}")

    def close(self) -> None:
        """Kept open: the test's engine is disposed by code under test, the outer transaction is not."""

    def discard(self) -> None:
        self._real.rollback()
        self._real.close()


@contextmanager
def rolled_back_engine(url: str) -> Iterator[Engine]:
    """An engine on ``url`` whose writes all vanish when the block ends (see the module's docstring).

    Its single connection is shared (``StaticPool``), so it suits code that uses the database from one
    thread at a time; rows it commits are visible to that engine only.
    """
    parsed = sa.make_url(url)
    real = psycopg.connect(parsed.set(drivername="postgresql").render_as_string(hide_password=False))
    shared = _SavepointConnection(real)
    # use_native_hstore=False: psycopg's type lookup accepts only its own Connection class, not the
    # wrapper, and perfsheriff stores no hstore.
    engine = sa.create_engine(
        parsed, creator=lambda: shared, poolclass=StaticPool, pool_reset_on_return=None, use_native_hstore=False
    )
    sa.event.listen(engine, "begin", lambda conn: conn.connection.dbapi_connection.begin())
    try:
        yield engine
    finally:
        engine.dispose()
        shared.discard()

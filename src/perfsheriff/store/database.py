"""Engines and migrations: SQLite by default (WAL mode), PostgreSQL through psycopg 3."""

from __future__ import annotations

import io
from pathlib import Path
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlalchemy.exc import ArgumentError, OperationalError

from perfsheriff.errors import ConfigError, StoreError
from perfsheriff.store.schema_version import MIGRATIONS, head_revision

if TYPE_CHECKING:
    from alembic.config import Config as AlembicConfig


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    # Reads of long series touch many pages: map the file and keep a larger page cache.
    cursor.execute("PRAGMA mmap_size=1073741824")
    cursor.execute("PRAGMA cache_size=-262144")
    # Bulk ingestion rewrites the same index pages file after file: checkpoint them less often.
    cursor.execute("PRAGMA wal_autocheckpoint=10000")
    cursor.close()


def _unreachable(context: sa.engine.ExceptionContext) -> StoreError | None:
    """A database that cannot be connected to, or that dropped the connection, is a StoreError (a 503 for
    the API and the dashboard, one line for the CLI), not a defect of perfsheriff."""
    if context.connection is not None and not context.is_disconnect:
        return None
    url = "" if context.engine is None else f" {context.engine.url!r}"
    return StoreError(f"cannot reach the database{url}: {context.original_exception}")


def create_engine(url: str) -> Engine:
    """Build an engine for ``url``; creates the folder of an SQLite file."""
    engine = _create_engine(url)
    sa.event.listen(engine, "handle_error", _unreachable)
    return engine


def _create_engine(url: str) -> Engine:
    try:
        parsed = sa.make_url(url)
    except ArgumentError as exc:
        raise ConfigError(f"not a database URL: {url!r}", where="database_url") from exc
    backend = parsed.get_backend_name()
    if backend == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        engine = sa.create_engine(parsed)
        sa.event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    if backend == "postgresql":
        if parsed.drivername == "postgresql":
            parsed = parsed.set(drivername="postgresql+psycopg")
        return sa.create_engine(parsed, pool_pre_ping=True)
    raise ConfigError(
        f"unsupported database {backend!r}: use sqlite:/// or postgresql+psycopg://", where="database_url"
    )


def _alembic_config(engine: Engine) -> AlembicConfig:
    from alembic.config import Config as AlembicConfig  # only migrating loads Alembic

    # Alembic's default output stream is the sys.stdout of when alembic.config was first imported, which
    # may be a capture closed since; its messages ("No new upgrade operations detected.") are not ours.
    cfg = AlembicConfig(stdout=io.StringIO())
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.attributes["engine"] = engine
    return cfg


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Apply migrations up to ``revision``."""
    from alembic import command

    try:
        command.upgrade(_alembic_config(engine), revision)
    except OperationalError as exc:
        raise StoreError(f"cannot reach the database {engine.url!r}: {exc.orig}") from exc


def check_models(engine: Engine) -> None:
    """Raise if the tables in ``schema.py`` drifted from the migrations (``alembic check``)."""
    from alembic import command

    command.check(_alembic_config(engine))


def upgrade_if_behind(engine: Engine) -> None:
    """Apply the migrations a database lacks; one query when it has them all, as it has on most opens."""
    if _current_or_unreachable(engine) != head_revision():
        upgrade(engine)


def current_revision(engine: Engine) -> str | None:
    """The schema revision the database records, read as Alembic stores it; None for a blank database.

    A plain query, not Alembic's migration context: every command checks it, and loading Alembic to read
    one row cost more than the command's own work.
    """
    with engine.connect() as conn:
        if not sa.inspect(conn).has_table("alembic_version"):
            return None
        found = conn.execute(sa.text("SELECT version_num FROM alembic_version")).scalars().all()
    return ", ".join(sorted(found)) or None


def ensure_current(engine: Engine) -> None:
    """Fail with a clear message when the schema is missing or older than this code."""
    current = _current_or_unreachable(engine)
    if current != head_revision():
        raise StoreError(
            f"the database {engine.url!r} is at schema {current or 'none'}, expected {head_revision()}: "
            "run `perfsheriff db upgrade`"
        )


def _current_or_unreachable(engine: Engine) -> str | None:
    try:
        return current_revision(engine)
    except OperationalError as exc:
        raise StoreError(f"cannot reach the database {engine.url!r}: {exc.orig}") from exc


def reachable(engine: Engine) -> bool:
    """Whether the database answers a query now."""
    try:
        with engine.connect() as conn:
            conn.execute(sa.select(1))
    except (sa.exc.SQLAlchemyError, StoreError):  # the engine's hook makes a lost connection a StoreError
        return False
    return True

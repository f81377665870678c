"""Opening the store for a long-running process (a server worker), checked to be migrated."""

from __future__ import annotations

from sqlalchemy.engine import Engine

from perfsheriff.store import database


def open_engine(url: str) -> Engine:
    """An engine for ``url`` whose schema is current (the serving parent process has migrated it)."""
    engine = database.create_engine(url)
    database.ensure_current(engine)
    return engine

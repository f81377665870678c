"""Alembic environment: the engine is handed in by perfsheriff.store.database."""

from __future__ import annotations

from alembic import context

from perfsheriff.store.schema import metadata

engine = context.config.attributes["engine"]
with engine.begin() as connection:
    context.configure(connection=connection, target_metadata=metadata, render_as_batch=True, compare_type=True)
    context.run_migrations()

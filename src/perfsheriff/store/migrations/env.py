"""Alembic environment: the engine is handed in by perfsheriff.store.database."""

from __future__ import annotations

from typing import Any

from alembic import context

from perfsheriff.store.schema import metadata

engine = context.config.attributes["engine"]


def include_object(obj: Any, name: str | None, type_: str, reflected: bool, compare_to: Any) -> bool:
    """Leave out of comparisons the indexes declared for another database (``Index.ddl_if``)."""
    del name, reflected, compare_to
    condition = getattr(obj, "_ddl_if", None)
    if type_ == "index" and condition is not None and condition.dialect:
        return bool(condition.dialect == engine.dialect.name)
    return True


with engine.connect() as connection:
    sqlite = engine.dialect.name == "sqlite"
    if sqlite:
        # A batch migration rebuilds a table on SQLite (copy, drop, rename); with foreign keys enforced,
        # dropping the old table would cascade into every table referring to it (notes, samples...).
        # The pragma only takes effect outside a transaction; the check below replaces the enforcement.
        connection.exec_driver_sql("PRAGMA foreign_keys=OFF")
        connection.commit()
    with connection.begin():
        context.configure(
            connection=connection,
            target_metadata=metadata,
            render_as_batch=True,
            compare_type=True,
            include_object=include_object,
        )
        context.run_migrations()
        broken = connection.exec_driver_sql("PRAGMA foreign_key_check").fetchall() if sqlite else []
        if broken:
            raise RuntimeError(f"the migration left rows that refer to missing rows: {broken[:5]}")
    if sqlite:
        connection.exec_driver_sql("PRAGMA foreign_keys=ON")
        connection.commit()

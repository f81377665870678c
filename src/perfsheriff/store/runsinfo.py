"""Which revisions a benchmark already ran at, and which benchmark fed a series."""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa

from perfsheriff.store import schema as t


def measured_revisions(
    conn: sa.Connection, revision_ids: Sequence[int], *, machine_id: int, configuration_id: int, source: str
) -> set[int]:
    """Revisions with any run of ``source`` (ok or not) on the machine and configuration."""
    out: set[int] = set()
    ids = list(revision_ids)
    for start in range(0, len(ids), 5000):
        query = (
            sa.select(t.runs.c.revision_id)
            .distinct()
            .where(
                t.runs.c.revision_id.in_(ids[start : start + 5000]),
                t.runs.c.machine_id == machine_id,
                t.runs.c.configuration_id == configuration_id,
                t.runs.c.source == source,
            )
        )
        out.update(int(rid) for rid in conn.execute(query).scalars())
    return out


def source_of_series(conn: sa.Connection, series_id: str) -> str | None:
    """The ``source`` of the newest run that gave the series samples (``benchmark NAME`` for runner runs)."""
    query = (
        sa.select(t.runs.c.source)
        .join(t.samples, t.samples.c.run_id == t.runs.c.id)
        .where(t.samples.c.series_id == series_id)
        .order_by(t.runs.c.id.desc())
        .limit(1)
    )
    return conn.execute(query).scalar()

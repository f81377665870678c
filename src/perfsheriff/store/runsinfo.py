"""Which revisions a benchmark already ran at, which benchmark fed a series, which series a run fed; runs per status."""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa

from perfsheriff.store import schema as t


def measured_revisions(
    conn: sa.Connection, revision_ids: Sequence[int], *, machine_class: str, configuration_id: int, source: str
) -> set[int]:
    """Revisions with any run of ``source`` (ok or not) on a machine of the class, in the configuration.

    Machines of one class are interchangeable (agents of a pool share the work), so a run on any of them counts.
    """
    out: set[int] = set()
    ids = list(revision_ids)
    for start in range(0, len(ids), 5000):
        query = (
            sa.select(t.runs.c.revision_id)
            .distinct()
            .join(t.machines, t.machines.c.id == t.runs.c.machine_id)
            .where(
                t.runs.c.revision_id.in_(ids[start : start + 5000]),
                t.machines.c.machine_class == machine_class,
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


def series_of_run(conn: sa.Connection, run_id: int) -> frozenset[str]:
    """The series a run gave samples to."""
    query = sa.select(t.samples.c.series_id).where(t.samples.c.run_id == run_id, t.samples.c.part == 0)
    return frozenset(str(s) for s in conn.execute(query).scalars())


def status_counts(conn: sa.Connection) -> dict[str, int]:
    """Runs per status."""
    query = sa.select(t.runs.c.status, sa.func.count()).group_by(t.runs.c.status)
    return {str(status): int(n) for status, n in conn.execute(query)}

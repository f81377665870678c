"""Machine generations' statements: the generations of a class, its runs' setups, what the old one measured.

:mod:`perfsheriff.service.generations` decides what these mean (labels, boundaries, baselines, factors).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from perfsheriff.model import JobReason, JobState
from perfsheriff.store import schema as t

_g = t.machine_generations


def generations(conn: sa.Connection, machine_class: str | None = None) -> list[sa.RowMapping]:
    """The recorded generations (every column), by class and ordinal; of one class if given."""
    query = sa.select(_g).order_by(_g.c.machine_class, _g.c.ordinal)
    if machine_class is not None:
        query = query.where(_g.c.machine_class == machine_class)
    return list(conn.execute(query).mappings())


def upgraded(conn: sa.Connection, machine_class: str) -> bool:
    """Whether an upgrade of the class is recorded; the very statement ``sqlite_reads.upgraded`` sends."""
    query = sa.text("SELECT 1 FROM machine_generations WHERE machine_class = :machine_class LIMIT 1")
    return conn.execute(query, {"machine_class": machine_class}).first() is not None


def measured_before(conn: sa.Connection, machine_class: str, revision_ids: Sequence[int], moment: datetime) -> bool:
    """Whether a machine of the class ran any of these revisions before ``moment``."""
    query = (
        sa.select(t.runs.c.id)
        .join(t.machines, t.machines.c.id == t.runs.c.machine_id)
        .where(
            t.machines.c.machine_class == machine_class,
            t.runs.c.revision_id.in_(list(revision_ids)),
            t.runs.c.created_at < moment,
        )
        .limit(1)
    )
    return conn.execute(query).first() is not None


def insert_generation(conn: sa.Connection, **columns: Any) -> int:
    """Record a generation (``columns``: every column but the id); returns its id."""
    return int(conn.execute(_g.insert().values(**columns).returning(_g.c.id)).scalar_one())


def delete_generation(conn: sa.Connection, generation_id: int) -> None:
    conn.execute(_g.delete().where(_g.c.id == generation_id))


def class_known(conn: sa.Connection, machine_class: str) -> bool:
    """Whether a machine of the class is registered or a series was measured on it."""
    machine = sa.select(t.machines.c.id).where(t.machines.c.machine_class == machine_class).limit(1)
    series = sa.select(t.series.c.id).where(t.series.c.machine_class == machine_class).limit(1)
    return conn.execute(machine).first() is not None or conn.execute(series).first() is not None


def class_setups(
    conn: sa.Connection, machine_class: str, keys: Sequence[str]
) -> list[tuple[str, tuple[str, ...], datetime]]:
    """(machine, setup, first run's time) of each machine of the class and setup its runs recorded, where a
    setup is the values of ``keys`` in the runs' environment ("" when a run did not say)."""
    env = t.runs.c.environment
    setup = [env[key].as_string().label(key) for key in keys]
    query = (
        sa.select(t.machines.c.name, *setup, sa.func.min(t.runs.c.created_at))
        .join(t.machines, t.machines.c.id == t.runs.c.machine_id)
        .where(t.machines.c.machine_class == machine_class)
        .group_by(t.machines.c.name, *setup)
    )
    out = []
    for row in conn.execute(query):
        first = t.UtcDateTime().process_result_value(row[-1], conn.dialect)  # an aggregate loses the column's type
        assert first is not None
        out.append((str(row[0]), tuple(str(v or "") for v in row[1:-1]), first))
    return out


def measured_series(conn: sa.Connection, machine_class: str) -> list[sa.RowMapping]:
    """The class's series that have samples: id, project_id, project (name), branch_id, benchmark (name),
    configuration_id and configuration (its items)."""
    has_samples = sa.select(t.samples.c.id).where(t.samples.c.series_id == t.series.c.id).exists()
    query = (
        sa.select(
            t.series.c.id,
            t.series.c.project_id,
            t.projects.c.name.label("project"),
            t.series.c.branch_id,
            t.benchmarks.c.name.label("benchmark"),
            t.series.c.configuration_id,
            t.configurations.c["items"].label("configuration"),
        )
        .join(t.benchmarks, t.benchmarks.c.id == t.series.c.benchmark_id)
        .join(t.projects, t.projects.c.id == t.series.c.project_id)
        .join(t.configurations, t.configurations.c.id == t.series.c.configuration_id)
        .where(t.series.c.machine_class == machine_class, has_samples)
        .order_by(t.series.c.project_id, t.series.c.branch_id, t.benchmarks.c.name, t.series.c.id)
    )
    return list(conn.execute(query).mappings())


def revisions_measured_before(
    conn: sa.Connection, machine_class: str, branch_id: int, before: datetime, after: datetime | None
) -> list[tuple[int, int]]:
    """(position, revision id) along the branch of every revision a machine of the class ran at, with a run
    recorded before ``before`` (and at or after ``after``, if given), oldest first."""
    query = (
        sa.select(t.branch_revisions.c.position, t.runs.c.revision_id)
        .distinct()
        .join(t.machines, t.machines.c.id == t.runs.c.machine_id)
        .join(
            t.branch_revisions,
            sa.and_(
                t.branch_revisions.c.revision_id == t.runs.c.revision_id,
                t.branch_revisions.c.branch_id == t.runs.c.branch_id,
            ),
        )
        .where(
            t.machines.c.machine_class == machine_class,
            t.runs.c.branch_id == branch_id,
            t.runs.c.status == "ok",
            t.runs.c.created_at < before,
        )
        .order_by(t.branch_revisions.c.position)
    )
    if after is not None:
        query = query.where(t.runs.c.created_at >= after)
    return [(int(p), int(r)) for p, r in conn.execute(query)]


def series_samples_by_run_time(conn: sa.Connection, series_id: str) -> list[tuple[int, int, str, datetime, bytes]]:
    """(position, revision id, revision sha, run's recording time, packed values) of every sample row of the
    series, along the branch."""
    query = (
        sa.select(
            t.samples.c.position, t.samples.c.revision_id, t.revisions.c.sha, t.runs.c.created_at, t.samples.c["values"]
        )
        .join(t.runs, t.runs.c.id == t.samples.c.run_id)
        .join(t.revisions, t.revisions.c.id == t.samples.c.revision_id)
        .where(t.samples.c.series_id == series_id)
        .order_by(t.samples.c.position, t.samples.c.id)
    )
    return [(int(p), int(r), str(s), c, bytes(v)) for p, r, s, c, v in conn.execute(query)]


def delete_queued_baselines(conn: sa.Connection, machine_class: str, since: datetime) -> int:
    """Remove the class's baseline jobs queued at or after ``since`` that no agent has taken; how many."""
    result = conn.execute(
        t.jobs.delete().where(
            t.jobs.c.machine_class == machine_class,
            t.jobs.c.reason == JobReason.BASELINE.value,
            t.jobs.c.state == JobState.QUEUED.value,
            t.jobs.c.created_at >= since,
        )
    )
    return int(result.rowcount or 0)

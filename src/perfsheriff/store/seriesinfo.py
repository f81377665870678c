"""Facts about series beyond their samples: metric, weight and tags, the machines behind them, how many there are, and a
version of their samples that tells a cache when to read them again."""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa

from perfsheriff.store import schema as t


def metric_of(conn: sa.Connection, series_id: str) -> str | None:
    found = conn.execute(sa.select(t.series.c.metric).where(t.series.c.id == series_id)).scalar()
    return None if found is None else str(found)


def weights_and_tags(conn: sa.Connection, series_ids: Sequence[str]) -> dict[str, tuple[float, tuple[str, ...]]]:
    """Each series' benchmark weight and tags (``benchmarks.weight``, ``benchmarks.tags``, sorted)."""
    found: dict[str, tuple[float, tuple[str, ...]]] = {}
    for start in range(0, len(series_ids), 5000):
        query = (
            sa.select(t.series.c.id, t.benchmarks.c.weight, t.benchmarks.c.tags)
            .join(t.benchmarks, t.benchmarks.c.id == t.series.c.benchmark_id)
            .where(t.series.c.id.in_(list(series_ids[start : start + 5000])))
        )
        for series_id, weight, tags in conn.execute(query):
            found[str(series_id)] = (float(weight), tuple(sorted(tags or ())))
    return found


def machine_setups(conn: sa.Connection, series_id: str, keys: Sequence[str]) -> list[tuple[str, tuple[str, ...], int]]:
    """(machine, setup, first branch position) of each machine and setup that measured the series, where a
    setup is the values of ``keys`` in the runs' recorded environment ("" when a run did not say)."""
    env = t.runs.c.environment
    setup = [env[key].as_string().label(key) for key in keys]
    query = (
        sa.select(t.machines.c.name, *setup, sa.func.min(t.samples.c.position))
        .select_from(t.samples)
        .join(t.runs, t.runs.c.id == t.samples.c.run_id)
        .join(t.machines, t.machines.c.id == t.runs.c.machine_id)
        .where(t.samples.c.series_id == series_id)
        .group_by(t.machines.c.name, *setup)
    )
    return [(str(r[0]), tuple(str(v or "") for v in r[1:-1]), int(r[-1])) for r in conn.execute(query)]


def _version(conn: sa.Connection, where: sa.ColumnElement[bool]) -> tuple[int, int]:
    count, newest = conn.execute(sa.select(sa.func.count(), sa.func.max(t.samples.c.id)).where(where)).one()
    return int(count), int(newest or 0)


def series_version(conn: sa.Connection, series_id: str) -> tuple[int, int]:
    """(count, newest id) of the series' sample rows: it changes when samples are added or removed."""
    return _version(conn, t.samples.c.series_id == series_id)


def generations_version(conn: sa.Connection) -> tuple[int, int]:
    """(count, newest id) of the recorded machine generations: a series read rescaled is read again when it changes."""
    g = t.machine_generations
    count, newest = conn.execute(sa.select(sa.func.count(), sa.func.max(g.c.id))).one()
    return int(count), int(newest or 0)


def newest_sample_id(conn: sa.Connection) -> int:
    """The newest sample row's id (0 when none): it changes whenever samples are added."""
    return int(conn.execute(sa.select(sa.func.max(t.samples.c.id))).scalar() or 0)


def revisions_version(conn: sa.Connection, revision_ids: Sequence[int]) -> tuple[int, int]:
    """(count, newest id) of the sample rows at these revisions: it changes when samples are added or removed."""
    return _version(conn, t.samples.c.revision_id.in_(list(revision_ids)))


def series_per_class(conn: sa.Connection) -> list[tuple[str, str, int]]:
    """(project, machine class, number of series), sorted."""
    query = (
        sa.select(t.projects.c.name, t.series.c.machine_class, sa.func.count())
        .join(t.projects, t.projects.c.id == t.series.c.project_id)
        .group_by(t.projects.c.name, t.series.c.machine_class)
        .order_by(t.projects.c.name, t.series.c.machine_class)
    )
    return [(str(p), str(m), int(n)) for p, m, n in conn.execute(query)]


def machine_classes(conn: sa.Connection) -> list[str]:
    """Every machine class some series was measured on, sorted."""
    query = sa.select(t.series.c.machine_class).distinct().order_by(t.series.c.machine_class)
    return [str(c) for c in conn.execute(query).scalars()]

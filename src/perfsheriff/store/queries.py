"""Reads shared by every view (CLI, API, dashboard): one read model.

``series_history`` is the hot path: one range scan of the ``(series_id,
revision_id)`` index joined to the branch order, one short row per run.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import numpy as np
import sqlalchemy as sa

from perfsheriff.store import schema as t

FloatArray = np.ndarray[Any, np.dtype[np.float64]]


@dataclass(frozen=True, slots=True)
class SeriesRow:
    id: str
    project: str
    branch: str
    benchmark: str
    suite: str
    metric: str
    unit: str
    direction: str
    machine_class: str
    configuration: str
    n_revisions: int


@dataclass(frozen=True, slots=True)
class RevisionSamples:
    """All repetitions a series has at one revision (several runs merged)."""

    sha: str
    position: int
    time: datetime
    author: str
    subject: str
    values: FloatArray
    n_runs: int


def list_series(
    conn: sa.Connection,
    *,
    project: str | None = None,
    branch: str | None = None,
    benchmark: str | None = None,
    machine: str | None = None,
    metric: str | None = None,
    limit: int | None = None,
) -> list[SeriesRow]:
    """Series matching every given filter; ``benchmark`` matches a substring."""
    counts = (
        sa.select(t.samples.c.series_id, sa.func.count(sa.distinct(t.samples.c.revision_id)).label("n"))
        .group_by(t.samples.c.series_id)
        .subquery()
    )
    query = (
        sa.select(
            t.series.c.id,
            t.projects.c.name.label("project"),
            t.branches.c.name.label("branch"),
            t.benchmarks.c.name.label("benchmark"),
            t.benchmarks.c.suite,
            t.series.c.metric,
            t.series.c.unit,
            t.series.c.direction,
            t.series.c.machine_class,
            t.configurations.c.canonical.label("configuration"),
            sa.func.coalesce(counts.c.n, 0).label("n_revisions"),
        )
        .join(t.projects, t.projects.c.id == t.series.c.project_id)
        .join(t.branches, t.branches.c.id == t.series.c.branch_id)
        .join(t.benchmarks, t.benchmarks.c.id == t.series.c.benchmark_id)
        .join(t.configurations, t.configurations.c.id == t.series.c.configuration_id)
        .outerjoin(counts, counts.c.series_id == t.series.c.id)
        .order_by(
            t.projects.c.name,
            t.benchmarks.c.name,
            t.series.c.metric,
            t.series.c.machine_class,
            t.configurations.c.canonical,
        )
    )
    if project:
        query = query.where(t.projects.c.name == project)
    if branch:
        query = query.where(t.branches.c.name == branch)
    if benchmark:
        query = query.where(t.benchmarks.c.name.contains(benchmark, autoescape=True))
    if machine:
        query = query.where(t.series.c.machine_class == machine)
    if metric:
        query = query.where(t.series.c.metric == metric)
    if limit:
        query = query.limit(limit)
    return [SeriesRow(**row._mapping) for row in conn.execute(query)]


def find_series(conn: sa.Connection, prefix: str) -> list[SeriesRow]:
    """Series whose id starts with ``prefix`` (ids are hashes; a short prefix is enough)."""
    ids = (
        conn.execute(sa.select(t.series.c.id).where(t.series.c.id.startswith(prefix, autoescape=True)).limit(20))
        .scalars()
        .all()
    )
    rows = list_series(conn) if ids else []
    return [row for row in rows if row.id in set(ids)]


def series_history(conn: sa.Connection, series_id: str) -> list[RevisionSamples]:
    """Every revision of the series along its branch, oldest first, repetitions merged."""
    branch = sa.select(t.series.c.branch_id).where(t.series.c.id == series_id).scalar_subquery()
    query = (
        sa.select(
            t.branch_revisions.c.position,
            t.revisions.c.sha,
            t.revisions.c.time,
            t.revisions.c.author,
            t.revisions.c.message,
            t.samples.c["values"],
        )
        .select_from(t.samples)
        .join(
            t.branch_revisions,
            sa.and_(
                t.branch_revisions.c.revision_id == t.samples.c.revision_id, t.branch_revisions.c.branch_id == branch
            ),
        )
        .join(t.revisions, t.revisions.c.id == t.samples.c.revision_id)
        .where(t.samples.c.series_id == series_id)
        .order_by(t.branch_revisions.c.position, t.samples.c.id)
    )
    return _merge_by_revision(conn.execute(query).all())


def _merge_by_revision(rows: Sequence[Any]) -> list[RevisionSamples]:
    out: list[RevisionSamples] = []
    pending: list[bytes] = []
    for index, row in enumerate(rows):
        pending.append(row[5])
        is_last = index + 1 == len(rows) or rows[index + 1][0] != row[0]
        if is_last:
            values = np.frombuffer(b"".join(pending), dtype="<f8")
            subject = row[4].split("\n", 1)[0]
            out.append(RevisionSamples(row[1], int(row[0]), row[2], row[3], subject, values, len(pending)))
            pending = []
    return out

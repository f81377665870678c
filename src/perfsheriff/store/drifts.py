"""Each series' drift since its branch's newest release tag: written by the detection pass, read by the overview."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import sqlalchemy as sa

from perfsheriff.store import schema as t


def replace_release_drift(conn: sa.Connection, series_id: str, values: Mapping[str, Any]) -> None:
    """The series' drift as measured now (``values``: every column of ``release_drifts``), replacing the last."""
    conn.execute(sa.delete(t.release_drifts).where(t.release_drifts.c.series_id == series_id))
    conn.execute(sa.insert(t.release_drifts), dict(values))


_RD, _TAG, _TAGGED = t.release_drifts, t.tags, t.revisions.alias("tagged")
_JOINED = (
    sa.select()
    .select_from(_RD)
    .join(t.series, t.series.c.id == _RD.c.series_id)
    .join(t.projects, t.projects.c.id == t.series.c.project_id)
    .join(t.branches, t.branches.c.id == t.series.c.branch_id)
    .join(_TAG, _TAG.c.id == _RD.c.tag_id)
    .join(_TAGGED, _TAGGED.c.id == _TAG.c.revision_id)
)


def verdict_counts(conn: sa.Connection) -> list[tuple[Any, ...]]:
    """Per project, branch, machine class and release (tag name, sha, time): how many series had each verdict.
    Rows of (project, branch, machine class, tag, sha, time, verdict, count)."""
    key = (t.projects.c.name, t.branches.c.name, t.series.c.machine_class, _TAG.c.name, _TAGGED.c.sha, _TAGGED.c.time)
    query = _JOINED.add_columns(*key, _RD.c.verdict, sa.func.count()).group_by(*key, _RD.c.verdict)
    return [tuple(row) for row in conn.execute(query)]


def drifted(conn: sa.Connection) -> list[tuple[Any, ...]]:
    """The series that drifted (regression or improvement), the largest change first. Rows of (project, branch,
    machine class, series id, benchmark, metric, verdict, relative change, ci low, ci high, points)."""
    query = (
        _JOINED.add_columns(
            t.projects.c.name,
            t.branches.c.name,
            t.series.c.machine_class,
            t.series.c.id,
            t.benchmarks.c.name,
            t.series.c.metric,
            _RD.c.verdict,
            _RD.c.relative_change,
            _RD.c.ci_low,
            _RD.c.ci_high,
            _RD.c.points,
        )
        .join(t.benchmarks, t.benchmarks.c.id == t.series.c.benchmark_id)
        .where(_RD.c.verdict.in_(["regression", "improvement"]))
        .order_by(sa.func.abs(_RD.c.relative_change).desc(), t.series.c.id)
    )
    return [tuple(row) for row in conn.execute(query)]

"""Reads for the sheriffing figures: the alerts of a period with their summary's state, their first triage by a
sheriff, their bisection, and the notification log (``perfsheriff.triage.metrics`` does the counting)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from perfsheriff.store import schema as t
from perfsheriff.store.alerts import SHOWN

#: Bisection outcomes that name a culprit (``perfsheriff.alerts.BisectionState``).
NAMING_CULPRIT = ("culprit", "two_culprits")


@dataclass(frozen=True, slots=True)
class AlertStatRow:
    """An alert of the period as the figures need it; the bisection fields are None without a bisection."""

    id: int
    project: str
    suite: str
    benchmark: str
    machine_class: str
    kind: str
    created_at: datetime
    confirmation: str | None
    details: dict[str, Any]
    summary_id: int | None
    state: str | None
    bisection_state: str | None
    bisection_runs: int | None
    bisection_updated_at: datetime | None


def project_exists(conn: sa.Connection, name: str) -> bool:
    return conn.execute(sa.select(t.projects.c.id).where(t.projects.c.name == name)).first() is not None


def alerts_between(
    conn: sa.Connection, start: datetime, end: datetime, *, project: str | None = None
) -> list[AlertStatRow]:
    """Alerts created in [start, end) (candidates still being confirmed left out), ordered by id."""
    a, s, b, p = t.alerts, t.series, t.bisections, t.projects
    summary = t.alert_summaries
    query = (
        sa.select(
            a.c.id,
            p.c.name,
            t.benchmarks.c.suite,
            t.benchmarks.c.name,
            s.c.machine_class,
            a.c.kind,
            a.c.created_at,
            a.c.confirmation,
            a.c.details,
            a.c.summary_id,
            summary.c.state,
            b.c.state,
            b.c.runs_spent,
            b.c.updated_at,
        )
        .join(s, s.c.id == a.c.series_id)
        .join(p, p.c.id == s.c.project_id)
        .join(t.benchmarks, t.benchmarks.c.id == s.c.benchmark_id)
        .outerjoin(summary, summary.c.id == a.c.summary_id)
        .outerjoin(b, b.c.alert_id == a.c.id)
        .where(a.c.created_at >= start, a.c.created_at < end, SHOWN)
        .order_by(a.c.id)
    )
    if project is not None:
        query = query.where(p.c.name == project)
    return [AlertStatRow(*list(row)) for row in conn.execute(query)]


def first_triage(conn: sa.Connection, summary_ids: Sequence[int], *, system: str) -> dict[int, datetime]:
    """Summary id -> the time of its first state change away from ``untriaged`` by anyone but ``system``."""
    n = t.notes
    query = (
        sa.select(n.c.summary_id, sa.func.min(n.c.created_at))
        .where(
            n.c.summary_id.in_(list(summary_ids)),
            n.c.kind == "transition",
            n.c.from_state == "untriaged",
            n.c.author != system,
        )
        .group_by(n.c.summary_id)
    )
    return {int(sid): when for sid, when in conn.execute(query)}


def notification_outcomes(
    conn: sa.Connection, start: datetime, end: datetime, *, project: str | None = None
) -> list[tuple[str, str, int]]:
    """(project, outcome, count) of the notification log's rows written in [start, end)."""
    n, s, p = t.notifications, t.alert_summaries, t.projects
    query = (
        sa.select(p.c.name, n.c.outcome, sa.func.count())
        .join(s, s.c.id == n.c.summary_id)
        .join(p, p.c.id == s.c.project_id)
        .where(n.c.created_at >= start, n.c.created_at < end)
        .group_by(p.c.name, n.c.outcome)
        .order_by(p.c.name, n.c.outcome)
    )
    if project is not None:
        query = query.where(p.c.name == project)
    return [(str(name), str(outcome), int(count)) for name, outcome, count in conn.execute(query)]

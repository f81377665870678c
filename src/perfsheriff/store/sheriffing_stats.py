"""Reads for the sheriffing figures: the alerts of a period with their summary's state, their first triage by a
sheriff and their bisection, as the core's ``AlertOutcome``; and the notification log (``perfsheriff.triage.metrics``
does the counting)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa

from perfsheriff.store import schema as t
from perfsheriff.store.alerts import SHOWN
from perfsheriff.triage.metrics import AlertOutcome

#: Bisection outcomes that name a culprit (``perfsheriff.alerts.BisectionState``).
NAMING_CULPRIT = ("culprit", "two_culprits")


def project_exists(conn: sa.Connection, name: str) -> bool:
    return conn.execute(sa.select(t.projects.c.id).where(t.projects.c.name == name)).first() is not None


def alert_outcomes(
    conn: sa.Connection, start: datetime, end: datetime, *, system: str, project: str | None = None
) -> list[AlertOutcome]:
    """Alerts created in [start, end) (candidates still being confirmed left out), ordered by id; triaged at
    their summary's first change away from ``untriaged`` by anyone but ``system``."""
    a, s, b, n, summary = t.alerts, t.series, t.bisections, t.notes, t.alert_summaries
    triaged = (
        sa.select(sa.func.min(n.c.created_at))
        .where(n.c.summary_id == a.c.summary_id, n.c.kind == "transition", n.c.from_state == "untriaged")
        .where(n.c.author != system)
        .scalar_subquery()
    )
    query = (
        sa.select(
            t.projects.c.name.label("project"),
            t.benchmarks.c.suite.label("suite"),
            t.benchmarks.c.name.label("benchmark"),
            s.c.machine_class.label("machine_class"),
            a.c.kind.label("kind"),
            a.c.created_at.label("created_at"),
            summary.c.state.label("state"),
            a.c.confirmation.label("confirmation"),
            triaged.label("triaged_at"),
            sa.case((b.c.state.in_(NAMING_CULPRIT), b.c.updated_at)).label("culprit_at"),
            a.c.details.label("details"),
            b.c.runs_spent.label("bisection_runs"),
        )
        .join(s, s.c.id == a.c.series_id)
        .join(t.projects, t.projects.c.id == s.c.project_id)
        .join(t.benchmarks, t.benchmarks.c.id == s.c.benchmark_id)
        .outerjoin(summary, summary.c.id == a.c.summary_id)
        .outerjoin(b, b.c.alert_id == a.c.id)
        .where(a.c.created_at >= start, a.c.created_at < end, SHOWN)
        .order_by(a.c.id)
    )
    if project is not None:
        query = query.where(t.projects.c.name == project)
    return [_outcome(row) for row in conn.execute(query).mappings()]


def _outcome(row: sa.RowMapping) -> AlertOutcome:
    values = dict(row)
    details, runs = values.pop("details"), values.pop("bisection_runs")
    return AlertOutcome(**values, confirmation_runs=_confirmation_runs(details), bisection_runs=int(runs or 0))


def _confirmation_runs(details: Any) -> int:
    """The runs confirmation spent, kept in ``details["confirmation"]["runs"]``; 0 for an alert never confirmed."""
    record = details.get("confirmation") if isinstance(details, dict) else None
    runs = record.get("runs") if isinstance(record, dict) else None
    return int(runs) if isinstance(runs, int | float) else 0


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

"""Alerts: written by detection, read by every view."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any, TypeVar

import sqlalchemy as sa

from perfsheriff.alerts import AlertConfirmation, AlertKind, Bisection
from perfsheriff.store import bisections
from perfsheriff.store import schema as t


@dataclass(frozen=True, slots=True)
class AlertRow:
    id: int
    series_id: str
    benchmark: str
    metric: str
    unit: str
    machine_class: str
    configuration: str
    branch: str
    kind: AlertKind
    relative_change: float
    confidence: float
    last_good: str
    first_bad: str
    last_good_position: int
    first_bad_position: int
    details: dict[str, Any]
    created_at: datetime
    # None: never subject to confirmation (uploads, ingest); else confirming | confirmed | not-reproduced | unconfirmed.
    confirmation: AlertConfirmation | None = None
    # Who made the alert by hand (a change the detector did not report); None: perfsheriff found it.
    created_by: str | None = None
    # Its bisection, running or ended (the ``bisections`` table); None: never bisected.
    bisection: Bisection | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "kind", AlertKind(self.kind))
        if self.confirmation is not None:
            object.__setattr__(self, "confirmation", AlertConfirmation(self.confirmation))


# The join chain every read of alerts shares, built here once. GOOD and BAD are the branch positions of an
# alert's suspect range (last good, first bad) on its series' branch; GOOD_REV and BAD_REV their commits.
GOOD = t.branch_revisions.alias("good")
BAD = t.branch_revisions.alias("bad")
GOOD_REV = t.revisions.alias("good_rev")
BAD_REV = t.revisions.alias("bad_rev")

_S = TypeVar("_S", bound=sa.Select[Any])

#: Alerts someone may see: a candidate still being confirmed is shown to no one, nor joins a summary.
SHOWN = sa.or_(t.alerts.c.confirmation.is_(None), t.alerts.c.confirmation != AlertConfirmation.CONFIRMING.value)


def with_range(query: _S) -> _S:
    """``query`` over ``alerts`` joined to each alert's series and the branch positions of its range (GOOD, BAD)."""
    a, s = t.alerts, t.series
    return (
        query.join(s, s.c.id == a.c.series_id)
        .join(GOOD, sa.and_(GOOD.c.revision_id == a.c.last_good_revision_id, GOOD.c.branch_id == s.c.branch_id))
        .join(BAD, sa.and_(BAD.c.revision_id == a.c.first_bad_revision_id, BAD.c.branch_id == s.c.branch_id))
    )


def with_names(query: _S) -> _S:
    """:func:`with_range`, and the names around an alert: its series' benchmark, configuration and branch, and
    the commits of its range (GOOD_REV, BAD_REV)."""
    a, s = t.alerts, t.series
    return (
        with_range(query)
        .join(t.benchmarks, t.benchmarks.c.id == s.c.benchmark_id)
        .join(t.configurations, t.configurations.c.id == s.c.configuration_id)
        .join(t.branches, t.branches.c.id == s.c.branch_id)
        .join(GOOD_REV, GOOD_REV.c.id == a.c.last_good_revision_id)
        .join(BAD_REV, BAD_REV.c.id == a.c.first_bad_revision_id)
    )


def existing_alerts(conn: sa.Connection, series_id: str, *, closed: bool = False) -> list[tuple[str, int, int]]:
    """(kind, last good position, first bad position) of the series' alerts: those that stand, or (``closed``)
    the candidates that confirmation did not reproduce."""
    query = with_range(sa.select(t.alerts.c.kind, GOOD.c.position, BAD.c.position)).where(
        t.alerts.c.series_id == series_id
    )
    not_reproduced = t.alerts.c.confirmation == AlertConfirmation.NOT_REPRODUCED.value
    query = query.where(not_reproduced if closed else sa.or_(t.alerts.c.confirmation.is_(None), ~not_reproduced))
    return [(row[0], int(row[1]), int(row[2])) for row in conn.execute(query)]


def shown_on_series(conn: sa.Connection, series_id: str) -> list[tuple[Any, ...]]:
    """The series' alerts that are shown (a candidate still being confirmed is not), oldest first: rows of
    (id, kind, relative change, confidence, summary id, last good position, first bad position, branch id,
    details, created by)."""
    a = t.alerts
    query = (
        with_range(
            sa.select(
                a.c.id,
                a.c.kind,
                a.c.relative_change,
                a.c.confidence,
                a.c.summary_id,
                GOOD.c.position,
                BAD.c.position,
                t.series.c.branch_id,
                a.c.details,
                a.c.created_by,
            )
        )
        .where(a.c.series_id == series_id)
        .where(SHOWN)
        .order_by(a.c.id)
    )
    return [tuple(row) for row in conn.execute(query)]


def blaming(conn: sa.Connection, revision_id: int) -> set[int]:
    """Ids of the alerts that name this revision their culprit."""
    query = sa.select(t.alerts.c.id).where(t.alerts.c.culprit_revision_id == revision_id)
    return {int(i) for i in conn.execute(query).scalars()}


def kind_counts(conn: sa.Connection) -> dict[str, int]:
    """Alerts per kind."""
    query = sa.select(t.alerts.c.kind, sa.func.count()).group_by(t.alerts.c.kind)
    return {str(kind): int(n) for kind, n in conn.execute(query)}


def insert_alerts(conn: sa.Connection, rows: Sequence[Mapping[str, Any]]) -> list[int]:
    return [int(conn.execute(sa.insert(t.alerts).returning(t.alerts.c.id), dict(row)).scalar_one()) for row in rows]


def list_alerts(
    conn: sa.Connection,
    *,
    ids: Sequence[int] | None = None,
    series_id: str | None = None,
    benchmark: str | None = None,
    kind: str | None = None,
    machine: str | None = None,
    newest: int | None = None,
    confirmation: str | None = None,
    branch_id: int | None = None,
) -> list[AlertRow]:
    """Alerts in the order they were found, filtered, each with its bisection; ``newest``: only the last that many."""
    query = with_names(
        sa.select(
            t.alerts.c.id,
            t.alerts.c.series_id,
            t.benchmarks.c.name,
            t.series.c.metric,
            t.series.c.unit,
            t.series.c.machine_class,
            t.configurations.c.canonical,
            t.branches.c.name,
            t.alerts.c.kind,
            t.alerts.c.relative_change,
            t.alerts.c.confidence,
            GOOD_REV.c.sha,
            BAD_REV.c.sha,
            GOOD.c.position,
            BAD.c.position,
            t.alerts.c.details,
            t.alerts.c.created_at,
            t.alerts.c.confirmation,
            t.alerts.c.created_by,
        )
    ).order_by(t.alerts.c.id)
    if ids is not None:
        query = query.where(t.alerts.c.id.in_(list(ids)))
    if series_id is not None:
        query = query.where(t.alerts.c.series_id == series_id)
    if benchmark:
        query = query.where(t.benchmarks.c.name.contains(benchmark, autoescape=True))
    if kind:
        query = query.where(t.alerts.c.kind == kind)
    if machine:
        query = query.where(t.series.c.machine_class == machine)
    if confirmation:
        query = query.where(t.alerts.c.confirmation == confirmation)
    if branch_id is not None:
        query = query.where(t.series.c.branch_id == branch_id)
    if newest is not None:
        query = query.order_by(None).order_by(t.alerts.c.id.desc()).limit(newest)
        found = [AlertRow(*list(row)) for row in reversed(conn.execute(query).all())]
    else:
        found = [AlertRow(*list(row)) for row in conn.execute(query)]
    # Many alerts: every bisection in one read rather than a parameter per alert.
    bisected = bisections.load(conn, alert_ids=[a.id for a in found] if len(found) <= 500 else None) if found else {}
    return [replace(a, bisection=bisected[a.id]) if a.id in bisected else a for a in found]


def revisions_between(conn: sa.Connection, branch_id: int, after: int, through: int) -> list[tuple[str, str, str]]:
    """(sha, author, subject) of the commits in branch positions (after, through]: a suspect range."""
    query = (
        sa.select(t.revisions.c.sha, t.revisions.c.author, t.revisions.c.message)
        .join(t.branch_revisions, t.branch_revisions.c.revision_id == t.revisions.c.id)
        .where(
            t.branch_revisions.c.branch_id == branch_id,
            t.branch_revisions.c.position > after,
            t.branch_revisions.c.position <= through,
        )
        .order_by(t.branch_revisions.c.position)
    )
    return [(row[0], row[1], row[2].split("\n", 1)[0]) for row in conn.execute(query)]


def update_details(conn: sa.Connection, alert_id: int, patch: Mapping[str, Any]) -> None:
    """Merge ``patch`` into an alert's details (confirmation records, state notes)."""
    current = conn.execute(sa.select(t.alerts.c.details).where(t.alerts.c.id == alert_id)).scalar_one()
    conn.execute(sa.update(t.alerts).where(t.alerts.c.id == alert_id).values(details={**current, **patch}))


def set_confirmation(
    conn: sa.Connection, alert_id: int, status: str, record: Mapping[str, Any], *, confidence: float | None = None
) -> None:
    """Store a confirmation's outcome on the alert: its status, the record in ``details["confirmation"]``,
    and, when the runs gave one, the probability that the change is real as its new ``confidence``."""
    update_details(conn, alert_id, {"confirmation": dict(record)})
    values: dict[str, Any] = {"confirmation": status}
    if confidence is not None:
        values["confidence"] = confidence
    conn.execute(sa.update(t.alerts).where(t.alerts.c.id == alert_id).values(**values))


def first_parent_neighbours(
    conn: sa.Connection, branch_id: int, position: int, count: int, *, after: bool
) -> list[tuple[int, str]]:
    """(revision id, sha) of up to ``count`` first-parent commits (push tips) before or after a branch
    position, nearest first."""
    br = t.branch_revisions
    query = (
        sa.select(br.c.revision_id, t.revisions.c.sha)
        .join(t.revisions, t.revisions.c.id == br.c.revision_id)
        .where(br.c.branch_id == branch_id, br.c.first_parent.is_(True))
        .where(br.c.position > position if after else br.c.position < position)
        .order_by(br.c.position if after else br.c.position.desc())
        .limit(count)
    )
    return [(int(rid), str(sha)) for rid, sha in conn.execute(query)]


def move_range(conn: sa.Connection, alert_id: int, last_good_id: int, first_bad_id: int) -> bool:
    """Give an alert another suspect range; False (nothing done) when another alert of its series and kind
    has that first bad revision already."""
    row = conn.execute(sa.select(t.alerts.c.series_id, t.alerts.c.kind).where(t.alerts.c.id == alert_id)).one()
    taken = conn.execute(
        sa.select(t.alerts.c.id).where(
            t.alerts.c.series_id == row.series_id,
            t.alerts.c.kind == row.kind,
            t.alerts.c.first_bad_revision_id == first_bad_id,
            t.alerts.c.id != alert_id,
        )
    ).first()
    if taken is not None:
        return False
    conn.execute(
        sa.update(t.alerts)
        .where(t.alerts.c.id == alert_id)
        .values(last_good_revision_id=last_good_id, first_bad_revision_id=first_bad_id)
    )
    return True

"""Queries of triage: summaries, the alerts in them, their journals, culprits and patch ids.

Plain rows in, plain rows out; the rules (grouping, states, downstream) live
in ``perfsheriff.triage`` and are applied by ``perfsheriff.service.sheriffing.triage``.
Every function runs inside the caller's connection or transaction.

A state changes only through :func:`compare_and_set_state`, one ``UPDATE ...
WHERE state = :expected`` statement: the database decides which of two
sheriffs acting at once wins, on SQLite (one writer at a time) as on
PostgreSQL (the second ``UPDATE`` waits for the first and then matches no row).

Why one module of about 430 lines: every statement that reads or changes a summary sits beside
the one compare-and-set that decides a state, so no write can go around it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from perfsheriff.alerts import AlertKind
from perfsheriff.store import schema as t
from perfsheriff.store.alerts import BAD, BAD_REV, GOOD, GOOD_REV, SHOWN, with_names


@dataclass(frozen=True, slots=True)
class AlertFacts:
    """An alert as triage sees it: where it is, how large, what bisection named."""

    id: int
    project_id: int
    branch_id: int
    branch: str
    summary_id: int | None
    series_id: str
    benchmark: str
    weight: float
    machine_class: str
    configuration: str
    kind: str
    relative_change: float
    confidence: float
    last_good_position: int
    first_bad_position: int
    last_good: str
    first_bad: str
    culprit: str | None
    culprit_confidence: float | None
    details: dict[str, Any]
    created_at: datetime
    created_by: str | None = None  # who made it by hand; None: perfsheriff found it


@dataclass(frozen=True, slots=True)
class SummaryRow:
    id: int
    project_id: int
    project: str
    branch_id: int
    branch: str
    state: str
    owner: str | None
    bug_url: str | None
    created_at: datetime
    updated_at: datetime
    drift: bool
    last_good_position: int
    first_bad_position: int
    culprit_sha: str | None
    upstream_summary_id: int | None


@dataclass(frozen=True, slots=True)
class NoteRow:
    id: int
    summary_id: int
    who: str
    when: datetime
    kind: str
    from_state: str | None
    to_state: str | None
    text: str
    details: dict[str, Any]


@dataclass(frozen=True, slots=True)
class RevisionFacts:
    id: int
    sha: str
    author: str
    author_email: str
    subject: str
    time: datetime
    patch_id: str | None  # None: not computed yet; "": the commit has none


def is_known_user(conn: sa.Connection, project_id: int, name: str) -> bool:
    """Whether ``name`` is someone perfsheriff knows: a token's name, or a commit author of the project
    (the name, the e-mail address, or the part of it before the @), in any case."""
    wanted = name.strip().lower()
    token = sa.select(t.tokens.c.id).where(sa.func.lower(t.tokens.c.name) == wanted, t.tokens.c.revoked_at.is_(None))
    if conn.execute(token.limit(1)).first() is not None:
        return True
    email = sa.func.lower(t.revisions.c.author_email)
    author = sa.select(t.revisions.c.id).where(
        t.revisions.c.project_id == project_id,
        sa.or_(
            sa.func.lower(t.revisions.c.author) == wanted,
            email == wanted,
            email.startswith(wanted + "@", autoescape=True),
        ),
    )
    return conn.execute(author.limit(1)).first() is not None


def lock_summaries(conn: sa.Connection) -> None:
    """Serialise the placing of alerts into summaries across processes, until the transaction ends.

    Two detection passes must never both see an alert as unplaced. PostgreSQL: a row lock on every
    branch. SQLite: a first write takes the database's single writer lock (the driver opens the
    transaction only at a write, so the reads that follow see every earlier pass committed).
    """
    if conn.dialect.name == "postgresql":
        conn.execute(sa.select(t.branches.c.id).order_by(t.branches.c.id).with_for_update())
    else:
        conn.execute(t.branches.update().values(tip_sha=t.branches.c.tip_sha))


def alert_facts(
    conn: sa.Connection,
    *,
    ids: Sequence[int] | None = None,
    summary_ids: Sequence[int] | None = None,
    unsummarized: bool = False,
) -> list[AlertFacts]:
    """Alerts by id, by summary, or (``unsummarized``) those in no summary yet; ordered by id."""
    culprit = t.revisions.alias("cr")
    a, s = t.alerts, t.series
    query = (
        with_names(
            sa.select(
                a.c.id,
                s.c.project_id,
                s.c.branch_id,
                t.branches.c.name,
                a.c.summary_id,
                a.c.series_id,
                t.benchmarks.c.name,
                t.benchmarks.c.weight,
                s.c.machine_class,
                t.configurations.c.canonical,
                a.c.kind,
                a.c.relative_change,
                a.c.confidence,
                GOOD.c.position,
                BAD.c.position,
                GOOD_REV.c.sha,
                BAD_REV.c.sha,
                culprit.c.sha,
                a.c.culprit_confidence,
                a.c.details,
                a.c.created_at,
                a.c.created_by,
            )
        )
        .outerjoin(culprit, culprit.c.id == a.c.culprit_revision_id)
        .order_by(a.c.id)
    )
    if ids is not None:
        query = query.where(a.c.id.in_(list(ids)))
    if summary_ids is not None:
        query = query.where(a.c.summary_id.in_(list(summary_ids)))
    if unsummarized:  # a candidate still being confirmed joins no summary: nobody sees it yet
        query = query.where(a.c.summary_id.is_(None), SHOWN)
    return [AlertFacts(*list(row)) for row in conn.execute(query)]


def _summary_query() -> sa.Select[Any]:
    s = t.alert_summaries
    return (
        sa.select(
            s.c.id,
            s.c.project_id,
            t.projects.c.name,
            s.c.branch_id,
            t.branches.c.name,
            s.c.state,
            s.c.owner,
            s.c.bug_url,
            s.c.created_at,
            s.c.updated_at,
            s.c.drift,
            s.c.last_good_position,
            s.c.first_bad_position,
            s.c.culprit_sha,
            s.c.upstream_summary_id,
        )
        .join(t.projects, t.projects.c.id == s.c.project_id)
        .join(t.branches, t.branches.c.id == s.c.branch_id)
        .order_by(s.c.id)
    )


def summaries(
    conn: sa.Connection,
    *,
    ids: Sequence[int] | None = None,
    branch_id: int | None = None,
    states: Iterable[str] | None = None,
    project: str | None = None,
    branch: str | None = None,
    benchmark: str | None = None,
    machine: str | None = None,
    upstream_of: int | None = None,
) -> list[SummaryRow]:
    """Summaries, filtered; ``benchmark`` keeps those with an alert whose benchmark name contains it,
    ``machine`` those with an alert on that machine class."""
    s = t.alert_summaries
    query = _summary_query()
    if ids is not None:
        query = query.where(s.c.id.in_(list(ids)))
    if branch_id is not None:
        query = query.where(s.c.branch_id == branch_id)
    if states is not None:
        query = query.where(s.c.state.in_(list(states)))
    if project is not None:
        query = query.where(t.projects.c.name == project)
    if branch is not None:
        query = query.where(t.branches.c.name == branch)
    if upstream_of is not None:
        query = query.where(s.c.upstream_summary_id == upstream_of)
    if benchmark:
        inner = (
            sa.select(t.alerts.c.summary_id)
            .join(t.series, t.series.c.id == t.alerts.c.series_id)
            .join(t.benchmarks, t.benchmarks.c.id == t.series.c.benchmark_id)
            .where(t.benchmarks.c.name.contains(benchmark, autoescape=True))
        )
        query = query.where(s.c.id.in_(inner))
    if machine:
        on_machine = (
            sa.select(t.alerts.c.summary_id)
            .join(t.series, t.series.c.id == t.alerts.c.series_id)
            .where(t.series.c.machine_class == machine)
        )
        query = query.where(s.c.id.in_(on_machine))
    return [SummaryRow(*list(row)) for row in conn.execute(query)]


def insert_summary(
    conn: sa.Connection, *, project_id: int, branch_id: int, drift: bool, last_good: int, first_bad: int, now: datetime
) -> int:
    values = {
        "project_id": project_id,
        "branch_id": branch_id,
        "state": "untriaged",
        "created_at": now,
        "updated_at": now,
        "drift": drift,
        "last_good_position": last_good,
        "first_bad_position": first_bad,
    }
    return int(conn.execute(sa.insert(t.alert_summaries).returning(t.alert_summaries.c.id), values).scalar_one())


def update_summary(conn: sa.Connection, summary_id: int, values: Mapping[str, Any]) -> None:
    """Set columns other than ``state`` (range, culprit, owner, bug link, upstream, updated_at)."""
    if "state" in values:
        raise ValueError("a state changes only through compare_and_set_state")
    conn.execute(sa.update(t.alert_summaries).where(t.alert_summaries.c.id == summary_id).values(**values))


def compare_and_set_state(conn: sa.Connection, summary_id: int, expected: str, new: str, now: datetime) -> bool:
    """Move the summary from ``expected`` to ``new``; False when it is not in ``expected`` (any more)."""
    s = t.alert_summaries
    done = conn.execute(
        sa.update(s).where(s.c.id == summary_id, s.c.state == expected).values(state=new, updated_at=now)
    )
    return done.rowcount == 1


def state_of(conn: sa.Connection, summary_id: int) -> str | None:
    s = t.alert_summaries
    found = conn.execute(sa.select(s.c.state).where(s.c.id == summary_id)).scalar()
    return None if found is None else str(found)


def move_alerts(
    conn: sa.Connection, *, to_summary: int, alert_ids: Sequence[int] = (), from_summary: int | None = None
) -> None:
    """Put ``alert_ids``, or every alert of ``from_summary``, into ``to_summary``."""
    a = t.alerts
    if alert_ids:
        conn.execute(sa.update(a).where(a.c.id.in_(list(alert_ids))).values(summary_id=to_summary))
    if from_summary is not None:
        conn.execute(sa.update(a).where(a.c.summary_id == from_summary).values(summary_id=to_summary))


def repoint_upstream(conn: sa.Connection, old: int, new: int) -> None:
    """Downstream summaries of a summary merged away now point at the one that absorbed it."""
    s = t.alert_summaries
    conn.execute(sa.update(s).where(s.c.upstream_summary_id == old).values(upstream_summary_id=new))


def insert_note(
    conn: sa.Connection,
    summary_id: int,
    *,
    who: str,
    when: datetime,
    kind: str,
    text: str,
    details: Mapping[str, Any] | None = None,
    states: tuple[str, str] | None = None,
) -> int:
    """Append a note. Without ``states`` it records the summary's state as it is when the row is written
    (one ``INSERT ... SELECT``), so a comment never claims a state the summary had already left."""
    n, s = t.notes, t.alert_summaries
    fields = {"summary_id": summary_id, "author": who, "created_at": when, "kind": kind, "text": text}
    fields["details"] = dict(details or {})
    if states is not None:
        values = {**fields, "from_state": states[0], "to_state": states[1]}
        inserted = conn.execute(sa.insert(n).returning(n.c.id), values).scalar()
    else:
        literals = [sa.literal(v, type_=n.c[k].type).label(k) for k, v in fields.items() if k != "summary_id"]
        source = sa.select(s.c.id, *literals, s.c.state, s.c.state).where(s.c.id == summary_id)
        columns = ["summary_id", *(k for k in fields if k != "summary_id"), "from_state", "to_state"]
        inserted = conn.execute(sa.insert(n).from_select(columns, source).returning(n.c.id)).scalar()
    if inserted is None:
        raise LookupError(f"no summary {summary_id}")
    conn.execute(sa.update(s).where(s.c.id == summary_id).values(updated_at=when))
    return int(inserted)


def notes(conn: sa.Connection, summary_id: int) -> list[NoteRow]:
    """The journal of a summary, oldest first."""
    n = t.notes
    query = (
        sa.select(n.c.id, n.c.summary_id, n.c.author, n.c.created_at, n.c.kind)
        .add_columns(n.c.from_state, n.c.to_state, n.c.text, n.c.details)
        .where(n.c.summary_id == summary_id)
        .order_by(n.c.id)
    )
    return [NoteRow(*list(row)) for row in conn.execute(query)]


def set_culprit(conn: sa.Connection, alert_id: int, revision_id: int | None, confidence: float | None) -> None:
    a = t.alerts
    conn.execute(
        sa.update(a).where(a.c.id == alert_id).values(culprit_revision_id=revision_id, culprit_confidence=confidence)
    )


def revision_facts(
    conn: sa.Connection, project_id: int, *, shas: Sequence[str] = (), ids: Sequence[int] = ()
) -> dict[str, RevisionFacts]:
    """sha -> the revision's facts, for full shas or ids of the project's revisions."""
    r = t.revisions
    query = sa.select(r.c.id, r.c.sha, r.c.author, r.c.author_email, r.c.message, r.c.time, r.c.patch_id).where(
        r.c.project_id == project_id, sa.or_(r.c.sha.in_(list(shas)), r.c.id.in_(list(ids)))
    )
    out = {}
    for rid, sha, author, email, message, time, patch_id in conn.execute(query):
        out[sha] = RevisionFacts(int(rid), sha, author, email, message.split("\n", 1)[0], time, patch_id)
    return out


def set_patch_ids(conn: sa.Connection, patch_ids: Mapping[int, str]) -> None:
    """Store computed patch ids by revision id ("" for a commit that has none)."""
    r = t.revisions
    for revision_id, patch_id in patch_ids.items():
        conn.execute(sa.update(r).where(r.c.id == revision_id).values(patch_id=patch_id))


def culprit_summaries(conn: sa.Connection, project_id: int) -> list[tuple[int, int, str]]:
    """(summary id, revision id, sha) of every culprit named in a summary of the project."""
    a, s, r = t.alerts, t.alert_summaries, t.revisions
    query = (
        sa.select(s.c.id, r.c.id, r.c.sha)
        .distinct()
        .join(a, a.c.summary_id == s.c.id)
        .join(r, r.c.id == a.c.culprit_revision_id)
        .where(s.c.project_id == project_id)
        .order_by(s.c.id, r.c.id)
    )
    return [(int(sid), int(rid), sha) for sid, rid, sha in conn.execute(query)]


def landing_times(conn: sa.Connection, branch_id: int, positions: Iterable[int]) -> dict[int, datetime]:
    """Branch position -> the time of the revision there."""
    br, r = t.branch_revisions, t.revisions
    query = (
        sa.select(br.c.position, r.c.time)
        .join(r, r.c.id == br.c.revision_id)
        .where(br.c.branch_id == branch_id, br.c.position.in_(sorted(set(positions))))
    )
    return {int(position): time for position, time in conn.execute(query)}


def shas_at(conn: sa.Connection, branch_id: int, positions: Iterable[int]) -> dict[int, str]:
    """Branch position -> the sha of the revision there."""
    br, r = t.branch_revisions, t.revisions
    query = (
        sa.select(br.c.position, r.c.sha)
        .join(r, r.c.id == br.c.revision_id)
        .where(br.c.branch_id == branch_id, br.c.position.in_(sorted(set(positions))))
    )
    return {int(position): sha for position, sha in conn.execute(query)}


def triaged_step_alerts(
    conn: sa.Connection, states: Sequence[str], *, series_ids: Sequence[str] | None = None
) -> list[tuple[str, str, float, bool]]:
    """(series id, summary state, relative change, made by hand) of every step alert in a summary in one of
    ``states``.

    Drift alerts are left out: they come from another test with its own threshold. Ordered by alert id.
    """
    a, s = t.alerts, t.alert_summaries
    query = (
        sa.select(a.c.series_id, s.c.state, a.c.relative_change, a.c.created_by.is_not(None))
        .join(s, s.c.id == a.c.summary_id)
        .where(a.c.kind != AlertKind.DRIFT.value, s.c.state.in_(list(states)))
        .order_by(a.c.id)
    )
    if series_ids is not None:
        query = query.where(a.c.series_id.in_(list(series_ids)))
    return [
        (str(series_id), str(state), float(change), bool(handmade))
        for series_id, state, change, handmade in conn.execute(query)
    ]

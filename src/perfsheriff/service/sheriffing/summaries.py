"""The read model of triage: summaries with their alerts, one summary in detail, the sheriffs' queues.

The CLI (``perfsheriff alerts --queue``, ``perfsheriff triage``) and the API
(``/api/v1/summaries``) both print what these functions return: plain JSON
objects, so a table and its ``--json`` twin never disagree.

Queues follow :mod:`perfsheriff.triage.queues`: a summary's data is ready (perf
queue) once one of its alerts names a culprit or has been bisected; a drift
summary is ready at once, since drift is never bisected (its window holds many
pushes, and no single commit explains it).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import sqlalchemy as sa

from perfsheriff import alerts
from perfsheriff.alerts import BisectionState
from perfsheriff.errors import NotFoundError
from perfsheriff.service.sheriffing import notifying
from perfsheriff.service.sheriffing.culprits import stored_patch_ids, summary_facts
from perfsheriff.service.sheriffing.triage import to_alert
from perfsheriff.service.views.alert_json import SUMMARY_FIELDS, alert_json
from perfsheriff.store import bisections as bisection_store
from perfsheriff.store import triage as store
from perfsheriff.triage import (
    Bisection,
    Queue,
    QueueEntry,
    alert_severity,
    find_related,
    parse_state,
    queue_of,
    sheriff_queue,
    summary_severity,
)

#: Alert id -> its bisection, for the alerts shown.
Bisected = Mapping[int, alerts.Bisection]


def _iso(moment: Any) -> str:
    return str(moment.isoformat())


def _entry(row: store.SummaryRow, members: Sequence[store.AlertFacts], bisected: Bisected) -> QueueEntry:
    states = {bisected[m.id].state for m in members if m.id in bisected}
    status = Bisection.RUNNING if BisectionState.RUNNING in states else Bisection.NONE
    return QueueEntry(
        row.id,
        parse_state(row.state),
        summary_severity(to_alert(m) for m in members),
        row.created_at,
        Bisection.FINISHED if row.drift or any(s.decided or s is BisectionState.FAILED for s in states) else status,
        culprit_named=any(m.culprit for m in members),
    )


def _alert_json(fact: store.AlertFacts, bisection: alerts.Bisection | None) -> dict[str, Any]:
    """The alert's fields a summary shows (:data:`~perfsheriff.service.views.alert_json.SUMMARY_FIELDS`)."""
    ended = bisection is not None and (bisection.state.decided or bisection.state is BisectionState.FAILED)
    given = {
        "severity": alert_severity(to_alert(fact)),
        "bisection": bisection.state.value if ended and bisection is not None else None,
        "bisection_reason": (bisection.reason or None) if ended and bisection is not None else None,
        "created_at": _iso(fact.created_at),
    }
    return alert_json(fact, fields=SUMMARY_FIELDS, given=given)


def _summary_json(
    conn: sa.Connection,
    row: store.SummaryRow,
    members: Sequence[store.AlertFacts],
    entry: QueueEntry,
    bisected: Bisected,
) -> dict[str, Any]:
    ends = store.shas_at(conn, row.branch_id, [row.last_good_position, row.first_bad_position])
    culprit: dict[str, Any] | None = None
    if row.culprit_sha:
        facts = store.revision_facts(conn, row.project_id, shas=[row.culprit_sha]).get(row.culprit_sha)
        culprit = {"sha": row.culprit_sha}
        if facts is not None:
            culprit |= {"author": facts.author, "author_email": facts.author_email, "subject": facts.subject}
        confidences = [m.culprit_confidence for m in members if m.culprit == row.culprit_sha and m.culprit_confidence]
        culprit["confidence"] = max(confidences, default=None)
    queue = queue_of(entry)
    return {
        "id": row.id,
        "project": row.project,
        "branch": row.branch,
        "state": row.state,
        "queue": queue.value if queue else None,
        "severity": entry.severity,
        "owner": row.owner,
        "bug_url": row.bug_url,
        "drift": row.drift,
        "last_good": ends.get(row.last_good_position),
        "first_bad": ends.get(row.first_bad_position),
        "last_good_position": row.last_good_position,
        "first_bad_position": row.first_bad_position,
        "culprit": culprit,
        "upstream_summary_id": row.upstream_summary_id,
        "created_at": _iso(row.created_at),
        "updated_at": _iso(row.updated_at),
        "alerts": [
            _alert_json(m, bisected.get(m.id)) for m in sorted(members, key=lambda m: -alert_severity(to_alert(m)))
        ],
    }


def _members(conn: sa.Connection, rows: Sequence[store.SummaryRow]) -> dict[int, list[store.AlertFacts]]:
    out: dict[int, list[store.AlertFacts]] = {r.id: [] for r in rows}
    for fact in store.alert_facts(conn, summary_ids=list(out)) if rows else []:
        if fact.summary_id is not None:
            out[fact.summary_id].append(fact)
    return out


def _bisections(conn: sa.Connection, members: Mapping[int, Sequence[store.AlertFacts]]) -> Bisected:
    ids = [m.id for group in members.values() for m in group]
    return bisection_store.load(conn, alert_ids=ids if len(ids) <= 500 else None) if ids else {}


def list_summaries(
    conn: sa.Connection,
    *,
    queue: str | None = None,
    state: str | None = None,
    project: str | None = None,
    branch: str | None = None,
    benchmark: str | None = None,
    machine: str | None = None,
    limit: int | None = None,
) -> list[dict[str, Any]]:
    """Summaries with their alerts: those of a sheriff ``queue`` in its order, or else the newest first."""
    wanted = Queue(queue) if queue else None
    states = [state] if state else None
    rows = store.summaries(conn, states=states, project=project, branch=branch, benchmark=benchmark, machine=machine)
    members = _members(conn, rows)
    bisected = _bisections(conn, members)
    entries = {r.id: _entry(r, members[r.id], bisected) for r in rows}
    if wanted is not None:
        order = [e.summary_id for e in sheriff_queue(entries.values(), wanted)]
    else:
        order = sorted(entries, reverse=True)
    by_id = {r.id: r for r in rows}
    chosen = order[:limit] if limit is not None else order
    return [_summary_json(conn, by_id[i], members[i], entries[i], bisected) for i in chosen]


def queue(
    conn: sa.Connection,
    which: str,
    *,
    project: str | None = None,
    branch: str | None = None,
    benchmark: str | None = None,
    machine: str | None = None,
    limit: int | None = None,
) -> list[dict[str, Any]]:
    """The ``code`` or ``perf`` sheriffs' queue: open summaries, most severe first, then oldest."""
    return list_summaries(
        conn, queue=which, project=project, branch=branch, benchmark=benchmark, machine=machine, limit=limit
    )


def summary_detail(conn: sa.Connection, summary_id: int) -> dict[str, Any]:
    """One summary: its alerts with culprits and confidence, its journal in order, related and downstream ones."""
    found = store.summaries(conn, ids=[summary_id])
    if not found:
        raise NotFoundError(f"no summary {summary_id}: `perfsheriff alerts --queue code` lists open ones").about("id")
    row = found[0]
    members = _members(conn, [row])[row.id]
    bisected = _bisections(conn, {row.id: members})
    detail = _summary_json(conn, row, members, _entry(row, members, bisected), bisected)
    detail["notes"] = [
        {
            "id": n.id,
            "who": n.who,
            "when": _iso(n.when),
            "kind": n.kind,
            "from_state": n.from_state,
            "to_state": n.to_state,
            "text": n.text,
            "details": n.details,
        }
        for n in store.notes(conn, row.id)
    ]
    detail["downstream"] = [s.id for s in store.summaries(conn, upstream_of=row.id)]
    detail["related"] = _related(conn, row)
    detail["notifications"] = notifying.deliveries(conn, row.id)  # what the culprit's author was told, or why not
    return detail


def _related(conn: sa.Connection, row: store.SummaryRow) -> list[dict[str, Any]]:
    """Summaries of the project sharing a benchmark or a culprit with ``row`` that :func:`find_related` keeps.

    Reads patch ids already stored and computes none: a page view runs no git.
    """
    benchmarks = {m.benchmark for m in store.alert_facts(conn, summary_ids=[row.id])}
    pairs = store.culprit_summaries(conn, row.project_id)
    mine = {sha for s, _, sha in pairs if s == row.id}
    sharing = {s for s, _, sha in pairs if sha in mine}
    candidates = [
        other for bench in sorted(benchmarks) for other in store.summaries(conn, project=row.project, benchmark=bench)
    ]
    candidates += store.summaries(conn, ids=sorted(sharing)) if sharing else []
    others = list({c.id: c for c in candidates if c.id != row.id}.values())
    if not others:
        return []
    wanted = {row.id, *(o.id for o in others)}
    patch_ids = stored_patch_ids(conn, row.project_id, {rid for s, rid, _ in pairs if s in wanted})
    facts = summary_facts(conn, [row, *others], pairs, patch_ids)
    related = find_related(facts[row.id], [facts[o.id] for o in others])
    return [
        {"summary_id": r.summary_id, "reasons": [x.value for x in r.reasons], "benchmarks": list(r.benchmarks)}
        for r in related
    ]

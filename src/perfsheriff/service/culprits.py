"""What bisection found, wired into triage: culprits on alerts, rounds in the journal, regrouping, downstream.

The track loop (and ``perfsheriff bisect ALERT``) hands each bisection record
to :func:`record_bisection`. A named culprit is what lets alerts of different
ranges join one summary and what recognises the same change on another branch
(:func:`perfsheriff.triage.find_upstream`), by sha or by ``git patch-id
--stable``, computed here once per commit and stored on the revision.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from perfsheriff.errors import GitError, NotFoundError
from perfsheriff.gitrepo import GitRepo
from perfsheriff.service.triage import (
    SYSTEM,
    apply_grouping,
    describe,
    open_summaries,
    refresh,
    summarize,
    system_transition,
)
from perfsheriff.store import triage as store
from perfsheriff.triage import Culprit, State, SummaryFacts, SuspectRange, find_upstream, group, parse_state
from perfsheriff.triage.states import OPEN_STATES


def record_bisection(
    engine: Engine, alert_id: int, record: Mapping[str, Any], *, repo: GitRepo | None, now: datetime
) -> int:
    """Journal a bisection of ``alert_id`` (``details["bisection"]`` as the track loop stores it) and act on it.

    A named culprit is set on the alert, alerts sharing it are regrouped into
    one summary, and a summary whose every culprit is already a culprit on
    another branch becomes ``downstream`` of that summary. A change that did
    not reproduce makes the summary ``invalid`` when none of its alerts holds up.
    Returns the summary the alert is in afterwards.
    """
    with engine.connect() as conn:
        found = store.alert_facts(conn, ids=[alert_id])
    if not found:
        raise NotFoundError(f"no alert {alert_id}").about("alert_id")
    if found[0].summary_id is None:
        summarize(engine, [alert_id], now)
    with engine.begin() as conn:
        (alert,) = store.alert_facts(conn, ids=[alert_id])
        summary_id = alert.summary_id
        assert summary_id is not None  # summarize() just placed it
        kind = str(record.get("kind"))
        shas = [str(s) for s in record.get("culprits") or []]
        culprit = None
        if kind in ("culprit", "two_culprits") and shas:
            culprit = store.revision_facts(conn, alert.project_id, shas=shas[:1]).get(shas[0])
            store.set_culprit(conn, alert_id, culprit.id if culprit else None, record.get("confidence"))
        text = _bisection_text(conn, alert, record)
        store.insert_note(
            conn, summary_id, who=SYSTEM, when=now, kind="data", text=text, details={"alert": alert_id, **record}
        )
        if culprit is not None:
            _reopen_if_invalidated(conn, summary_id, alert, culprit.sha, now)
            refresh(conn, summary_id, now)
            summary_id = _regroup(conn, alert.project_id, alert.branch_id, summary_id, now)
            mark_downstream(conn, repo, summary_id, now)
        elif kind == "not_reproduced":
            _invalidate(conn, summary_id, alert, str(record.get("reason") or "no step between the two ends"), now)
        refresh(conn, summary_id, now)
    return summary_id


def _bisection_text(conn: sa.Connection, alert: store.AlertFacts, record: Mapping[str, Any]) -> str:
    """What was run, why, and what came out: one line a sheriff in another time zone can act on."""
    why = f"bisection of {describe(alert)} between {alert.last_good[:10]} and {alert.first_bad[:10]}"
    via = record.get("reused_from_alert")
    probes = record.get("probes") or []
    commits = len({p.get("commit") for p in probes})
    size = record.get("range_size")
    ran = (
        f"reused the bisection of alert {via} (same benchmark, same range): no new runs"
        if via
        else f"{record.get('runs_spent', 0)} runs at {commits} of {size} commits"
    )
    kind = str(record.get("kind"))
    confidence = record.get("confidence")
    sure = f", confidence {confidence:.3f}" if isinstance(confidence, float) else ""
    shas = [str(s) for s in record.get("culprits") or []]
    if kind in ("culprit", "two_culprits") and shas:
        facts = store.revision_facts(conn, alert.project_id, shas=shas)
        named = [f'{s[:12]} "{facts[s].subject}" by {facts[s].author}' if s in facts else s[:12] for s in shas]
        outcome = ("culprit " if len(named) == 1 else "culprits ") + ", ".join(named) + sure
    else:
        outcome = f"{kind.replace('_', ' ')}: {record.get('reason') or 'no reason given'}"
    return f"{why}: {ran}; {outcome}"


def _regroup(conn: sa.Connection, project_id: int, branch_id: int, summary_id: int, now: datetime) -> int:
    """Merge open summaries that now name a common culprit; returns the summary ``summary_id`` ended in."""
    originals = open_summaries(conn, branch_id)
    if summary_id not in {s.id for s in originals}:
        return summary_id
    grouping = group(originals, ())
    apply_grouping(conn, grouping, originals, project_id=project_id, branch_id=branch_id, new={}, now=now)
    return grouping.merges.get(summary_id, summary_id)


def _reopen_if_invalidated(
    conn: sa.Connection, summary_id: int, alert: store.AlertFacts, culprit: str, now: datetime
) -> None:
    """A summary perfsheriff itself made ``invalid`` goes back to ``investigating`` once a culprit is named.

    Only perfsheriff's own verdict is undone: a sheriff's ``invalid`` stands.
    """
    (row,) = store.summaries(conn, ids=[summary_id])
    if parse_state(row.state) is not State.INVALID:
        return
    changes = [n for n in store.notes(conn, summary_id) if n.to_state is not None and n.to_state != n.from_state]
    if not changes or changes[-1].who != SYSTEM or changes[-1].to_state != State.INVALID.value:
        return
    text = f"bisection of alert {alert.id} named culprit {culprit[:12]}: reopened"
    system_transition(conn, summary_id, State.INVESTIGATING, text, now=now, details={"alert": alert.id})


def _invalidate(conn: sa.Connection, summary_id: int, alert: store.AlertFacts, reason: str, now: datetime) -> None:
    """``invalid`` when no alert of the summary names a culprit and every bisection of them failed to reproduce."""
    members = store.alert_facts(conn, summary_ids=[summary_id])
    outcomes = {str((m.details.get("bisection") or {}).get("kind")) for m in members if "bisection" in m.details}
    if any(m.culprit for m in members) or outcomes - {"not_reproduced"}:
        return
    text = f"bisection did not reproduce the change of alert {alert.id}: {reason}"
    system_transition(conn, summary_id, State.INVALID, text, now=now, details={"alert": alert.id})


def mark_downstream(conn: sa.Connection, repo: GitRepo | None, summary_id: int, now: datetime) -> int | None:
    """Mark an open summary ``downstream`` when each of its culprits is a culprit on another branch.

    Culprits match by sha or by patch id; patch ids are computed with ``repo``
    the first time they are needed and stored on the revision. Returns the
    upstream summary's id, or None.
    """
    (row,) = store.summaries(conn, ids=[summary_id])
    if parse_state(row.state) not in OPEN_STATES:
        return None
    pairs = store.culprit_summaries(conn, row.project_id)
    others = {s for s, _, _ in pairs if s != summary_id}
    if summary_id not in {s for s, _, _ in pairs} or not others:
        return None
    candidates = [r for r in store.summaries(conn, ids=sorted(others)) if r.branch_id != row.branch_id]
    if not candidates:
        return None
    wanted = {row.id, *(r.id for r in candidates)}
    patch_ids = ensure_patch_ids(conn, repo, row.project_id, {rid for s, rid, _ in pairs if s in wanted})
    facts = summary_facts(conn, [row, *candidates], pairs, patch_ids)
    upstream = find_upstream(facts[row.id], [facts[r.id] for r in candidates])
    if upstream is None:
        return None
    reasons = "; ".join(
        f"culprit {m.culprit[:12]} is {m.original[:12]} of summary {m.summary_id} (same {m.by.value})"
        for m in upstream.matches
    )
    store.update_summary(conn, summary_id, {"upstream_summary_id": upstream.summary_id, "updated_at": now})
    details = {"upstream": upstream.summary_id, "matches": [m.by.value for m in upstream.matches]}
    text = f"downstream of summary {upstream.summary_id}: {reasons}"
    system_transition(conn, summary_id, State.DOWNSTREAM, text, now=now, details=details)
    return upstream.summary_id


def ensure_patch_ids(
    conn: sa.Connection, repo: GitRepo | None, project_id: int, revision_ids: set[int]
) -> dict[int, str | None]:
    """Revision id -> patch id (None for a merge, an empty commit, or one git cannot see); fills the gaps."""
    facts = store.revision_facts(conn, project_id, ids=sorted(revision_ids))
    out: dict[int, str | None] = {}
    computed: dict[int, str] = {}
    for fact in facts.values():
        patch_id = fact.patch_id
        if patch_id is None and repo is not None:
            try:
                patch_id = repo.patch_id(fact.sha) or ""
            except GitError:
                patch_id = None  # not in this clone (yet): match by sha only, try again next time
            if patch_id is not None:
                computed[fact.id] = patch_id
        out[fact.id] = patch_id or None
    store.set_patch_ids(conn, computed)
    return out


def summary_facts(
    conn: sa.Connection,
    rows: Sequence[store.SummaryRow],
    pairs: Sequence[tuple[int, int, str]],
    patch_ids: Mapping[int, str | None],
) -> dict[int, SummaryFacts]:
    """What downstream and related detection need of each summary: range, landing times, benchmarks, culprits."""
    members: dict[int, list[store.AlertFacts]] = {r.id: [] for r in rows}
    for fact in store.alert_facts(conn, summary_ids=list(members)) if rows else []:
        if fact.summary_id is not None:
            members[fact.summary_id].append(fact)
    out = {}
    for row in rows:
        times = store.landing_times(conn, row.branch_id, [row.last_good_position, row.first_bad_position])
        start = times.get(row.last_good_position, row.created_at)
        end = times.get(row.first_bad_position, row.created_at)
        culprits = tuple(Culprit(sha, patch_ids.get(rid)) for s, rid, sha in pairs if s == row.id)
        out[row.id] = SummaryFacts(
            row.id,
            row.branch,
            SuspectRange(row.last_good_position, row.first_bad_position),
            (min(start, end), max(start, end)),
            frozenset(m.benchmark for m in members[row.id]),
            frozenset(m.machine_class for m in members[row.id]),
            culprits,
            row.upstream_summary_id,
        )
    return out

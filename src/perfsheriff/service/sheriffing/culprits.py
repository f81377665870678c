"""What bisection found, wired into triage: culprits on alerts, rounds in the journal, regrouping, downstream.

The track loop (and ``perfsheriff bisect ALERT``) hands each decided
:class:`~perfsheriff.alerts.Bisection` to :func:`record_bisection`. A named culprit is what lets alerts of different
ranges join one summary and what recognises the same change on another branch
(:func:`perfsheriff.triage.find_upstream`), by sha or by ``git patch-id
--stable``, computed here once per commit and stored on the revision.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from perfsheriff.alerts import Bisection, BisectionState
from perfsheriff.errors import GitError, NotFoundError
from perfsheriff.gitrepo import GitRepo
from perfsheriff.service.sheriffing.triage import (
    SYSTEM,
    apply_grouping,
    describe,
    open_summaries,
    refresh,
    summarize,
    system_transition,
)
from perfsheriff.service.views.alert_json import bisection_json
from perfsheriff.store import bisections as bisection_store
from perfsheriff.store import triage as store
from perfsheriff.triage import Culprit, State, SummaryFacts, SuspectRange, find_upstream, group, parse_state
from perfsheriff.triage.states import OPEN_STATES


def record_bisection(engine: Engine, bisection: Bisection, *, repo: GitRepo | None, now: datetime) -> int:
    """Journal the decided ``bisection`` of its alert (stored by the track loop already) and act on it.

    A named culprit is set on the alert, alerts sharing it are regrouped into
    one summary, and a summary whose every culprit is already a culprit on
    another branch becomes ``downstream`` of that summary. A change that did
    not reproduce makes the summary ``invalid`` when none of its alerts holds up.
    Returns the summary the alert is in afterwards. Git (patch ids) runs first,
    outside the transaction that writes all this.
    """
    alert_id = bisection.alert_id
    with engine.connect() as conn:
        found = store.alert_facts(conn, ids=[alert_id])
    if not found:
        raise NotFoundError(f"no alert {alert_id}").about("alert_id")
    if found[0].summary_id is None:
        summarize(engine, [alert_id], now)
    if bisection.culprit is not None and repo is not None:
        store_patch_ids(engine, repo, found[0].project_id, [bisection.culprit])
    with engine.begin() as conn:
        (alert,) = store.alert_facts(conn, ids=[alert_id])
        summary_id = alert.summary_id
        assert summary_id is not None  # summarize() just placed it
        culprit = None
        if bisection.culprit is not None:
            culprit = store.revision_facts(conn, alert.project_id, shas=[bisection.culprit]).get(bisection.culprit)
            store.set_culprit(conn, alert_id, culprit.id if culprit else None, bisection.confidence)
        text = _bisection_text(conn, alert, bisection)
        details = {"alert": alert_id, **bisection_json(bisection)}
        store.insert_note(conn, summary_id, who=SYSTEM, when=now, kind="data", text=text, details=details)
        if culprit is not None:
            _reopen_if_invalidated(conn, summary_id, alert, culprit.sha, now)
            refresh(conn, summary_id, now)
            summary_id = _regroup(conn, alert.project_id, alert.branch_id, summary_id, now)
            mark_downstream(conn, summary_id, now)
        elif bisection.state is BisectionState.NOT_REPRODUCED:
            _invalidate(conn, summary_id, alert, bisection.reason or "no step between the two ends", now)
        refresh(conn, summary_id, now)
    return summary_id


def _bisection_text(conn: sa.Connection, alert: store.AlertFacts, bisection: Bisection) -> str:
    """What was run, why, and what came out: one line a sheriff in another time zone can act on."""
    why = f"bisection of {describe(alert)} between {alert.last_good[:10]} and {alert.first_bad[:10]}"
    via = bisection.reused_from
    commits = len({p.commit for p in bisection.probes})
    ran = (
        f"reused the bisection of alert {via} (same benchmark, same range): no new runs"
        if via
        else f"{bisection.runs_spent} runs at {commits} of {bisection.range_size} commits"
    )
    confidence = bisection.confidence
    sure = f", confidence {confidence:.3f}" if isinstance(confidence, float) else ""
    shas = list(bisection.culprits)
    if bisection.state.names_culprit and shas:
        facts = store.revision_facts(conn, alert.project_id, shas=shas)
        named = [f'{s[:12]} "{facts[s].subject}" by {facts[s].author}' if s in facts else s[:12] for s in shas]
        outcome = ("culprit " if len(named) == 1 else "culprits ") + ", ".join(named) + sure
    else:
        outcome = f"{bisection.state.value.replace('_', ' ')}: {bisection.reason or 'no reason given'}"
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
    found = bisection_store.load(conn, alert_ids=[m.id for m in members])
    outcomes = {b.state for b in found.values() if b.state.decided}
    if any(m.culprit for m in members) or outcomes - {BisectionState.NOT_REPRODUCED}:
        return
    text = f"bisection did not reproduce the change of alert {alert.id}: {reason}"
    system_transition(conn, summary_id, State.INVALID, text, now=now, details={"alert": alert.id})


def mark_downstream(conn: sa.Connection, summary_id: int, now: datetime) -> int | None:
    """Mark an open summary ``downstream`` when each of its culprits is a culprit on another branch.

    Culprits match by sha or by patch id, as stored on the revisions (:func:`store_patch_ids` computes
    them before the transaction). Returns the upstream summary's id, or None.
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
    patch_ids = stored_patch_ids(conn, row.project_id, {rid for s, rid, _ in pairs if s in wanted})
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


def store_patch_ids(engine: Engine, repo: GitRepo, project_id: int, shas: Sequence[str]) -> None:
    """Compute with git the patch ids that the project's culprits and ``shas`` lack, and store them.

    Git runs between two short transactions, never inside one. A merge or an empty commit stores ``""``;
    a commit git cannot see (not in this clone yet) stays unset, to be tried again next time.
    """
    with engine.connect() as conn:
        wanted = {rid for _, rid, _ in store.culprit_summaries(conn, project_id)}
        wanted |= {f.id for f in store.revision_facts(conn, project_id, shas=list(shas)).values()}
        missing = [f for f in store.revision_facts(conn, project_id, ids=sorted(wanted)).values() if f.patch_id is None]
    computed: dict[int, str] = {}
    for fact in missing:
        try:
            computed[fact.id] = repo.patch_id(fact.sha) or ""
        except GitError:
            continue
    if computed:
        with engine.begin() as conn:
            store.set_patch_ids(conn, computed)


def stored_patch_ids(conn: sa.Connection, project_id: int, revision_ids: set[int]) -> dict[int, str | None]:
    """Revision id -> patch id as stored (None for a merge, an empty commit, or one not computed yet)."""
    facts = store.revision_facts(conn, project_id, ids=sorted(revision_ids))
    return {fact.id: fact.patch_id or None for fact in facts.values()}


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

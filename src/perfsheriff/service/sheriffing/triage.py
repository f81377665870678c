"""Triage workflows: alerts into summaries, bisection results into the journal, sheriffs' decisions.

The rules come from ``perfsheriff.triage`` (grouping, the state table, downstream
detection); this module loads what they need, calls them, and stores what they
return, each workflow in one transaction. Automatic actions are journaled as
the user ``perfsheriff``; every change of state is a compare-and-set on the
summary's row plus a transition note, so two sheriffs acting at once cannot
both win (the second gets a :class:`~perfsheriff.errors.ConflictError`).

What bisection found is wired in by :mod:`perfsheriff.service.sheriffing.culprits`; the
read side (one summary in detail, the queues) is :mod:`perfsheriff.service.sheriffing.summaries`.

Why one module of about 480 lines: grouping, the system's transitions and the sheriffs' actions all
write through the same few steps (``_current``, ``_conflict``, ``_write``, the sensitivity journal), which
would otherwise be shared across modules as half-private helpers.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from perfsheriff.errors import ConflictError, InputError, NotFoundError
from perfsheriff.model import storable_text
from perfsheriff.service.sheriffing import sensitivity
from perfsheriff.store import triage as store
from perfsheriff.triage import (
    TRANSITIONS,
    Alert,
    AlertKind,
    Grouping,
    InvalidTransition,
    Note,
    NoteKind,
    OpenSummary,
    State,
    SuspectRange,
    group,
    parse_state,
)
from perfsheriff.triage.sensitivity import Sensitivity
from perfsheriff.triage.states import OPEN_STATES

#: The author of the notes perfsheriff writes itself (grouping, bisection rounds, downstream marks).
SYSTEM = "perfsheriff"
_OPEN = sorted(s.value for s in OPEN_STATES)


@dataclass(frozen=True, slots=True)
class Summarized:
    """What :func:`summarize` did: summaries created, alerts joining existing ones, summaries merged away."""

    created: tuple[int, ...] = ()
    joins: Mapping[int, int] = field(default_factory=dict)
    merges: Mapping[int, int] = field(default_factory=dict)


def to_alert(fact: store.AlertFacts) -> Alert:
    """The pure core's view of a stored alert."""
    suspect = SuspectRange(fact.last_good_position, fact.first_bad_position)
    confidence = min(max(fact.confidence, 0.0), 1.0)
    return Alert(
        fact.id,
        fact.branch,
        fact.benchmark,
        fact.machine_class,
        fact.configuration,
        suspect,
        AlertKind(fact.kind),
        fact.relative_change,
        confidence,
        weight=fact.weight,
        culprit=fact.culprit,
    )


def describe(fact: store.AlertFacts) -> str:
    """``alert 7 (regression of parse on linux (python=3.12): +12.0%)``: how notes name an alert."""
    return f"alert {fact.id} ({fact.kind} of {describe_series(fact)}: {fact.relative_change:+.1%})"


def describe_series(fact: store.AlertFacts) -> str:
    """``parse on linux (python=3.12)``: how notes name an alert's series."""
    return f"{fact.benchmark} on {fact.machine_class}" + (f" ({fact.configuration})" if fact.configuration else "")


# -- grouping ------------------------------------------------------------------------------------------------------


def summarize(engine: Engine, alert_ids: Sequence[int] | None, now: datetime) -> Summarized:
    """Put alerts that are in no summary yet into summaries: ``alert_ids``, or (``None``) every such alert.

    Alerts join the open summaries (untriaged, investigating) of their branch
    that they overlap, connect and merge them, or form new ``untriaged``
    summaries, exactly as :func:`perfsheriff.triage.group` says.
    """
    if alert_ids is not None and not alert_ids:
        return Summarized()
    with engine.begin() as conn:
        return place(conn, alert_ids, now)


@dataclass(frozen=True, slots=True)
class Origin:
    """Who placed new alerts in summaries, as the journal says it: detection (perfsheriff), or a sheriff who
    made an alert by hand, with their note."""

    who: str = SYSTEM
    created: str = "created by detection"
    added: str = "detection added"
    note: str = ""

    def says(self, text: str) -> str:
        return f"{text}: {self.note}" if self.note.strip() else text


DETECTION = Origin()


def by_hand(who: str, note: str) -> Origin:
    """The origin of an alert a sheriff made by hand: the journal names them and gives their note."""
    return Origin(who, "created by hand", "added by hand", note)


def place(
    conn: sa.Connection, alert_ids: Sequence[int] | None, now: datetime, origin: Origin = DETECTION
) -> Summarized:
    """:func:`summarize` inside the caller's transaction (``origin``: who the journal says placed them)."""
    created: list[int] = []
    joins: dict[int, int] = {}
    merges: dict[int, int] = {}
    store.lock_summaries(conn)
    lanes: dict[tuple[int, int], list[store.AlertFacts]] = {}
    for fact in store.alert_facts(conn, ids=alert_ids, unsummarized=True):
        lanes.setdefault((fact.project_id, fact.branch_id), []).append(fact)
    for (project_id, branch_id), facts in sorted(lanes.items()):
        originals = open_summaries(conn, branch_id)
        grouping = group(originals, [to_alert(f) for f in facts])
        new = {f.id: f for f in facts}
        made = apply_grouping(
            conn, grouping, originals, project_id=project_id, branch_id=branch_id, new=new, now=now, origin=origin
        )
        created += made
        joins.update(grouping.joins)
        joins.update({a: sid for sid, n in zip(made, grouping.created, strict=True) for a in n.alert_ids})
        merges.update(grouping.merges)
    return Summarized(tuple(created), joins, merges)


def open_summaries(conn: sa.Connection, branch_id: int) -> list[OpenSummary]:
    """The summaries of a branch that alerts may still join, with their alerts' culprits."""
    rows = store.summaries(conn, branch_id=branch_id, states=_OPEN)
    culprits: dict[int, set[str]] = {r.id: set() for r in rows}
    for fact in store.alert_facts(conn, summary_ids=list(culprits)) if rows else []:
        if fact.culprit and fact.summary_id is not None:
            culprits[fact.summary_id].add(fact.culprit)
    return [
        OpenSummary(
            r.id, r.branch, SuspectRange(r.last_good_position, r.first_bad_position), frozenset(culprits[r.id]), r.drift
        )
        for r in rows
    ]


def apply_grouping(
    conn: sa.Connection,
    grouping: Grouping,
    originals: Sequence[OpenSummary],
    *,
    project_id: int,
    branch_id: int,
    new: Mapping[int, store.AlertFacts],
    now: datetime,
    origin: Origin = DETECTION,
) -> list[int]:
    """Store a grouping: merges first (the oldest summary absorbs), then joins, then new summaries."""
    before = {s.id: s for s in originals}
    after = {s.id: s for s in grouping.updated}
    for absorbed, survivor in grouping.merges.items():
        common = before[absorbed].culprits & after.get(survivor, before[survivor]).culprits
        why = f"both name culprit {min(common)[:12]}" if common else "their suspect ranges overlap"
        _merge(conn, absorbed, survivor, why, now)
    joined: dict[int, list[int]] = {}
    for alert_id, summary_id in grouping.joins.items():
        joined.setdefault(summary_id, []).append(alert_id)
    for summary_id, ids in joined.items():
        store.move_alerts(conn, to_summary=summary_id, alert_ids=ids)
        text = origin.says(f"{origin.added} " + "; ".join(describe(new[i]) for i in ids))
        store.insert_note(conn, summary_id, who=origin.who, when=now, kind="data", text=text, details={"alerts": ids})
    created = []
    for made in grouping.created:
        suspect = made.suspect
        summary_id = store.insert_summary(
            conn,
            project_id=project_id,
            branch_id=branch_id,
            drift=made.drift,
            last_good=suspect.last_good,
            first_bad=suspect.first_bad,
            now=now,
        )
        store.move_alerts(conn, to_summary=summary_id, alert_ids=made.alert_ids)
        text = origin.says(f"{origin.created}: " + "; ".join(describe(new[i]) for i in made.alert_ids))
        details = {"alerts": list(made.alert_ids)}
        store.insert_note(conn, summary_id, who=origin.who, when=now, kind="data", text=text, details=details)
        created.append(summary_id)
    for summary_id in {*grouping.merges.values(), *joined, *after, *created}:
        refresh(conn, summary_id, now)
    return created


def _merge(conn: sa.Connection, absorbed: int, survivor: int, why: str, now: datetime) -> None:
    """Move every alert of ``absorbed`` into ``survivor``; ``absorbed`` keeps its journal and is ``reassigned``."""
    moved = [f.id for f in store.alert_facts(conn, summary_ids=[absorbed])]
    store.move_alerts(conn, to_summary=survivor, from_summary=absorbed)
    store.repoint_upstream(conn, absorbed, survivor)
    listed = ", ".join(map(str, moved)) or "none"
    details = {"merged": absorbed, "into": survivor, "alerts": moved}
    text = f"absorbed summary {absorbed} (alerts {listed}): {why}"
    store.insert_note(conn, survivor, who=SYSTEM, when=now, kind="reassign", text=text, details=details)
    text = f"merged into summary {survivor}: {why}"
    system_transition(conn, absorbed, State.REASSIGNED, text, now=now, details=details)


def refresh(conn: sa.Connection, summary_id: int, now: datetime) -> None:
    """Recompute a summary's range (the hull of its alerts') and main culprit after its alerts changed."""
    members = store.alert_facts(conn, summary_ids=[summary_id])
    if not members:
        return  # a summary whose alerts all moved away keeps its last range, for its journal's sake
    values = {
        "last_good_position": min(m.last_good_position for m in members),
        "first_bad_position": max(m.first_bad_position for m in members),
        "culprit_sha": main_culprit(members),
        "updated_at": now,
    }
    store.update_summary(conn, summary_id, values)


def main_culprit(members: Sequence[store.AlertFacts]) -> str | None:
    """The culprit most alerts name (ties: the more confident, then the smaller sha); None if none does."""
    named = [m for m in members if m.culprit]
    if not named:
        return None
    votes = Counter(m.culprit for m in named)
    best = {sha: max(m.culprit_confidence or 0.0 for m in named if m.culprit == sha) for sha in votes}
    return min(votes, key=lambda sha: (-votes[sha], -best[sha], sha))


def system_transition(
    conn: sa.Connection,
    summary_id: int,
    to: State,
    text: str,
    *,
    now: datetime,
    details: Mapping[str, Any] | None = None,
    who: str = SYSTEM,
) -> bool:
    """Move a summary as part of a larger workflow; False (and nothing done) when the rules forbid it."""
    current = _current(conn, summary_id)
    if to not in TRANSITIONS[current]:
        return False
    note = Note(who, now, current, to, text)
    before = _sensitivity_before(conn, summary_id)
    if not store.compare_and_set_state(conn, summary_id, current.value, to.value, now):
        raise _conflict(conn, summary_id, current)
    _write(conn, summary_id, note, details)
    journal_sensitivity(conn, summary_id, before, now)
    return True


def _current(conn: sa.Connection, summary_id: int) -> State:
    state = store.state_of(conn, summary_id)
    if state is None:
        raise NotFoundError(f"no summary {summary_id}: `perfsheriff alerts --queue code` lists open ones").about("id")
    return parse_state(state)


def _conflict(conn: sa.Connection, summary_id: int, expected: State) -> ConflictError:
    now_state = store.state_of(conn, summary_id)
    return ConflictError(
        f"summary {summary_id} is {now_state} now, not {expected.value}: someone changed it meanwhile"
    ).about("from_state")


def _write(conn: sa.Connection, summary_id: int, note: Note, details: Mapping[str, Any] | None = None) -> int:
    states = (note.from_state.value, note.to_state.value) if note.kind is NoteKind.TRANSITION else None
    return store.insert_note(
        conn,
        summary_id,
        who=note.who,
        when=note.when,
        kind=note.kind.value,
        text=note.text,
        details=details,
        states=states,
    )


def _sensitivity_before(conn: sa.Connection, summary_id: int) -> tuple[dict[str, Sensitivity], dict[str, str]]:
    """The learnt sensitivity of the summary's step series before a change of state, and their labels."""
    return sensitivity_of(conn, store.alert_facts(conn, summary_ids=[summary_id]))


def sensitivity_of(
    conn: sa.Connection, facts: Sequence[store.AlertFacts]
) -> tuple[dict[str, Sensitivity], dict[str, str]]:
    """The learnt sensitivity of the series of these alerts (drift ones left out), and their labels."""
    labels = {f.series_id: describe_series(f) for f in facts if f.kind != AlertKind.DRIFT.value}
    known = sensitivity.learnt(conn, sorted(labels))
    return {series_id: known.get(series_id, Sensitivity()) for series_id in labels}, labels


def journal_sensitivity(
    conn: sa.Connection, summary_id: int, before: tuple[dict[str, Sensitivity], dict[str, str]], now: datetime
) -> None:
    """A note, by perfsheriff, naming each series whose sensitivity the change of state (or a new hand-made alert)
    moved since ``before`` (none: no note)."""
    found = sensitivity.changes(conn, *before)
    if found is not None:
        text, details = found
        _write(conn, summary_id, _validated(SYSTEM, now, text, NoteKind.COMMENT), details)


# -- sheriffs' actions ---------------------------------------------------------------------------------------------


#: What a sheriff may write, through the API or the dashboard alike.
MAX_NOTE_CHARS = 10_000
MAX_OWNER_CHARS = 200
MAX_BUG_URL_CHARS = 2000


def check_text(value: str | None, limit: int, field: str) -> None:
    """A sheriff's text fits the database: no NUL or lone surrogate, at most ``limit`` characters."""
    if value is None:
        return
    if not storable_text(value):
        raise InputError("must not contain NUL characters or lone surrogates", where=field).about(field)
    if len(value) > limit:
        raise InputError(f"at most {limit:,} characters, got {len(value):,}", where=field).about(field)


def _check_sheriff_input(text: str | None, owner: str | None = None, bug_url: str | None = None) -> None:
    check_text(text, MAX_NOTE_CHARS, "text")
    check_text(owner, MAX_OWNER_CHARS, "owner")
    check_text(bug_url, MAX_BUG_URL_CHARS, "bug_url")


def transition(
    engine: Engine,
    summary_id: int,
    to_state: str,
    *,
    who: str,
    text: str = "",
    owner: str | None = None,
    bug_url: str | None = None,
    from_state: str | None = None,
    now: datetime,
) -> State:
    """Move a summary to ``to_state`` as ``who`` says, with a note; owner and bug link changes are journaled too.

    ``from_state`` is the state the sheriff saw (default: the state it is in
    now); if the summary has left it, nothing changes and a ConflictError says
    so. A move the rules forbid is an :class:`~perfsheriff.triage.InvalidTransition`
    naming the allowed targets.
    """
    _check_sheriff_input(text, owner, bug_url)
    target = parse_state(to_state)
    with engine.begin() as conn:
        current = _current(conn, summary_id)
        expected = parse_state(from_state) if from_state else current
        if expected != current:
            raise _conflict(conn, summary_id, expected)
        if target not in TRANSITIONS[current]:
            raise InvalidTransition(current, target)
        note = Note(who, now, current, target, text)
        before = _sensitivity_before(conn, summary_id)
        if not store.compare_and_set_state(conn, summary_id, current.value, target.value, now):
            raise _conflict(conn, summary_id, current)
        _write(conn, summary_id, note)
        _owner_and_bug(conn, summary_id, who=who, owner=owner, bug_url=bug_url, now=now)
        journal_sensitivity(conn, summary_id, before, now)
    return target


def assign(
    engine: Engine, summary_id: int, *, who: str, owner: str | None = None, bug_url: str | None = None, now: datetime
) -> None:
    """Set a summary's owner and/or bug link without changing its state ("" clears one); journaled."""
    _check_sheriff_input(None, owner, bug_url)
    with engine.begin() as conn:
        _current(conn, summary_id)
        _owner_and_bug(conn, summary_id, who=who, owner=owner, bug_url=bug_url, now=now)


def _owner_and_bug(
    conn: sa.Connection, summary_id: int, *, who: str, owner: str | None, bug_url: str | None, now: datetime
) -> None:
    (row,) = store.summaries(conn, ids=[summary_id])
    if bug_url and not bug_url.startswith(("https://", "http://")):
        raise InputError(f"a bug link must be an http(s) URL, got {bug_url!r}", where="bug_url")
    if owner and owner.strip() and not store.is_known_user(conn, row.project_id, owner):
        raise InputError(
            f"unknown user {owner.strip()!r}: an owner is a commit author of the project (name, e-mail, "
            "or the part before the @) or the name of a token",
            where="owner",
        ).about("owner")
    for column, old, new in (("owner", row.owner, owner), ("bug_url", row.bug_url, bug_url)):
        if new is None or (new.strip() or None) == old:
            continue
        value = new.strip() or None
        store.update_summary(conn, summary_id, {column: value, "updated_at": now})
        label = "owner" if column == "owner" else "bug link"
        text = f"{label} set to {value}" if value else f"{label} cleared"
        add = _validated(who, now, text + (f" (was {old})" if old else ""), NoteKind.COMMENT)
        _write(conn, summary_id, add, {column: value, "was": old})


def _validated(who: str, now: datetime, text: str, kind: NoteKind) -> Note:
    """A note that keeps the state, checked by the core's rules (who, time, text); its state is filled on write."""
    return Note(who, now, State.UNTRIAGED, State.UNTRIAGED, text, kind)


def add_note(engine: Engine, summary_id: int, *, who: str, text: str, now: datetime) -> int:
    """Append a comment to a summary's journal (a hand-over, a finding); returns the note's id."""
    _check_sheriff_input(text)
    note = _validated(who, now, text, NoteKind.COMMENT)
    with engine.begin() as conn:
        _current(conn, summary_id)
        return _write(conn, summary_id, note)


def reassign_alert(engine: Engine, alert_id: int, summary_id: int, *, who: str, text: str = "", now: datetime) -> None:
    """Move an alert to another summary of its branch, journaled on both; an emptied open summary is ``reassigned``."""
    _check_sheriff_input(text)
    with engine.begin() as conn:
        found = store.alert_facts(conn, ids=[alert_id])
        if not found:
            raise NotFoundError(f"no alert {alert_id}").about("alert_id")
        alert = found[0]
        _current(conn, summary_id)
        (target,) = store.summaries(conn, ids=[summary_id])
        if target.branch_id != alert.branch_id:
            raise InputError(
                f"alert {alert_id} is on branch {alert.branch!r} and summary {summary_id} on {target.branch!r}: "
                "a summary holds alerts of one branch",
                where="summary_id",
            )
        if alert.summary_id == summary_id:
            raise InputError(f"alert {alert_id} is in summary {summary_id} already", where="summary_id")
        reason = f": {text}" if text.strip() else ""
        source = alert.summary_id
        before = sensitivity_of(conn, [alert])
        store.move_alerts(conn, to_summary=summary_id, alert_ids=[alert_id])
        came = f"{describe(alert)} moved here" + (f" from summary {source}" if source else "") + reason
        details = {"alert": alert_id, "from": source, "to": summary_id}
        _write(conn, summary_id, _validated(who, now, came, NoteKind.REASSIGN), details)
        journal_sensitivity(conn, summary_id, before, now)  # the alert now counts with this summary's state
        refresh(conn, summary_id, now)
        if source is None:
            return
        _write(
            conn,
            source,
            _validated(who, now, f"{describe(alert)} moved to summary {summary_id}{reason}", NoteKind.REASSIGN),
            details,
        )
        refresh(conn, source, now)
        if not store.alert_facts(conn, summary_ids=[source]):
            emptied = "all its alerts moved to other summaries"
            system_transition(conn, source, State.REASSIGNED, emptied, now=now, details=details, who=who)

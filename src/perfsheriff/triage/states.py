"""The triage states of a summary, the transitions allowed between them, and the journal of notes.

States come in three tiers::

    open        untriaged, investigating          nobody has decided yet
    decided     acknowledged, invalid, wontfix,   a sheriff made a call
                downstream, reassigned
    resolved    fixed, backedout                  an acknowledged change went away

The rules, each for a reason:

- ``untriaged`` may go to ``investigating`` or straight to a decision: a sheriff
  who recognises a duplicate or noise at a glance should not pass through a
  pointless step (Perfherder lets code sheriffs mark downstream at once).
- ``untriaged`` is never re-entered: once someone has looked, the journal says so.
- ``investigating`` goes to any decision.
- A decision may be replaced by another (``acknowledged`` -> ``invalid`` when it
  turns out to be noise); the note says why.
- Only ``acknowledged`` resolves, to ``fixed`` or ``backedout``: a change must be
  accepted as real before its going away means anything.
- Every decided or resolved state may reopen to ``investigating`` (new data
  contradicts the call, a fix did not hold). Correcting a resolution goes the same way.

Every change of state is a :class:`Note` (who, when, from, to, text) appended
to the summary's journal; comments and rounds of data collection (what ran,
why, the outcome) are notes that keep the state. The journal is an immutable
tuple: appending returns a new one, and a note must start from the state the
journal ends in, so two sheriffs acting on the same summary cannot both win.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Self

from perfsheriff.errors import InputError


class State(enum.StrEnum):
    UNTRIAGED = "untriaged"
    INVESTIGATING = "investigating"
    ACKNOWLEDGED = "acknowledged"
    INVALID = "invalid"
    WONTFIX = "wontfix"
    DOWNSTREAM = "downstream"
    REASSIGNED = "reassigned"
    FIXED = "fixed"
    BACKEDOUT = "backedout"


OPEN_STATES = frozenset({State.UNTRIAGED, State.INVESTIGATING})
DECISIONS = frozenset({State.ACKNOWLEDGED, State.INVALID, State.WONTFIX, State.DOWNSTREAM, State.REASSIGNED})
RESOLUTIONS = frozenset({State.FIXED, State.BACKEDOUT})


def _allowed() -> dict[State, frozenset[State]]:
    allowed = {State.UNTRIAGED: DECISIONS | {State.INVESTIGATING}, State.INVESTIGATING: DECISIONS}
    for decision in DECISIONS:
        allowed[decision] = (DECISIONS - {decision}) | {State.INVESTIGATING}
    allowed[State.ACKNOWLEDGED] |= RESOLUTIONS
    for resolution in RESOLUTIONS:
        allowed[resolution] = frozenset({State.INVESTIGATING})
    return allowed


#: State -> the states it may move to (``docs/triage.md`` shows it as a table; a test keeps the two equal).
TRANSITIONS: Mapping[State, frozenset[State]] = _allowed()


def allowed_targets(state: State) -> frozenset[State]:
    """The states ``state`` may move to."""
    return TRANSITIONS[parse_state(state)]


class InvalidTransition(InputError):
    """A state change the rules forbid; names the states it came from and went to, and what is allowed."""

    def __init__(self, from_state: State, to_state: State, *, source: str | None = None) -> None:
        self.from_state = State(from_state)
        self.to_state = State(to_state)
        self.allowed = allowed_targets(self.from_state)
        targets = ", ".join(sorted(self.allowed))
        message = f"cannot move a summary from {from_state} to {to_state}; from {from_state} it may go to {targets}"
        super().__init__(message, source=source, where="state")

    def located(self, source: str) -> Self:
        return type(self)(self.from_state, self.to_state, source=source)


class NoteKind(enum.StrEnum):
    TRANSITION = "transition"  # the state changed
    COMMENT = "comment"  # a remark, a hand-over, an owner or bug link set
    DATA = "data"  # a round of data collection: what ran, why, the outcome
    REASSIGN = "reassign"  # alerts moved between summaries (by a sheriff, or merged by grouping)


@dataclass(frozen=True, slots=True)
class Note:
    """One entry of a summary's journal. A transition changes the state; other notes keep it."""

    who: str
    when: datetime
    from_state: State
    to_state: State
    text: str
    kind: NoteKind = NoteKind.TRANSITION

    def __post_init__(self) -> None:
        object.__setattr__(self, "from_state", parse_state(self.from_state))
        object.__setattr__(self, "to_state", parse_state(self.to_state))
        object.__setattr__(self, "kind", NoteKind(self.kind))
        if not self.who.strip():
            raise InputError("a note needs an author", where="who")
        if self.when.tzinfo is None:
            raise InputError("a note's time must be timezone-aware", where="when")
        if (self.kind is NoteKind.TRANSITION) == (self.from_state == self.to_state):
            raise InputError("a transition note changes the state; any other note keeps it", where="to_state")
        if self.kind is not NoteKind.TRANSITION and not self.text.strip():
            raise InputError(f"a {self.kind} note needs text", where="text")


Journal = tuple[Note, ...]


def current_state(journal: Journal) -> State:
    """The state the journal ends in: ``untriaged`` for a summary nobody has touched."""
    return journal[-1].to_state if journal else State.UNTRIAGED


def append(journal: Journal, note: Note) -> Journal:
    """Return the journal with ``note`` added; the note must start from the journal's current state.

    Transitions are checked against :data:`TRANSITIONS`, so a journal built
    only by ``append`` walks allowed edges from ``untriaged``.
    """
    state = current_state(journal)
    if note.from_state != state:
        raise InputError(
            f"the summary is {state} now, not {note.from_state}: someone changed it meanwhile", where="state"
        )
    if note.kind is NoteKind.TRANSITION and note.to_state not in TRANSITIONS[state]:
        raise InvalidTransition(state, note.to_state)
    return (*journal, note)


def transition(journal: Journal, to: State, *, who: str, when: datetime, text: str = "") -> Journal:
    """Move the summary to ``to``, recording who did it, when and why."""
    state = current_state(journal)
    target = parse_state(to)
    if target not in TRANSITIONS[state]:
        raise InvalidTransition(state, target)
    return append(journal, Note(who, when, state, target, text))


def comment(journal: Journal, *, who: str, when: datetime, text: str, kind: NoteKind = NoteKind.COMMENT) -> Journal:
    """Add a note that keeps the state: a comment, or (``kind=DATA``) a round of data collection."""
    if kind is NoteKind.TRANSITION:
        raise InputError("use transition() to change the state", where="kind")
    state = current_state(journal)
    return append(journal, Note(who, when, state, state, text, kind))


def parse_state(value: str) -> State:
    """The state named ``value``; an unknown name is an input error listing the known ones."""
    try:
        return State(value)
    except ValueError:
        known = ", ".join(s.value for s in State)
        raise InputError(f"unknown state {value!r}; expected one of {known}", where="state") from None

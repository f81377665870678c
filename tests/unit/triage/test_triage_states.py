"""The triage state machine: allowed edges only, a note per change, an append-only journal."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from perfsheriff.errors import InputError, PerfsheriffError
from perfsheriff.triage import (
    TRANSITIONS,
    InvalidTransition,
    Journal,
    Note,
    NoteKind,
    State,
    allowed_targets,
    append,
    comment,
    current_state,
    transition,
)

DOCS = Path(__file__).resolve().parents[3] / "docs" / "triage.md"
T0 = datetime(2024, 5, 1, 9, 0, tzinfo=UTC)


def walk(*states: State) -> Journal:
    journal: Journal = ()
    for i, state in enumerate(states):
        journal = transition(journal, state, who="ada", when=T0 + timedelta(minutes=i), text=f"step {i}")
    return journal


def test_the_main_path_writes_one_note_per_change() -> None:
    journal = walk(State.INVESTIGATING, State.ACKNOWLEDGED, State.FIXED)
    assert current_state(journal) is State.FIXED
    assert [(n.from_state, n.to_state) for n in journal] == [
        (State.UNTRIAGED, State.INVESTIGATING),
        (State.INVESTIGATING, State.ACKNOWLEDGED),
        (State.ACKNOWLEDGED, State.FIXED),
    ]
    assert journal[1] == Note("ada", T0 + timedelta(minutes=1), State.INVESTIGATING, State.ACKNOWLEDGED, "step 1")


def test_a_forbidden_change_names_from_to_and_what_is_allowed() -> None:
    journal = walk(State.INVESTIGATING)
    with pytest.raises(InvalidTransition) as caught:
        transition(journal, State.FIXED, who="bob", when=T0, text="")
    err = caught.value
    assert isinstance(err, InputError)
    assert isinstance(err, PerfsheriffError)
    assert (err.from_state, err.to_state) == (State.INVESTIGATING, State.FIXED)
    assert err.allowed == allowed_targets(State.INVESTIGATING)
    assert str(err) == (
        "state: cannot move a summary from investigating to fixed; "
        "from investigating it may go to acknowledged, downstream, invalid, reassigned, wontfix"
    )
    assert str(err.located("triage")).startswith("triage, state: cannot move")


@pytest.mark.parametrize(
    ("path", "allowed"),
    [
        ((State.ACKNOWLEDGED,), True),  # untriaged may decide at once
        ((State.DOWNSTREAM,), True),
        ((State.FIXED,), False),  # resolving needs an acknowledged change
        ((State.INVALID, State.ACKNOWLEDGED), True),  # a decision may be revised
        ((State.INVALID, State.FIXED), False),
        ((State.WONTFIX, State.BACKEDOUT), False),
        ((State.ACKNOWLEDGED, State.BACKEDOUT, State.INVESTIGATING), True),  # reopening
        ((State.ACKNOWLEDGED, State.FIXED, State.BACKEDOUT), False),  # corrections go through investigating
        ((State.INVESTIGATING, State.UNTRIAGED), False),  # untriaged is never re-entered
        ((State.INVESTIGATING, State.INVESTIGATING), False),
    ],
)
def test_transition_rules(path: tuple[State, ...], allowed: bool) -> None:
    if allowed:
        assert current_state(walk(*path)) is path[-1]
    else:
        with pytest.raises(InvalidTransition):
            walk(*path)


def test_the_journal_is_append_only_and_checks_the_state_it_starts_from() -> None:
    first = walk(State.INVESTIGATING)
    second = comment(first, who="bob", when=T0, text="retriggered 4 runs either side")
    assert len(first) == 1
    assert second[:1] == first
    assert second[-1].kind is NoteKind.COMMENT
    assert current_state(second) is State.INVESTIGATING
    # A sheriff acting on a stale view: the summary moved on meanwhile.
    stale = Note("carol", T0, State.UNTRIAGED, State.INVALID, "noise")
    with pytest.raises(InputError, match="is investigating now, not untriaged"):
        append(second, stale)
    with pytest.raises(InvalidTransition):
        append((), Note("carol", T0, State.UNTRIAGED, State.FIXED, ""))


def test_data_rounds_are_notes_that_keep_the_state() -> None:
    journal = comment(walk(State.INVESTIGATING), who="bisect", when=T0, text="ran 6 x abc: bad", kind=NoteKind.DATA)
    assert journal[-1].kind is NoteKind.DATA
    assert journal[-1].from_state == journal[-1].to_state == State.INVESTIGATING


@pytest.mark.parametrize(
    "make",
    [
        lambda: Note("", T0, State.UNTRIAGED, State.INVESTIGATING, ""),
        lambda: Note("ada", datetime(2024, 5, 1), State.UNTRIAGED, State.INVESTIGATING, ""),
        lambda: Note("ada", T0, State.UNTRIAGED, State.UNTRIAGED, "a transition that goes nowhere"),
        lambda: Note("ada", T0, State.UNTRIAGED, State.INVESTIGATING, "x", NoteKind.COMMENT),
        lambda: Note("ada", T0, State.UNTRIAGED, State.UNTRIAGED, " ", NoteKind.COMMENT),
        lambda: Note("ada", T0, "untriaged", "closed", ""),  # type: ignore[arg-type]
        lambda: comment((), who="ada", when=T0, text="x", kind=NoteKind.TRANSITION),
        lambda: transition((), "done", who="ada", when=T0),  # type: ignore[arg-type]
    ],
)
def test_bad_notes_are_input_errors(make: object) -> None:
    with pytest.raises(InputError):
        make()  # type: ignore[operator]


def test_every_state_is_reachable_and_none_is_a_dead_end() -> None:
    reached, frontier = {State.UNTRIAGED}, [State.UNTRIAGED]
    while frontier:
        for target in TRANSITIONS[frontier.pop()] - reached:
            reached.add(target)
            frontier.append(target)
    assert reached == set(State)
    assert all(State.INVESTIGATING in TRANSITIONS[s] for s in State if s is not State.INVESTIGATING)
    assert all(State.UNTRIAGED not in targets for targets in TRANSITIONS.values())


@given(st.lists(st.sampled_from(list(State)), max_size=30))
def test_any_sequence_of_requests_walks_only_allowed_edges(requests: list[State]) -> None:
    journal: Journal = ()
    accepted = 0
    for i, target in enumerate(requests):
        before, when = current_state(journal), T0 + timedelta(seconds=i)
        if target in TRANSITIONS[before]:
            journal = transition(journal, target, who="ada", when=when)
            accepted += 1
        else:
            with pytest.raises(InvalidTransition) as caught:
                transition(journal, target, who="ada", when=when)
            assert (caught.value.from_state, caught.value.to_state) == (before, target)
    assert len(journal) == accepted  # a note for every change made, none for a refused one
    previous = State.UNTRIAGED
    for note in journal:
        assert note.from_state is previous
        assert note.to_state in TRANSITIONS[note.from_state]
        previous = note.to_state


def test_the_docs_table_is_the_transition_table() -> None:
    section = DOCS.read_text().split("## States", 1)[1].split("\n## ", 1)[0]
    rows = re.findall(r"^\| `(\w+)` \| (.*?) \|$", section, flags=re.MULTILINE)
    table = {State(name): frozenset(State(t) for t in re.findall(r"`(\w+)`", targets)) for name, targets in rows}
    assert table == dict(TRANSITIONS)

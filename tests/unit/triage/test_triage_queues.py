"""The code-sheriff and perf-sheriff queues."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from perfsheriff.errors import InputError
from perfsheriff.triage import Bisection, Queue, QueueEntry, State, code_queue, perf_queue, queue_of, sheriff_queue
from perfsheriff.triage.states import OPEN_STATES

T0 = datetime(2024, 5, 1, tzinfo=UTC)


def entry(
    summary_id: int,
    state: State = State.UNTRIAGED,
    severity: float = 1.0,
    age_hours: float = 0.0,
    bisection: Bisection = Bisection.NONE,
    culprit: bool = False,
) -> QueueEntry:
    return QueueEntry(summary_id, state, severity, T0 - timedelta(hours=age_hours), bisection, culprit)


def test_open_summaries_go_to_the_perf_sheriffs_once_their_data_is_ready() -> None:
    entries = [
        entry(1),
        entry(2, State.INVESTIGATING, bisection=Bisection.RUNNING),
        entry(3, State.INVESTIGATING, bisection=Bisection.FINISHED),
        entry(4, bisection=Bisection.RUNNING, culprit=True),
        entry(5, State.ACKNOWLEDGED, bisection=Bisection.FINISHED, culprit=True),
        entry(6, State.FIXED),
    ]
    assert [e.summary_id for e in code_queue(entries)] == [1, 2]
    assert [e.summary_id for e in perf_queue(entries)] == [3, 4]
    assert queue_of(entries[4]) is None


def test_most_severe_first_then_oldest_then_smallest_id() -> None:
    entries = [
        entry(1, severity=0.5),
        entry(2, severity=2.0),
        entry(3, severity=0.5, age_hours=5),
        entry(4, severity=0.5),
    ]
    assert [e.summary_id for e in sheriff_queue(entries, Queue.CODE)] == [2, 3, 1, 4]


@pytest.mark.parametrize(
    "make",
    [
        lambda: entry(1, severity=-1.0),
        lambda: entry(1, severity=float("nan")),
        lambda: QueueEntry(1, State.UNTRIAGED, 1.0, datetime(2024, 1, 1)),
        lambda: entry(1, state="closed"),  # type: ignore[arg-type]
        lambda: entry(1, bisection="paused"),  # type: ignore[arg-type]
    ],
)
def test_bad_entries(make: object) -> None:
    with pytest.raises(InputError):
        make()  # type: ignore[operator]


@given(
    st.lists(
        st.builds(
            entry,
            summary_id=st.integers(0, 1000),
            state=st.sampled_from(list(State)),
            severity=st.floats(0, 10),
            bisection=st.sampled_from(list(Bisection)),
            culprit=st.booleans(),
        ),
        max_size=20,
    )
)
def test_every_open_summary_is_in_exactly_one_queue(entries: list[QueueEntry]) -> None:
    code, perf = code_queue(entries), perf_queue(entries)
    assert sorted(map(id, code + perf)) == sorted(id(e) for e in entries if e.state in OPEN_STATES)
    assert all(e.data_ready for e in perf)
    assert not any(e.data_ready for e in code)
    for queue in (code, perf):
        assert [e.severity for e in queue] == sorted((e.severity for e in queue), reverse=True)

"""The machine-time budget's rule: routine runs never wait, the rest waits while a day's budget is spent."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from perfsheriff.errors import InputError
from perfsheriff.model import JobReason
from perfsheriff.scheduling import BUDGET_WINDOW, BUDGETED, RunBudget, budget_for

NOW = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)
minutes_ago = st.integers(min_value=0, max_value=2 * 24 * 60).map(lambda m: NOW - timedelta(minutes=m))
claims = st.lists(st.tuples(minutes_ago, st.integers(1, 5)), max_size=40)


def test_routine_runs_are_never_budgeted_and_go_first() -> None:
    assert JobReason.ROUTINE not in BUDGETED
    assert {JobReason.CONFIRM, JobReason.BACKFILL, JobReason.BISECT, JobReason.BASELINE} == BUDGETED
    assert sorted(JobReason, key=lambda r: -r.priority) == list(JobReason)
    assert next(iter(JobReason)) is JobReason.ROUTINE
    assert RunBudget(1).allows(JobReason.ROUTINE, spent=10**6)


@given(st.integers(1, 500), st.integers(0, 1000))
def test_budgeted_work_is_allowed_exactly_while_something_is_left(limit: int, spent: int) -> None:
    budget = RunBudget(limit)
    for reason in BUDGETED:
        assert budget.allows(reason, spent) is (spent < limit)


@given(st.integers(1, 30), claims)
def test_frees_at_is_when_the_window_falls_under_the_budget(limit: int, made: list[tuple[datetime, int]]) -> None:
    budget = RunBudget(limit)
    frees = budget.frees_at(made, NOW)
    in_window = [(at, runs) for at, runs in made if at > NOW - BUDGET_WINDOW]
    assert NOW <= frees <= NOW + BUDGET_WINDOW
    spent_then = sum(runs for at, runs in in_window if at > frees - BUDGET_WINDOW)
    assert budget.allows(JobReason.BISECT, spent_then)  # at that moment, something is left
    if frees > NOW:  # and not a minute earlier
        just_before = frees - timedelta(microseconds=1)
        assert not budget.allows(JobReason.BISECT, sum(r for at, r in in_window if at > just_before - BUDGET_WINDOW))
    else:
        assert budget.allows(JobReason.BISECT, sum(runs for _, runs in in_window))


@pytest.mark.parametrize("bad", [0, -3, 2.5, True, "10"])
def test_a_budget_of_zero_or_not_a_whole_number_is_refused(bad: object) -> None:
    with pytest.raises(InputError, match="whole number of runs per day >= 1"):
        RunBudget(bad)  # type: ignore[arg-type]


def test_classes_take_their_own_budget_or_the_default() -> None:
    budgets = {"linux-perf": 200, "*": 1000}
    assert budget_for(budgets, "linux-perf") == RunBudget(200)
    assert budget_for(budgets, "mac") == RunBudget(1000)
    assert budget_for({"linux-perf": 200}, "mac") is None
    assert budget_for({}, "linux-perf") is None

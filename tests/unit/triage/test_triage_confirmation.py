"""Confirmation of candidate alerts: the runs asked for, and the re-test of the change."""

from __future__ import annotations

import random

import pytest
from hypothesis import given
from hypothesis import strategies as st

from perfsheriff.errors import InputError
from perfsheriff.model import Direction
from perfsheriff.triage.confirmation import Measured, Outcome, describe, judge, plan_confirmation

LOWER = Direction.LOWER_IS_BETTER


def test_one_run_at_each_end_asks_for_three_retriggers_each_and_fills_unmeasured_neighbours() -> None:
    plan = plan_confirmation(
        Measured("g", 1),
        Measured("b", 1),
        before=[Measured("g1", 1), Measured("g2", 0), Measured("g3", 0)],
        after=[Measured("b1", 0)],
        budget=30,
    )
    assert plan.retrigger == (("g", 3), ("b", 3))
    assert plan.backfill == ("b1", "g2")  # nearest first, and never beyond two a side
    assert plan.runs == 8
    assert plan.revisions == ["g", "g", "g", "b", "b", "b", "b1", "g2"]
    assert plan.trimmed == 0


def test_data_that_suffices_needs_no_runs() -> None:
    plan = plan_confirmation(Measured("g", 4), Measured("b", 7), [Measured("g1", 2)], [Measured("b1", 1)], budget=30)
    assert (plan.runs, plan.retrigger, plan.backfill, plan.trimmed) == (0, (), (), 0)


def test_a_short_budget_serves_both_ends_alternately_before_neighbours() -> None:
    plan = plan_confirmation(Measured("g", 1), Measured("b", 2), [Measured("g1", 0)], [], budget=4)
    assert dict(plan.retrigger) == {"g": 2, "b": 2}
    assert plan.backfill == ()
    assert plan.trimmed == 2  # one retrigger of g and the backfill of g1
    assert plan_confirmation(Measured("g", 0), Measured("b", 0), budget=0).runs == 0


@given(st.integers(0, 6), st.integers(0, 6), st.lists(st.integers(0, 3), max_size=4), st.integers(0, 20))
def test_a_plan_never_exceeds_its_budget_nor_asks_for_what_is_there(
    good: int, bad: int, neighbours: list[int], budget: int
) -> None:
    before = [Measured(f"n{i}", n) for i, n in enumerate(neighbours)]
    plan = plan_confirmation(Measured("g", good), Measured("b", bad), before, budget=budget)
    assert plan.runs <= budget
    counts = dict(plan.retrigger)
    assert good + counts.get("g", 0) <= max(good, 4)
    assert bad + counts.get("b", 0) <= max(bad, 4)
    assert all(m.runs == 0 for m in before if m.revision in plan.backfill)
    assert plan.runs + plan.trimmed == max(4 - good, 0) + max(4 - bad, 0) + sum(1 for n in neighbours[:2] if n == 0)


def test_bad_plan_input_is_refused_with_a_reason() -> None:
    with pytest.raises(InputError, match="budget must be >= 0"):
        plan_confirmation(Measured("g", 1), Measured("b", 1), budget=-1)
    with pytest.raises(InputError, match="data points per end must be >= 1"):
        plan_confirmation(Measured("g", 1), Measured("b", 1), budget=3, points=0)
    with pytest.raises(InputError, match="run count must be >= 0"):
        Measured("g", -1)


def _normal(level: float, n: int, seed: int) -> list[float]:
    rng = random.Random(seed)
    return [level * (1 + rng.gauss(0, 0.01)) for _ in range(n)]


def test_a_real_step_is_confirmed_in_its_direction() -> None:
    good, bad = _normal(100, 6, 1), _normal(130, 6, 2)
    judgement = judge(good, bad, direction=LOWER, regression=True)
    assert judgement.outcome is Outcome.CONFIRMED
    assert "+30" in describe(judgement) or "+29" in describe(judgement) or "+31" in describe(judgement)
    improvement = judge(bad, good, direction=LOWER, regression=False)
    assert improvement.outcome is Outcome.CONFIRMED
    # Higher is better: the same numbers are an improvement, so a regression is not what they show.
    flipped = judge(good, bad, direction=Direction.HIGHER_IS_BETTER, regression=True)
    assert flipped.outcome is Outcome.NOT_REPRODUCED
    assert "an improvement instead" in flipped.reason


def test_a_slow_period_that_does_not_come_back_is_not_reproduced() -> None:
    """Three old slow runs after the change, fresh runs at the ends at the old level."""
    good = _normal(100, 6, 3)
    bad = [*_normal(130, 3, 4), *_normal(100, 3, 5)]
    judgement = judge(good, bad, direction=LOWER, regression=True)
    assert judgement.outcome is Outcome.NOT_REPRODUCED
    assert judgement.reason.startswith("the new data shows")


def test_too_few_data_points_leave_a_candidate_unconfirmed() -> None:
    judgement = judge([100.0], [130.0, 131.0], direction=LOWER, regression=True)
    assert judgement.outcome is Outcome.UNCONFIRMED
    assert judgement.reason == "too few data points (1 before, 2 after)"
    assert describe(judgement) == "1 v 2 runs"


@given(st.floats(0.01, 100.0))
def test_scaling_every_run_changes_no_outcome(scale: float) -> None:
    good, bad = _normal(100, 6, 6), [*_normal(104, 4, 7), *_normal(100, 2, 8)]
    plain = judge(good, bad, direction=LOWER, regression=True).outcome
    scaled = judge([v * scale for v in good], [v * scale for v in bad], direction=LOWER, regression=True).outcome
    assert plain is scaled


def test_an_inconclusive_test_on_data_cut_short_leaves_the_candidate_unconfirmed() -> None:
    good, bad = _normal(100, 4, 9), _normal(130, 3, 10)  # 4 v 3 runs cannot reach p < 0.05
    assert judge(good, bad, direction=LOWER, regression=True).outcome is Outcome.NOT_REPRODUCED
    short = judge(good, bad, direction=LOWER, regression=True, complete=False)
    assert short.outcome is Outcome.UNCONFIRMED
    assert short.reason == "too few data points to tell (4 before, 3 after)"

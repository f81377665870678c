"""The retry schedule: doubling from half a second to a 30-second cap, jittered within the upper half of each step."""

from __future__ import annotations

import random

import pytest
from hypothesis import given
from hypothesis import strategies as st

from perfsheriff.agent.backoff import CAP_S, Backoff, backoff_delay

STEPS = [0.5, 1.0, 2.0, 4.0, 8.0, 16.0, 30.0, 30.0, 30.0]


@pytest.mark.parametrize(("failures", "step"), list(enumerate(STEPS, start=1)))
def test_steps_double_up_to_the_cap(failures: int, step: float) -> None:
    assert backoff_delay(failures, 0.0) == step / 2
    assert backoff_delay(failures, 0.999999) == pytest.approx(step, rel=1e-5)


@given(st.integers(min_value=1, max_value=10**6), st.floats(min_value=0.0, max_value=1.0, exclude_max=True))
def test_every_delay_is_between_a_quarter_second_and_the_cap(failures: int, jitter: float) -> None:
    delay = backoff_delay(failures, jitter)
    assert 0.25 <= delay <= CAP_S


@given(st.integers(min_value=1, max_value=200), st.floats(min_value=0.0, max_value=1.0, exclude_max=True))
def test_one_more_failure_never_waits_less_at_the_same_jitter(failures: int, jitter: float) -> None:
    assert backoff_delay(failures + 1, jitter) >= backoff_delay(failures, jitter)


def test_the_upper_half_of_a_step_is_the_waiting_range() -> None:
    # Equal jitter: the longest wait of one step is the shortest of the next one, never shorter.
    assert backoff_delay(3, 0.999999) == pytest.approx(backoff_delay(4, 0.0), rel=1e-5)


@pytest.mark.parametrize(
    ("failures", "jitter", "base", "cap"),
    [(0, 0.5, 0.5, 30.0), (1, 1.0, 0.5, 30.0), (1, -0.1, 0.5, 30.0), (1, 0.5, 0.0, 30.0), (1, 0.5, 5.0, 1.0)],
)
def test_nonsense_arguments_are_refused(failures: int, jitter: float, base: float, cap: float) -> None:
    with pytest.raises(ValueError, match=r"must be|expected"):
        backoff_delay(failures, jitter, base=base, cap=cap)


def test_backoff_counts_failures_and_starts_over_after_a_success() -> None:
    backoff = Backoff(rng=random.Random(7))
    first = [backoff.next_delay() for _ in range(8)]
    assert backoff.failures == 8
    assert [d <= s for d, s in zip(first, STEPS, strict=False)] == [True] * 8
    assert first[-1] >= 15.0  # at the cap: between 15 and 30 seconds
    backoff.reset()
    assert backoff.next_delay() <= 0.5


def test_agents_cut_off_together_do_not_come_back_together() -> None:
    delays = {Backoff(rng=random.Random(seed)).next_delay() for seed in range(20)}
    assert len(delays) == 20
    assert max(delays) - min(delays) > 0.1

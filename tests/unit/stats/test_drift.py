"""Drift since a reference point: slow staircases are caught, flat noise is not."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from numpy.typing import NDArray

from perfsheriff.errors import ConfigError, InputError
from perfsheriff.model import Direction
from perfsheriff.stats.compare import ComparisonVerdict, DataProblem, compare
from perfsheriff.stats.drift import DriftSettings, drift

LOWER = Direction.LOWER_IS_BETTER
HIGHER = Direction.HIGHER_IS_BETTER


def staircase(rng: np.random.Generator, steps: int, step: float, per_step: int, noise: float) -> NDArray[np.float64]:
    """``steps`` levels, each ``step`` above the last, ``per_step`` noisy points each."""
    levels = 100.0 * (1 + step) ** np.repeat(np.arange(steps), per_step)
    noisy: NDArray[np.float64] = levels * (1 + noise * rng.standard_normal(levels.size))
    return noisy


def test_twenty_small_steps_add_up_to_a_drift_alert() -> None:
    rng = np.random.default_rng(11)
    series = staircase(rng, steps=20, step=0.005, per_step=5, noise=0.005)
    result = drift(series, 0, LOWER)
    assert result.alert
    assert result.verdict is ComparisonVerdict.REGRESSION
    assert result.relative_change == pytest.approx(1.005**18 - 1, abs=0.015)
    assert result.ci_low is not None
    assert result.ci_low > 1.0
    assert (result.reference_window, result.recent_window) == ((0, 9), (90, 99))


def test_no_single_step_of_the_staircase_is_a_regression() -> None:
    rng = np.random.default_rng(11)
    series = staircase(rng, steps=20, step=0.005, per_step=5, noise=0.005)
    for start in range(0, 95, 5):
        step = compare(series[start : start + 5], series[start + 5 : start + 10], LOWER)
        assert step.verdict is not ComparisonVerdict.REGRESSION


def test_flat_noisy_series_raises_no_alert() -> None:
    rng = np.random.default_rng(12)
    alerts = sum(drift(100 * (1 + 0.02 * rng.standard_normal(100)), 0, LOWER).alert for _ in range(100))
    assert alerts == 0


def test_throughput_falling_is_a_regression_when_higher_is_better() -> None:
    rng = np.random.default_rng(13)
    series = staircase(rng, steps=20, step=-0.005, per_step=5, noise=0.005)
    assert drift(series, 0, HIGHER).verdict is ComparisonVerdict.REGRESSION
    assert drift(series, 0, LOWER).verdict is ComparisonVerdict.IMPROVEMENT


def test_only_points_since_the_reference_count() -> None:
    rng = np.random.default_rng(14)
    before = 80 * (1 + 0.005 * rng.standard_normal(50))  # much faster before the tag
    after = 100 * (1 + 0.005 * rng.standard_normal(40))
    result = drift(np.concatenate([before, after]), 50, LOWER)
    assert result.verdict is ComparisonVerdict.NO_CHANGE
    assert result.reference_window == (50, 59)


def test_a_regression_that_was_fixed_is_no_drift() -> None:
    rng = np.random.default_rng(15)
    levels = np.concatenate([np.full(30, 100.0), np.full(30, 110.0), np.full(30, 100.0)])
    assert not drift(levels * (1 + 0.005 * rng.standard_normal(90)), 0, LOWER).alert


def test_short_series_shrink_the_windows_then_become_insufficient() -> None:
    rising = [100.0, 100.5, 99.5, 100.2, 110.0, 110.4, 109.6, 110.1]
    result = drift(rising, 0, LOWER)
    assert (result.reference_window, result.recent_window) == ((0, 3), (4, 7))
    assert result.verdict is ComparisonVerdict.REGRESSION
    short = drift(rising[:7], 0, LOWER)
    assert short.verdict is ComparisonVerdict.INSUFFICIENT_DATA
    assert short.comparison.problem is DataProblem.TOO_FEW_SAMPLES
    assert not short.alert


def test_reference_past_the_end_is_insufficient_and_negative_is_an_error() -> None:
    result = drift([1.0, 2.0, 3.0], 3, LOWER)
    assert result.verdict is ComparisonVerdict.INSUFFICIENT_DATA
    assert result.reference_window is None
    with pytest.raises(InputError):
        drift([1.0, 2.0, 3.0], -1, LOWER)


def test_non_finite_points_are_skipped() -> None:
    series = [100.0, math.nan, 100.2, 99.8, 100.1, 100.0, 110.0, 110.2, math.inf, 109.8, 110.1]
    result = drift(series, 0, LOWER)
    assert (result.reference_window, result.recent_window) == ((0, 4), (6, 10))
    assert result.comparison.n_base == 4


@pytest.mark.parametrize("kwargs", [{"min_window": 1}, {"window": 3}, {"threshold": 0.0}, {"alpha": 1.0}])
def test_invalid_settings_are_config_errors(kwargs: dict[str, float]) -> None:
    with pytest.raises(ConfigError):
        DriftSettings(**kwargs)  # type: ignore[arg-type]


@settings(max_examples=80, deadline=None)
@given(
    level=st.floats(-1e6, 1e6, allow_nan=False),
    length=st.integers(0, 60),
    reference=st.integers(0, 70),
    direction=st.sampled_from(Direction),
)
def test_a_constant_series_is_never_an_alert(level: float, length: int, reference: int, direction: Direction) -> None:
    result = drift([level] * length, reference, direction)
    assert not result.alert
    assert result.verdict in (ComparisonVerdict.NO_CHANGE, ComparisonVerdict.INSUFFICIENT_DATA)

"""Calibrated probability, position intervals and drift-versus-steps: invariants and known cases."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from perfsheriff.errors import ConfigError
from perfsheriff.model import Direction
from perfsheriff.stats import alert_probability
from perfsheriff.stats.changepoints import DetectionSettings, detect
from perfsheriff.stats.location import position_interval
from perfsheriff.stats.trend import fit_ramp, step_given_trend, step_rss

LOWER = Direction.LOWER_IS_BETTER


def staircase_or_ramp(seed: int, *, ramp: bool, jump: float = 0.0) -> list[list[float]]:
    """40 flat commits then 60 that each add 0.5 % (``ramp``), 1 % noise, 5 samples a commit; ``jump`` at 70."""
    rng = np.random.default_rng(seed)
    level = np.r_[np.full(40, 100.0), 100.0 * 1.005 ** np.arange(60)] if ramp else np.full(100, 100.0)
    level[70:] *= 1.0 + jump
    return [list(v * (1.0 + 0.01 * rng.standard_normal(5))) for v in level]


@pytest.mark.parametrize("seed", range(5))
def test_a_slow_ramp_is_one_drift_not_a_staircase_of_regressions(seed: int) -> None:
    result = detect(staircase_or_ramp(seed, ramp=True), direction=LOWER)
    assert result.change_points == ()
    (drift,) = result.drifts
    assert drift.is_regression
    assert 35 <= drift.first <= 46
    assert drift.last >= 90
    assert drift.per_revision == pytest.approx(0.005, rel=0.25)
    assert drift.replaces >= 2
    assert drift.probability > 0.99


@pytest.mark.parametrize("seed", range(5))
def test_a_real_step_on_top_of_a_drift_is_still_a_step(seed: int) -> None:
    result = detect(staircase_or_ramp(seed, ramp=True, jump=0.10), direction=LOWER)
    assert [abs(cp.index - 70) <= 1 for cp in result.change_points] == [True]
    assert result.change_points[0].relative_change > 0.08


@pytest.mark.parametrize("seed", range(5))
def test_a_sharp_step_is_not_a_drift(seed: int) -> None:
    result = detect(staircase_or_ramp(seed, ramp=False, jump=0.05), direction=LOWER)
    assert result.drifts == ()
    assert [cp.index for cp in result.change_points] == [70]


def test_step_given_trend_separates_a_jump_from_a_slope() -> None:
    t = np.arange(60, dtype=np.float64)
    assert abs(step_given_trend(0.1 * t, 0, 30, 60, sigma=0.1)) < 1e-6
    z = [step_given_trend(np.where(t >= 30, d, 0.0) + 0.01 * t, 0, 30, 60, sigma=0.1) for d in (0.5, 1.0, -1.0)]
    assert z[1] > 10.0
    assert z[1] == pytest.approx(2 * z[0]) == pytest.approx(-z[2])


def test_ramp_fit_finds_its_hinges() -> None:
    values = np.r_[np.zeros(20), np.linspace(0, 10, 31)[1:], np.full(20, 10.0)]
    ramp = fit_ramp(values, 0, len(values), min_length=10)
    assert ramp is not None
    assert abs(ramp.start - 20) <= 2
    assert abs(ramp.stop - 49) <= 2
    assert ramp.rss < step_rss(values, 0, len(values), [35])


@settings(max_examples=40, deadline=None)
@given(
    n_before=st.integers(5, 60),
    n_after=st.integers(5, 60),
    shift=st.floats(0.5, 20.0),
    seed=st.integers(0, 10_000),
)
def test_position_interval_holds_the_estimate(n_before: int, n_after: int, shift: float, seed: int) -> None:
    rng = np.random.default_rng(seed)
    values = np.r_[np.zeros(n_before), np.full(n_after, shift)] + rng.standard_normal(n_before + n_after)
    at = n_before
    first, last = position_interval(values, 0, at, len(values), 1.0)
    assert 0 < first <= at <= last < len(values)


def test_position_interval_narrows_as_the_step_grows() -> None:
    rng = np.random.default_rng(3)
    noise = rng.standard_normal(80)
    widths = []
    for shift in (1.0, 3.0, 10.0):
        values = np.r_[np.zeros(40), np.full(40, shift)] + noise
        first, last = position_interval(values, 0, 40, 80, 1.0)
        widths.append(last - first)
    assert widths[0] >= widths[1] >= widths[2] == 0


def test_position_intervals_cover_true_changes_about_95_percent_of_the_time() -> None:
    rng = np.random.default_rng(11)
    covered = 0
    trials = 400
    for _ in range(trials):
        at = int(rng.integers(20, 60))
        values = np.r_[np.zeros(at), np.full(80 - at, rng.uniform(1.0, 3.0))] + rng.standard_normal(80)
        estimate = (
            int(np.argmax([abs(values[:k].mean() - values[k:].mean()) * math.sqrt(k * (80 - k)) for k in range(2, 79)]))
            + 2
        )
        first, last = position_interval(values, 0, estimate, 80, 1.0)
        covered += first <= at <= last
    assert 0.88 <= covered / trials <= 0.995


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 10_000), exponent=st.integers(-10, 10), step=st.floats(0.05, 0.5))
def test_probability_does_not_depend_on_the_scale(seed: int, exponent: int, step: float) -> None:
    rng = np.random.default_rng(seed)
    values = np.r_[np.full(50, 100.0), np.full(50, 100.0 * (1 + step))] * (1 + 0.02 * rng.standard_normal(100))
    base = detect(values, direction=LOWER).change_points
    scaled = detect(values * 2.0**exponent, direction=LOWER).change_points
    assert [cp.probability for cp in scaled] == pytest.approx([cp.probability for cp in base], abs=1e-9)


def test_probability_grows_with_the_clarity_of_the_change() -> None:
    rng = np.random.default_rng(5)
    noise = 0.02 * rng.standard_normal(100)
    probabilities = []
    for step in (0.03, 0.08, 0.3):
        values = 100.0 * (1 + noise + np.r_[np.zeros(50), np.full(50, step)])
        (cp,) = detect(values, direction=LOWER).change_points
        probabilities.append(cp.probability)
    assert probabilities == sorted(probabilities)
    assert probabilities[-1] > 0.9


def test_local_t_is_perfherders_weighted_t() -> None:
    values = np.r_[np.full(12, 10.0), np.full(12, 12.0)]
    assert alert_probability.local_t(values, 12) == math.inf
    values = np.r_[[9.0, 11.0] * 6, [11.0, 13.0] * 6]
    before, after = values[:12][::-1], values[12:]
    weights = (12 - np.arange(12)) / 12
    m1, m2 = np.dot(before, weights) / weights.sum(), np.dot(after, weights) / weights.sum()
    v1, v2 = np.sum((before - m1) ** 2) / 11, np.sum((after - m2) ** 2) / 11
    assert alert_probability.local_t(values, 12) == pytest.approx(abs(m2 - m1) / math.sqrt(v1 / 12 + v2 / 12))
    assert alert_probability.local_t(values[:13], 12) == 0.0


def test_min_probability_keeps_only_changes_that_likely_are_real() -> None:
    rng = np.random.default_rng(8)
    values = 100.0 * (1 + 0.02 * rng.standard_normal(160) + np.r_[np.zeros(40), np.full(40, 0.03), np.full(80, 0.4)])
    every = detect(values, direction=LOWER).change_points
    assert len(every) == 2
    weak, strong = sorted(every, key=lambda cp: cp.probability)
    kept = detect(values, direction=LOWER, settings=DetectionSettings(min_probability=0.5)).change_points
    assert weak.probability < 0.5 <= strong.probability
    assert [cp.index for cp in kept] == [strong.index]
    with pytest.raises(ConfigError):
        DetectionSettings(min_probability=1.5)

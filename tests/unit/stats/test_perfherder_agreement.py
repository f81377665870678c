"""Perfherder's rule near a change (a probability feature): the peer's answer, scale-free, young changes too."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from peers import perfherder_weighted
from perfsheriff.model import Direction
from perfsheriff.stats import alert_probability
from perfsheriff.stats.alert_probability import AGREEMENT_REACH, LOCAL_WINDOW, local_t, weighted_t_agrees


def stepped(seed: int, n: int, at: int, step: float, noise: float) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return 100.0 * (1.0 + noise * rng.standard_normal(n) + np.where(np.arange(n) >= at, step, 0.0))


@settings(max_examples=60, deadline=None)
@given(
    seed=st.integers(0, 10_000),
    step_at=st.integers(13, 50),
    step=st.floats(-0.2, 0.2),
    noise=st.floats(0.005, 0.05),
    at=st.integers(LOCAL_WINDOW, 30),
)
def test_agreement_is_perfherders_algorithm_firing_within_reach(
    seed: int, step_at: int, step: float, noise: float, at: int
) -> None:
    """Where Perfherder's windows are full, the answer is the peer's: one of its alerts lies within 5 revisions."""
    values = stepped(seed, 70, step_at, step, noise)
    alerts = perfherder_weighted(values, Direction.LOWER_IS_BETTER)
    assert weighted_t_agrees(values, at) == any(abs(a - at) <= AGREEMENT_REACH for a in alerts)


@settings(max_examples=40, deadline=None)
@given(
    seed=st.integers(0, 10_000),
    step=st.floats(-0.3, 0.3),
    exponent=st.integers(-30, 30),
    at=st.integers(0, 79),
)
def test_agreement_does_not_depend_on_the_scale(seed: int, step: float, exponent: int, at: int) -> None:
    values = stepped(seed, 80, 40, step, 0.02)
    assert weighted_t_agrees(values * 2.0**exponent, at) == weighted_t_agrees(values, at)


@settings(max_examples=60, deadline=None)
@given(
    values=st.lists(st.integers(-3, 3), min_size=2, max_size=60).map(lambda v: np.asarray(v, dtype=np.float64)),
    data=st.data(),
)
def test_the_array_of_t_statistics_is_local_t_at_every_position(values: np.ndarray, data: st.DataObject) -> None:
    """Quantized values too: equal sides (t = 0) and constant sides (t infinite) come out as :func:`local_t` says."""
    first = data.draw(st.integers(1, len(values) - 1))
    positions = np.arange(first, data.draw(st.integers(first, len(values) - 1)) + 1)
    backs = np.asarray(
        data.draw(st.lists(st.integers(1, 2 * LOCAL_WINDOW), min_size=len(positions), max_size=len(positions)))
    )
    ts = alert_probability._weighted_ts(values, positions, backs)
    expected = [local_t(values, int(p), int(b), fore=LOCAL_WINDOW) for p, b in zip(positions, backs, strict=True)]
    assert ts.tolist() == pytest.approx(expected, rel=1e-9)


def test_a_clear_step_agrees_and_noise_does_not() -> None:
    assert weighted_t_agrees(stepped(1, 80, 40, 0.3, 0.02), 42)
    assert not weighted_t_agrees(stepped(1, 80, 40, 0.3, 0.02), 20)
    assert not weighted_t_agrees(stepped(1, 80, 40, 0.0, 0.02), 40)


def test_a_quiet_history_lengthens_the_back_window() -> None:
    """A 5 % step in 2 % noise after 40 quiet revisions: t stays below 7 with 12 revisions back, passes it with 24."""
    values = stepped(4, 70, 40, 0.05, 0.02)
    assert max(local_t(values, k, LOCAL_WINDOW, fore=LOCAL_WINDOW) for k in range(35, 46)) <= 7.0
    assert weighted_t_agrees(values, 40)
    assert weighted_t_agrees(values, 40) == bool(perfherder_weighted(values, Direction.LOWER_IS_BETTER))


def test_the_back_window_grows_again_after_an_earlier_change() -> None:
    """A 30 % step at 14, then 5 % at 40 in 2 % noise: seen only through the window the quiet between lengthens."""
    rng = np.random.default_rng(1)
    level = np.where(np.arange(70) >= 14, 1.3, 1.0) * np.where(np.arange(70) >= 40, 1.05, 1.0)
    values = 100.0 * level * (1.0 + 0.02 * rng.standard_normal(70))
    assert max(local_t(values, k, LOCAL_WINDOW, fore=LOCAL_WINDOW) for k in range(35, 46)) <= 7.0
    assert perfherder_weighted(values, Direction.LOWER_IS_BETTER) == [14, 41]
    assert weighted_t_agrees(values, 40)


def test_a_young_change_agrees_before_twelve_revisions_follow_it() -> None:
    """Perfherder waits for 12 revisions after a change; the feature reads the ones there are."""
    values = stepped(2, 46, 40, 0.3, 0.02)
    assert weighted_t_agrees(values, 40)
    assert not perfherder_weighted(values, Direction.LOWER_IS_BETTER)


def test_a_change_of_less_than_two_percent_does_not_agree() -> None:
    """Perfherder's own floor: a 1 % step in 0.05 % noise has a huge t but is below its 2 %."""
    assert local_t(stepped(3, 80, 40, 0.01, 0.0005), 40) > 7.0
    assert not weighted_t_agrees(stepped(3, 80, 40, 0.01, 0.0005), 40)
    assert weighted_t_agrees(stepped(3, 80, 40, 0.03, 0.0005), 40)


def test_too_little_history_never_agrees() -> None:
    values = stepped(4, 30, 8, 0.5, 0.01)
    assert not weighted_t_agrees(values, 8)
    assert not weighted_t_agrees(values[:1], 0)
    assert not weighted_t_agrees(np.zeros(0), 0)


def test_the_feature_is_the_last_of_six() -> None:
    values = stepped(5, 80, 40, 0.3, 0.02)
    x = alert_probability.features(values, 40, start=0, stop=80, sigma=2.0, relative=0.3, shift=30.0)
    assert len(x) == len(alert_probability.FEATURES) == len(alert_probability.MODEL.weights) == 6
    assert x[-1] == 1.0

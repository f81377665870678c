"""Incremental detection: appended points recompute only the tail; confirmed change points never move."""

from __future__ import annotations

import numpy as np
import pytest

from perfsheriff.errors import InputError
from perfsheriff.model import Direction
from perfsheriff.stats.changepoints import detect
from perfsheriff.stats.incremental import IncrementalState, detect_incremental

LOWER = Direction.LOWER_IS_BETTER


def series(seed: int = 2) -> np.ndarray:
    rng = np.random.default_rng(seed)
    level = np.r_[np.full(150, 100.0), np.full(120, 112.0), np.full(130, 104.0)]
    return level + rng.normal(0, 1.0, len(level))


def test_confirmed_change_points_never_move_as_points_arrive() -> None:
    values = series()
    state = IncrementalState()
    history: list[tuple[int, ...]] = []
    for n in range(40, len(values) + 1):
        result = detect_incremental(values[:n], direction=LOWER, state=state)
        state = result.state
        confirmed = tuple(cp.index for cp in result.confirmed)
        if history:
            assert confirmed[: len(history[-1])] == history[-1]
        history.append(confirmed)
    assert [abs(i - t) <= 2 for i, t in zip(history[-1], (150, 270), strict=True)] == [True, True]


def test_incremental_agrees_with_a_full_pass_on_the_end_result() -> None:
    values = series(seed=9)
    state = IncrementalState()
    for n in range(100, len(values) + 1, 7):
        state = detect_incremental(values[:n], direction=LOWER, state=state).state
    final = detect_incremental(values, direction=LOWER, state=state)
    full = [cp.index for cp in detect(values, direction=LOWER).change_points]
    incremental = [cp.index for cp in final.change_points]
    assert len(incremental) == len(full)
    assert all(abs(a - b) <= 2 for a, b in zip(incremental, full, strict=True))


def test_recent_change_is_provisional_until_it_settles() -> None:
    values = series()[:290]
    result = detect_incremental(values, direction=LOWER)
    assert [abs(cp.index - 270) <= 2 for cp in result.provisional] == [True]
    assert result.state.anchor == result.confirmed[-1].index


def test_a_shrinking_series_is_refused() -> None:
    state = detect_incremental(series(), direction=LOWER).state
    with pytest.raises(InputError):
        detect_incremental(series()[:100], direction=LOWER, state=state)

"""The orders runs are measured in: a backfill spread over history, and the ends of a comparison interleaved."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given
from hypothesis import strategies as st

from perfsheriff.scheduling import interleaved, spread_order


@given(st.integers(min_value=0, max_value=3000))
def test_every_position_once(count: int) -> None:
    assert sorted(spread_order(count)) == list(range(count))


@given(st.integers(min_value=2, max_value=3000), st.data())
def test_the_first_runs_cover_the_range_evenly(count: int, data: st.DataObject) -> None:
    """After m runs no stretch of history wider than about 2·count/m is left unmeasured, so a pass cut short
    (or a machine busy for its first m runs) leaves a grid, not one end of history."""
    m = data.draw(st.integers(min_value=1, max_value=count))
    seen = sorted(spread_order(count)[:m])
    gaps = [b - a for a, b in zip([-1, *seen], [*seen, count], strict=True)]
    assert max(gaps) <= 2 * count / m + 1


@given(st.integers(min_value=16, max_value=3000), st.data())
def test_consecutive_runs_are_far_apart_in_history(count: int, data: st.DataObject) -> None:
    """A slowdown over k consecutive runs touches k commits spread over history, never k neighbours: any two
    of them lie at least a fifth of count/k apart, so no step between neighbouring commits can come of it."""
    order = spread_order(count)
    k = data.draw(st.integers(min_value=2, max_value=count // 2))
    start = data.draw(st.integers(min_value=0, max_value=count - k))
    window = sorted(order[start : start + k])
    assert min(b - a for a, b in itertools.pairwise(window)) >= count / (5 * k) - 1


def test_small_counts() -> None:
    assert spread_order(0) == []
    assert spread_order(1) == [0]
    assert spread_order(10) == [0, 6, 2, 8, 4, 1, 7, 3, 9, 5]


@given(st.lists(st.integers(min_value=0, max_value=12), min_size=1, max_size=5))
def test_interleaved_runs_each_revision_as_often_as_asked(runs: list[int]) -> None:
    counts = [(f"r{i}", n) for i, n in enumerate(runs)]
    order = interleaved(counts)
    assert sorted(order) == sorted(name for name, n in counts for _ in range(n))
    for i in range(len(order) - 2):  # never three of one in a row while another still waits
        if order[i] == order[i + 1] == order[i + 2]:
            assert set(order[i:]) == {order[i]}


@given(st.integers(min_value=1, max_value=20), st.floats(min_value=-1, max_value=1))
def test_a_linear_drift_weighs_on_both_ends_alike(pairs: int, slope: float) -> None:
    """A B B A ...: with an even count each, a machine slowing linearly over the round adds the same to the
    mean of either end, so the comparison of the two sees none of it."""
    order = interleaved([("a", 2 * pairs), ("b", 2 * pairs)])
    drift = {name: [slope * t for t, who in enumerate(order) if who == name] for name in "ab"}
    assert sum(drift["a"]) == pytest.approx(sum(drift["b"]), abs=1e-9)
    assert order[:4] == ["a", "b", "b", "a"]

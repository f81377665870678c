"""Min/max downsampling keeps the extremes and the ends, and never more than asked."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from perfsheriff.stats.downsample import minmax_indices

values_strategy = arrays(
    np.float64, st.integers(0, 3000), elements=st.floats(-1e6, 1e6, allow_nan=False, allow_infinity=False)
)


@given(values_strategy, st.integers(4, 500))
def test_bounded_sorted_and_keeps_global_extremes(values: np.ndarray, max_points: int) -> None:
    kept = minmax_indices(values, max_points)
    assert kept.size <= max_points
    assert np.all(np.diff(kept) > 0)
    if values.size:
        assert kept[0] == 0
        assert kept[-1] == values.size - 1
        assert values[kept].min() == values.min()
        assert values[kept].max() == values.max()


def test_short_series_is_returned_whole() -> None:
    assert minmax_indices(np.arange(10.0), 10).tolist() == list(range(10))


def test_a_single_spike_survives_heavy_downsampling() -> None:
    values = np.ones(100_000)
    values[73_251] = 50.0
    kept = minmax_indices(values, 100)
    assert kept.size <= 100
    assert 73_251 in kept


def test_nan_is_not_an_extreme_when_numbers_exist() -> None:
    values = np.array([1.0, np.nan, 3.0, 2.0] * 50)
    kept = minmax_indices(values, 20)
    assert not np.isnan(values[kept[1:-1]]).any()


def test_too_few_points_is_rejected() -> None:
    with pytest.raises(ValueError, match="at least 4"):
        minmax_indices(np.arange(10.0), 3)


@given(st.lists(st.lists(st.floats(-1e9, 1e9, allow_nan=False), min_size=0, max_size=9), max_size=50))
def test_grouped_medians_match_numpy(groups: list[list[float]]) -> None:
    from perfsheriff.stats.summary import grouped_medians

    values = np.array([v for g in groups for v in g], dtype=np.float64)
    offsets = np.concatenate(([0], np.cumsum([len(g) for g in groups]))).astype(np.int64)
    got = grouped_medians(values, offsets)
    for i, group in enumerate(groups):
        if group:
            assert got[i] == pytest.approx(float(np.median(group)), rel=1e-12, abs=1e-9)
        else:
            assert np.isnan(got[i])

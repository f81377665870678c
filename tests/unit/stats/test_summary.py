"""Robust per-revision summaries."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from perfsheriff.stats.summary import MAD_TO_SIGMA, NoSamples, SampleSummary, relative_mad, summarize

samples = st.lists(st.integers(1, 100_000).map(lambda x: x / 100), min_size=1, max_size=20)


def test_known_values() -> None:
    summary = summarize([4.0, 1.0, 100.0, 3.0, 2.0])
    assert isinstance(summary, SampleSummary)
    assert (summary.n, summary.median, summary.mean, summary.min, summary.max) == (5, 3.0, 22.0, 1.0, 100.0)
    assert (summary.mad, summary.iqr, summary.dropped) == (1.0, 2.0, 0)
    assert summary.stdev == pytest.approx(43.6176, abs=1e-4)


def test_one_sample_has_zero_spread() -> None:
    summary = summarize([7.5])
    assert isinstance(summary, SampleSummary)
    assert (summary.n, summary.median, summary.stdev, summary.mad, summary.iqr) == (1, 7.5, 0.0, 0.0, 0.0)


def test_empty_input_is_typed() -> None:
    assert summarize([]) == NoSamples(dropped=0)
    assert summarize([]).n == 0


def test_non_finite_samples_are_dropped_and_counted() -> None:
    assert summarize([math.nan, math.inf]) == NoSamples(dropped=2)
    summary = summarize([1.0, math.nan, 3.0])
    assert isinstance(summary, SampleSummary)
    assert (summary.n, summary.median, summary.dropped) == (2, 2.0, 1)


def test_relative_mad() -> None:
    summary = summarize([9.0, 10.0, 11.0])
    assert isinstance(summary, SampleSummary)
    assert summary.robust_stdev == pytest.approx(MAD_TO_SIGMA)
    assert relative_mad([9.0, 10.0, 11.0]) == pytest.approx(MAD_TO_SIGMA / 10)
    assert relative_mad([-1.0, 0.0, 1.0]) is None
    assert relative_mad([math.nan]) is None


def test_mad_estimates_sigma_of_normal_data() -> None:
    import numpy as np

    values = np.random.default_rng(7).normal(100.0, 2.0, 20_000)
    summary = summarize(values)
    assert isinstance(summary, SampleSummary)
    assert summary.robust_stdev == pytest.approx(2.0, rel=0.03)


@settings(max_examples=60, deadline=None)
@given(values=samples, data=st.data())
def test_order_of_samples_does_not_matter(values: list[float], data: st.DataObject) -> None:
    before, after = summarize(values), summarize(data.draw(st.permutations(values)))
    assert isinstance(before, SampleSummary)
    assert isinstance(after, SampleSummary)
    exact = ("n", "median", "min", "max", "mad", "iqr")
    assert [getattr(after, name) for name in exact] == [getattr(before, name) for name in exact]
    assert (after.mean, after.stdev) == pytest.approx((before.mean, before.stdev), rel=1e-12, abs=1e-12)


@settings(max_examples=60, deadline=None)
@given(values=samples, scale=st.floats(0.001, 1000.0))
def test_relative_noise_is_scale_free(values: list[float], scale: float) -> None:
    before, after = relative_mad(values), relative_mad([v * scale for v in values])
    assert before is not None
    assert after == pytest.approx(before, rel=1e-9, abs=1e-12)

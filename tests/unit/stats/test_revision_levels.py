"""The figures ``show`` prints per revision, in plain Python, equal bit for bit to ``summarize``'s (numpy): any
finite value, negative zeros, NaN and infinities (dropped) among them."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from perfsheriff.stats.revision_levels import RevisionLevels, revision_levels
from perfsheriff.stats.summary import NoSamples, summarize

finite = st.floats(allow_nan=False, allow_infinity=False, width=64)
samples = st.lists(finite | st.sampled_from([0.0, -0.0, 1.0, float("nan"), float("inf"), -float("inf")]), max_size=40)


@settings(max_examples=2000)
@given(values=samples)
def test_the_figures_are_summarizes_bit_for_bit(values: list[float]) -> None:
    with np.errstate(over="ignore", invalid="ignore"):  # summarize's standard deviation of huge values
        summary = summarize(values)
        levels = revision_levels(values)  # with a -0.0: summarize itself
    if isinstance(summary, NoSamples):
        assert levels is None
        return
    assert levels is not None
    expected = (summary.n, summary.median, summary.mad, summary.min, summary.max)
    assert [repr(v) for v in (levels.n, levels.median, levels.mad, levels.min, levels.max)] == [
        repr(v) for v in expected
    ]


@given(values=st.lists(st.floats(1e-3, 1e6), min_size=1, max_size=12))
def test_typical_timings(values: list[float]) -> None:
    summary = summarize(values)
    assert not isinstance(summary, NoSamples)
    assert revision_levels(values) == RevisionLevels(summary.n, summary.median, summary.mad, summary.min, summary.max)


def test_no_finite_sample_is_none() -> None:
    assert revision_levels([]) is None
    assert revision_levels([float("nan"), float("inf")]) is None

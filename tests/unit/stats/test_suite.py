"""The weighted suite summary: known cases, its interval, and invariants (hypothesis)."""

from __future__ import annotations

import math
from random import Random

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from perfsheriff.errors import InputError
from perfsheriff.model import Direction
from perfsheriff.stats.compare import CompareSettings, Comparison, ComparisonVerdict, compare
from perfsheriff.stats.suite import SuiteEntry, SuiteSummary, TagSummary, summarize_suite, summarize_tags

LOWER = Direction.LOWER_IS_BETTER
HIGHER = Direction.HIGHER_IS_BETTER


def made(
    ratio: float, low: float, high: float, verdict: ComparisonVerdict = ComparisonVerdict.INCONCLUSIVE
) -> Comparison:
    """A comparison as compare() would report it, with only what the summary reads."""
    return Comparison(verdict, 10, 10, ratio=ratio, ci_low=low, ci_high=high, relative_change=ratio - 1)


def swapped(c: Comparison) -> Comparison:
    """The comparison with base and head exchanged (what compare(head, base) gives)."""
    assert c.ratio is not None
    assert c.ci_low is not None
    assert c.ci_high is not None
    flip = {
        ComparisonVerdict.REGRESSION: ComparisonVerdict.IMPROVEMENT,
        ComparisonVerdict.IMPROVEMENT: ComparisonVerdict.REGRESSION,
    }
    return made(1 / c.ratio, 1 / c.ci_high, 1 / c.ci_low, flip.get(c.verdict, c.verdict))


def noisy(rng: np.random.Generator, level: float, n: int = 10, noise: float = 0.01) -> list[float]:
    return list(level * (1 + noise * rng.standard_normal(n)))


# --- known cases ---------------------------------------------------------------------------------


def test_weights_pull_the_mean_towards_real_world_benchmarks() -> None:
    # GHC: a 25 % regression on a micro-benchmark for 1 % on compiling Cabal.
    cabal = SuiteEntry(made(0.99, 0.985, 0.995), LOWER, weight=10)
    micro = SuiteEntry(made(1.25, 1.24, 1.26), LOWER, weight=0.1)
    summary = summarize_suite([cabal, micro])
    expected = math.exp((10 * math.log(0.99) + 0.1 * math.log(1.25)) / 10.1)
    assert summary.ratio == pytest.approx(expected)
    assert summary.ratio is not None
    assert summary.ratio < 1.0
    unweighted = [SuiteEntry(e.comparison, LOWER) for e in (cabal, micro)]
    assert summarize_suite(unweighted).ratio == pytest.approx(math.sqrt(0.99 * 1.25))


def test_higher_is_better_series_enter_inverted_so_that_above_one_is_worse() -> None:
    slower = SuiteEntry(made(1.10, 1.08, 1.12, ComparisonVerdict.REGRESSION), LOWER)
    less_throughput = SuiteEntry(made(1 / 1.10, 1 / 1.12, 1 / 1.08, ComparisonVerdict.REGRESSION), HIGHER)
    summary = summarize_suite([slower, less_throughput])
    assert summary.ratio == pytest.approx(1.10)
    assert summary.verdict is ComparisonVerdict.REGRESSION
    assert (summary.regressions, summary.improvements) == (2, 0)


def test_the_interval_is_the_conservative_bound_by_default_and_narrower_for_independent_series() -> None:
    entries = [SuiteEntry(made(1.05, 1.05 / 1.02, 1.05 * 1.02), LOWER) for _ in range(16)]
    conservative = summarize_suite(entries)
    independent = summarize_suite(entries, correlation=0.0)
    assert conservative.ratio == pytest.approx(1.05)
    assert conservative.ci_low is not None
    assert conservative.ci_high is not None
    assert independent.ci_low is not None
    assert independent.ci_high is not None
    # perfectly correlated: as wide as one series; independent: sqrt(16) = 4 times narrower on the log scale
    assert math.log(conservative.ci_high / conservative.ci_low) == pytest.approx(2 * math.log(1.02))
    assert math.log(independent.ci_high / independent.ci_low) == pytest.approx(2 * math.log(1.02) / 4)


def test_series_without_a_finite_interval_are_left_out_and_counted() -> None:
    rng = np.random.default_rng(1)
    decided = compare(noisy(rng, 100), noisy(rng, 110), LOWER)
    three_samples = compare(noisy(rng, 100, 3), noisy(rng, 300, 3), LOWER)  # no 95 % interval with 3 a side
    none = compare([1.0], [2.0], LOWER)
    summary = summarize_suite([SuiteEntry(decided, LOWER), SuiteEntry(three_samples, LOWER), SuiteEntry(none, LOWER)])
    assert (summary.series, summary.included, summary.weight) == (3, 1, 1.0)
    assert summary.ratio == pytest.approx(decided.ratio)
    assert (summary.regressions, summary.inconclusive, summary.insufficient_data) == (1, 1, 1)
    assert summary.verdict is ComparisonVerdict.REGRESSION


def test_nothing_usable_is_insufficient_data() -> None:
    for entries in ([], [SuiteEntry(compare([1.0], [1.0], LOWER), LOWER)]):
        summary = summarize_suite(entries)
        assert summary.verdict is ComparisonVerdict.INSUFFICIENT_DATA
        assert (summary.ratio, summary.ci_low, summary.ci_high, summary.relative_change) == (None, None, None, None)


def test_a_quiet_suite_is_no_change_and_a_noisy_one_inconclusive() -> None:
    quiet = summarize_suite([SuiteEntry(made(1.001, 0.995, 1.007), LOWER)] * 3)
    noisy_suite = summarize_suite([SuiteEntry(made(1.03, 0.95, 1.11), LOWER)] * 3)
    assert quiet.verdict is ComparisonVerdict.NO_CHANGE
    assert noisy_suite.verdict is ComparisonVerdict.INCONCLUSIVE


def test_the_suite_uses_the_settings_of_its_comparisons() -> None:
    entries = [SuiteEntry(made(1.03, 1.01, 1.05), LOWER)]
    assert summarize_suite(entries).verdict is ComparisonVerdict.REGRESSION
    assert summarize_suite(entries, CompareSettings(min_magnitude=0.05)).verdict is ComparisonVerdict.INCONCLUSIVE


@pytest.mark.parametrize("weight", [0.0, -1.0, math.nan, math.inf])
def test_weights_must_be_positive_and_finite(weight: float) -> None:
    with pytest.raises(InputError, match="weight"):
        SuiteEntry(made(1.0, 0.9, 1.1), LOWER, weight)


def test_the_correlation_must_be_a_correlation() -> None:
    with pytest.raises(InputError, match="correlation"):
        summarize_suite([], correlation=1.5)


# --- invariants ----------------------------------------------------------------------------------

ratios = st.floats(min_value=0.2, max_value=5.0)
widths = st.floats(min_value=1.0, max_value=1.5)
weights = st.floats(min_value=0.01, max_value=100.0)
verdicts = st.sampled_from(ComparisonVerdict)


@st.composite
def entries(draw: st.DrawFn) -> list[SuiteEntry]:
    count = draw(st.integers(min_value=1, max_value=12))
    made_entries = []
    for _ in range(count):
        ratio, below, above = draw(ratios), draw(widths), draw(widths)
        verdict = draw(
            st.sampled_from(
                [ComparisonVerdict.REGRESSION, ComparisonVerdict.IMPROVEMENT, ComparisonVerdict.INCONCLUSIVE]
            )
        )
        made_entries.append(SuiteEntry(made(ratio, ratio / below, ratio * above, verdict), LOWER, draw(weights)))
    return made_entries


def close(a: float | None, b: float | None) -> bool:
    return a is not None and b is not None and math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-12)


@given(ratio=ratios, found=entries(), direction=st.sampled_from(Direction))
def test_all_ratios_equal_r_give_r(ratio: float, found: list[SuiteEntry], direction: Direction) -> None:
    same = [SuiteEntry(made(ratio, ratio / 1.1, ratio * 1.2), direction, e.weight) for e in found]
    summary = summarize_suite(same)
    oriented = ratio if direction is LOWER else 1 / ratio
    assert close(summary.ratio, oriented)


@given(found=entries(), correlation=st.floats(min_value=0.0, max_value=1.0))
def test_swapping_base_and_head_inverts_the_summary(found: list[SuiteEntry], correlation: float) -> None:
    forward = summarize_suite(found, correlation=correlation)
    backward = summarize_suite(
        [SuiteEntry(swapped(e.comparison), e.direction, e.weight) for e in found], correlation=correlation
    )
    assert forward.ratio is not None
    assert forward.ci_low is not None
    assert forward.ci_high is not None
    assert close(backward.ratio, 1 / forward.ratio)
    assert close(backward.ci_low, 1 / forward.ci_high)
    assert close(backward.ci_high, 1 / forward.ci_low)
    flip = {
        ComparisonVerdict.REGRESSION: ComparisonVerdict.IMPROVEMENT,
        ComparisonVerdict.IMPROVEMENT: ComparisonVerdict.REGRESSION,
    }
    assert backward.verdict is flip.get(forward.verdict, forward.verdict)
    assert (backward.regressions, backward.improvements) == (forward.improvements, forward.regressions)


@given(found=entries(), scale=st.floats(min_value=1e-3, max_value=1e3))
def test_scaling_every_weight_changes_nothing(found: list[SuiteEntry], scale: float) -> None:
    plain = summarize_suite(found)
    scaled = summarize_suite([SuiteEntry(e.comparison, e.direction, e.weight * scale) for e in found])
    for field in ("ratio", "ci_low", "ci_high"):
        assert close(getattr(scaled, field), getattr(plain, field))
    assert scaled.verdict is plain.verdict or _on_a_boundary(plain)


def _on_a_boundary(summary: SuiteSummary) -> bool:
    """Rounding may tip a verdict whose interval ends exactly on a threshold."""
    edges = (1.0, 1.02, 1 / 1.02)
    values = (summary.ratio, summary.ci_low, summary.ci_high)
    return any(v is not None and math.isclose(v, edge, rel_tol=1e-9) for v in values for edge in edges)


@given(found=entries())
def test_the_interval_contains_the_estimate_and_order_does_not_matter(found: list[SuiteEntry]) -> None:
    summary = summarize_suite(found)
    assert summary.ci_low is not None
    assert summary.ratio is not None
    assert summary.ci_high is not None
    assert summary.ci_low <= summary.ratio <= summary.ci_high
    reversed_summary = summarize_suite(found[::-1])
    assert close(reversed_summary.ratio, summary.ratio)
    assert close(reversed_summary.ci_high, summary.ci_high)


@settings(max_examples=25, deadline=None)
@given(
    seed=st.integers(min_value=0, max_value=2**32 - 1),
    steps=st.lists(st.floats(min_value=0.8, max_value=1.25), min_size=1, max_size=4),
    direction=st.sampled_from(Direction),
)
def test_swapping_real_comparisons_inverts_the_summary(seed: int, steps: list[float], direction: Direction) -> None:
    rng = np.random.default_rng(seed)
    pairs = [(noisy(rng, 100, 6, 0.02), noisy(rng, 100 * step, 6, 0.02)) for step in steps]
    forward = summarize_suite([SuiteEntry(compare(b, h, direction), direction) for b, h in pairs])
    backward = summarize_suite([SuiteEntry(compare(h, b, direction), direction) for b, h in pairs])
    assert forward.ratio is not None
    assert close(backward.ratio, 1 / forward.ratio)
    flip = {
        ComparisonVerdict.REGRESSION: ComparisonVerdict.IMPROVEMENT,
        ComparisonVerdict.IMPROVEMENT: ComparisonVerdict.REGRESSION,
    }
    assert backward.verdict is flip.get(forward.verdict, forward.verdict)


def test_an_interval_that_touches_one_excludes_it_on_neither_side() -> None:
    """Found by the property above: 1.5 in [1.0, 2.25] is inconclusive, and so is its swap."""
    one = [SuiteEntry(made(1.5, 1.0, 2.25, ComparisonVerdict.REGRESSION), LOWER, 1.0)]
    assert summarize_suite(one).verdict is ComparisonVerdict.INCONCLUSIVE
    assert (
        summarize_suite([SuiteEntry(swapped(one[0].comparison), LOWER, 1.0)]).verdict is ComparisonVerdict.INCONCLUSIVE
    )


# --- per tag -------------------------------------------------------------------------------------


def test_each_tag_summarises_the_series_that_carry_it() -> None:
    cabal = SuiteEntry(made(1.01, 1.005, 1.015), LOWER, weight=10, tags=frozenset({"real-world"}))
    t9872 = SuiteEntry(made(1.25, 1.24, 1.26), LOWER, weight=0.1, tags=frozenset({"micro", "types"}))
    fib = SuiteEntry(made(0.9, 0.89, 0.91), LOWER, tags=frozenset({"micro"}))
    untagged = SuiteEntry(made(2.0, 1.9, 2.1), LOWER)
    found = summarize_tags([cabal, t9872, fib, untagged])
    assert [t.tag for t in found] == ["micro", "real-world", "types"]
    micro, real_world, types = (t.summary for t in found)
    assert micro.series == 2
    assert micro.ratio == pytest.approx(math.exp((0.1 * math.log(1.25) + math.log(0.9)) / 1.1))
    assert real_world == summarize_suite([cabal])
    assert types == summarize_suite([t9872])


def test_a_suite_without_tags_has_no_tag_summaries() -> None:
    assert summarize_tags([SuiteEntry(made(1.1, 1.0, 1.2), LOWER)]) == ()
    assert summarize_tags([]) == ()


@pytest.mark.parametrize("tag", ["", "real world", "a:b", "x/y", "é", "a" * 101])
def test_a_tag_is_a_plain_name(tag: str) -> None:
    with pytest.raises(InputError, match="a tag is ASCII letters, digits"):
        SuiteEntry(made(1.1, 1.0, 1.2), LOWER, tags=frozenset({tag}))


tag_names = st.sampled_from(["real-world", "micro", "io", "v1.2_x"])


@st.composite
def tagged_entries(draw: st.DrawFn) -> list[SuiteEntry]:
    return [
        SuiteEntry(e.comparison, e.direction, e.weight, frozenset(draw(st.sets(tag_names, max_size=3))))
        for e in draw(entries())
    ]


@given(found=entries(), correlation=st.floats(min_value=0.0, max_value=1.0))
def test_a_tag_every_series_carries_summarises_as_the_suite(found: list[SuiteEntry], correlation: float) -> None:
    everywhere = [SuiteEntry(e.comparison, e.direction, e.weight, frozenset({"all"})) for e in found]
    assert summarize_tags(everywhere, correlation=correlation) == (
        TagSummary("all", summarize_suite(found, correlation=correlation)),
    )


@given(found=tagged_entries())
def test_tag_summaries_count_their_series_and_their_intervals_contain_the_estimate(found: list[SuiteEntry]) -> None:
    summaries = summarize_tags(found)
    assert [t.tag for t in summaries] == sorted({tag for e in found for tag in e.tags})
    for t in summaries:
        assert t.summary.series == sum(t.tag in e.tags for e in found)
        assert t.summary.ci_low is not None
        assert t.summary.ratio is not None
        assert t.summary.ci_high is not None
        assert t.summary.ci_low <= t.summary.ratio <= t.summary.ci_high


@given(found=tagged_entries(), rng=st.randoms(use_true_random=False))
def test_the_order_of_the_series_does_not_change_the_tag_summaries(found: list[SuiteEntry], rng: Random) -> None:
    shuffled = list(found)
    rng.shuffle(shuffled)
    for one, other in zip(summarize_tags(found), summarize_tags(shuffled), strict=True):
        assert one.tag == other.tag
        assert (one.summary.series, one.summary.regressions, one.summary.improvements) == (
            other.summary.series,
            other.summary.regressions,
            other.summary.improvements,
        )
        for field in ("ratio", "ci_low", "ci_high"):
            assert close(getattr(one.summary, field), getattr(other.summary, field))
        assert one.summary.verdict is other.summary.verdict or _on_a_boundary(one.summary)

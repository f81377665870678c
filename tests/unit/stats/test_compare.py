"""Two-sample comparison: known-truth synthetic data and invariants."""

from __future__ import annotations

import itertools
import math
import re
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from perfsheriff.errors import ConfigError
from perfsheriff.model import Direction
from perfsheriff.stats.compare import (
    CompareSettings,
    Comparison,
    ComparisonVerdict,
    DataProblem,
    compare,
    hodges_lehmann,
    mann_whitney_ci_rank,
    mann_whitney_null_counts,
    mann_whitney_p,
    min_samples_per_side,
)

LOWER = Direction.LOWER_IS_BETTER
HIGHER = Direction.HIGHER_IS_BETTER
DECIDED = (ComparisonVerdict.REGRESSION, ComparisonVerdict.IMPROVEMENT)


def noisy(rng: np.random.Generator, level: float, noise: float, n: int) -> list[float]:
    return list(level * (1 + noise * rng.standard_normal(n)))


# --- known truth ---------------------------------------------------------------------------------


def test_ten_percent_slowdown_is_a_regression() -> None:
    rng = np.random.default_rng(1)
    result = compare(noisy(rng, 100, 0.01, 10), noisy(rng, 110, 0.01, 10), LOWER)
    assert result.verdict is ComparisonVerdict.REGRESSION
    assert result.ci_low is not None
    assert result.ci_high is not None
    assert result.ci_low < 1.10 < result.ci_high
    assert result.relative_change == pytest.approx(0.10, abs=0.01)
    assert result.p_value is not None
    assert result.p_value < 0.001
    assert result.runs_needed is None


def test_higher_is_better_flips_the_verdict() -> None:
    rng = np.random.default_rng(2)
    base, head = noisy(rng, 100, 0.01, 10), noisy(rng, 110, 0.01, 10)
    assert compare(base, head, HIGHER).verdict is ComparisonVerdict.IMPROVEMENT
    assert compare(head, base, HIGHER).verdict is ComparisonVerdict.REGRESSION
    assert compare(head, base, LOWER).verdict is ComparisonVerdict.IMPROVEMENT


def test_identical_distributions_with_many_samples_are_no_change() -> None:
    rng = np.random.default_rng(3)
    result = compare(noisy(rng, 100, 0.01, 30), noisy(rng, 100, 0.01, 30), LOWER)
    assert result.verdict is ComparisonVerdict.NO_CHANGE


@pytest.mark.parametrize("noise", [0.01, 0.05])
def test_false_decisions_on_identical_distributions_stay_below_alpha(noise: float) -> None:
    rng = np.random.default_rng(4)
    trials = 200
    verdicts = [compare(noisy(rng, 100, noise, 10), noisy(rng, 100, noise, 10), LOWER).verdict for _ in range(trials)]
    regressions = verdicts.count(ComparisonVerdict.REGRESSION)
    decided = sum(v in DECIDED for v in verdicts)
    # alpha/2 per side is expected; allow three binomial standard deviations of slack.
    assert regressions <= trials * 0.025 + 3 * math.sqrt(trials * 0.025)
    assert decided <= trials * 0.05 + 3 * math.sqrt(trials * 0.05)


def test_small_but_significant_change_inside_the_band_is_no_change() -> None:
    rng = np.random.default_rng(5)
    result = compare(noisy(rng, 100, 0.001, 20), noisy(rng, 100.5, 0.001, 20), LOWER)
    assert result.p_value is not None
    assert result.p_value < 0.05
    assert result.verdict is ComparisonVerdict.NO_CHANGE


def test_inconclusive_estimates_runs_that_settle_it_when_the_estimates_are_true() -> None:
    rng = np.random.default_rng(6)
    result = compare(noisy(rng, 100, 0.03, 5), noisy(rng, 103, 0.03, 5), LOWER)
    assert result.verdict is ComparisonVerdict.INCONCLUSIVE
    assert result.runs_needed is not None
    assert result.ratio is not None
    assert result.noise is not None
    n = 5 + result.runs_needed
    # draw from a world where the observed ratio and noise are the truth
    settled = sum(
        compare(noisy(rng, 100, result.noise, n), noisy(rng, 100 * result.ratio, result.noise, n), LOWER).verdict
        is not ComparisonVerdict.INCONCLUSIVE
        for _ in range(200)
    )
    assert settled / 200 >= 0.7  # the estimate aims at 80 % power


def test_interval_covers_the_true_ratio_at_the_stated_level() -> None:
    rng = np.random.default_rng(7)
    covered = 0
    for _ in range(300):
        base, head = rng.lognormal(0.0, 0.05, 8), rng.lognormal(math.log(1.07), 0.05, 9)
        shift = hodges_lehmann(np.log(base), np.log(head), 0.05)
        covered += shift.low <= math.log(1.07) <= shift.high
    assert covered / 300 >= 0.95 - 3 * math.sqrt(0.95 * 0.05 / 300)


# --- degenerate input ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("base", "head"),
    [([], []), ([1.0], [1.0, 2.0]), ([math.nan, math.nan], [1.0, 2.0]), ([1.0, math.inf, math.nan], [2.0, 3.0])],
)
def test_too_few_finite_samples_are_insufficient(base: list[float], head: list[float]) -> None:
    result = compare(base, head, LOWER)
    assert result.verdict is ComparisonVerdict.INSUFFICIENT_DATA
    assert result.problem is DataProblem.TOO_FEW_SAMPLES
    assert result.ratio is None
    assert result.runs_needed == min_samples_per_side(0.05) - min(result.n_base, result.n_head)


def test_non_finite_samples_are_dropped_and_counted() -> None:
    result = compare([1.0, 1.01, 0.99, math.nan, 1.0], [1.0, 1.0, 1.01, 0.99], LOWER)
    assert (result.n_base, result.dropped) == (4, 1)


def test_non_positive_values_are_insufficient() -> None:
    result = compare([0.0, 1.0, 2.0], [1.0, 2.0, 3.0], LOWER)
    assert result.verdict is ComparisonVerdict.INSUFFICIENT_DATA
    assert result.problem is DataProblem.NON_POSITIVE_VALUES
    assert result.median_base == 1.0


def test_zero_variance_on_both_sides() -> None:
    assert compare([5.0] * 6, [5.0] * 6, LOWER).verdict is ComparisonVerdict.NO_CHANGE
    different = compare([5.0] * 6, [6.0] * 6, LOWER)
    assert different.verdict is ComparisonVerdict.REGRESSION
    assert different.ci_low == pytest.approx(1.2)
    assert different.ci_high == pytest.approx(1.2)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"alpha": 0.0},
        {"alpha": 0.6},
        {"equivalence_margin": 0.0},
        {"min_magnitude": -0.1},
        {"power": 1.0},
        {"min_samples": 1},
    ],
)
def test_invalid_settings_are_config_errors(kwargs: dict[str, float]) -> None:
    with pytest.raises(ConfigError):
        CompareSettings(**kwargs)  # type: ignore[arg-type]


# --- the rank machinery --------------------------------------------------------------------------


@pytest.mark.parametrize(("m", "n"), [(1, 1), (2, 3), (3, 4), (4, 4), (5, 3)])
def test_null_counts_match_enumeration(m: int, n: int) -> None:
    counts = [0] * (m * n + 1)
    for chosen in itertools.combinations(range(m + n), m):  # ranks of the first sample
        counts[sum(chosen) - m * (m - 1) // 2] += 1
    assert mann_whitney_null_counts(m, n) == counts


def test_ci_rank_matches_the_published_table() -> None:
    # critical values of U for a two-sided test at 0.05: reject when U <= 23 (10, 10), 2 (5, 5)
    assert mann_whitney_ci_rank(10, 10, 0.05) == 24
    assert mann_whitney_ci_rank(5, 5, 0.05) == 3
    assert mann_whitney_ci_rank(2, 2, 0.05) == 0
    assert min_samples_per_side(0.05) == 4


def test_normal_approximation_agrees_with_exact_near_the_switch() -> None:
    exact = mann_whitney_ci_rank(50, 50, 0.05)
    approximate = mann_whitney_ci_rank(51, 50, 0.05)
    assert abs(approximate - exact) <= 30  # one more sample moves k by about n/2
    assert mann_whitney_ci_rank(51, 50, 0.05) > exact


# --- properties ----------------------------------------------------------------------------------

values = st.integers(1, 100_000).map(lambda x: x / 100)
jitters = st.lists(st.integers(-100, 100), max_size=20)
MIRROR = {
    ComparisonVerdict.REGRESSION: ComparisonVerdict.IMPROVEMENT,
    ComparisonVerdict.IMPROVEMENT: ComparisonVerdict.REGRESSION,
}


@st.composite
def pairs(draw: st.DrawFn) -> tuple[list[float], list[float]]:
    """A base and a head around two levels with 0.1 %, 1 % or 10 % noise, to reach every verdict."""
    level = draw(st.floats(0.01, 10_000.0))
    noise = draw(st.sampled_from([0.001, 0.01, 0.1])) / 100
    factor = draw(st.one_of(st.just(1.0), st.floats(0.5, 2.0)))
    base = [level * (1 + noise * j) for j in draw(jitters)]
    head = [level * factor * (1 + noise * j) for j in draw(jitters)]
    return base, head


def _close(a: float | None, b: float | None) -> bool:
    if a is None or b is None:
        return a is b
    return a == pytest.approx(b, rel=1e-9)


@settings(max_examples=150, deadline=None)
@given(pair=pairs())
def test_swapping_base_and_head_flips_the_verdict_and_inverts_the_ratio(pair: tuple[list[float], list[float]]) -> None:
    base, head = pair
    forward, backward = compare(base, head, LOWER), compare(head, base, LOWER)
    assert backward.verdict is MIRROR.get(forward.verdict, forward.verdict)
    if forward.ratio is not None:
        assert backward.ratio is not None
        assert forward.ratio * backward.ratio == pytest.approx(1.0)
        assert forward.ci_low is not None
        assert backward.ci_high is not None
        assert forward.ci_low * backward.ci_high == pytest.approx(1.0) or math.isinf(backward.ci_high)
        assert _close(forward.p_value, backward.p_value)


@settings(max_examples=150, deadline=None)
@given(pair=pairs(), scale=st.floats(0.001, 1000.0))
def test_scaling_every_sample_changes_no_verdict(pair: tuple[list[float], list[float]], scale: float) -> None:
    base, head = pair
    plain, scaled = compare(base, head, LOWER), compare([v * scale for v in base], [v * scale for v in head], LOWER)
    assert scaled.verdict is plain.verdict
    assert _close(scaled.ratio, plain.ratio)
    assert scaled.runs_needed == plain.runs_needed


@settings(max_examples=100, deadline=None)
@given(pair=pairs(), data=st.data())
def test_permuting_samples_changes_nothing(pair: tuple[list[float], list[float]], data: st.DataObject) -> None:
    base, head = pair
    shuffled = compare(data.draw(st.permutations(base)), data.draw(st.permutations(head)), LOWER)
    plain = compare(base, head, LOWER)
    assert (shuffled.verdict, shuffled.ratio, shuffled.ci_low, shuffled.ci_high) == (
        plain.verdict,
        plain.ratio,
        plain.ci_low,
        plain.ci_high,
    )
    assert _close(shuffled.p_value, plain.p_value)


@settings(max_examples=100, deadline=None)
@given(
    side=st.lists(st.one_of(values, st.just(math.nan), st.just(math.inf), st.just(-math.inf)), max_size=12),
    blanks=st.integers(0, 5),
    direction=st.sampled_from(Direction),
)
def test_empty_or_non_finite_input_is_insufficient_data(side: list[float], blanks: int, direction: Direction) -> None:
    empty = [math.nan] * blanks
    for result in (compare(empty, side, direction), compare(side, empty, direction)):
        assert isinstance(result, Comparison)
        assert result.verdict is ComparisonVerdict.INSUFFICIENT_DATA
        assert result.problem is DataProblem.TOO_FEW_SAMPLES


# --- documentation -------------------------------------------------------------------------------

DOC = Path(__file__).parents[3] / "docs" / "comparison.md"


@pytest.mark.parametrize("block", re.findall(r"```python\n(.*?)```", DOC.read_text(), flags=re.DOTALL))
def test_examples_in_the_comparison_docs_run(block: str, capsys: pytest.CaptureFixture[str]) -> None:
    exec(compile(block, str(DOC), "exec"), {})
    assert capsys.readouterr().out


@settings(max_examples=300, deadline=None)
@given(
    st.lists(st.integers(-6, 6), min_size=1, max_size=12),
    st.lists(st.integers(-6, 6), min_size=1, max_size=12),
    st.sampled_from([1.0, 0.37, 10.0]),
    st.booleans(),
)
def test_the_rank_test_matches_scipy_where_both_are_exact_or_both_approximate(
    xs: list[int], ys: list[int], scale: float, jitter: bool
) -> None:
    from scipy import stats as sps

    x, y = np.array(xs, dtype=float) * scale, np.array(ys, dtype=float) * scale
    if jitter:  # distinct values: no ties
        x, y = x + np.arange(x.size) * 1e-3, y + 0.5e-3 + np.arange(y.size) * 1e-3
    tied = np.unique(np.round(np.r_[x, y], 12)).size < x.size + y.size
    if not tied and min(x.size, y.size) >= 8:
        return  # perfsheriff is exact here, scipy approximates
    expected = float(sps.mannwhitneyu(y, x, alternative="two-sided").pvalue)
    assert mann_whitney_p(x, y) == pytest.approx(expected, rel=1e-9, abs=1e-12)
    assert mann_whitney_p(y, x) == pytest.approx(expected, rel=1e-9, abs=1e-12)  # two-sided: symmetric


def test_the_exact_rank_test_p_values_of_small_samples() -> None:
    """Complete separation of 4 vs 4: 2 / C(8, 4) = 1/35; one swap: 2 * 2/70."""
    assert mann_whitney_p(np.array([1.0, 2, 3, 4]), np.array([5.0, 6, 7, 8])) == pytest.approx(2 / 70)
    assert mann_whitney_p(np.array([1.0, 2, 3, 5]), np.array([4.0, 6, 7, 8])) == pytest.approx(4 / 70)
    assert mann_whitney_p(np.array([3.0, 3, 3]), np.array([3.0, 3, 3])) == 1.0  # all tied: no evidence

"""Machine generations: the scale factor between two machines from baseline revisions, and the rescaled series."""

from __future__ import annotations

import contextlib
import io
import math
import re
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.stats import binom

from perfsheriff.errors import ConfigError, InputError
from perfsheriff.model import Direction
from perfsheriff.stats.changepoints import ChangePoint, detect
from perfsheriff.stats.generations import (
    ScaleEstimate,
    ScaleSettings,
    TooUncertain,
    estimate_scale,
    explained_by_rescaling,
    min_revisions,
    rescale,
    sign_interval_rank,
)

Baseline = dict[str, list[float]]
FACTOR = 0.7  # the new machine is 30 % faster


def baseline(
    rng: np.random.Generator, revisions: int, *, noise: float, samples: int = 3, factor: float = FACTOR
) -> tuple[Baseline, Baseline]:
    """Each revision's own level (up to ±50 %), measured ``samples`` times on each machine with lognormal noise."""
    levels = 100.0 * np.exp(rng.uniform(-0.4, 0.4, revisions))
    old = {f"r{i}": list(level * np.exp(noise * rng.standard_normal(samples))) for i, level in enumerate(levels)}
    new = {
        f"r{i}": list(factor * level * np.exp(noise * rng.standard_normal(samples))) for i, level in enumerate(levels)
    }
    return old, new


def busy(side: Baseline, revision: str, slowdown: float) -> Baseline:
    """``side`` with ``revision`` measured during a busy spell: every sample ``slowdown`` slower."""
    return {r: [v * (1 + slowdown) for v in samples] if r == revision else samples for r, samples in side.items()}


# --- known truth ---------------------------------------------------------------------------------


def test_a_clean_baseline_of_ten_revisions_gives_the_factor_within_tolerance() -> None:
    old, new = baseline(np.random.default_rng(1), 10, noise=0.01)
    result = estimate_scale(old, new)
    assert isinstance(result, ScaleEstimate)
    assert result.low <= FACTOR <= result.high
    assert result.factor == pytest.approx(FACTOR, rel=0.01)
    assert result.relative_half_width <= 0.02
    assert result.revisions == tuple(f"r{i}" for i in range(10))
    assert result.outliers == ()


def test_one_revision_measured_during_a_busy_spell_is_ignored_and_named() -> None:
    old, new = baseline(np.random.default_rng(2), 10, noise=0.005)
    result = estimate_scale(busy(old, "r3", 0.4), new)
    assert isinstance(result, ScaleEstimate)
    assert result.low <= FACTOR <= result.high
    assert result.factor == pytest.approx(FACTOR, rel=0.005)
    assert result.outliers == ("r3",)


def test_an_outlier_at_an_end_of_a_small_baseline_asks_for_enough_revisions_to_leave_it_out() -> None:
    old, new = baseline(np.random.default_rng(6), 6, noise=0.002)
    result = estimate_scale(old, busy(new, "r0", 0.3))
    assert isinstance(result, TooUncertain)  # six revisions: the interval is [min, max], and r0 is the max
    assert result.outliers == ("r0",)
    assert result.more_revisions == 3  # nine revisions: the interval's ends are the second from either end
    assert "re-measuring the outlying r0 may be enough" in result.reason


def test_revisions_measured_on_one_generation_only_do_not_count() -> None:
    old, new = baseline(np.random.default_rng(3), 8, noise=0.01)
    old["only-old"], new["only-new"] = [1.0], [1000.0]
    result = estimate_scale(old, new)
    assert "only-old" not in result.revisions
    assert len(result.revisions) == 8


def test_fewer_than_six_revisions_cannot_give_a_95_percent_interval() -> None:
    old, new = baseline(np.random.default_rng(4), 5, noise=0.001)
    result = estimate_scale(old, new)
    assert isinstance(result, TooUncertain)
    assert (result.low, result.high) == (0.0, math.inf)
    assert result.factor == pytest.approx(FACTOR, rel=0.01)
    assert result.more_revisions == 1  # the spread is tiny: the sixth revision settles it
    assert "at least 6 are needed" in result.reason


def test_a_noisy_baseline_is_too_uncertain_and_says_how_many_more_revisions() -> None:
    old, new = baseline(np.random.default_rng(5), 10, noise=0.08)
    result = estimate_scale(old, new)
    assert isinstance(result, TooUncertain)
    assert result.low <= FACTOR <= result.high
    assert result.relative_half_width > 0.02
    assert result.more_revisions > 10
    assert "wider than the tolerance" in result.reason
    assert isinstance(estimate_scale(old, new, ScaleSettings(tolerance=0.5)), ScaleEstimate)


def test_the_projected_revisions_usually_settle_the_factor() -> None:
    """The projection is about right ("likely"): half or more of the baselines it sizes settle."""
    sized = settled = 0
    for seed in range(40):
        rng = np.random.default_rng(seed)
        first = estimate_scale(*baseline(rng, 10, noise=0.06))
        if isinstance(first, TooUncertain):
            sized += 1
            total = 10 + first.more_revisions
            settled += isinstance(estimate_scale(*baseline(rng, total, noise=0.06)), ScaleEstimate)
    assert sized >= 30
    assert settled >= sized / 2


def test_the_interval_covers_the_true_factor_in_at_least_90_percent_of_seeds() -> None:
    """Ten revisions, one of them measured during a busy spell of 15-50 % on a random side.

    Why 0.9 is safe and not luck: the ends of the interval are the 2nd and 9th of the ten ordered log
    ratios, so with any one outlier they are at worst the 2nd and 8th of the nine clean ones, which
    cover the true factor with probability P(2 <= B <= 7) = 0.961 for B ~ Binomial(9, 1/2) (the clean
    ratios are independent and symmetric about it). Coverage over 200 seeds is then at least
    Binomial(200, 0.961): mean 192, sd 2.7, and 180 lies 4.5 sd below (P < 1e-4).
    """
    covered = 0
    for seed in range(200):
        rng = np.random.default_rng(1000 + seed)
        old, new = baseline(rng, 10, noise=0.02)
        if rng.random() < 0.5:
            old = busy(old, "r0", rng.uniform(0.15, 0.5))
        else:
            new = busy(new, "r0", rng.uniform(0.15, 0.5))
        result = estimate_scale(old, new)
        covered += result.low <= FACTOR <= result.high
    assert covered / 200 >= 0.9
    assert 1 - binom.cdf(7, 9, 0.5) + binom.cdf(1, 9, 0.5) == pytest.approx(1 - 0.961, abs=0.001)


# --- invariants ----------------------------------------------------------------------------------

positive = st.floats(1e-3, 1e6, allow_nan=False, allow_infinity=False)
samples = st.lists(positive, min_size=1, max_size=4)


@st.composite
def baselines(draw: st.DrawFn, min_size: int = 2) -> tuple[Baseline, Baseline]:
    n = draw(st.integers(min_size, 14))
    old = {f"r{i}": draw(samples) for i in range(n)}
    new = {f"r{i}": draw(samples) for i in range(n)}
    return old, new


def same(a: ScaleEstimate | TooUncertain, b: ScaleEstimate | TooUncertain) -> None:
    assert type(a) is type(b)
    assert a.factor == pytest.approx(b.factor, rel=1e-9)
    assert a.low == pytest.approx(b.low, rel=1e-9)
    assert a.high == pytest.approx(b.high, rel=1e-9)


@settings(max_examples=150, deadline=None)
@given(data=baselines(), scale=st.floats(1e-3, 1e3))
def test_scaling_both_generations_by_c_changes_nothing(data: tuple[Baseline, Baseline], scale: float) -> None:
    old, new = data
    scaled = ({r: [v * scale for v in s] for r, s in old.items()}, {r: [v * scale for v in s] for r, s in new.items()})
    same(estimate_scale(old, new), estimate_scale(*scaled))


@settings(max_examples=150, deadline=None)
@given(data=baselines())
def test_swapping_old_and_new_inverts_the_factor_and_its_interval(data: tuple[Baseline, Baseline]) -> None:
    old, new = data
    forward, backward = estimate_scale(old, new), estimate_scale(new, old)
    assert type(forward) is type(backward)
    assert backward.factor == pytest.approx(1 / forward.factor, rel=1e-9)
    assert backward.low == pytest.approx(1 / forward.high if forward.high < math.inf else 0.0, rel=1e-9)
    assert backward.high == pytest.approx(1 / forward.low if forward.low > 0.0 else math.inf, rel=1e-9)


@settings(max_examples=150, deadline=None)
@given(data=baselines(), confidence=st.floats(0.5, 0.999), tolerance=st.floats(0.001, 0.5))
def test_the_interval_contains_the_estimate(
    data: tuple[Baseline, Baseline], confidence: float, tolerance: float
) -> None:
    result = estimate_scale(*data, ScaleSettings(confidence=confidence, tolerance=tolerance))
    assert 0.0 <= result.low <= result.factor <= result.high
    if isinstance(result, ScaleEstimate):
        assert result.relative_half_width <= tolerance * (1 + 1e-12)
    else:
        assert result.more_revisions >= 1


@settings(max_examples=100, deadline=None)
@given(data=baselines(min_size=6), factor=st.floats(1e-2, 1e2))
def test_a_noiseless_factor_is_recovered_exactly(data: tuple[Baseline, Baseline], factor: float) -> None:
    old, _ = data
    result = estimate_scale(old, {r: [v * factor for v in s] for r, s in old.items()})
    assert isinstance(result, ScaleEstimate)
    assert result.factor == pytest.approx(factor, rel=1e-12)
    assert result.low == pytest.approx(factor, rel=1e-12)
    assert result.high == pytest.approx(factor, rel=1e-12)


@settings(max_examples=80, deadline=None)
@given(data=baselines(), seed=st.integers(0, 2**32 - 1))
def test_the_order_of_samples_and_of_revisions_changes_nothing(data: tuple[Baseline, Baseline], seed: int) -> None:
    old, new = data
    rng = np.random.default_rng(seed)
    names = list(old)
    rng.shuffle(names)
    shuffled = {r: list(rng.permutation(old[r])) for r in names}
    result, again = estimate_scale(old, new), estimate_scale(shuffled, new)
    same(result, again)
    assert sorted(again.revisions) == sorted(result.revisions)


# --- bad input -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        ({"a": [1.0]}, {"b": [1.0]}, "0 revision(s) measured on both"),
        ({}, {}, "0 revision(s) measured on both"),
        ({"a": [1.0], "b": [2.0]}, {"a": [1.0], "c": [2.0]}, "1 revision(s) measured on both"),
        ({"a": [], "b": [1.0]}, {"a": [1.0], "b": [1.0]}, "revision a, old generation: no samples"),
        ({"a": [1.0], "b": [1.0]}, {"a": [1.0], "b": [math.nan]}, "revision b, new generation: samples must be finite"),
        ({"a": [1.0, math.inf], "b": [1.0]}, {"a": [1.0], "b": [1.0]}, "got inf"),
        ({"a": [1.0], "b": [0.0]}, {"a": [1.0], "b": [1.0]}, "numbers > 0"),
        ({"a": [1.0], "b": [1.0]}, {"a": [-2.0], "b": [1.0]}, "got -2.0"),
    ],
)
def test_bad_baselines_are_input_errors(old: Baseline, new: Baseline, message: str) -> None:
    with pytest.raises(InputError, match=message.replace("(", r"\(").replace(")", r"\)")):
        estimate_scale(old, new)


@pytest.mark.parametrize("kwargs", [{"confidence": 1.0}, {"confidence": 0.4}, {"tolerance": 0.0}, {"tolerance": 1.0}])
def test_invalid_settings_are_config_errors(kwargs: dict[str, float]) -> None:
    with pytest.raises(ConfigError):
        ScaleSettings(**kwargs)


def test_results_refuse_an_interval_that_does_not_hold_the_factor() -> None:
    with pytest.raises(InputError):
        ScaleEstimate(factor=1.0, low=1.1, high=1.2, confidence=0.95, revisions=("a", "b"), spread=0.0)
    with pytest.raises(InputError):
        TooUncertain(1.0, 0.5, 2.0, 0.95, ("a", "b"), 0.1, more_revisions=0, reason="")


# --- the sign-test interval ----------------------------------------------------------------------


@pytest.mark.parametrize("n", range(1, 60))
@pytest.mark.parametrize("alpha", [0.01, 0.05, 0.1])
def test_the_interval_rank_is_the_largest_with_tail_at_most_alpha_over_2(n: int, alpha: float) -> None:
    k = sign_interval_rank(n, alpha)
    if k:
        assert binom.cdf(k - 1, n, 0.5) <= alpha / 2 + 1e-12
    if k < (n + 1) // 2:
        assert binom.cdf(k, n, 0.5) > alpha / 2 - 1e-12


def test_six_revisions_are_the_fewest_for_a_95_percent_interval() -> None:
    assert min_revisions(0.05) == 6
    assert sign_interval_rank(5, 0.05) == 0
    assert sign_interval_rank(6, 0.05) == 1
    assert min_revisions(0.01) == 8


# --- rescaling and the boundary ------------------------------------------------------------------


def test_rescale_multiplies_only_the_old_generation_and_leaves_the_input_alone() -> None:
    values = np.array([10.0, 10.0, 7.0, 7.0])
    assert list(rescale(values, 2, 0.7)) == pytest.approx([7.0, 7.0, 7.0, 7.0])
    assert list(values) == [10.0, 10.0, 7.0, 7.0]
    assert list(rescale([1.0, 2.0], 0, 0.5)) == [1.0, 2.0]
    assert list(rescale([1.0, 2.0], 2, 0.5)) == [0.5, 1.0]
    rows = rescale([[10.0, 11.0], [7.0, math.nan]], 1, 0.7)
    assert rows[0] == pytest.approx([7.0, 7.7])
    assert rows[1][0] == 7.0
    assert math.isnan(rows[1][1])


@pytest.mark.parametrize(
    ("boundary", "factor"), [(-1, 0.7), (4, 0.7), (1, 0.0), (1, -1.0), (1, math.nan), (1, math.inf)]
)
def test_rescale_refuses_a_boundary_outside_the_series_or_a_bad_factor(boundary: int, factor: float) -> None:
    with pytest.raises(InputError):
        rescale([1.0, 2.0, 3.0], boundary, factor)


def change(index: int, relative: float, first: int = -1, last: int = -1) -> ChangePoint:
    return ChangePoint(
        index=index,
        last_before=index - 1,
        before=100.0,
        after=100.0 * (1 + relative),
        before_spread=1.0,
        after_spread=1.0,
        relative_change=relative,
        is_regression=relative > 0,
        confidence=0.9999,
        n_before=20,
        n_after=20,
        first_possible=first,
        last_possible=last,
    )


def test_a_change_at_the_boundary_within_the_interval_is_the_factors_own_error() -> None:
    scale = ScaleEstimate(0.7, 0.69, 0.71, 0.95, ("a", "b"), 0.01)
    assert explained_by_rescaling(change(50, 0.01), 50, scale)
    assert explained_by_rescaling(change(52, -0.01, first=48, last=53), 50, scale)
    assert not explained_by_rescaling(change(50, 0.02), 50, scale)  # 0.71 / 0.7 = 1.014: a 2 % step is more
    assert not explained_by_rescaling(change(50, 0.10), 50, scale)
    assert not explained_by_rescaling(change(56, 0.01, first=54, last=57), 50, scale)
    assert not explained_by_rescaling(change(51, 0.01), 50, scale)  # no credible interval: index only


def test_detection_on_the_rescaled_series_sees_the_real_step_not_the_machine() -> None:
    rng = np.random.default_rng(7)
    level = np.full(120, 100.0)
    level[65:] *= 1.10  # a real 10 % regression five revisions after the new machine took over
    series = level * np.exp(0.01 * rng.standard_normal(120))
    series[60:] *= FACTOR
    scale = estimate_scale(*baseline(rng, 10, noise=0.01))
    assert isinstance(scale, ScaleEstimate)

    raw = detect(series, direction=Direction.LOWER_IS_BETTER).change_points
    assert [cp.index for cp in raw if abs(cp.index - 60) <= 2]  # the machine's step raises an alert

    rescaled = detect(rescale(series, 60, scale.factor), direction=Direction.LOWER_IS_BETTER).change_points
    at_boundary = [cp for cp in rescaled if abs(cp.index - 60) <= 2 and not explained_by_rescaling(cp, 60, scale)]
    assert at_boundary == []
    step = [cp for cp in rescaled if abs(cp.index - 65) <= 2]
    assert len(step) == 1
    assert step[0].is_regression
    assert step[0].relative_change == pytest.approx(0.10, abs=0.02)
    assert not explained_by_rescaling(step[0], 60, scale)


def test_the_example_in_the_docs_runs_and_prints_what_it_says() -> None:
    docs = (Path(__file__).resolve().parents[3] / "docs" / "dashboard.md").read_text()
    section = docs.split("### Machine generations", 1)[1]
    (code,) = re.findall(r"```python\n(.*?)```", section.split("\n## ", 1)[0], flags=re.DOTALL)
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        exec(code, {})  # the docs' own example, as a reader would run it
    claimed = re.search(r"print\(.*\)  # (.*)", code)
    assert claimed is not None
    assert printed.getvalue().strip() == claimed[1]

"""Two-sample comparison of a base and a head revision: ratio, confidence interval, verdict.

Method (see ``docs/comparison.md``): the samples are compared on the log
scale, so that a change is a *ratio* and a slowdown and the matching speed-up
are symmetric. The ratio head/base is the Hodges-Lehmann estimate (median of
all pairwise log-ratios), with the distribution-free confidence interval
obtained by inverting the Mann-Whitney test (Moses/Bauer), and the two-sided
Mann-Whitney U test from the same exact null distribution (normal with tie and
continuity corrections for large or tied samples). Everything is deterministic:
no resampling, no seed. Comparing thousands of series at once stays cheap: the
null distributions are computed once per pair of sample sizes.

The verdict uses a practical-equivalence band and a minimum magnitude, both
symmetric on the log scale; :meth:`perfsheriff.model.Direction.is_regression`
alone decides whether a change is a regression or an improvement.

Why one module of about 440 lines: the estimate, its interval and the test are read off one exact
Mann-Whitney distribution, which is built here once for all three.
"""

from __future__ import annotations

import enum
import functools
import itertools
import math
from collections.abc import Iterable
from dataclasses import dataclass
from statistics import NormalDist

import numpy as np
from numpy.typing import NDArray

from perfsheriff.errors import ConfigError
from perfsheriff.model import Direction
from perfsheriff.stats.summary import finite_values, robust_sigma, sorted_median

#: Above this many sample pairs (m·n) the null distribution of U is approximated by a normal.
_EXACT_PAIRS_LIMIT = 2500
#: Log-ratios are rounded to this many decimals, so that verdicts do not hinge on last-bit
#: rounding (scaling every sample by c > 0 must change nothing).
_LOG_DECIMALS = 12
#: A sample-size estimate above this is reported as "not settleable in practice" (``None``).
_MAX_RUNS_ESTIMATE = 10_000
#: Asymptotic variance of the Hodges-Lehmann shift relative to the difference of means under
#: normality: the inverse of its Pitman efficiency 3/π.
_HL_VARIANCE_FACTOR = math.pi / 3
#: Fixed-point steps that replace normal by Student-t quantiles in the sample-size estimate.
_T_REFINEMENTS = 3


class ComparisonVerdict(enum.StrEnum):
    """What a comparison (or a drift check) concluded."""

    REGRESSION = "regression"
    IMPROVEMENT = "improvement"
    NO_CHANGE = "no_change"
    INCONCLUSIVE = "inconclusive"
    INSUFFICIENT_DATA = "insufficient_data"


class DataProblem(enum.StrEnum):
    """Why a comparison could not be made (verdict ``insufficient_data``)."""

    TOO_FEW_SAMPLES = "too_few_samples"  # after dropping non-finite samples
    NON_POSITIVE_VALUES = "non_positive_values"  # a ratio needs values > 0


@dataclass(frozen=True, slots=True)
class CompareSettings:
    """Thresholds of :func:`compare`; fractions, not percents.

    ``alpha``: significance level of the rank test, and 1 - confidence of the interval.
    ``equivalence_margin``: ``no_change`` needs the whole interval within ±margin (log scale).
    ``min_magnitude``: a smaller estimated change is never a regression or improvement.
    ``power``: the chance of settling that the ``runs_needed`` estimate aims for.
    ``min_samples``: fewer finite samples on a side give ``insufficient_data``.
    """

    alpha: float = 0.05
    equivalence_margin: float = 0.02
    min_magnitude: float = 0.02
    power: float = 0.8
    min_samples: int = 2

    def __post_init__(self) -> None:
        checks = (
            (0 < self.alpha < 0.5, "alpha must be between 0 and 0.5"),
            (0 < self.equivalence_margin < 1, "equivalence_margin must be between 0 and 1"),
            (0 <= self.min_magnitude < 1, "min_magnitude must be between 0 and 1"),
            (0 < self.power < 1, "power must be between 0 and 1"),
            (self.min_samples >= 2, "min_samples must be at least 2"),
        )
        for ok, message in checks:
            if not ok:
                raise ConfigError(message)


@dataclass(frozen=True, slots=True)
class Shift:
    """A Hodges-Lehmann shift estimate with its confidence bounds (infinite when unattainable)."""

    estimate: float
    low: float
    high: float


@dataclass(frozen=True, slots=True)
class Comparison:
    """The outcome of :func:`compare`; every number is ``None`` where it is undefined.

    ``ratio`` is the Hodges-Lehmann estimate of head/base (not the plain ratio of
    the medians, though close to it), ``ci_low``/``ci_high`` its bounds at
    confidence ``1 - alpha``, ``relative_change`` is ``ratio - 1``, ``noise`` the
    pooled robust standard deviation of the log samples (≈ relative noise),
    ``runs_needed`` how many more samples per side would likely settle an
    ``inconclusive`` or ``insufficient_data`` outcome, and ``dropped`` the
    number of non-finite samples left out.
    """

    verdict: ComparisonVerdict
    n_base: int
    n_head: int
    median_base: float | None = None
    median_head: float | None = None
    ratio: float | None = None
    ci_low: float | None = None
    ci_high: float | None = None
    relative_change: float | None = None
    p_value: float | None = None
    noise: float | None = None
    runs_needed: int | None = None
    problem: DataProblem | None = None
    dropped: int = 0


def compare(
    base: Iterable[float],
    head: Iterable[float],
    direction: Direction,
    settings: CompareSettings | None = None,
) -> Comparison:
    """Compare the samples of ``head`` with those of ``base``.

    Method: Hodges-Lehmann estimate of the log-ratio head/base with its exact
    (m·n ≤ 2500, else normal-approximation) distribution-free confidence
    interval, and the two-sided Mann-Whitney U test; see :func:`hodges_lehmann`.
    ComparisonVerdict: ``no_change`` when the interval lies within the equivalence band;
    ``regression``/``improvement`` (by ``direction``) when p < alpha, the interval
    excludes 1 and the estimate reaches ``min_magnitude``; else ``inconclusive``.
    Assumptions: samples are independent within and between sides, and head
    differs from base by a multiplicative factor (a shift of the log values);
    samples from several runs are pooled as if independent.
    Reference: Hollander, Wolfe & Chicken (2014), *Nonparametric Statistical
    Methods*, 3rd ed., §4.2-4.3; Bauer (1972), JASA 67(339), 687-690.
    Degenerate input (too few finite samples, values ≤ 0) gives
    ``insufficient_data``; this function never raises on data.
    """
    settings = settings or CompareSettings()
    base_values, dropped_base = finite_values(base)
    head_values, dropped_head = finite_values(head)
    dropped = dropped_base + dropped_head
    problem = _data_problem(base_values, head_values, settings)
    if problem is not None:
        return _insufficient(base_values, head_values, problem, dropped, settings)
    return _compare_valid(base_values, head_values, direction, settings, dropped)


def _data_problem(
    base: NDArray[np.float64], head: NDArray[np.float64], settings: CompareSettings
) -> DataProblem | None:
    if min(base.size, head.size) < settings.min_samples:
        return DataProblem.TOO_FEW_SAMPLES
    if np.any(base <= 0) or np.any(head <= 0):
        return DataProblem.NON_POSITIVE_VALUES
    return None


def _median_or_none(values: NDArray[np.float64]) -> float | None:
    return float(np.median(values)) if values.size else None


def _insufficient(
    base: NDArray[np.float64],
    head: NDArray[np.float64],
    problem: DataProblem,
    dropped: int,
    settings: CompareSettings,
) -> Comparison:
    runs = None
    if problem is DataProblem.TOO_FEW_SAMPLES:
        needed = max(settings.min_samples, min_samples_per_side(settings.alpha))
        runs = needed - min(base.size, head.size)
    return Comparison(
        verdict=ComparisonVerdict.INSUFFICIENT_DATA,
        n_base=int(base.size),
        n_head=int(head.size),
        median_base=_median_or_none(base),
        median_head=_median_or_none(head),
        runs_needed=runs,
        problem=problem,
        dropped=dropped,
    )


def _compare_valid(
    base: NDArray[np.float64],
    head: NDArray[np.float64],
    direction: Direction,
    settings: CompareSettings,
    dropped: int,
) -> Comparison:
    log_base, log_head = np.log(base), np.log(head)
    shift = hodges_lehmann(log_base, log_head, settings.alpha)
    p_value = mann_whitney_p(log_base, log_head)
    noise = _pooled_noise(log_base, log_head)
    verdict = _decide(shift, p_value, direction, settings)
    runs = None
    if verdict is ComparisonVerdict.INCONCLUSIVE:
        runs = _runs_needed(shift.estimate, noise, min(base.size, head.size), settings)
    return Comparison(
        verdict=verdict,
        n_base=int(base.size),
        n_head=int(head.size),
        median_base=sorted_median(np.sort(base)),
        median_head=sorted_median(np.sort(head)),
        ratio=math.exp(shift.estimate),
        ci_low=math.exp(shift.low),
        ci_high=math.exp(shift.high),
        relative_change=math.expm1(shift.estimate),
        p_value=p_value,
        noise=noise,
        runs_needed=runs,
        dropped=dropped,
    )


def _decide(shift: Shift, p_value: float, direction: Direction, settings: CompareSettings) -> ComparisonVerdict:
    band = math.log1p(settings.equivalence_margin)
    if -band <= shift.low and shift.high <= band:
        return ComparisonVerdict.NO_CHANGE
    excludes_zero = shift.low > 0 or shift.high < 0
    large_enough = abs(shift.estimate) >= math.log1p(settings.min_magnitude)
    if p_value < settings.alpha and excludes_zero and large_enough:
        if direction.is_regression(math.expm1(shift.estimate)):
            return ComparisonVerdict.REGRESSION
        return ComparisonVerdict.IMPROVEMENT
    return ComparisonVerdict.INCONCLUSIVE


def hodges_lehmann(x: NDArray[np.float64], y: NDArray[np.float64], alpha: float) -> Shift:
    """Hodges-Lehmann estimate of the shift y - x with its ``1 - alpha`` confidence interval.

    Method: the estimate is the median of the m·n pairwise differences
    ``y_j - x_i``; the interval is ``[D_(k), D_(mn+1-k)]`` over the ordered
    differences, with ``k`` the largest integer such that P(U ≤ k - 1) ≤ alpha/2
    under the null distribution of the Mann-Whitney U (exact, or normal with
    continuity correction for m·n > 2500). When no such ``k ≥ 1`` exists the
    interval is infinite. Assumptions: independent samples from continuous
    distributions that differ by a shift; coverage is at least ``1 - alpha``
    (conservative under ties). Differences are rounded to 12 decimals.
    Reference: Hodges & Lehmann (1963), Ann. Math. Statist. 34(2), 598-611;
    Bauer (1972), "Constructing confidence sets using rank statistics", JASA 67(339).
    """
    diffs = np.sort(np.round(np.subtract.outer(y, x).ravel(), _LOG_DECIMALS)).astype(np.float64, copy=False)
    estimate = sorted_median(diffs)
    k = mann_whitney_ci_rank(x.size, y.size, alpha)
    if k == 0:
        return Shift(estimate, -math.inf, math.inf)
    return Shift(estimate, float(diffs[k - 1]), float(diffs[diffs.size - k]))


def mann_whitney_p(x: NDArray[np.float64], y: NDArray[np.float64]) -> float:
    """Two-sided p-value of the Mann-Whitney U test of ``y`` against ``x``.

    Method: U = #(y_j > x_i) + ½ #(y_j = x_i) over all pairs (values rounded to
    12 decimals, as in :func:`hodges_lehmann`). Without ties and with m·n ≤ 2500,
    the exact p = 2 min(P(U ≤ u), P(U ≥ u)) from :func:`mann_whitney_null_counts`;
    otherwise the normal approximation with mean mn/2, the tie-corrected variance
    mn/12 ((N + 1) - Σ(t³ - t) / (N (N - 1))) and a continuity correction of ½.
    Reference: Hollander, Wolfe & Chicken (2014), §4.1; Mann & Whitney (1947).
    """
    m, n = x.size, y.size
    rounded_x, rounded_y = np.round(x, _LOG_DECIMALS), np.round(y, _LOG_DECIMALS)
    diffs = np.subtract.outer(rounded_y, rounded_x)
    u = float(np.count_nonzero(diffs > 0)) + 0.5 * float(np.count_nonzero(diffs == 0))
    _, tie_sizes = np.unique(np.concatenate([rounded_x, rounded_y]), return_counts=True)
    if m * n <= _EXACT_PAIRS_LIMIT and tie_sizes.max() == 1:
        cdf = _null_cdf(m, n)
        k = int(u)
        below = float(cdf[k])
        above = 1.0 - float(cdf[k - 1]) if k > 0 else 1.0
        return min(1.0, 2.0 * min(below, above))
    total = m + n
    ties = float(np.sum(tie_sizes.astype(np.float64) ** 3 - tie_sizes))
    variance = m * n / 12.0 * ((total + 1) - ties / (total * (total - 1)))
    if variance <= 0:
        return 1.0  # every value tied: no evidence either way
    z = (abs(u - m * n / 2.0) - 0.5) / math.sqrt(variance)
    return min(1.0, math.erfc(max(z, 0.0) / math.sqrt(2.0)))


@functools.lru_cache(maxsize=512)
def _null_cdf(m: int, n: int) -> NDArray[np.float64]:
    """P(U ≤ k) for k = 0 … m·n under H0 (no ties); computed once per pair of sizes."""
    counts = mann_whitney_null_counts(m, n)
    total = math.comb(m + n, m)
    cumulative = np.array([float(c) for c in itertools.accumulate(counts)]) / float(total)
    cumulative.flags.writeable = False
    return cumulative


@functools.lru_cache(maxsize=512)
def mann_whitney_ci_rank(m: int, n: int, alpha: float) -> int:
    """The largest ``k`` with P(U ≤ k - 1) ≤ alpha/2 under H0 for sample sizes m and n.

    Method: exact null distribution of U (coefficients of the Gaussian binomial
    coefficient, :func:`mann_whitney_null_counts`) when m·n ≤ 2500, else the
    normal approximation with mean mn/2, variance mn(m+n+1)/12 and continuity
    correction. 0 means no two-sided ``1 - alpha`` interval is attainable.
    Assumptions: no ties (continuous data). Reference: Mann & Whitney (1947),
    Ann. Math. Statist. 18(1), 50-60.
    """
    if m * n <= _EXACT_PAIRS_LIMIT:
        counts = mann_whitney_null_counts(m, n)
        limit = alpha / 2 * math.comb(m + n, m)
        cumulative, k = 0, 0
        for count in counts:
            cumulative += count
            if cumulative > limit:
                break
            k += 1
        return k
    z = NormalDist().inv_cdf(1 - alpha / 2)
    sigma = math.sqrt(m * n * (m + n + 1) / 12)
    return max(0, math.floor(m * n / 2 - 0.5 - z * sigma) + 1)


def mann_whitney_null_counts(m: int, n: int) -> list[int]:
    """How many of the C(m+n, m) equally likely rankings give U = 0, 1, …, m·n.

    Method: the counts are the coefficients of the Gaussian binomial
    coefficient ∏_{i=1..m} (1 - q^(n+i)) / (1 - q^i), computed exactly with
    integers. Reference: Andrews (1976), *The Theory of Partitions*, ch. 3;
    Mann & Whitney (1947).
    """
    m, n = min(m, n), max(m, n)
    top = m * n
    counts = [1] + [0] * top
    for i in range(1, m + 1):
        for k in range(top, n + i - 1, -1):  # multiply by (1 - q^(n+i))
            counts[k] -= counts[k - n - i]
        for k in range(i, top + 1):  # divide by (1 - q^i)
            counts[k] += counts[k - i]
    return counts


def min_samples_per_side(alpha: float) -> int:
    """The fewest samples per side (equal sizes) for which a ``1 - alpha`` interval is finite.

    Method: the smallest n with 2 / C(2n, n) ≤ alpha, the smallest attainable
    two-sided p-value of the exact Mann-Whitney test. Reference: Mann & Whitney (1947).
    """
    n = 1
    while 2 / math.comb(2 * n, n) > alpha:
        n += 1
    return n


def _pooled_noise(log_base: NDArray[np.float64], log_head: NDArray[np.float64]) -> float:
    """Pooled normal-consistent MAD of the log samples, falling back to the standard deviation."""
    robust = math.sqrt((robust_sigma(log_base) ** 2 + robust_sigma(log_head) ** 2) / 2)
    if robust > 0:
        return robust
    return math.sqrt((float(np.var(log_base, ddof=1)) + float(np.var(log_head, ddof=1))) / 2)


def _settling_targets(estimate: float, settings: CompareSettings) -> list[tuple[tuple[float, float], ...]]:
    """For each verdict more data could reach, the ``(gap, tail)`` conditions it must meet.

    ``no_change`` (estimate inside the equivalence band): the interval's
    half-width must shrink below ``band - |estimate|``. ``regression`` or
    ``improvement`` (estimate at least ``min_magnitude``): the interval must
    exclude 0 (gap ``|estimate|``) and the estimate itself must stay above the
    minimum magnitude (gap ``|estimate| - floor``, one-sided, no alpha: tail ½).
    """
    size = abs(estimate)
    band = math.log1p(settings.equivalence_margin)
    floor = math.log1p(settings.min_magnitude)
    half_alpha = settings.alpha / 2
    targets: list[tuple[tuple[float, float], ...]] = []
    if size < band:
        targets.append(((band - size, half_alpha),))
    if size > 0 and size >= floor:
        targets.append(((size, half_alpha), (size - floor, 0.5)))
    return targets


def _runs_needed(estimate: float, noise: float, n_now: int, settings: CompareSettings) -> int | None:
    """More samples per side to settle an inconclusive comparison, assuming the estimate is right.

    Method: normal-theory sample size ``n = 2 (π/3) ((q_{1-tail} + q_power) sigma / gap)²``
    for each condition of :func:`_settling_targets` (the Hodges-Lehmann shift
    has ≈ π/3 times the variance of a difference of means: Pitman efficiency
    3/π); the easiest reachable verdict wins. Student-t quantiles ``q`` on
    2n - 2 degrees of freedom (a few fixed-point steps from the normal answer)
    keep small samples from being under-estimated; the result is at least
    :func:`min_samples_per_side`. Assumptions: the observed effect and noise sigma
    (log scale) are the true ones, so the figure is a guide, not a promise.
    Reference: Noether (1987), "Sample size determination for some common
    nonparametric tests", JASA 82(398), 645-647.
    """
    targets = _settling_targets(estimate, settings)
    required = _required_samples(targets, noise, settings, math.inf)
    for _ in range(_T_REFINEMENTS):
        if required > _MAX_RUNS_ESTIMATE:
            break
        required = _required_samples(targets, noise, settings, max(2 * required - 2, 1.0))
    if required > _MAX_RUNS_ESTIMATE:
        return None
    required_int = max(math.ceil(required), min_samples_per_side(settings.alpha), settings.min_samples)
    return max(required_int - n_now, 1)


def _required_samples(
    targets: list[tuple[tuple[float, float], ...]], noise: float, settings: CompareSettings, degrees: float
) -> float:
    """Samples per side for the easiest target, all of whose conditions must hold."""
    sizes = [max(_sample_size(noise, gap, tail, settings.power, degrees) for gap, tail in target) for target in targets]
    return min(sizes, default=math.inf)


def _sample_size(noise: float, gap: float, tail: float, power: float, degrees: float) -> float:
    """Samples per side so that an estimate ``gap`` away clears a ``tail`` quantile with ``power``."""
    if gap <= 0:
        return math.inf
    from scipy import special  # quantiles as plain functions: a frozen scipy.stats distribution costs 0.5 ms

    def quantile(p: float) -> float:
        return float(special.stdtrit(degrees, p)) if math.isfinite(degrees) else float(special.ndtri(p))

    z = quantile(1 - tail) + quantile(power)
    return 2 * _HL_VARIANCE_FACTOR * (z * noise / gap) ** 2

"""One number for a suite: the weighted geometric mean of its series' ratios, with a confidence interval.

A merge bot asks "did this change make the project slower?", not "did these
400 series move?". The answer is the weighted geometric mean of the per-series
ratios head/base, *oriented so that above 1 is worse* (a higher-is-better
series enters with base/head), weighted by each benchmark's ``weight`` so
that compiling Cabal counts more than an odd micro-benchmark (GHC).

Method (``docs/comparison.md``, "Merge gate"): on the log scale the summary
is the weighted mean ``m = sum(w_i log r_i) / sum(w_i)``. Each series' standard
error is read off its own confidence interval, ``s_i = (log hi_i - log lo_i) / (2 z)``
with ``z`` the normal ``1 - alpha/2`` quantile, and combined assuming a common
correlation ``rho`` between series:

    Var(m) = ((1 - rho) sum((w_i s_i)^2) + rho (sum(w_i s_i))^2) / sum(w_i)^2

The default ``rho = 1`` is the largest variance any correlation structure can
give (Minkowski's inequality), so the interval needs no assumption about
how series of one run move together (they share a machine, its temperature
and its neighbours); with independent series it is wider than necessary, by
up to sqrt(n). Series without a finite interval (too few samples) are left out
of the mean and counted. Pure and deterministic: no resampling, no seed.
Reference: Borenstein et al. (2009), *Introduction to Meta-Analysis*, Wiley,
ch. 24 (combining correlated outcomes within a study).

Per tag (:func:`summarize_tags`): a benchmark's ``tags`` (``"real-world"``,
``"micro"``) name categories that cut across the suite; each tag gets the same
summary, by the same method, over the series that carry it. A series with two
tags counts in both, and one without tags only in the overall summary, so the
per-tag summaries are views of the suite, not a partition of it.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, replace
from statistics import NormalDist

import numpy as np

from perfsheriff.errors import InputError
from perfsheriff.model import Direction, is_tag_name
from perfsheriff.stats.compare import CompareSettings, Comparison, ComparisonVerdict


@dataclass(frozen=True, slots=True)
class SuiteEntry:
    """One series of the suite: its comparison, which way is better, its benchmark's weight (> 0) and tags."""

    comparison: Comparison
    direction: Direction
    weight: float = 1.0
    tags: frozenset[str] = frozenset()

    def __post_init__(self) -> None:
        if not (math.isfinite(self.weight) and self.weight > 0):
            raise InputError(f"a suite weight must be a finite number > 0, got {self.weight!r}")
        object.__setattr__(self, "tags", frozenset(self.tags))
        bad = sorted(tag for tag in self.tags if not is_tag_name(tag))
        if bad:
            raise InputError(f"a tag is ASCII letters, digits, '-', '_' and '.', got {bad[0]!r}")

    @property
    def worse_factor(self) -> float | None:
        """How many times worse head is than base (below 1: better); ``None`` without a ratio."""
        ratio = self.comparison.ratio
        if ratio is None or not ratio > 0:
            return None
        return ratio if self.direction is Direction.LOWER_IS_BETTER else 1.0 / ratio


@dataclass(frozen=True, slots=True)
class SuiteSummary:
    """The weighted summary of a suite's comparisons.

    ``ratio`` is the weighted geometric mean of the oriented ratios (above 1:
    head is worse), ``ci_low``/``ci_high`` its bounds at ``1 - alpha``,
    ``relative_change`` is ``ratio - 1``; all ``None`` when no series has a
    finite interval. ``included`` series (of ``series``) with total weight
    ``weight`` entered the mean. The counts are the per-series verdicts.
    """

    verdict: ComparisonVerdict
    series: int
    included: int
    weight: float
    regressions: int
    improvements: int
    no_change: int
    inconclusive: int
    insufficient_data: int
    ratio: float | None = None
    ci_low: float | None = None
    ci_high: float | None = None
    relative_change: float | None = None


@dataclass(frozen=True, slots=True)
class TagSummary:
    """The summary of the series of a suite that carry ``tag``."""

    tag: str
    summary: SuiteSummary


def summarize_suite(
    entries: Sequence[SuiteEntry], settings: CompareSettings | None = None, *, correlation: float = 1.0
) -> SuiteSummary:
    """Weighted geometric mean of the oriented ratios of ``entries``, its interval and a verdict.

    Method and assumptions: see the module docstring. ``settings`` must be the
    ones the comparisons were made with (their ``alpha`` sets the interval
    level); its equivalence margin and minimum magnitude decide the verdict
    exactly as for one series: ``no_change`` when the interval lies within
    ±margin, ``regression``/``improvement`` when it excludes 1 and the
    estimate reaches the minimum magnitude, else ``inconclusive``;
    ``insufficient_data`` when no series has a finite interval.
    """
    settings = settings or CompareSettings()
    if not 0.0 <= correlation <= 1.0:
        raise InputError(f"the assumed correlation between series must lie in [0, 1], got {correlation!r}")
    counts = Counter(e.comparison.verdict for e in entries)
    intervals = [(e, _log_interval(e)) for e in entries]
    kept = [(e, interval) for e, interval in intervals if interval is not None]
    summary = SuiteSummary(
        verdict=ComparisonVerdict.INSUFFICIENT_DATA,
        series=len(entries),
        included=len(kept),
        weight=math.fsum(e.weight for e, _ in kept),
        regressions=counts[ComparisonVerdict.REGRESSION],
        improvements=counts[ComparisonVerdict.IMPROVEMENT],
        no_change=counts[ComparisonVerdict.NO_CHANGE],
        inconclusive=counts[ComparisonVerdict.INCONCLUSIVE],
        insufficient_data=counts[ComparisonVerdict.INSUFFICIENT_DATA],
    )
    if not kept:
        return summary
    weights = np.array([e.weight for e, _ in kept])
    weights = weights / weights.sum()
    estimates = np.array([interval[0] for _, interval in kept])
    z = NormalDist().inv_cdf(1 - settings.alpha / 2)
    errors = np.array([(high - low) / (2 * z) for _, (_, low, high) in kept])
    independent = float(np.sum((weights * errors) ** 2))
    comonotone = float(weights @ errors) ** 2
    error = math.sqrt(max(0.0, (1 - correlation) * independent + correlation * comonotone))
    estimate = float(weights @ estimates)
    low, high = estimate - z * error, estimate + z * error
    return replace(
        summary,
        verdict=_decide(estimate, low, high, settings),
        ratio=math.exp(estimate),
        ci_low=math.exp(low),
        ci_high=math.exp(high),
        relative_change=math.expm1(estimate),
    )


def summarize_tags(
    entries: Sequence[SuiteEntry], settings: CompareSettings | None = None, *, correlation: float = 1.0
) -> tuple[TagSummary, ...]:
    """:func:`summarize_suite` over the entries carrying each tag, for every tag some entry carries, by tag name.

    Same method, interval level, correlation and verdict rule as the overall summary (module docstring),
    so a tag every entry carries summarises exactly as the suite does.
    """
    tags = sorted({tag for entry in entries for tag in entry.tags})
    return tuple(
        TagSummary(tag, summarize_suite([e for e in entries if tag in e.tags], settings, correlation=correlation))
        for tag in tags
    )


#: Decimals of the log bounds a verdict looks at (as in :mod:`perfsheriff.stats.compare`).
_LOG_DECIMALS = 12


def _log_interval(entry: SuiteEntry) -> tuple[float, float, float] | None:
    """The oriented log-ratio and its interval bounds, or ``None`` when the interval is not finite."""
    c = entry.comparison
    if c.verdict is ComparisonVerdict.INSUFFICIENT_DATA or c.ratio is None or c.ci_low is None or c.ci_high is None:
        return None
    if not (c.ratio > 0 and c.ci_low > 0 and math.isfinite(c.ci_high)):
        return None
    estimate, low, high = math.log(c.ratio), math.log(c.ci_low), math.log(c.ci_high)
    if entry.direction is Direction.HIGHER_IS_BETTER:
        estimate, low, high = -estimate, -high, -low
    return estimate, low, high


def _decide(estimate: float, low: float, high: float, settings: CompareSettings) -> ComparisonVerdict:
    """The per-series rule of :func:`perfsheriff.stats.compare.compare`, on the oriented scale (above 0: worse).

    Bounds are rounded to 12 decimals first: an interval that touches 1 must not exclude it by the last
    bit of a subtraction on one side and not on the other (swapping base and head must flip the verdict).
    """
    low, high = round(low, _LOG_DECIMALS), round(high, _LOG_DECIMALS)
    band = math.log1p(settings.equivalence_margin)
    if -band <= low and high <= band:
        return ComparisonVerdict.NO_CHANGE
    if (low > 0 or high < 0) and abs(estimate) >= math.log1p(settings.min_magnitude):
        return ComparisonVerdict.REGRESSION if estimate > 0 else ComparisonVerdict.IMPROVEMENT
    return ComparisonVerdict.INCONCLUSIVE

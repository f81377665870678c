"""Drift: the cumulative change of a series since a reference point.

A drift is a change that no single step explains ("T9872 has regressed by 10 %
since 9.0" after twenty steps of 0.5 %). The caller maps the reference (a tag,
a date, the last acknowledged alert) to an index of the series; this module
compares the level of the first points at or after that index (the reference
window) with the level of the last points (the recent window), using the same
Hodges-Lehmann log-ratio comparison as :func:`perfsheriff.stats.compare.compare`,
with the drift threshold as both the equivalence margin and the minimum magnitude.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from perfsheriff.errors import ConfigError, InputError
from perfsheriff.model import Direction
from perfsheriff.stats.compare import CompareSettings, Comparison, ComparisonVerdict, compare


@dataclass(frozen=True, slots=True)
class DriftSettings:
    """Thresholds of :func:`drift`; fractions, not percents.

    ``window``: points per window (reference and recent), fewer when the series is short.
    ``min_window``: a window with fewer finite points gives ``insufficient_data``
    (4 is the fewest for which a 95 % rank interval exists).
    ``threshold``: the smallest cumulative change that raises a drift alert, and
    the half-width of the band within which a drift is ruled out (``no_change``).
    ``alpha``: significance level and 1 - confidence of the interval.
    """

    window: int = 10
    min_window: int = 4
    threshold: float = 0.05
    alpha: float = 0.05

    def __post_init__(self) -> None:
        if not 2 <= self.min_window <= self.window:
            raise ConfigError("drift windows need 2 <= min_window <= window")
        # threshold and alpha are checked by CompareSettings
        self.comparison_settings()

    def comparison_settings(self) -> CompareSettings:
        return CompareSettings(
            alpha=self.alpha,
            equivalence_margin=self.threshold,
            min_magnitude=self.threshold,
            min_samples=self.min_window,
        )


@dataclass(frozen=True, slots=True)
class DriftResult:
    """The level change between the reference and the recent window.

    Windows are ``(first, last)`` indices into the series, inclusive (``None``
    when empty); ``comparison`` holds every number (ratio recent/reference,
    confidence interval, p-value, sizes). ``alert`` is true for a ``regression``
    or an ``improvement`` verdict: the interval excludes no change and the
    estimated change reaches the threshold.
    """

    reference_index: int
    reference_window: tuple[int, int] | None
    recent_window: tuple[int, int] | None
    comparison: Comparison

    @property
    def verdict(self) -> ComparisonVerdict:
        return self.comparison.verdict

    @property
    def relative_change(self) -> float | None:
        return self.comparison.relative_change

    @property
    def ci_low(self) -> float | None:
        """Lower confidence bound of the ratio recent/reference."""
        return self.comparison.ci_low

    @property
    def ci_high(self) -> float | None:
        """Upper confidence bound of the ratio recent/reference."""
        return self.comparison.ci_high

    @property
    def alert(self) -> bool:
        return self.verdict in (ComparisonVerdict.REGRESSION, ComparisonVerdict.IMPROVEMENT)


def _span(indices: Sequence[int]) -> tuple[int, int] | None:
    return (int(indices[0]), int(indices[-1])) if len(indices) else None


def drift(
    series: Sequence[float] | NDArray[np.float64],
    reference_index: int,
    direction: Direction,
    settings: DriftSettings | None = None,
) -> DriftResult:
    """Estimate the cumulative change of ``series`` since ``reference_index``.

    Method: the finite points at or after ``reference_index`` are split into a
    reference window (the first ``window`` of them) and a recent window (the
    last ``window``; both shrink to half the points when there are fewer than
    ``2 * window``); the recent/reference ratio is the Hodges-Lehmann estimate
    of the log-ratio with its distribution-free interval and the Mann-Whitney
    test (see :func:`perfsheriff.stats.compare.compare`). Alert rule: p < alpha,
    the interval excludes 1 and the estimate reaches ``threshold``.
    Assumptions: points within each window are exchangeable (the level is
    roughly flat inside a window, the noise independent from point to point);
    what happens between the windows does not matter, so a regression that was
    later fixed shows no drift. Reference: Hollander, Wolfe & Chicken (2014),
    *Nonparametric Statistical Methods*, 3rd ed., §4.2-4.3.
    Too few points give ``insufficient_data``; a negative index is an :class:`InputError`.
    """
    settings = settings or DriftSettings()
    if reference_index < 0:
        raise InputError(f"reference index must be >= 0, got {reference_index}")
    values = np.asarray(series, dtype=np.float64)
    positions = np.flatnonzero(np.isfinite(values))
    positions = positions[positions >= reference_index]
    size = min(settings.window, positions.size // 2)
    reference = positions[:size]
    recent = positions[positions.size - size :]
    comparison = compare(values[reference], values[recent], direction, settings.comparison_settings())
    return DriftResult(
        reference_index=reference_index,
        reference_window=_span(reference.tolist()),
        recent_window=_span(recent.tolist()),
        comparison=comparison,
    )

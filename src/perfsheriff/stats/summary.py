"""Robust summaries of the samples of one revision: level and spread.

The ``show`` command displays, per revision, the median and a robust spread
(MAD, IQR) beside the classical mean and standard deviation. Non-finite
samples (NaN, infinities) are dropped and counted, never averaged in.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

#: Scale that makes the MAD a consistent estimator of the standard deviation
#: of a normal distribution: 1 / Φ⁻¹(3/4).
MAD_TO_SIGMA = 1.482602218505602


def finite_values(samples: Iterable[float]) -> tuple[NDArray[np.float64], int]:
    """Return the finite samples as a float array and the count of dropped ones."""
    values = np.fromiter(samples, dtype=np.float64)
    keep = np.isfinite(values)
    return values[keep], int(values.size - np.count_nonzero(keep))


def robust_sigma(values: NDArray[np.float64]) -> float:
    """Normal-consistent MAD: ``1.4826 * median(|x - median(x)|)``.

    Method: the median absolute deviation, scaled so that it estimates sigma for
    normal data; breakdown point 50 %, so one outlier run cannot inflate it.
    Assumes ``values`` is non-empty and finite.
    Reference: Rousseeuw & Croux (1993), "Alternatives to the median absolute
    deviation", JASA 88(424).
    """
    return MAD_TO_SIGMA * _mad(values)


@dataclass(frozen=True, slots=True)
class NoSamples:
    """The typed summary of an input with no finite sample."""

    dropped: int = 0

    @property
    def n(self) -> int:
        return 0


@dataclass(frozen=True, slots=True)
class SampleSummary:
    """Level and spread of the finite samples of one revision.

    ``stdev`` is the sample standard deviation (``ddof=1``; 0 for one sample),
    ``mad`` the *unscaled* median absolute deviation, ``iqr`` the distance
    between the 25th and 75th percentiles (linear interpolation), and
    ``dropped`` the number of non-finite samples left out.
    """

    n: int
    median: float
    mean: float
    min: float
    max: float
    stdev: float
    mad: float
    iqr: float
    dropped: int = 0

    @property
    def robust_stdev(self) -> float:
        """The MAD scaled to estimate sigma under normality (see :func:`robust_sigma`)."""
        return self.mad * MAD_TO_SIGMA

    @property
    def relative_mad(self) -> float | None:
        """Noise as a fraction of the level: ``robust_stdev / |median|``.

        ``None`` when the median is 0, where a relative noise has no meaning.
        """
        if self.median == 0:
            return None
        return self.robust_stdev / abs(self.median)


def summarize(samples: Iterable[float]) -> SampleSummary | NoSamples:
    """Summarize the finite samples of one revision; :class:`NoSamples` if there are none.

    Method: order statistics (median, MAD, IQR with linear interpolation of
    percentiles, Hyndman & Fan type 7) beside the mean and the ``ddof=1``
    standard deviation. No distributional assumption; the robust figures
    tolerate up to a quarter (IQR) or half (median, MAD) of outlying samples.
    Reference: Hampel (1974), "The influence curve and its role in robust
    estimation", JASA 69(346); Hyndman & Fan (1996), "Sample quantiles in
    statistical packages", The American Statistician 50(4).
    """
    values, dropped = finite_values(samples)
    if values.size == 0:
        return NoSamples(dropped=dropped)
    return SampleSummary(
        n=int(values.size),
        median=float(np.median(values)),
        mean=float(np.mean(values)),
        min=float(np.min(values)),
        max=float(np.max(values)),
        stdev=float(np.std(values, ddof=1)) if values.size > 1 else 0.0,
        mad=_mad(values),
        iqr=float(np.subtract(*np.percentile(values, [75.0, 25.0]))),
        dropped=dropped,
    )


def relative_mad(samples: Iterable[float]) -> float | None:
    """Robust relative noise of ``samples`` (see :attr:`SampleSummary.relative_mad`).

    ``None`` when there is no finite sample or the median is 0.
    """
    summary = summarize(samples)
    if isinstance(summary, NoSamples):
        return None
    return summary.relative_mad


def _mad(values: NDArray[np.float64]) -> float:
    """Median absolute deviation from the median, unscaled (numpy only: the CLI loads this module)."""
    return sorted_median(np.sort(np.abs(values - sorted_median(np.sort(values)))))


def sorted_median(ordered: NDArray[np.float64]) -> float:
    """The median of values already sorted ascending (non-empty, finite).

    Why: ``np.median`` costs about 30 µs whatever the size; comparing thousands of
    series of a few samples each calls it a dozen times per series.
    """
    middle = ordered.size // 2
    if ordered.size % 2:
        return float(ordered[middle])
    return float((ordered[middle - 1] + ordered[middle]) / 2.0)


def grouped_medians(values: NDArray[np.float64], offsets: NDArray[np.int64]) -> NDArray[np.float64]:
    """The median of each group ``values[offsets[i]:offsets[i + 1]]``, for every group at once.

    One sort of (group, value) pairs instead of one ``np.median`` call per group: a
    10,000-revision series is summarised in a few milliseconds. Empty groups give NaN.
    Assumes finite values and non-decreasing offsets starting at 0.
    """
    sizes = np.diff(offsets)
    groups = np.repeat(np.arange(sizes.size), sizes)
    ordered = values[np.lexsort((values, groups))]
    starts = offsets[:-1]
    low = ordered[np.clip(starts + (sizes - 1) // 2, 0, max(ordered.size - 1, 0))] if ordered.size else np.zeros(0)
    high = ordered[np.clip(starts + sizes // 2, 0, max(ordered.size - 1, 0))] if ordered.size else np.zeros(0)
    medians = (low + high) / 2.0 if ordered.size else np.full(sizes.size, np.nan)
    return np.where(sizes > 0, medians, np.nan)

"""Robust building blocks for change-point detection: aggregation, noise scale, winsorization, rank test.

Everything here is pure numpy/scipy over float64 arrays and is invariant under
multiplying the data by a constant ``c > 0`` (locations and scales scale by
``c``, test statistics do not change).
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from scipy.special import ndtr

from perfsheriff.stats.summary import grouped_medians, sorted_median

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

# 1 / Phi^-1(3/4): makes the median absolute deviation a consistent estimate of a Gaussian sigma.
MAD_TO_SIGMA = 1.482602218505602


@dataclass(frozen=True, slots=True)
class PreparedSeries:
    """A series reduced to one value per revision, with the raw samples kept for testing.

    ``values[i]`` is the median of the finite samples of revision ``index[i]``
    (its position in the caller's input); ``samples[offsets[i]:offsets[i + 1]]``
    are those samples. Revisions without a finite sample are absent;
    ``dropped`` counts the non-finite samples that were discarded.
    """

    values: FloatArray
    index: IntArray
    samples: FloatArray
    offsets: IntArray
    dropped: int

    @property
    def one_sample_each(self) -> bool:
        return len(self.samples) == len(self.values)


def prepare(points: Sequence[Sequence[float]] | Sequence[float] | npt.ArrayLike) -> PreparedSeries:
    """Reduce the input to per-revision medians, dropping NaN and infinite samples.

    Accepts a 1-D array or sequence (one aggregated value per revision), a 2-D
    array (rows are revisions, columns repetitions, NaN for missing ones) or a
    ragged sequence of sequences (each revision's samples).
    """
    if _is_flat(points):
        flat = np.asarray(points, dtype=np.float64).reshape(-1)
        keep = np.isfinite(flat)
        values = flat[keep]
        index = np.flatnonzero(keep).astype(np.int64)
        offsets = np.arange(len(values) + 1, dtype=np.int64)
        return PreparedSeries(values, index, values, offsets, int(len(flat) - len(values)))
    rows = [np.asarray(row, dtype=np.float64).reshape(-1) for row in points]  # type: ignore[union-attr]
    kept = [row[np.isfinite(row)] for row in rows]
    dropped = sum(len(r) - len(k) for r, k in zip(rows, kept, strict=True))
    index = np.array([i for i, k in enumerate(kept) if len(k)], dtype=np.int64)
    nonempty = [k for k in kept if len(k)]
    lengths = np.array([len(k) for k in nonempty], dtype=np.int64)
    offsets = np.concatenate(([0], np.cumsum(lengths))).astype(np.int64)
    samples = np.concatenate(nonempty) if nonempty else np.empty(0, dtype=np.float64)
    values = grouped_medians(samples, offsets)  # one sort for all revisions, not a median call each
    return PreparedSeries(values, index, samples, offsets, int(dropped))


def _is_flat(points: object) -> bool:
    if isinstance(points, np.ndarray):
        return points.ndim <= 1
    if isinstance(points, Sequence):
        return len(points) == 0 or not isinstance(points[0], Sequence | np.ndarray)
    return True


def noise_scale(values: FloatArray) -> float:
    """Robust noise sigma from first differences (Rousseeuw & Croux MAD, applied to differences).

    Method: ``1.4826 * MAD(diff(x)) / sqrt(2)``. Level shifts affect only a few
    differences, so the estimate ignores them; it assumes the noise is roughly
    independent from one revision to the next. Quantized series (many equal
    neighbours) give a MAD of zero; the mean absolute difference (times
    ``sqrt(pi)/2``, its Gaussian consistency factor) is used then, and zero
    only for a constant series. Reference: Hampel (1974), "The influence curve
    and its role in robust estimation", JASA 69.
    """
    if len(values) < 2:
        return 0.0
    diffs = np.diff(values)
    mad = float(np.median(np.abs(diffs - np.median(diffs))))
    if mad > 0:
        return MAD_TO_SIGMA * mad / math.sqrt(2.0)
    return float(np.mean(np.abs(diffs))) * math.sqrt(math.pi) / 2.0


def running_median(values: FloatArray, width: int) -> FloatArray:
    """Centred running median of odd ``width``, with the window shrunk at both ends.

    Median filters keep level shifts sharp while removing bursts shorter than
    ``width // 2 + 1`` points (Tukey 1977, "Exploratory Data Analysis").
    """
    n = len(values)
    half = width // 2
    if n <= width:
        return np.full(n, float(np.median(values))) if n else values.copy()
    out = np.empty(n, dtype=np.float64)
    windows = np.lib.stride_tricks.sliding_window_view(values, width)
    out[half : n - half] = np.median(windows, axis=1)
    head, tail = values[: width - 1].tolist(), values[n - width + 1 :].tolist()
    for i in range(half):  # a few short windows: plain Python is several times faster than np.median here
        out[i] = statistics.median(head[: i + half + 1])
        out[n - 1 - i] = statistics.median(tail[width - 2 - i - half :])
    return out


def winsorize(values: FloatArray, sigma: float, *, width: int, limit: float) -> FloatArray:
    """Pull every point to within ``limit * sigma`` of the running median of ``width`` points.

    Method: Huber-type clipping of residuals from a running median (a robust
    "winsorization" that, unlike clipping around one global median, follows
    level shifts). Assumes outliers come in bursts shorter than ``width // 2 + 1``.
    Reference: Fried & Gather (2007), "On rank tests for shift detection in time
    series", CSDA 52.
    """
    if sigma <= 0 or len(values) < 3:
        return values.copy()
    centre = running_median(values, width)
    bound = limit * sigma
    return centre + np.clip(values - centre, -bound, bound)


def mann_whitney_p(left: FloatArray, right: FloatArray) -> float:
    """Two-sided p-value of the Mann-Whitney U (Wilcoxon rank-sum) test, normal approximation with ties.

    Assumes independent samples on each side; tests whether one side is
    stochastically larger. The tie correction makes it exact enough for
    quantized timings; with fewer than about four points a side the
    approximation is rough, which callers avoid by a minimum window size.
    Reference: Mann & Whitney (1947), Ann. Math. Statist. 18; tie correction as
    in Lehmann (1975), "Nonparametrics".
    """
    n1, n2 = len(left), len(right)
    if n1 == 0 or n2 == 0:
        return 1.0
    both = np.concatenate((left, right))
    order = np.argsort(both, kind="mergesort")
    ranked = both[order]
    ranks = _average_ranks(ranked)
    r1 = float(np.sum(ranks[order < n1]))
    u = r1 - n1 * (n1 + 1) / 2.0
    n = n1 + n2
    _, counts = np.unique(ranked, return_counts=True)
    tie = float(np.sum(counts.astype(np.float64) ** 3 - counts))
    var = n1 * n2 / 12.0 * ((n + 1) - tie / (n * (n - 1)))
    if var <= 0:
        return 1.0
    z = (abs(u - n1 * n2 / 2.0) - 0.5) / math.sqrt(var)
    return float(min(1.0, 2.0 * ndtr(-max(z, 0.0))))


def _average_ranks(sorted_values: FloatArray) -> FloatArray:
    """Average (mid) ranks, 1-based, of an already sorted array."""
    n = len(sorted_values)
    new_group = np.empty(n, dtype=bool)
    new_group[0] = True
    new_group[1:] = sorted_values[1:] != sorted_values[:-1]
    starts = np.flatnonzero(new_group)
    ends = np.append(starts[1:], n)
    mid = (starts + ends + 1) / 2.0
    return np.repeat(mid, ends - starts)


def robust_level(values: FloatArray) -> tuple[float, float]:
    """Median and MAD-based sigma (``1.4826 * MAD``) of ``values``."""
    centre = median(values)
    return centre, MAD_TO_SIGMA * median(np.abs(values - centre))


def median(values: FloatArray) -> float:
    """The median of a non-empty array by one sort (``np.median`` has a fixed cost several times larger)."""
    return sorted_median(np.sort(values))

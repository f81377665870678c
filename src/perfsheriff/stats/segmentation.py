"""Candidate change points by (seeded) binary segmentation of a (winsorized) series, and their refinement.

The statistic for a split at ``k`` of the segment ``[a, b)`` is the two-sample
z statistic of the segment means, with a noise sigma estimated once for the
whole series: ``|mean(x[a:k]) - mean(x[k:b])| / (sigma * sqrt(1/(k-a) + 1/(b-k)))``,
the standardized CUSUM. Its distribution does not depend on the scale of the
data, so one threshold serves every series.
"""

from __future__ import annotations

import functools
import itertools
import math

import numpy as np
import numpy.typing as npt

from perfsheriff.stats.robust import FloatArray, IntArray


def split_statistic(cumsum: FloatArray, a: int, b: int, min_size: int) -> tuple[int, float]:
    """Best split ``k`` of ``[a, b)`` and its standardized CUSUM statistic (in sigma units squared-root form).

    Method: the likelihood-ratio statistic for one shift in mean under Gaussian
    noise of known variance (Worsley 1979, "On the likelihood ratio test for a
    shift in location of normal populations", JASA 74). ``cumsum`` has a leading
    zero, so ``cumsum[j]`` is the sum of the first ``j`` values. Returns
    ``(-1, 0.0)`` when the segment is too short to split.
    """
    if b - a < 2 * min_size:
        return -1, 0.0
    ks = np.arange(a + min_size, b - min_size + 1)
    n_left = (ks - a).astype(np.float64)
    n_right = (b - ks).astype(np.float64)
    total = cumsum[b] - cumsum[a]
    left_sum = cumsum[ks] - cumsum[a]
    diff = left_sum / n_left - (total - left_sum) / n_right
    stat = diff * diff / (1.0 / n_left + 1.0 / n_right)
    best = int(np.argmax(stat))
    return int(ks[best]), float(np.sqrt(stat[best]))


def binary_segmentation(values: FloatArray, sigma: float, *, threshold: float, min_size: int) -> list[int]:
    """Candidate change points of ``values`` by recursive binary segmentation, sorted.

    Method: binary segmentation (Scott & Knott 1974; Vostrikova 1981, "Detecting
    'disorder' in multidimensional random processes", Soviet Math. Dokl. 24):
    split the segment at its best point while the standardized CUSUM exceeds
    ``threshold`` (in units of ``sigma``). Assumes a piecewise-constant mean and
    roughly independent noise of one scale; outliers should be winsorized first.
    Each candidate is the index of the first point after the split.
    """
    if sigma <= 0 or len(values) < 2 * min_size:
        return []
    cumsum = np.concatenate(([0.0], np.cumsum(values)))
    return sorted(_split_recursively(cumsum, 0, len(values), threshold * sigma, min_size))


def seeded_intervals(n: int, min_size: int, decay: float = 0.5) -> list[tuple[int, npt.NDArray[np.int64]]]:
    """The seeded intervals of ``[0, n)``, grouped by length: ``[(length, starts), ...]``, longest first.

    Method: layer ``k`` holds ``2 * ceil(decay ** -(k - 1)) - 1`` evenly spread intervals of
    length ``n * decay ** (k - 1)`` (consecutive ones overlap by half), down to ``2 * min_size``
    (Kovács, Li, Bühlmann & Munk 2023, "Seeded binary segmentation: a general methodology for
    fast and optimal changepoint detection", Biometrika 110). About ``4 n / (2 min_size)``
    intervals in all; every change point lies in some interval that is at most a few times
    its distance to the nearest other change point, and contains no other.
    """
    layers: list[tuple[int, npt.NDArray[np.int64]]] = []
    k = 0
    while True:
        length = int(n * decay**k)
        if length < 2 * min_size:
            return layers
        count = 2 * math.ceil(decay**-k) - 1
        starts = np.unique(np.round(np.linspace(0, n - length, count)).astype(np.int64))
        layers.append((length, starts))
        k += 1


def seeded_segmentation(values: FloatArray, sigma: float, *, threshold: float, min_size: int) -> list[int]:
    """Candidate change points by seeded binary segmentation with greedy selection, sorted.

    Method: the standardized CUSUM (see :func:`split_statistic`) is maximised in each
    seeded interval (:func:`seeded_intervals`). Among the intervals whose maximum exceeds
    ``threshold`` (in units of ``sigma``), the one with the largest statistic gives the
    first candidate, every interval containing it is discarded, and so on (the greedy
    selection of Kovács et al. 2023). Then each stretch between two candidates is split
    further by plain binary segmentation (the whole-stretch statistic adds power against a
    small shift that persists, and catches the far edge of a plateau that no remaining
    seeded interval covers). Unlike plain binary segmentation, a short plateau (a backout
    after a few revisions) and two nearby changes are seen by an interval about their own
    size, where their signal is not diluted by the whole series. Assumes a
    piecewise-constant mean and roughly independent noise of one scale.
    """
    n = len(values)
    if sigma <= 0 or n < 2 * min_size:
        return []
    cumsum = np.concatenate(([0.0], np.cumsum(values)))
    limit = threshold * sigma
    found: list[int] = []
    for _, s, k, e in sorted(_interval_maxima(cumsum, n, limit, min_size)):
        if not any(s < c < e for c in found):
            found.append(k)
    bounds = [0, *sorted(found), n]
    for a, b in itertools.pairwise(bounds):
        found += _split_recursively(cumsum, a, b, limit, min_size)
    return sorted(found)


def _interval_maxima(cumsum: FloatArray, n: int, limit: float, min_size: int) -> list[tuple[float, int, int, int]]:
    """``(-statistic, start, best split, end)`` of every seeded interval whose CUSUM maximum exceeds ``limit``.

    All intervals of one length are scanned at once, about ``2 n`` statistics per layer.
    """
    hits: list[tuple[float, int, int, int]] = []
    for starts, splits, weight, n_left, n_right in _scan_layout(n, min_size):
        base = cumsum[starts][:, None]
        left = cumsum[splits] - base
        total = cumsum[splits[:, -1] + min_size][:, None] - base
        diff = left / n_left - (total - left) / n_right
        stat = diff * diff * weight
        best = np.argmax(stat, axis=1)
        peak = stat[np.arange(len(starts)), best]
        for i in np.flatnonzero(peak > limit * limit):
            hits.append((-float(peak[i]), int(starts[i]), int(splits[i, best[i]]), int(splits[i, -1]) + min_size))
    return hits


@functools.lru_cache(maxsize=64)
def _scan_layout(n: int, min_size: int) -> tuple[tuple[IntArray, IntArray, FloatArray, FloatArray, FloatArray], ...]:
    """Per layer of seeded intervals: starts, every admissible split, and the CUSUM weights (cached: pure in ``n``)."""
    layout = []
    for length, starts in seeded_intervals(n, min_size):
        offsets = np.arange(min_size, length - min_size + 1)
        n_left = offsets.astype(np.float64)
        n_right = length - n_left
        splits = starts[:, None] + offsets[None, :]
        for array in (starts, splits, n_left, n_right):
            array.flags.writeable = False
        layout.append((starts, splits, n_left * n_right / length, n_left, n_right))
    return tuple(layout)


def _split_recursively(cumsum: FloatArray, a: int, b: int, limit: float, min_size: int) -> list[int]:
    """Binary segmentation of ``[a, b)``: split points whose standardized CUSUM exceeds ``limit``."""
    found: list[int] = []
    stack = [(a, b)]
    while stack:
        a, b = stack.pop()
        k, stat = split_statistic(cumsum, a, b, min_size)
        if k < 0 or stat <= limit:
            continue
        found.append(k)
        stack += [(a, k), (k, b)]
    return found


def refine(values: FloatArray, candidates: list[int], *, min_size: int, window: int) -> list[int]:
    """Move each candidate to the best split between its neighbours (at most ``window`` points a side).

    Method: with its neighbours fixed, the maximum-likelihood location of one shift in a
    Gaussian mean is the split maximising the standardized CUSUM of the segment between
    them (Hinkley 1970, "Inference about the change-point in a sequence of random
    variables", Biometrika 57), here at most ``window`` points a side. Seeded intervals
    locate a change only to within their own resolution; this recovers the exact index.
    Candidates are refined left to right, each with its already refined left neighbour.
    """
    if not candidates:
        return []
    cumsum = np.concatenate(([0.0], np.cumsum(values)))
    n = len(values)
    out: list[int] = []
    for i, c in enumerate(candidates):
        lo = max(out[-1] if out else 0, c - window)
        hi = min(candidates[i + 1] if i + 1 < len(candidates) else n, c + window)
        first, last = lo + min_size, hi - min_size
        if first > last:
            out.append(c)
            continue
        ks = np.arange(first, last + 1)
        n_left = (ks - lo).astype(np.float64)
        n_right = (hi - ks).astype(np.float64)
        left = cumsum[ks] - cumsum[lo]
        diff = left / n_left - (cumsum[hi] - cumsum[lo] - left) / n_right
        out.append(int(ks[np.argmax(diff * diff * n_left * n_right)]))
    return out

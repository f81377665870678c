"""Candidate change points by binary segmentation of a (winsorized) series.

The statistic for a split at ``k`` of the segment ``[a, b)`` is the two-sample
z statistic of the segment means, with a noise sigma estimated once for the
whole series: ``|mean(x[a:k]) - mean(x[k:b])| / (sigma * sqrt(1/(k-a) + 1/(b-k)))``,
the standardized CUSUM. Its distribution does not depend on the scale of the
data, so one threshold serves every series.
"""

from __future__ import annotations

import numpy as np

from perfsheriff.stats.robust import FloatArray


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
    found: list[int] = []
    stack = [(0, len(values))]
    limit = threshold * sigma
    while stack:
        a, b = stack.pop()
        k, stat = split_statistic(cumsum, a, b, min_size)
        if k < 0 or stat <= limit:
            continue
        found.append(k)
        stack.append((a, k))
        stack.append((k, b))
    return sorted(found)

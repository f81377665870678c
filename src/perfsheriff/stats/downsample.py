"""Downsampling a long series for a graph without hiding its extremes.

A graph 1,500 pixels wide cannot show 100,000 revisions; averaging them away
would hide exactly what a sheriff looks for (a spike, a step). Min/max
bucketing splits the series into equal runs of consecutive points and keeps,
from each, the point with the lowest and the one with the highest value, in
their original order. Every local extreme that stands out at the graph's
resolution survives, as do the first and last points; the output has at most
``max_points`` points. Cost: one pass, O(n).
"""

from __future__ import annotations

from typing import Any

import numpy as np

IntArray = np.ndarray[Any, np.dtype[np.int64]]


def minmax_indices(values: np.ndarray[Any, np.dtype[np.float64]], max_points: int) -> IntArray:
    """Indices (ascending) of the points to draw: all of them when they fit, else the extremes per bucket.

    The first and last points are always kept. A NaN is chosen only from a bucket that holds nothing else.
    """
    if max_points < 4:
        raise ValueError(f"max_points must be at least 4, got {max_points}")
    n = int(values.size)
    if n <= max_points:
        return np.arange(n, dtype=np.int64)
    buckets = (max_points - 2) // 2  # two extremes per bucket, and room for both ends
    edges = np.linspace(0, n, buckets + 1).astype(np.int64)
    bucket_of = np.repeat(np.arange(buckets), np.diff(edges))
    nan = np.isnan(values)
    for_min = np.where(nan, np.inf, values)
    for_max = np.where(nan, -np.inf, values)
    lows = np.minimum.reduceat(for_min, edges[:-1])[bucket_of]
    highs = np.maximum.reduceat(for_max, edges[:-1])[bucket_of]
    chosen = [np.array([0, n - 1], dtype=np.int64)]
    for hits in (np.flatnonzero(for_min == lows), np.flatnonzero(for_max == highs)):
        # The earliest index of each bucket that reaches its extreme.
        _, first = np.unique(bucket_of[hits], return_index=True)
        chosen.append(hits[first])
    return np.unique(np.concatenate(chosen)).astype(np.int64)

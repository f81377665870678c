"""The posterior over which commit is the culprit, given every sample measured so far (Bayesian bisection).

Model (one step): the culprit ``c`` is one of the candidate commits, a priori
uniformly. A measured commit ``x`` sits at the bad level when ``c`` is one of
its ancestors (``x`` included) and at the good level otherwise; the two
references (the good end and the bad end, plus any level samples that came
with the alert) are always good and bad. Clipped log samples are normal
around their commit's level with one unknown noise sigma. With flat priors on
the two levels and Jeffreys' prior ``1/sigma`` integrated out, the marginal
likelihood of ``c`` is

    ``RSS(c) ** (-(N - 2) / 2) / sqrt(n_good(c) * n_bad(c))``

where ``RSS(c)`` is the residual sum of squares of the two-level fit that ``c``
implies, ``N`` the number of samples, and ``n_good``/``n_bad`` the samples in
each level. Every sample counts, at every commit measured so far, so the level
estimates sharpen as the bisection proceeds, and by the likelihood principle
the sequential choice of what to sample next (and when to stop) needs no
correction. This is the discrete "probabilistic bisection" of Horstein (1963)
and Waeber, Frazier & Henderson (2013), with the changepoint likelihood of a
two-level model along the DAG instead of a known noisy oracle.
"""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import NDArray

FloatArray = NDArray[np.float64]
BoolArray = NDArray[np.bool_]

#: The smallest sample variance assumed (relative 1e-9 on the log scale), so exact data stays decidable.
VARIANCE_FLOOR = 1e-18


def moments(groups: list[FloatArray], center: float) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Count, sum and sum of squares of each group of log samples, centred at ``center`` (numerically stable).

    Each group is sorted first, so that the order of the samples cannot change a sum in its last bit.
    """
    shifted = [np.sort(g) - center for g in groups]
    n = np.array([g.size for g in shifted], dtype=float)
    s = np.array([float(g.sum()) for g in shifted])
    q = np.array([float((g * g).sum()) for g in shifted])
    return n, s, q


def culprit_log_posterior(
    bad_if: BoolArray, probes: tuple[FloatArray, FloatArray, FloatArray], low: FloatArray, high: FloatArray
) -> FloatArray:
    """Normalised log posterior of each candidate (rows of ``bad_if``) being the culprit.

    ``bad_if[c, j]``: probe ``j`` is at the bad level if candidate ``c`` is the
    culprit. ``probes``: the probes' counts, sums and sums of squares;
    ``low``/``high``: the same three numbers for the samples always at the good
    and the bad level (see :func:`moments`).
    """
    n, s, q = probes
    weights = bad_if.astype(float)
    n_bad = high[0] + weights @ n
    s_bad = high[1] + weights @ s
    q_bad = high[2] + weights @ q
    n_good = low[0] + n.sum() - (n_bad - high[0])
    s_good = low[1] + s.sum() - (s_bad - high[1])
    q_good = low[2] + q.sum() - (q_bad - high[2])
    total = n_good + n_bad
    rss = q_good - s_good**2 / n_good + q_bad - s_bad**2 / n_bad
    rss = np.maximum(rss, total * VARIANCE_FLOOR)
    logs: FloatArray = -(total - 2) / 2 * np.log(rss) - 0.5 * np.log(n_good * n_bad)
    return logs - _logsumexp(logs)


def _logsumexp(logs: FloatArray) -> float:
    top = float(np.max(logs))
    return top + math.log(float(np.sum(np.exp(logs - top))))


#: Where a second step may put the level between the ends, as a share of the gap (uniform prior on the grid):
#: a proper prior, so that one and two steps (both with the two end levels free) compare without Lindley's paradox.
INTERMEDIATE_SHARES = np.array([0.25, 0.375, 0.5, 0.625, 0.75])


def step_log_likelihoods(
    below: tuple[FloatArray, FloatArray, FloatArray],
    total: tuple[float, float, float],
    low: FloatArray,
    high: FloatArray,
    pairs: tuple[NDArray[np.int_], NDArray[np.int_]],
    *,
    shares: FloatArray = INTERMEDIATE_SHARES,
) -> tuple[FloatArray, FloatArray]:
    """Log marginal likelihoods of every one-step and every two-step hypothesis (unnormalised, same scale).

    ``below``: per candidate ``c``, count, sum and sum of squares of the probe samples at commits that descend
    from ``c`` (``c`` included); ``total``: the same over every probe; ``low``/``high``: the references'.
    ``pairs``: candidate positions ``(a, b)`` with ``a`` an ancestor of ``b``: steps at ``a`` then ``b``.
    A two-step hypothesis puts commits descending from ``a`` but not ``b`` at ``low + share·(high - low)``;
    the two end levels are free (flat priors) in both models and sigma is integrated out (Jeffreys), so the
    marginal is ``RSS^(-(N-2)/2) / sqrt(det X'X)`` of the weighted two-parameter least-squares fit.
    Returns the one-step logs (per candidate) and the two-step logs (per pair and share).
    """
    n, s = below[0], below[1]  # the squares enter only through the total
    n_all, s_all, q_all = total
    size = low[0] + high[0] + n_all
    squares = low[2] + high[2] + q_all
    floor = size * VARIANCE_FLOOR
    exponent = -(size - 2) / 2
    n0, s0 = low[0] + n_all - n, low[1] + s_all - s
    n2, s2 = high[0] + n, high[1] + s
    rss = np.maximum(squares - s0**2 / n0 - s2**2 / n2, floor)
    single: FloatArray = exponent * np.log(rss) - 0.5 * np.log(n0 * n2)
    first, second = pairs
    if first.size == 0:
        return single, np.empty((0, shares.size))
    n1, s1 = (n[first] - n[second])[:, None], (s[first] - s[second])[:, None]
    n0, s0 = (low[0] + n_all - n[first])[:, None], (low[1] + s_all - s[first])[:, None]
    n2, s2 = (high[0] + n[second])[:, None], (high[1] + s[second])[:, None]
    t = shares[None, :]
    a = n0 + (1 - t) ** 2 * n1
    b = t * (1 - t) * n1
    c = n2 + t**2 * n1
    u = s0 + (1 - t) * s1
    v = s2 + t * s1
    det = a * c - b * b
    rss2 = np.maximum(squares - (c * u * u - 2 * b * u * v + a * v * v) / det, floor)
    double: FloatArray = exponent * np.log(rss2) - 0.5 * np.log(det)
    return single, double


#: Pairs scored at once by :func:`shape_log_likelihoods` (bounds its memory on long ranges).
PAIR_CHUNK = 8192


def shape_log_likelihoods(
    bad_if: FloatArray,
    per_level: FloatArray,
    node_weights: FloatArray,
    pairs: tuple[NDArray[np.int_], NDArray[np.int_]],
) -> tuple[FloatArray, FloatArray]:
    """Log likelihoods of every one-step and two-step hypothesis under a learnt noise shape.

    ``per_level[m, j, k]``: the log likelihood of probe ``j``'s samples were it at level ``k`` (good, the
    intermediate shares, bad), with the two end levels at their ``m``-th integration node; ``node_weights``:
    the nodes' log weights (the levels' uncertainty, integrated out). ``bad_if[c, j]``: probe ``j`` is at the
    bad level if candidate ``c`` is the culprit. A two-step hypothesis ``(a, b)`` puts the probes that
    descend from ``a`` but not from ``b`` at an intermediate level. Returns the one-step logs (per candidate)
    and the two-step logs (per pair and share), on the same scale as each other.
    """
    good = per_level[:, :, 0].sum(axis=1)  # (nodes,)
    below = np.einsum("cj,mjk->mck", bad_if, per_level - per_level[:, :, :1])  # (nodes, candidates, levels)
    weights = node_weights[:, None]
    single = _logsumexp_rows(good[:, None] + below[:, :, -1] + weights)
    first, second = pairs
    double = np.empty((first.size, per_level.shape[2] - 2))
    for start in range(0, first.size, PAIR_CHUNK):
        a, b = first[start : start + PAIR_CHUNK], second[start : start + PAIR_CHUNK]
        logs = good[:, None, None] + below[:, a, 1:-1] - below[:, b, 1:-1] + below[:, b, -1:] + weights[:, :, None]
        double[start : start + PAIR_CHUNK] = _logsumexp_rows(logs)
    return single, double


def _logsumexp_rows(logs: FloatArray) -> FloatArray:
    """``log(sum(exp(logs), axis=0))``, stable."""
    top = logs.max(axis=0)
    result: FloatArray = top + np.log(np.exp(logs - top).sum(axis=0))
    return result

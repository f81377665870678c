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

"""The sequential test that classifies one probed commit as good, bad or in between.

Method: a multi-hypothesis sequential probability ratio test (Wald's SPRT,
extended to three hypotheses as in Armitage's and Baum & Veeravalli's MSPRT)
on winsorized log samples.

1. Samples are compared on the log scale, so a change is a ratio and scaling
   every sample by ``c > 0`` changes nothing.
2. Every log sample is clipped to ``[low - k·s, high + k·s]``, where ``low`` and
   ``high`` are the medians of the good and bad ends and ``s`` a robust noise
   scale (normal-consistent MAD of the residuals from each commit's median).
   All commits get the same clipping, so good-level and bad-level commits stay
   comparable while a heavy-tailed outlier can move a mean by at most ``k·s``
   (Huber-type bounded influence).
3. The noise ``sigma`` of one clipped sample is the pooled within-commit
   standard deviation of the clipped values, inflated for its degrees of
   freedom like a Student-t variance (``nu / (nu - 2)``).
4. The probe's mean ``ybar`` of ``n`` clipped samples is scored under three
   hypotheses, each with the level's uncertainty included (predictive densities):
   *good* ``N(mean_low, sigma²(1/n_low + 1/n))``, *bad* ``N(mean_high, …)`` and
   *intermediate*, a uniform mixture over levels ``low + θ(high - low)``,
   θ ∈ {1/4 … 3/4}. The log-likelihood ratio bad:good is Wald's SPRT statistic;
   it is compared with ``A = log((1 - ε)/ε)`` for a per-probe error rate ε.
   A verdict good/bad also needs the winner's posterior log-odds against the
   intermediate hypothesis to exceed ``MID_GUARD``; *intermediate* wins when its
   posterior log-odds against the better end reach ``A``. The intermediate
   hypothesis is only entertained when the two levels are at least
   ``MIN_TWO_STEP_GAP`` noise sigmas apart.

Assumptions: samples are independent; a commit's level is either the good,
the bad or (with two steps) an intermediate level; noise is the same at every
commit. References: Wald (1945), "Sequential tests of statistical hypotheses",
Ann. Math. Statist. 16(2); Armitage (1950), "Sequential analysis with more than
two alternative hypotheses", JRSS B 12(1); Baum & Veeravalli (1994), IEEE
Trans. Inf. Theory 40(6); Huber (1964), Ann. Math. Statist. 35(1).
"""

from __future__ import annotations

import enum
import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from perfsheriff.stats.summary import MAD_TO_SIGMA

FloatArray = NDArray[np.float64]

#: Clipping half-width beyond the two levels, in robust noise units.
CLIP_WIDTH = 3.0
#: Levels that the "intermediate" hypothesis puts between the good (0) and bad (1) level.
INTERMEDIATE_GRID = np.array([0.25, 0.375, 0.5, 0.625, 0.75])
#: The smallest noise sigma on the log scale (a relative 1e-9): exact data stays decidable.
SIGMA_FLOOR = 1e-9
#: Posterior log-odds by which a good or bad verdict must beat the intermediate hypothesis.
MID_GUARD = 2.0
#: The intermediate hypothesis is considered only when the levels are this many noise sigmas apart:
#: closer levels leave an intermediate one indistinguishable within any reasonable number of samples.
MIN_TWO_STEP_GAP = 1.5


class ProbeVerdict(enum.StrEnum):
    """What a probe of one commit concluded."""

    GOOD = "good"
    BAD = "bad"
    INTERMEDIATE = "intermediate"  # level clearly between good and bad: a second step
    SKIPPED = "skipped"  # could not be built or run, like ``git bisect skip``
    AMBIGUOUS = "ambiguous"  # the cap on samples was reached without a decision


@dataclass(frozen=True, slots=True)
class NoiseModel:
    """Clipping bounds and noise sigma of one clipped log sample."""

    low: float
    high: float
    sigma: float

    def clip(self, logs: FloatArray) -> FloatArray:
        return np.clip(logs, self.low, self.high)


def noise_model(groups: Sequence[FloatArray], low_level: float, high_level: float) -> NoiseModel:
    """Estimate the clipping bounds and sigma from every commit's log samples (see module doc, steps 2-3)."""
    residuals = [g - np.median(g) for g in groups if g.size >= 3] or [g - np.median(g) for g in groups if g.size >= 2]
    scale = MAD_TO_SIGMA * float(np.median(np.abs(np.concatenate(residuals)))) if residuals else 0.0
    low = min(low_level, high_level) - CLIP_WIDTH * scale
    high = max(low_level, high_level) + CLIP_WIDTH * scale
    squares, dof = 0.0, 0
    for group in groups:
        if group.size >= 2:
            clipped = np.clip(group, low, high)
            squares += float(np.sum((clipped - clipped.mean()) ** 2))
            dof += group.size - 1
    if dof == 0:
        return NoiseModel(low, high, max(scale, SIGMA_FLOOR))
    inflation = dof / (dof - 2) if dof > 4 else 2.0
    return NoiseModel(low, high, max(math.sqrt(squares / dof * inflation), SIGMA_FLOOR))


@dataclass(frozen=True, slots=True)
class Pool:
    """The clipped samples that define one level: their mean and count."""

    mean: float
    n: int

    @classmethod
    def of(cls, clipped: FloatArray) -> Pool:
        return cls(float(clipped.mean()) if clipped.size else math.nan, int(clipped.size))


@dataclass(frozen=True, slots=True)
class Assessment:
    """The sequential test's state for one probe.

    ``llr``: log-likelihood ratio bad:good (Wald's statistic). ``mid_odds``:
    posterior log-odds of *intermediate* against the better of good and bad.
    ``confidence``: for good or bad, the posterior probability of the verdict
    against the other end (``1 / (1 + exp(-|llr|))``); for intermediate, its
    posterior probability among the three (NaN while undecided).
    ``drift``: expected growth of ``|llr|`` per added sample.
    """

    verdict: ProbeVerdict | None
    llr: float
    mid_odds: float
    confidence: float
    drift: float


def threshold(error_rate: float) -> float:
    """Wald's boundary ``log((1 - ε)/ε)`` for equal error rates ε of both kinds."""
    return math.log((1 - error_rate) / error_rate)


def assess(clipped: FloatArray, low: Pool, high: Pool, sigma: float, *, bound: float, mid_prior: float) -> Assessment:
    """Score the probe's clipped log samples against the two pools and decide if the evidence reaches ``bound``.

    ``mid_prior`` is the prior probability of an intermediate level (0 turns
    that hypothesis off). See the module docstring for the method.
    """
    n = clipped.size
    ybar = float(clipped.mean())
    var = sigma * sigma
    good = _log_normal(ybar, low.mean, var * (1 / low.n + 1 / n))
    bad = _log_normal(ybar, high.mean, var * (1 / high.n + 1 / n))
    scores = [good, bad]
    priors = [0.5, 0.5]
    if abs(high.mean - low.mean) < MIN_TWO_STEP_GAP * sigma:
        mid_prior = 0.0
    if mid_prior > 0:
        scores.append(_log_intermediate(ybar, n, low, high, var))
        priors = [(1 - mid_prior) / 2, (1 - mid_prior) / 2, mid_prior]
    logs = np.array(scores) + np.log(priors)
    posterior = np.exp(logs - np.max(logs))
    posterior /= posterior.sum()
    llr = bad - good
    mid_odds = float(logs[2] - max(logs[0], logs[1])) if mid_prior > 0 else -math.inf
    verdict = _decide(llr, mid_odds, bound)
    confidence = math.nan
    if verdict is ProbeVerdict.INTERMEDIATE:
        confidence = float(posterior[2])
    elif verdict is not None:  # good against bad, the choice that moves the search
        confidence = 1 / (1 + math.exp(-abs(llr)))
    drift = (high.mean - low.mean) ** 2 / (2 * var)
    return Assessment(verdict, llr, mid_odds, confidence, drift)


def _decide(llr: float, mid_odds: float, bound: float) -> ProbeVerdict | None:
    if mid_odds >= bound:
        return ProbeVerdict.INTERMEDIATE
    if mid_odds < -MID_GUARD and llr >= bound:
        return ProbeVerdict.BAD
    if mid_odds < -MID_GUARD and llr <= -bound:
        return ProbeVerdict.GOOD
    return None


def _log_normal(x: float, mean: float, var: float) -> float:
    return -0.5 * math.log(2 * math.pi * var) - (x - mean) ** 2 / (2 * var)


def _log_intermediate(ybar: float, n: int, low: Pool, high: Pool, var: float) -> float:
    """Log predictive density of ``ybar`` under a uniform mixture of intermediate levels."""
    theta = INTERMEDIATE_GRID
    means = low.mean + theta * (high.mean - low.mean)
    variances = var * ((1 - theta) ** 2 / low.n + theta**2 / high.n + 1 / n)
    logs = -0.5 * np.log(2 * math.pi * variances) - (ybar - means) ** 2 / (2 * variances)
    top = float(np.max(logs))
    return top + math.log(float(np.mean(np.exp(logs - top))))

"""The fewest runs any bisection needs on average: an information bound, to print beside the simulator's figures.

A run yields one sample: the level of the commit run plus noise. Naming the culprit among ``M`` equally likely
hypotheses (``n`` commits for one step; the ordered pairs of commits for two) with error probability ``δ``
needs, by Fano's inequality, ``I ≥ (1 - δ) ln M - h(δ)`` nats of information about the culprit, and ``N``
samples carry at most ``N · C`` nats however they are chosen (feedback does not raise the capacity of a
memoryless channel; Cover & Thomas 2006, §7.12 and Theorem 2.10.1). So ``N ≥ ((1 - δ) ln M - h(δ)) / C``.

``C`` is the capacity of the channel from a commit's level to its sample: the input is the level, either
side of the step (0 or ``d`` noise standard deviations), the output the level plus noise of the given kind;
``C = max_p I(X; Y)`` over the share ``p`` of probes on the bad side, computed on a grid. For two steps the
input may also sit between them; the bound then uses the binary channel between the outer levels (``0`` and
the sum of the steps), which is the capacity-achieving input for peak-limited inputs at the small
signal-to-noise ratios where the bound matters (Smith 1971) and an approximation above.

Assumptions: samples are independent given the levels (a drifting machine only lowers what a sample tells,
so the bound stays a lower bound there); the data that came with the alert (levels either side) tells the
levels, not which commit changed, so it does not count against the bound. References: Fano (1961),
*Transmission of Information*; Cover & Thomas (2006), *Elements of Information Theory*, 2nd ed.; Smith
(1971), *The information capacity of amplitude- and variance-constrained scalar Gaussian channels*.
"""

from __future__ import annotations

import functools
import math

import numpy as np
from scipy import stats

from perfsheriff.bisect.synthetic import NoiseKind
from perfsheriff.errors import InputError

_GRID = 4001
_SHARES = np.linspace(0.02, 0.98, 49)


def noise_density(kind: NoiseKind, y: np.ndarray) -> np.ndarray:
    """The density of the simulator's noise of ``kind`` (mean 0, standard deviation 1) at ``y``."""
    if kind is NoiseKind.GAUSSIAN:
        return np.asarray(stats.norm.pdf(y), dtype=np.float64)
    if kind is NoiseKind.HEAVY_TAILED:  # Student t (df 3) over sqrt(3)
        return np.asarray(math.sqrt(3.0) * stats.t.pdf(math.sqrt(3.0) * y, 3), dtype=np.float64)
    return np.asarray(0.7 * stats.norm.pdf(y, -0.6, 0.4) + 0.3 * stats.norm.pdf(y, 1.4, 0.4), dtype=np.float64)


@functools.lru_cache(maxsize=256)
def capacity(gap: float, kind: NoiseKind) -> float:
    """Nats one sample can tell about which side of a step of ``gap`` noise sds a commit is on, at most."""
    if not (math.isfinite(gap) and gap > 0):
        raise InputError(f"a step must be finite and > 0 noise standard deviations, got {gap!r}")
    reach = 12.0 if kind is not NoiseKind.HEAVY_TAILED else 60.0
    y = np.linspace(-reach, gap + reach, _GRID)
    dy = float(y[1] - y[0])
    low, high = noise_density(kind, y), noise_density(kind, y - gap)

    def entropy(density: np.ndarray) -> float:
        positive = density[density > 0]
        return float(-np.sum(positive * np.log(positive)) * dy)

    noise = entropy(low)
    best = max(entropy((1 - p) * low + p * high) - noise for p in _SHARES)
    return max(best, 0.0)


def runs_needed(commits: int, steps: tuple[float, ...], kind: NoiseKind, error: float = 0.05) -> float:
    """The fewest runs, on average, that name the culprit(s) of ``steps`` (sizes in noise sds, one or two)
    among ``commits`` with error probability at most ``error``, for any method (see the module docstring)."""
    if commits < 1 or len(steps) not in (1, 2) or not 0 < error < 1:
        raise InputError("need commits >= 1, one or two steps and 0 < error < 1")
    hypotheses = commits if len(steps) == 1 else commits * (commits - 1) / 2
    if hypotheses <= 1:
        return 0.0
    binary = -error * math.log(error) - (1 - error) * math.log(1 - error)
    needed = (1 - error) * math.log(hypotheses) - binary
    return max(needed, 0.0) / capacity(round(sum(steps), 6), kind)

"""The shape of a benchmark's noise, learnt from the samples: one normal, or a mixture of two.

Benchmark noise is often not normal: a run lands in one of two modes (code
alignment, a frequency state, a cache that is warm or not) or has heavy tails.
A normal model then wastes most of what the samples say. For a bimodal noise of
two tight modes, the Fisher information about a shift is several times that of
a normal of the same standard deviation, so a probe is classified with a
fraction of the runs, *if* the model knows the shape.

Method: every commit's samples share one shape and have a free shift of their
own (the commit's level). The shape is fitted by expectation-maximisation as a
mixture of two normals: component 0 is centred on the commit's shift, component
1 at an offset ``delta`` (a second mode), each with its own spread and weight
(a narrow and a wide component with ``delta`` = 0 describe heavy tails). The
mixture replaces the single normal only when the Bayesian information criterion
prefers it by ``BIC_MARGIN`` nats beyond its three extra parameters, so that
normal noise keeps the exact normal model (:mod:`.posterior`).

Assumptions: samples are independent; every commit has the same noise shape,
shifted by its level (on the log scale: a change is a ratio); the shape is
estimated from the commits with at least two samples and its own uncertainty is
ignored (the levels' uncertainty is not: see :func:`level_nodes`).
Reference: A. P. Dempster, N. M. Laird & D. B. Rubin (1977), "Maximum likelihood
from incomplete data via the EM algorithm", JRSS B 39(1); G. Schwarz (1978),
"Estimating the dimension of a model", Ann. Statist. 6(2).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

FloatArray = NDArray[np.float64]

#: Nats (on the log-likelihood) by which the mixture must beat one normal beyond BIC's penalty.
BIC_MARGIN = 3.0
#: The fewest samples (over groups of at least two) from which a shape is fitted.
MIN_SAMPLES = 12
#: A component's spread is at least this share of the single normal's, so that no component collapses on a point.
SPREAD_FLOOR = 0.4
#: Each component keeps at least this weight.
WEIGHT_FLOOR = 0.05
ITERATIONS = 200
TOLERANCE = 1e-9
_LOG_ROOT_2PI = 0.5 * math.log(2 * math.pi)


@dataclass(frozen=True, slots=True)
class NoiseShape:
    """A two-component normal mixture of log-sample noise around a commit's level (component 0 at the level)."""

    weights: tuple[float, float]
    offsets: tuple[float, float]
    spreads: tuple[float, float]

    def logpdf(self, x: FloatArray) -> FloatArray:
        """Log density of noise values ``x`` (any shape)."""
        parts = _component_logs(np.asarray(x, dtype=float)[..., None], *self.arrays())
        return np.logaddexp(parts[..., 0], parts[..., 1])

    def arrays(self) -> tuple[FloatArray, FloatArray, FloatArray]:
        """Weights, offsets and spreads as arrays, one entry per component."""
        return np.array(self.weights), np.array(self.offsets), np.array(self.spreads)

    @property
    def mean(self) -> float:
        return float(sum(w * d for w, d in zip(self.weights, self.offsets, strict=True)))

    @property
    def sd(self) -> float:
        second = sum(w * (s * s + d * d) for w, d, s in zip(self.weights, self.offsets, self.spreads, strict=True))
        return math.sqrt(max(second - self.mean**2, 0.0))

    def grid(self, points: int = 801) -> tuple[FloatArray, float]:
        """Noise values spanning the shape (its components ± 8 spreads), and their spacing."""
        low = min(d - 8 * s for d, s in zip(self.offsets, self.spreads, strict=True))
        high = max(d + 8 * s for d, s in zip(self.offsets, self.spreads, strict=True))
        x = np.linspace(low, high, points)
        return x, float(x[1] - x[0])

    def divergence(self, shift: float) -> float:
        """Kullback-Leibler divergence (nats) of the noise from the noise shifted by ``shift``: the evidence one
        sample adds, on average, for the true level against one ``shift`` away."""
        x, dx = self.grid()
        x = np.linspace(x[0] - abs(shift), x[-1] + abs(shift), x.size + int(abs(shift) / dx))
        dx = float(x[1] - x[0])
        here = self.logpdf(x)
        return float(np.sum(np.exp(here) * (here - self.logpdf(x - shift))) * dx)

    def precision(self) -> float:
        """Fisher information of one sample about its level (1 / variance of an efficient level estimate)."""
        x, dx = self.grid()
        log_density = self.logpdf(x)
        score = np.gradient(log_density, dx)
        return float(np.sum(np.exp(log_density) * score * score) * dx)


def fit_shape(groups: Sequence[FloatArray]) -> NoiseShape | None:
    """The mixture fitted to ``groups`` (log samples, one array per commit), or ``None`` when one normal will do.

    Groups of fewer than two samples carry nothing about the shape once their shift is free, and are left out.
    """
    used = [np.asarray(g, dtype=float) for g in groups if np.asarray(g).size >= 2]
    y = np.concatenate(used) if used else np.empty(0)
    if y.size < MIN_SAMPLES:
        return None
    index = np.repeat(np.arange(len(used)), [g.size for g in used])
    means = np.array([g.mean() for g in used])
    rss = float(np.sum((y - means[index]) ** 2))
    if rss <= 0:
        return None
    sigma = math.sqrt(rss / y.size)
    normal = -y.size * (_LOG_ROOT_2PI + math.log(sigma) + 0.5)
    best: tuple[float, NoiseShape] | None = None
    for start in _starts(sigma):
        fitted = _em(y, index, len(used), start, sigma)
        if fitted is not None and (best is None or fitted[0] > best[0]):
            best = fitted
    if best is None:
        return None
    penalty = 1.5 * math.log(y.size) + BIC_MARGIN  # three more parameters: offset, second spread, weight
    return best[1] if best[0] - normal > penalty else None


def _component_logs(residual: FloatArray, weights: FloatArray, offsets: FloatArray, spreads: FloatArray) -> FloatArray:
    """``log(weight · normal density)`` of each component at each residual (components on the last axis)."""
    parts: FloatArray = np.log(weights) - np.log(spreads) - _LOG_ROOT_2PI - 0.5 * ((residual - offsets) / spreads) ** 2
    return parts


def _responsibilities(parts: FloatArray) -> tuple[FloatArray, FloatArray]:
    """Each component's share of each residual (E-step), and each residual's log density."""
    top = parts.max(axis=-1, keepdims=True)
    total = top[..., 0] + np.log(np.exp(parts - top).sum(axis=-1))
    return np.exp(parts - total[..., None]), total


def _starts(sigma: float) -> list[NoiseShape]:
    """Starting points of the EM: a second mode above, below, and a wide component (heavy tails)."""
    return [
        NoiseShape((0.7, 0.3), (0.0, 2.0 * sigma), (0.5 * sigma, 0.5 * sigma)),
        NoiseShape((0.7, 0.3), (0.0, -2.0 * sigma), (0.5 * sigma, 0.5 * sigma)),
        NoiseShape((0.8, 0.2), (0.0, 0.0), (0.6 * sigma, 2.5 * sigma)),
    ]


def _em(
    y: FloatArray, index: NDArray[np.intp], groups: int, start: NoiseShape, sigma: float
) -> tuple[float, NoiseShape] | None:
    """Expectation-maximisation from ``start``: the log-likelihood reached and the shape."""
    weights = np.array(start.weights)
    offsets = np.array(start.offsets)
    spreads = np.array(start.spreads)
    shifts = np.array([np.median(y[index == g]) for g in range(groups)])
    floor = SPREAD_FLOOR * sigma
    previous = -math.inf
    loglik = -math.inf
    for _ in range(ITERATIONS):
        resp, total = _responsibilities(_component_logs((y - shifts[index])[:, None], weights, offsets, spreads))
        loglik = float(total.sum())
        if not math.isfinite(loglik):
            return None
        if loglik - previous < TOLERANCE * abs(loglik):
            break
        previous = loglik
        weights = np.clip(resp.mean(axis=0), WEIGHT_FLOOR, 1 - WEIGHT_FLOOR)
        weights /= weights.sum()
        precision = resp / spreads[None, :] ** 2
        pulled = (precision * (y[:, None] - offsets[None, :])).sum(axis=1)
        shifts = np.bincount(index, pulled, groups) / np.bincount(index, precision.sum(axis=1), groups)
        residual = y - shifts[index]
        mass = resp.sum(axis=0)
        offsets[1] = float((resp[:, 1] * residual).sum() / mass[1])
        deviations = (residual[:, None] - offsets[None, :]) ** 2
        spreads = np.maximum(np.sqrt((resp * deviations).sum(axis=0) / mass), floor)
    shape = NoiseShape(
        (float(weights[0]), float(weights[1])),
        (0.0, float(offsets[1])),
        (float(spreads[0]), float(spreads[1])),
    )
    return loglik, shape


def level_nodes(points: int = 5) -> tuple[FloatArray, FloatArray]:
    """Gauss-Hermite nodes and log weights for integrating over a normal level error (standard units)."""
    nodes, weights = np.polynomial.hermite_e.hermegauss(points)
    return nodes, np.log(weights / weights.sum())


#: Weight of a broad outlier component added to the fitted shape when scoring samples: no single wild run
#: (a cron job, a cold cache) can move the evidence by more than about ``log(1 / OUTLIER_WEIGHT)`` nats.
OUTLIER_WEIGHT = 0.005
#: The outlier component spreads uniformly over this many standard deviations of the shape.
OUTLIER_WIDTH = 20.0


def robust_logpdf(shape: NoiseShape, x: FloatArray) -> FloatArray:
    """Log density of ``x`` under the shape with a small uniform outlier component (bounded influence)."""
    floor = math.log(OUTLIER_WEIGHT) - math.log(OUTLIER_WIDTH * shape.sd)
    return np.logaddexp(math.log1p(-OUTLIER_WEIGHT) + shape.logpdf(x), floor)


def locate(shape: NoiseShape, samples: FloatArray) -> tuple[float, float]:
    """The level of ``samples`` (the shift of the shape's component 0) and its standard error.

    The maximum-likelihood shift by expectation-maximisation with the shape fixed; its standard error is
    ``1 / sqrt(n · Fisher information)``.
    """
    weights, offsets, spreads = shape.arrays()
    level = float(np.median(samples)) - (shape.offsets[1] if shape.weights[1] > 0.5 else 0.0)
    for _ in range(50):
        resp, _ = _responsibilities(_component_logs((samples - level)[:, None], weights, offsets, spreads))
        precision = resp / spreads[None, :] ** 2
        updated = float((precision * (samples[:, None] - offsets[None, :])).sum() / precision.sum())
        if abs(updated - level) < 1e-12 * max(1.0, abs(level)):
            level = updated
            break
        level = updated
    return level, 1 / math.sqrt(samples.size * shape.precision())

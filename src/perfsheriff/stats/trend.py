"""Step or slope: is a change a jump, or a piece of a gradual drift?

A series that creeps up by 0.5 % a commit looks, to a step detector, like a
staircase: every window finds a "significant" shift, and every step blames one
innocent commit. Telling the two apart is model selection over the change's
windows ``[start, stop)``:

- a *step on a trend* ``y = a + b t + d [t >= at]`` against
- a *trend alone* ``y = a + b t``.

With the noise sigma known (the detector's robust estimate) the least-squares
step ``d`` has standard error ``sigma * sqrt((X'X)^-1_dd)``, and ``z = d / se`` is
the likelihood-ratio statistic for the step given the trend (a Gaussian linear
model; Seber & Lee 2003, "Linear Regression Analysis", ch. 4). A change is a
step when ``|z|`` passes the detector's threshold; otherwise the trend explains
it and it belongs to a drift. A real step on top of a drift still passes: the
trend term absorbs the drift, not the jump. Assumptions: within the windows the
level is linear apart from the step, the noise roughly independent and
Gaussian after winsorization.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass

import numpy as np

from perfsheriff.stats.robust import FloatArray


def step_given_trend(values: FloatArray, start: int, at: int, stop: int, sigma: float) -> float:
    """``z`` of a step at ``at`` over ``[start, stop)`` in a model that also has a linear trend.

    Infinite when ``sigma`` is 0 and the step is not; 0 when the windows are too short to tell.
    """
    n = stop - start
    if at - start < 2 or stop - at < 2:
        return 0.0
    t = np.arange(n, dtype=np.float64) - (n - 1) / 2.0
    step = (np.arange(n) >= at - start).astype(np.float64)
    design = np.column_stack((np.ones(n), t, step))
    gram = design.T @ design
    try:
        inverse = np.linalg.inv(gram)
    except np.linalg.LinAlgError:
        return 0.0
    coef = inverse @ (design.T @ values[start:stop])
    d = float(coef[2])
    if sigma <= 0.0:
        return math.inf if d != 0.0 else 0.0
    return d / (sigma * math.sqrt(float(inverse[2, 2])))


@dataclass(frozen=True, slots=True)
class Slope:
    """A least-squares line over ``[start, stop)``: level at ``start``, change per revision and its z."""

    start_level: float
    per_revision: float
    z: float


def fit_slope(values: FloatArray, start: int, stop: int, sigma: float) -> Slope:
    """The line through ``values[start:stop]`` and the z of its slope (known ``sigma``)."""
    n = stop - start
    if n < 3:
        return Slope(float(values[start]) if n else 0.0, 0.0, 0.0)
    t = np.arange(n, dtype=np.float64)
    centred = t - t.mean()
    sxx = float(centred @ centred)
    slope = float(centred @ values[start:stop]) / sxx
    intercept = float(values[start:stop].mean()) - slope * float(t.mean())
    z = slope / (sigma / math.sqrt(sxx)) if sigma > 0 else (math.inf if slope else 0.0)
    return Slope(intercept, slope, z)


@dataclass(frozen=True, slots=True)
class Ramp:
    """Flat until ``start``, linear to ``stop``, flat after: the best such fit and its residual sum of squares."""

    start: int
    stop: int
    level: float
    per_revision: float
    rss: float


def fit_ramp(values: FloatArray, a: int, b: int, *, min_length: int) -> Ramp | None:
    """Least-squares ramp over ``values[a:b]``: hinges searched on a grid, the ramp at least ``min_length`` long.

    Model: ``y = level + slope * clip(t - start, 0, stop - start)`` (a gradual
    change between two plateaus). For fixed hinges it is linear in ``level`` and
    ``slope``, so every hinge pair is solved in closed form at once; the hinges are
    searched on a grid of about 40 positions each. ``None`` when the stretch is
    too short for a ramp of ``min_length``.
    """
    n = b - a
    if n < min_length + 2:
        return None
    y = values[a:b]
    grid = np.unique(np.linspace(0, n - 1, min(n, 40)).round().astype(np.int64))
    h1, h2 = np.meshgrid(grid, grid, indexing="ij")
    ok = (h2 - h1) >= min_length
    if not ok.any():
        return None
    h1, h2 = h1[ok], h2[ok]
    t = np.arange(n, dtype=np.float64)
    x = np.clip(t[None, :] - h1[:, None], 0.0, (h2 - h1)[:, None].astype(np.float64))
    xc = x - x.mean(axis=1, keepdims=True)
    yc = y - y.mean()
    sxx = np.einsum("ij,ij->i", xc, xc)
    sxy = xc @ yc
    rss = float(yc @ yc) - sxy * sxy / sxx
    best = int(np.argmin(rss))
    slope = float(sxy[best] / sxx[best])
    level = float(y.mean() - slope * x[best].mean())
    return Ramp(int(h1[best]) + a, int(h2[best]) + a, level, slope, float(rss[best]))


def step_rss(values: FloatArray, a: int, b: int, breaks: list[int]) -> float:
    """Residual sum of squares of a piecewise-constant fit of ``values[a:b]`` with the given breaks."""
    edges = [a, *breaks, b]
    return float(sum(np.sum((values[s:e] - values[s:e].mean()) ** 2) for s, e in itertools.pairwise(edges) if e > s))

"""How likely a detected change is real: a calibrated probability instead of a test's 1 - p.

A rank test over 60 revisions a side says 1 - p = 0.99999 for nearly every
change it passes, so the number tells a sheriff nothing. What tells real
changes from the ones sheriffs reject is how clear the change is *locally*,
where a sheriff looks: the dozen revisions either side. The probability is a
logistic model (Cox 1958) over five scale-free features of a change:

1. ``-log10 p`` of the Mann-Whitney test on the revision values of the windows
   either side (revision medians, so that many samples per revision do not make
   a small change look certain);
2. ``log |relative change|``;
3. ``log`` of the shift in units of the series' noise sigma;
4. ``log`` of Perfherder's local t: a t statistic between the 12 revisions
   before and the 12 from the change on, each weighted linearly towards the
   change (``treeherder/perf/alerts.py``), the largest within 2 revisions;
5. ``log`` of the local robust effect: the difference of the medians of those
   12 + 12 revisions over their pooled MAD-based sigma.

The coefficients were fitted by L2-penalised maximum likelihood to the
candidates the detector finds on the real Mozilla series of
``../shared/data`` (sheriff-confirmed changes positive, everything else
negative, matched by the data set's protocol), and are re-derived and
cross-validated (4 folds by series) by ``benchmarks/fit_alert_probability.py``;
``docs/detection.md`` shows the calibration table. Assumptions: the series
resembles the real ones it was fitted to (one value per push, page-load and
start-up tests); on series whose changes are much smaller than the real ones
(the synthetic set) it is under-confident, never over-confident, at 0.9 and up.
Every feature is invariant under multiplying the data by ``c > 0``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from perfsheriff.stats.robust import MAD_TO_SIGMA, FloatArray, mann_whitney_p, median

LOCAL_WINDOW = 12
"""Revisions a side of Perfherder's t test, and of the local effect (a sheriff's "12 either side")."""


@dataclass(frozen=True, slots=True)
class LogisticModel:
    """Standardised logistic regression: ``p = 1 / (1 + exp(-(b0 + sum(w * (x - mean) / scale))))``."""

    intercept: float
    weights: tuple[float, ...]
    means: tuple[float, ...]
    scales: tuple[float, ...]

    def __call__(self, features: tuple[float, ...]) -> float:
        z = self.intercept + sum(
            w * (x - m) / s for w, x, m, s in zip(self.weights, features, self.means, self.scales, strict=True)
        )
        return 1.0 / (1.0 + math.exp(-z)) if z > -700 else 0.0


# Fitted by benchmarks/fit_alert_probability.py on the 58 real dev series (all folds); rerun it to re-derive.
MODEL = LogisticModel(
    intercept=0.2058,
    weights=(0.6428, -0.2278, 0.7057, 1.8303, 0.1672),
    means=(6.5173, -2.5615, 1.3265, 1.8261, 1.2764),
    scales=(3.7961, 1.0369, 0.862, 0.7809, 1.0633),
)
FEATURES = ("mw_log10_p", "log_relative_change", "log_effect_sigma", "log_local_t", "log_local_effect")


def local_t(values: FloatArray, at: int, window: int = LOCAL_WINDOW, fore: int | None = None) -> float:
    """Perfherder's t between ``window`` revisions before ``at`` and ``fore`` (default ``window``) from it.

    Method: as ``treeherder/perf/alerts.py`` (``calc_t`` with ``linear_weights``):
    each side's mean weights the revision nearest the change most, ``(k - j) / k``
    for the ``j``-th nearest of ``k``; the variance is the plain sample variance
    around that weighted mean; ``t = |mean_after - mean_before| / sqrt(v1/n1 + v2/n2)``.
    Infinite when both sides are constant and differ; 0 with fewer than 2 a side.
    """
    before = values[max(0, at - window) : at][::-1]
    after = values[at : at + (window if fore is None else fore)]
    if len(before) < 2 or len(after) < 2:
        return 0.0
    m1, v1 = _weighted(before)
    m2, v2 = _weighted(after)
    if m1 == m2:
        return 0.0
    spread = v1 / len(before) + v2 / len(after)
    return math.inf if spread <= 0.0 else abs(m2 - m1) / math.sqrt(spread)


def _weighted(side: FloatArray) -> tuple[float, float]:
    """Linearly weighted mean (nearest revision first) and the plain sample variance around it."""
    k = len(side)
    weights = _WEIGHTS[k] if k < len(_WEIGHTS) else (k - np.arange(k)) / k
    mean = float(side @ weights) * 2.0 / (k + 1)  # the weights (k - j) / k sum to (k + 1) / 2
    deviations = side - mean
    return mean, float(deviations @ deviations) / (k - 1)


_WEIGHTS = [(k - np.arange(k)) / k if k else np.zeros(0) for k in range(4 * LOCAL_WINDOW)]


def features(
    values: FloatArray, at: int, *, start: int, stop: int, sigma: float, relative: float, shift: float
) -> tuple[float, ...]:
    """The five features of the change at position ``at`` of ``values`` (windows ``[start, at)`` and ``[at, stop)``)."""
    p_value = mann_whitney_p(values[start:at], values[at:stop])
    lo, hi = max(1, at - 2), min(len(values) - 1, at + 2)
    t = max(local_t(values, k) for k in range(lo, hi + 1)) if hi >= lo else 0.0
    before = values[max(0, at - LOCAL_WINDOW) : at]
    after = values[at : at + LOCAL_WINDOW]
    mb, ma = median(before), median(after)
    pooled = MAD_TO_SIGMA * median(np.abs(np.concatenate((before - mb, after - ma))))
    return (
        min(-math.log10(max(p_value, 1e-300)), 30.0),
        _log(abs(relative)),
        _log(abs(shift) / sigma) if sigma > 0 else 5.0,
        _log(t) if math.isfinite(t) else 5.0,
        _log(abs(ma - mb) / pooled) if pooled > 0 else 5.0,
    )


def _log(x: float) -> float:
    """Natural log floored at -20 (a feature of 0 is "no evidence", not minus infinity), capped at 5."""
    return max(-20.0, min(5.0, math.log(x))) if x > 0 else -20.0


def probability(feature_values: tuple[float, ...], model: LogisticModel = MODEL) -> float:
    """Probability that a change with these features is real (see the module docstring)."""
    return model(feature_values)

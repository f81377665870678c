"""How likely a detected change is real: a calibrated probability instead of a test's 1 - p.

A rank test over 60 revisions a side says 1 - p = 0.99999 for nearly every
change it passes, so the number tells a sheriff nothing. What tells real
changes from the ones sheriffs reject is how clear the change is *locally*,
where a sheriff looks: the dozen revisions either side. The probability is a
logistic model (Cox 1958) over six scale-free features of a change:

1. ``-log10 p`` of the Mann-Whitney test on the revision values of the windows
   either side (revision medians, so that many samples per revision do not make
   a small change look certain);
2. ``log |relative change|``;
3. ``log`` of the shift in units of the series' noise sigma;
4. ``log`` of Perfherder's local t: a t statistic between the 12 revisions
   before and the 12 from the change on, each weighted linearly towards the
   change (``treeherder/perf/alerts.py``), the largest within 2 revisions;
5. ``log`` of the local robust effect: the difference of the medians of those
   12 + 12 revisions over their pooled MAD-based sigma;
6. whether Perfherder's own alerting rule fires within 5 revisions of the change
   (:func:`weighted_t_agrees`: its back window grows to 24 revisions while nothing
   changes, the t must pass 7 at a local peak, the means differ by 2 %), 1 or 0.
   Feature 4 is the same statistic at the change's place; the rule adds the longer
   back window of a quiet series and Perfherder's thresholds, and with it the
   held-out log loss is lower in each of the 4 folds (``docs/detection.md``,
   *Calibration*).

The coefficients were fitted by L2-penalised maximum likelihood to the
candidates the detector finds on the real Mozilla series of
``../shared/data`` (sheriff-confirmed changes positive, everything else
negative, matched by the data set's protocol), and are re-derived and
cross-validated (4 folds by series) by ``benchmarks/fit_alert_probability.py``;
``docs/detection.md`` shows the calibration table. Assumptions: the series
resembles the real ones it was fitted to (one value per push, page-load and
start-up tests); on series whose changes are much smaller than the real ones
(the synthetic set) it is under-confident, never over-confident, at 0.9 and up.
The labels are Perfherder's alerts that sheriffs confirmed, so feature 6 is
partly agreement with how the labels were made; it is kept because it holds on
series held out, and for young changes (see the docs).
Every feature is invariant under multiplying the data by ``c > 0``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from perfsheriff.stats.robust import MAD_TO_SIGMA, FloatArray, mann_whitney_p, median

LOCAL_WINDOW = 12
"""Revisions a side of Perfherder's t test, and of the local effect (a sheriff's "12 either side")."""
AGREEMENT_REACH = 5
"""Revisions either side of a change within which Perfherder's rule must fire to agree with it (the scoring's ±5)."""
PERFHERDER_T = 7.0
"""Perfherder's alerting threshold on its weighted t (``treeherder/perf/alerts.py``, ``T_VALUE_CARE_MIN``)."""
PERFHERDER_MIN_CHANGE = 0.02
"""Smallest relative difference of the 12-revision means at which Perfherder alerts (2 %)."""
_BACK_MAX = 2 * LOCAL_WINDOW


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
    intercept=0.2084,
    weights=(0.4289, -0.1618, 0.6583, 0.8277, 0.2305, 1.0851),
    means=(6.5173, -2.5615, 1.3265, 1.8261, 1.2764, 0.4118),
    scales=(3.7961, 1.0369, 0.862, 0.7809, 1.0633, 0.4922),
)
FEATURES = (
    "mw_log10_p",
    "log_relative_change",
    "log_effect_sigma",
    "log_local_t",
    "log_local_effect",
    "perfherder_agrees",
)


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


def weighted_t_agrees(values: FloatArray, at: int, *, reach: int = AGREEMENT_REACH) -> bool:
    """Whether Perfherder's alerting rule fires within ``reach`` revisions of the change at ``at``.

    Why: a second, independent reading of the same revisions. Perfherder's rule
    alerts on sharp changes that hold for a dozen revisions, and where it agrees
    with a change found by segmentation, that change is far more often real
    (``docs/detection.md``, *Calibration*).
    Method: as ``treeherder/perf/alerts.py`` (``detect_changes``) and the peer
    ``perfherder_weighted`` of ``benchmarks/peers.py``: the weighted t of
    :func:`local_t` at every revision, the back window 12 revisions and growing by
    one for each revision whose t stays at or below 7, up to 24; a revision
    alerts where t > 7, t is not below either neighbour's, 12 revisions precede
    it, and the plain means of the 12 revisions either side differ by at least
    2 % of the earlier one. Unlike Perfherder it does not wait for 12 revisions
    after the change: the forward window holds what there is, so a young change
    can agree. The back window's growth is followed from ``2 * LOCAL_WINDOW``
    revisions before the reach, enough to reach its cap. Scale-free.
    """
    n = len(values)
    first, last = max(1, at - reach - _BACK_MAX), min(n - 1, at + reach + 1)
    if last < max(LOCAL_WINDOW, at - reach):
        return False
    # Until a revision's t passes 7, the back window grows by one a revision from 12 (``quiet``);
    # for 12 revisions after one does it is 12 again; beyond that (rare this close to a change), one at a time.
    positions = np.arange(first, last + 1)
    backs = np.minimum(np.maximum(positions - first, LOCAL_WINDOW), _BACK_MAX)
    both = _weighted_ts(values, np.r_[positions, positions], np.r_[backs, np.full(len(positions), LOCAL_WINDOW)])
    growing, shortest = both[: len(positions)].tolist(), both[len(positions) :].tolist()
    ts: list[float] = []
    quiet, reset = 0, False
    for i, (t_growing, t_shortest) in enumerate(zip(growing, shortest, strict=True)):
        back = min(max(quiet, LOCAL_WINDOW), _BACK_MAX)
        if not reset:
            ts.append(t_growing)
        elif back == LOCAL_WINDOW:
            ts.append(t_shortest)
        else:
            ts.append(local_t(values, first + i, back, fore=LOCAL_WINDOW))
        if ts[i] > PERFHERDER_T:
            quiet, reset = 0, True
        else:
            quiet += 1
    for k in range(max(LOCAL_WINDOW, at - reach), min(n - 1, at + reach) + 1):
        t = ts[k - first]
        if t <= PERFHERDER_T or ts[k - first - 1] > t or (k < last and ts[k - first + 1] > t):
            continue
        before, after = float(values[k - LOCAL_WINDOW : k].mean()), float(values[k : k + LOCAL_WINDOW].mean())
        if before != 0.0 and abs(after - before) / abs(before) >= PERFHERDER_MIN_CHANGE:
            return True
    return False


def _weighted_ts(values: FloatArray, positions: npt.NDArray[np.int64], backs: npt.NDArray[np.int64]) -> FloatArray:
    """:func:`local_t` at each position with its own back window (at most 24), forward window 12.

    One array operation instead of a call per position: the windows are gathered
    into a padded (position, revision) block, whose revisions beyond a window's
    length weigh 0 (``_WEIGHT_TABLE``).
    """
    j = np.arange(_BACK_MAX)
    before = values[np.maximum(positions[:, None] - 1 - j, 0)]
    after = values[np.minimum(positions[:, None] + j[:LOCAL_WINDOW], len(values) - 1)]
    k1, k2 = np.minimum(backs, positions), np.minimum(LOCAL_WINDOW, len(values) - positions)
    n1, n2 = k1.astype(np.float64), k2.astype(np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):  # windows of fewer than 2 revisions give 0 below
        m1 = np.einsum("lj,lj->l", _WEIGHT_TABLE[k1], before) * 2.0 / (n1 + 1.0)
        d1 = (before - m1[:, None]) * _INSIDE[k1]
        v1 = np.einsum("lj,lj->l", d1, d1) / (n1 - 1.0)
        m2 = np.einsum("lj,lj->l", _WEIGHT_TABLE[k2, :LOCAL_WINDOW], after) * 2.0 / (n2 + 1.0)
        d2 = (after - m2[:, None]) * _INSIDE[k2, :LOCAL_WINDOW]
        v2 = np.einsum("lj,lj->l", d2, d2) / (n2 - 1.0)
        spread = v1 / n1 + v2 / n2
        t = np.where(spread > 0.0, np.abs(m2 - m1) / np.sqrt(spread), np.inf)
    return np.where((n1 < 2) | (n2 < 2) | (m1 == m2), 0.0, t)


# Row k: the linear weights (k - j) / k of a window of k revisions, nearest first, padded with zeros.
_WEIGHT_TABLE = np.array([[(k - j) / k if j < k else 0.0 for j in range(_BACK_MAX)] for k in range(_BACK_MAX + 1)])
_INSIDE = (_WEIGHT_TABLE > 0.0).astype(np.float64)


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
    """The six features of the change at position ``at`` of ``values`` (windows ``[start, at)`` and ``[at, stop)``)."""
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
        1.0 if weighted_t_agrees(values, at) else 0.0,
    )


def _log(x: float) -> float:
    """Natural log floored at -20 (a feature of 0 is "no evidence", not minus infinity), capped at 5."""
    return max(-20.0, min(5.0, math.log(x))) if x > 0 else -20.0


def probability(feature_values: tuple[float, ...], model: LogisticModel = MODEL) -> float:
    """Probability that a change with these features is real (see the module docstring)."""
    return model(feature_values)

"""Machine generations: the scale factor between an old and a new benchmark machine, and the rescaled timeline.

When a benchmark machine is replaced (new hardware, OS, Python and compiler at once), history cannot
be re-run on the new machine, so a few *baseline* revisions are measured on both generations and the
old series is rescaled onto the new one. This module is the statistics of that step; storing
baselines and drawing the timeline live elsewhere.

Method (:func:`estimate_scale`):

1. per baseline revision measured on both generations, ``d_i = log(median(new_i) / median(old_i))``:
   the revision's code is the same on both sides, so ``d_i`` is the machine's effect plus noise;
2. the series' factor is ``exp(median(d_i))``, with the distribution-free confidence interval of a
   median, ``[d_(k), d_(n+1-k)]`` over the ordered ``d_i``, ``k`` the largest integer with
   ``P(B <= k - 1) <= alpha / 2`` for ``B ~ Binomial(n, 1/2)`` (the sign-test interval);
3. the estimate is *too uncertain* (:class:`TooUncertain`, not applied) when an end of the interval
   lies more than ``tolerance`` from the factor on the log scale, with an estimate of how many more
   baseline revisions would likely bring it within.

Assumptions: the ``d_i`` are independent and their median is the log of the machine's factor (the
noise of a revision's log ratio is as likely above as below it); samples within a revision are pooled
by their median; the factor is the same for the whole series (one benchmark, metric and
configuration). No symmetry or normality is assumed.

Why the median and the sign-test interval, not the Hodges-Lehmann estimate with its signed-rank
interval, nor a bootstrap: an *outlier revision* (one side measured during a busy spell, a run hit
by a cron job) is the typical fault of a baseline. The median ignores it, and the interval's ends
are order statistics of the ``d_i``: with ``m`` arbitrary outliers among ``n`` revisions the
coverage stays at least ``P(k <= B <= n - k - m)`` for ``B ~ Binomial(n - m, 1/2)`` (96.1 % for one
outlier among 10 revisions at 95 %). The signed-rank interval's ends are Walsh averages, and one
outlier takes part in ``n`` of the ``n (n + 1) / 2``: at 10 revisions its end (the 9th Walsh average
from the end) lies halfway to the outlier. A bootstrap over fewer than about 20 revisions has too
few distinct resamples to be trusted. The price is efficiency: about 64 % of the mean's under
normal noise, so a baseline needs more revisions for the same width. No distribution-free interval
at confidence ``1 - alpha`` exists below ``n`` revisions with ``2 / 2^n <= alpha`` (6 at 95 %):
fewer give :class:`TooUncertain` with the revisions still needed.

References: Hollander, Wolfe & Chicken (2014), *Nonparametric Statistical Methods*, 3rd ed., §3.4
(sign test, interval for the median); David & Nagaraja (2003), *Order Statistics*, 3rd ed., §7.1
(distribution-free intervals for quantiles); Hampel (1974), JASA 69 (breakdown of the median).

Detection across a boundary. Every view and the detector see the *rescaled* series
(:func:`rescale`: old values times the factor; raw samples are never changed), so the machine's
step is gone from what the detector reads. What remains at the boundary is the factor's error: the
rescaled old level is off by ``true factor / factor``, which lies within ``[low / factor,
high / factor]`` with the interval's confidence. A change the detector finds at the boundary whose
size lies within that range is explained by the rescaling and raises no alert
(:func:`explained_by_rescaling`); a real change of the code at the boundary larger than the
interval's half-width is still reported, a smaller one cannot be told from the factor's error.
Several generations compose: rescale at the newest boundary first, then the older ones.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from scipy import special

from perfsheriff.errors import ConfigError, InputError
from perfsheriff.stats.changepoints import ChangePoint
from perfsheriff.stats.summary import robust_sigma

FloatArray = npt.NDArray[np.float64]

#: Fewest revisions measured on both generations for any answer: one ratio says nothing of the spread.
MIN_REVISIONS = 2
#: Log ratios are rounded to this many decimals, so that the estimate does not hinge on last-bit
#: rounding (scaling every sample by c > 0, or a noiseless factor, must give the same answer).
_LOG_DECIMALS = 12
#: The most further revisions :func:`revisions_needed` looks at: more is no baseline anyone measures.
_MAX_PROJECTION = 10_000
#: Normal quantile of the chance :func:`revisions_needed` aims for that an end of the interval falls within
#: the tolerance (0.84: about 80 %, the power ``perfsheriff compare`` sizes its runs for).
_ASSURANCE = 0.8416
#: A revision whose log ratio lies more than this many robust sigmas from the median is listed as an
#: outlier (Iglewicz & Hoaglin 1993, "How to detect and handle outliers": modified z-score > 3.5).
_OUTLIER_Z = 3.5


@dataclass(frozen=True, slots=True)
class ScaleSettings:
    """Settings of :func:`estimate_scale`; fractions, not percents.

    ``confidence``: of the interval (0.95: the interval misses the true factor in about 1 baseline of 20).
    ``tolerance``: the largest relative distance, on the log scale, from the factor to either end of its
    interval for the factor to be applied (0.02: the interval lies within ``[f / 1.02, 1.02 f]``).
    Default 2 %: the equivalence margin of ``perfsheriff compare`` (``CompareSettings``), so a boundary
    rescaled within it is "no change" by the standard of a comparison; the detector's smallest step is
    1 %, and :func:`explained_by_rescaling` keeps steps within the interval from alerting.
    """

    confidence: float = 0.95
    tolerance: float = 0.02

    def __post_init__(self) -> None:
        if not 0.5 <= self.confidence < 1.0:
            raise ConfigError(f"confidence must lie in [0.5, 1), got {self.confidence!r}")
        if not 0.0 < self.tolerance < 1.0:
            raise ConfigError(f"tolerance must lie strictly between 0 and 1, got {self.tolerance!r}")


@dataclass(frozen=True, slots=True)
class ScaleEstimate:
    """A factor ``new / old`` known well enough to rescale the old generation with it.

    ``low``/``high`` are its confidence bounds at ``confidence``; ``revisions`` the baseline revisions
    measured on both generations (in the order of ``old``); ``spread`` the robust sigma of their log
    ratios (≈ relative spread); ``outliers`` the revisions whose ratio lies far from the others (they
    count all the same: the median ignores them, but re-measuring them is cheap advice).
    """

    factor: float
    low: float
    high: float
    confidence: float
    revisions: tuple[str, ...]
    spread: float
    outliers: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        _check_interval(self.factor, self.low, self.high, self.confidence, self.revisions)

    @property
    def relative_half_width(self) -> float:
        """The largest relative distance from the factor to an end of its interval (log scale)."""
        return _relative_half_width(self.factor, self.low, self.high)


@dataclass(frozen=True, slots=True)
class TooUncertain:
    """The baseline does not pin the factor down within the tolerance: it must not be applied.

    ``factor`` is the estimate all the same, for information; ``low``/``high`` its interval (0 and
    infinity when no interval at ``confidence`` exists for so few revisions). ``more_revisions`` is
    how many more baseline revisions would likely bring the interval within the tolerance,
    projected from the observed spread (a guide, not a promise); ``reason`` says why in one sentence;
    ``outliers`` as in :class:`ScaleEstimate` (re-measuring them may settle the factor sooner).
    """

    factor: float
    low: float
    high: float
    confidence: float
    revisions: tuple[str, ...]
    spread: float
    more_revisions: int
    reason: str
    outliers: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        _check_interval(self.factor, self.low, self.high, self.confidence, self.revisions)
        if self.more_revisions < 1:
            raise InputError(f"more_revisions must be >= 1, got {self.more_revisions}")

    @property
    def relative_half_width(self) -> float:
        """The largest relative distance from the factor to an end of its interval (infinite if none)."""
        return _relative_half_width(self.factor, self.low, self.high)


def _check_interval(factor: float, low: float, high: float, confidence: float, revisions: tuple[str, ...]) -> None:
    if not (math.isfinite(factor) and factor > 0.0 and 0.0 <= low <= factor <= high):
        raise InputError(f"a scale factor needs 0 <= low <= factor <= high, factor finite; got {low}, {factor}, {high}")
    if not 0.0 < confidence < 1.0 or len(revisions) < MIN_REVISIONS:
        raise InputError(f"a scale factor needs a confidence in (0, 1) and at least {MIN_REVISIONS} revisions")


def _relative_half_width(factor: float, low: float, high: float) -> float:
    if low <= 0.0 or math.isinf(high):
        return math.inf
    return math.expm1(max(math.log(high / factor), math.log(factor / low)))


def estimate_scale(
    old: Mapping[str, Iterable[float]],
    new: Mapping[str, Iterable[float]],
    settings: ScaleSettings | None = None,
) -> ScaleEstimate | TooUncertain:
    """The factor ``new / old`` of a series between two machine generations, from baseline revisions.

    ``old`` and ``new`` map a revision to the samples it gave on that generation; only revisions in
    both count. Method: median of the per-revision log ratios of medians with the sign-test
    (order-statistic) confidence interval; assumptions and references in the module docstring.
    Returns a :class:`ScaleEstimate` when both ends of the interval lie within ``settings.tolerance``
    of the factor, else :class:`TooUncertain` with how many more revisions would likely settle it.
    Raises :class:`~perfsheriff.errors.InputError` when fewer than :data:`MIN_REVISIONS` revisions are
    in both, or a common revision has no samples, or a sample that is not a finite number > 0.
    """
    settings = settings or ScaleSettings()
    revisions = tuple(revision for revision in old if revision in new)
    if len(revisions) < MIN_REVISIONS:
        raise InputError(
            f"{len(revisions)} revision(s) measured on both machine generations; at least {MIN_REVISIONS} are needed "
            f"(and {min_revisions(1.0 - settings.confidence)} for a {settings.confidence:.0%} interval)"
        )
    ratios = np.array([_log_ratio(revision, old[revision], new[revision]) for revision in revisions])
    return _decide(ratios, revisions, settings)


def _log_ratio(revision: str, old: Iterable[float], new: Iterable[float]) -> float:
    medians = []
    for side, samples in (("old", old), ("new", new)):
        values = np.asarray(list(samples), dtype=np.float64).reshape(-1)
        if values.size == 0:
            raise InputError("no samples", where=f"revision {revision}, {side} generation")
        if not (np.all(np.isfinite(values)) and np.all(values > 0.0)):
            bad = next(float(v) for v in values if not (math.isfinite(v) and v > 0.0))
            raise InputError(
                f"samples must be finite numbers > 0 (ratios are taken on a log scale), got {bad!r}",
                where=f"revision {revision}, {side} generation",
            )
        medians.append(float(np.median(values)))
    return round(math.log(medians[1]) - math.log(medians[0]), _LOG_DECIMALS)


def _decide(ratios: FloatArray, revisions: tuple[str, ...], settings: ScaleSettings) -> ScaleEstimate | TooUncertain:
    n = len(ratios)
    ordered = np.sort(ratios)
    centre = float(np.median(ordered))
    spread = _spread(ordered)
    k = sign_interval_rank(n, 1.0 - settings.confidence)
    low, high = (float(ordered[k - 1]), float(ordered[n - k])) if k else (-math.inf, math.inf)
    factor, confidence = math.exp(centre), settings.confidence
    far = np.abs(ratios - centre) > _OUTLIER_Z * spread if spread > 0.0 else np.zeros(n, dtype=bool)
    outliers = tuple(r for r, flagged in zip(revisions, far, strict=True) if flagged)
    half_width = max(high - centre, centre - low)
    if half_width <= math.log1p(settings.tolerance):
        return ScaleEstimate(factor, math.exp(low), math.exp(high), confidence, revisions, spread, outliers)
    one_sided = max(int(np.count_nonzero(far & (ratios < centre))), int(np.count_nonzero(far & (ratios > centre))))
    more = revisions_needed(n, spread, one_sided, settings) - n
    if k == 0:
        reason = (
            f"{n} revisions cannot give a {confidence:.0%} interval without assuming a distribution; "
            f"at least {min_revisions(1.0 - confidence)} are needed"
        )
    else:
        reason = (
            f"the {confidence:.0%} interval reaches ±{math.expm1(half_width):.1%} of the factor, "
            f"wider than the tolerance ±{settings.tolerance:.1%}"
        )
    if outliers:
        reason += f" (re-measuring the outlying {', '.join(outliers)} may be enough)"
    return TooUncertain(factor, math.exp(low), math.exp(high), confidence, revisions, spread, more, reason, outliers)


def _spread(ordered: FloatArray) -> float:
    """Robust sigma of the log ratios: normal-consistent MAD, the standard deviation when the MAD is 0."""
    sigma = robust_sigma(ordered)
    if sigma > 0.0:
        return sigma
    return float(np.std(ordered, ddof=1))


def revisions_needed(n: int, spread: float, outliers: int, settings: ScaleSettings) -> int:
    """How many baseline revisions in all would likely bring the interval within the tolerance (> ``n``).

    Method: for each candidate count ``N > n`` (every one up to ``n + 256``, then a geometric grid
    of steps of about 2 % up to ``n + 10 000``), the interval's ends are the ``k``-th ordered log
    ratios from either end (:func:`sign_interval_rank`); with ``outliers`` outlying revisions on one
    side of the median, that end is the ``(k - outliers)``-th of the ``N - outliers`` clean ratios,
    and the estimate and the other end move alike. Under normal noise of the observed robust spread
    ``sigma``, the ``i``-th of ``N'`` clean ratios lies about ``sigma Φ⁻¹(q)`` from the true value,
    ``q = (i - 0.375) / (N' + 0.25)`` (Blom), with a standard deviation of about
    ``sigma sqrt(q (1 - q) / N') / φ(Φ⁻¹(q))``. The count is the smallest ``N`` for which each end
    lies within the tolerance of the estimate with a chance of about 80 % (expected distance plus
    0.84 standard deviations): this follows the ``1 / sqrt(N)`` shrinking of the interval and its
    discreteness at small ``N``. Assumes the observed spread is the true one, which at 10 revisions
    is itself uncertain: in simulations, 55-85 % of baselines so sized settle. A guide, not a
    promise (``estimate_scale`` on the larger baseline decides); ``n + 10 000`` when nothing smaller does.
    References: Blom (1958), *Statistical Estimates and Transformed Beta-Variables*; Hollander,
    Wolfe & Chicken (2014), §3.4.
    """
    alpha, band = 1.0 - settings.confidence, math.log1p(settings.tolerance)
    # every count up to 256 more, then a geometric grid (steps of about 2 %): a guide needs no more
    grid = np.geomspace(n + 257, n + _MAX_PROJECTION, 200).round()
    counts = np.asarray(np.unique(np.concatenate((np.arange(n + 1, n + 257), grid))), dtype=np.float64)
    below = np.floor(special.bdtrik(alpha / 2, counts, 0.5))  # the largest j with P(B <= j) <= alpha / 2
    ranks = np.where(counts < min_revisions(alpha), 0.0, below + 1.0)  # k (bdtrik gives 0 for no such j)
    clean = counts - outliers

    def position(rank: npt.NDArray[np.float64]) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
        """Expected position of the rank-th of the clean ratios (Blom), and its standard deviation (in sigmas)."""
        q = np.clip((rank - 0.375) / (clean + 0.25), 1e-12, 1.0 - 1e-12)
        z = special.ndtri(q)
        sd = np.sqrt(q * (1.0 - q) / clean) / (np.exp(-0.5 * z * z) / math.sqrt(2.0 * math.pi))
        return np.asarray(z, dtype=np.float64), np.asarray(sd, dtype=np.float64)

    centre, _ = position((counts + 1.0) / 2.0 - outliers)
    (low, low_sd), (high, high_sd) = position(ranks - outliers), position(counts + 1.0 - ranks - outliers)
    half = spread * np.maximum(centre - low + _ASSURANCE * low_sd, high - centre + _ASSURANCE * high_sd)
    reachable = (ranks - outliers >= 1.0) & (half <= band)
    return int(counts[np.argmax(reachable)]) if reachable.any() else n + _MAX_PROJECTION


@functools.lru_cache(maxsize=256)
def sign_interval_rank(n: int, alpha: float) -> int:
    """The largest ``k`` with ``P(B <= k - 1) <= alpha / 2`` for ``B ~ Binomial(n, 1/2)``; 0 if there is none.

    ``[x_(k), x_(n+1-k)]`` over ``n`` ordered independent values is then a confidence interval for
    their median with coverage at least ``1 - alpha`` whatever their (continuous) distribution.
    Exact integer arithmetic. Reference: Hollander, Wolfe & Chicken (2014), §3.4.
    """
    total, cumulative, k = 2**n, 0, 0
    while k < (n + 1) // 2:
        cumulative += math.comb(n, k)
        if cumulative / total > alpha / 2:
            break
        k += 1
    return k


def min_revisions(alpha: float) -> int:
    """The fewest revisions for which a distribution-free ``1 - alpha`` interval for a median exists.

    Method: the smallest ``n`` with ``2 / 2^n <= alpha`` (the interval ``[min, max]`` misses the median
    with probability ``2 / 2^n``); 6 at 95 %. Reference: David & Nagaraja (2003), §7.1.
    """
    n = 1
    while 2.0 / 2**n > alpha:
        n += 1
    return n


def rescale(values: npt.ArrayLike, boundary: int, factor: float) -> FloatArray:
    """The series with its old-generation values (positions before ``boundary``) multiplied by ``factor``.

    ``values`` is one value per revision, or a 2-D array with a row of samples per revision;
    ``boundary`` is the position of the first revision measured on the new generation. Returns a
    new array; the input is not changed (raw samples never are). For several generations, rescale
    at the newest boundary first, then at each older one with its own factor.
    """
    if not (math.isfinite(factor) and factor > 0.0):
        raise InputError(f"a scale factor must be a finite number > 0, got {factor!r}")
    out = np.array(values, dtype=np.float64)  # a copy
    if out.ndim not in (1, 2):
        raise InputError(f"rescale takes one value or one row of samples per revision, got {out.ndim} dimensions")
    if not 0 <= boundary <= len(out):
        raise InputError(f"the boundary must lie between 0 and {len(out)} (the series' length), got {boundary}")
    out[:boundary] *= factor
    return out


def explained_by_rescaling(change: ChangePoint, boundary: int, scale: ScaleEstimate) -> bool:
    """Whether a change found on the rescaled series is the factor's own error: at the boundary, within its interval.

    At the boundary: ``boundary`` lies within the positions the change may start at (its credible
    interval ``first_possible..last_possible``; ``last_before + 1..index`` when that is unknown).
    Within the interval: the step ``1 + relative_change`` lies within ``[low / factor, high / factor]``,
    the range of ``true factor / applied factor`` at the interval's confidence. Such a change raises
    no alert; a larger one at the boundary is a real change (or the factor is wrong: the baseline
    should be re-measured). The detected step's own noise is not added, so a residual step just
    outside the interval still alerts.
    """
    first = change.first_possible if change.first_possible >= 0 else change.last_before + 1
    last = change.last_possible if change.last_possible >= 0 else change.index
    if not first <= boundary <= last:
        return False
    step = 1.0 + change.relative_change
    return scale.low / scale.factor <= step <= scale.high / scale.factor

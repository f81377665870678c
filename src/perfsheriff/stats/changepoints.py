"""Change-point detection over one series: where did the level of a benchmark shift?

Method (``docs/detection.md`` explains it at length):

1. reduce each revision to the median of its finite samples (NaN/inf dropped, counted);
2. estimate the noise sigma robustly from first differences (MAD);
3. winsorize: clip each point to ``winsor_limit`` sigmas around a running median,
   so outliers and short bursts cannot create candidates;
4. find candidates by seeded binary segmentation with the standardized CUSUM
   statistic (intervals of every scale, so short plateaus are seen), and move
   each to the best split between its neighbours;
5. confirm each candidate with a Mann-Whitney test on the raw samples of the
   windows either side (bounded by its neighbours), plus minimum relative and
   noise-relative magnitudes; the weakest failing candidate is dropped and its
   neighbours are re-tested until every survivor passes;
6. drop both edges of a short reverting plateau whose level the series around it
   visits more often than the mirror-image level (a sign test): a run of a
   bimodal or skewed noise's other mode, not a temporary level shift.

Every step is invariant under multiplying the data by ``c > 0``.

Why one module of about 530 lines: the steps of one method share the prepared series and its settings;
each step is a function of its own here, tested on its own (``tests/unit/stats/test_changepoints.py``).
"""

from __future__ import annotations

import enum
import math
from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np
import numpy.typing as npt
from scipy.special import bdtrc

from perfsheriff.errors import ConfigError
from perfsheriff.model import Direction
from perfsheriff.stats import alert_probability
from perfsheriff.stats.location import position_interval
from perfsheriff.stats.robust import (
    PreparedSeries,
    mann_whitney_p,
    median,
    noise_scale,
    prepare,
    robust_level,
    winsorize,
)
from perfsheriff.stats.segmentation import refine, seeded_segmentation
from perfsheriff.stats.trend import fit_ramp, step_rss

Points = Sequence[Sequence[float]] | Sequence[float] | npt.NDArray[np.float64]


class SeriesVerdict(enum.StrEnum):
    """What a detection pass could say about a series."""

    ANALYSED = "analysed"  # enough data: ``change_points`` lists what was found (maybe nothing)
    INSUFFICIENT_DATA = "insufficient_data"  # empty, all NaN, or fewer than 2 * min_segment revisions
    NO_VARIATION = "no_variation"  # every finite value is the same: nothing can have changed


@dataclass(frozen=True, slots=True)
class DetectionSettings:
    """Thresholds of the detector; the defaults suit typical CI benchmark noise.

    A caller wanting per-benchmark or per-series behaviour passes its own settings.
    """

    min_relative_change: float = 0.01
    """Smallest ``|after - before| / |before|`` reported (0.01 = 1 %)."""
    min_confidence: float = 0.9999
    """Smallest ``1 - p`` of the Mann-Whitney test on the windows either side."""
    min_effect: float = 0.5
    """Smallest shift in units of the series' noise sigma (a scale-free effect size)."""
    threshold: float = 4.0
    """Standardized CUSUM (in sigmas) above which binary segmentation splits a segment."""
    min_segment: int = 5
    """Fewest revisions a side of a change point, and between two change points."""
    window: int = 60
    """Most revisions a side used to confirm a change and to estimate its levels."""
    winsor_width: int = 9
    """Width of the running median that outliers are clipped around (odd)."""
    winsor_limit: float = 2.0
    """Clip residuals from the running median at this many noise sigmas."""
    burst_alpha: float = 0.01
    """Level of the burst test on reverting plateaus (see :func:`plateau_burst_p`); 0 disables it."""
    min_probability: float = 0.0
    """Smallest calibrated probability (``stats/alert_probability.py``) a change needs to be reported."""
    min_drift_length: int = 10
    """Fewest revisions a gradual change (a ramp) spans before it is reported as drift, not steps; 0 disables."""

    def __post_init__(self) -> None:
        if self.min_relative_change < 0.0 or self.min_effect < 0.0:
            raise ConfigError("min_relative_change and min_effect must be >= 0")
        if not 0.0 < self.min_confidence < 1.0:
            raise ConfigError("min_confidence must be strictly between 0 and 1")
        if self.min_segment < 2 or self.window < self.min_segment:
            raise ConfigError("min_segment must be >= 2 and window >= min_segment")
        if self.winsor_width < 1 or self.winsor_width % 2 == 0:
            raise ConfigError("winsor_width must be a positive odd number")
        if not (self.threshold > 0 and self.winsor_limit > 0):
            raise ConfigError("threshold and winsor_limit must be > 0")
        if not 0.0 <= self.burst_alpha < 1.0:
            raise ConfigError("burst_alpha must be in [0, 1)")
        if not 0.0 <= self.min_probability <= 1.0:
            raise ConfigError("min_probability must be in [0, 1]")


@dataclass(frozen=True, slots=True)
class ChangePoint:
    """One shift in level. Indices refer to positions in the caller's input.

    ``index`` is the first revision at the new level, ``last_before`` the last
    revision with data at the old level: the suspect range lies between them.
    ``before``/``after`` are medians of up to ``window`` revisions a side,
    ``*_spread`` their MAD-based sigmas, ``relative_change`` is
    ``(after - before) / |before|`` (infinite if ``before`` is 0).
    """

    index: int
    last_before: int
    before: float
    after: float
    before_spread: float
    after_spread: float
    relative_change: float
    is_regression: bool
    confidence: float
    n_before: int
    n_after: int
    probability: float = 0.0
    """Calibrated probability that the change is real (``stats/alert_probability.py``)."""
    first_possible: int = -1
    """First index the change may start at (95 % credible interval over the position, ``stats/location.py``)."""
    last_possible: int = -1
    """Last index the change may start at; ``first_possible <= index <= last_possible``."""


@dataclass(frozen=True, slots=True)
class Drift:
    """A gradual change: the level ramps from ``before`` (at ``first``) to ``after`` (at ``last``).

    Reported instead of the staircase of small steps a step detector would see in it.
    ``per_revision`` is the relative change per revision of the ramp.
    """

    first: int
    last: int
    before: float
    after: float
    relative_change: float
    per_revision: float
    is_regression: bool
    replaces: int
    probability: float
    """Posterior probability of the ramp against the staircase of steps (BIC approximation)."""


@dataclass(frozen=True, slots=True)
class DetectionResult:
    """Outcome of one detection pass; ``change_points`` is empty unless the verdict is ``ANALYSED``."""

    verdict: SeriesVerdict
    change_points: tuple[ChangePoint, ...]
    n_points: int
    n_dropped: int
    noise: float
    drifts: tuple[Drift, ...] = ()

    @property
    def regressions(self) -> tuple[ChangePoint, ...]:
        return tuple(cp for cp in self.change_points if cp.is_regression)


def detect(points: Points, *, direction: Direction, settings: DetectionSettings | None = None) -> DetectionResult:
    """Detect level shifts in ``points`` (ordered along the branch history).

    ``points`` is one value per revision, or each revision's samples (ragged
    sequences or a 2-D array padded with NaN). Non-finite samples are dropped
    and counted; revisions left without samples are skipped. Never raises on
    degenerate data: empty, all-NaN or too-short input gives
    ``SeriesVerdict.INSUFFICIENT_DATA``, a constant one ``SeriesVerdict.NO_VARIATION``.
    Method and references: see the module docstring and ``docs/detection.md``.
    """
    settings = settings or DetectionSettings()
    prep = prepare(points)
    return detect_prepared(prep, direction=direction, settings=settings)


def detect_prepared(prep: PreparedSeries, *, direction: Direction, settings: DetectionSettings) -> DetectionResult:
    """:func:`detect` on an already prepared series (lets the incremental pass slice without re-parsing)."""
    n = len(prep.values)
    if n < 2 * settings.min_segment:
        return DetectionResult(SeriesVerdict.INSUFFICIENT_DATA, (), n, prep.dropped, 0.0)
    if float(np.ptp(prep.values)) == 0.0:
        return DetectionResult(SeriesVerdict.NO_VARIATION, (), n, prep.dropped, 0.0)
    sigma = noise_scale(prep.values)
    smooth = winsorize(prep.values, sigma, width=settings.winsor_width, limit=settings.winsor_limit)
    candidates = seeded_segmentation(smooth, sigma, threshold=settings.threshold, min_size=settings.min_segment)
    candidates = refine(smooth, candidates, min_size=settings.min_segment, window=settings.window)
    confirmed = confirm(prep, candidates, sigma, direction=direction, settings=settings, smooth=smooth)
    steps, drifts = separate_drifts(prep, smooth, confirmed, sigma, direction=direction, settings=settings)
    return DetectionResult(SeriesVerdict.ANALYSED, tuple(steps), n, prep.dropped, sigma, tuple(drifts))


@dataclass(frozen=True, slots=True)
class MeasuredStep:
    """A change at a place someone named, as :func:`measure_step` measured it; ``noise`` is the series' sigma."""

    point: ChangePoint
    noise: float


def measure_step(
    points: Points, at: int, *, direction: Direction, settings: DetectionSettings | None = None
) -> MeasuredStep | None:
    """The change from ``points[:at]`` to ``points[at:]``, measured as :func:`detect` measures the changes it finds.

    For a change a person saw and the detector did not report (a sheriff's hand-made alert): the same
    levels (medians of up to ``settings.window`` revisions a side), Mann-Whitney test on the raw samples,
    relative change, calibrated probability and credible interval over the position as a detected
    change point carries (:func:`_test`, :func:`_describe`), but no threshold is applied: ``passed``
    does not matter, the person's judgement replaces it. ``points`` should hold only the stretch between
    the neighbouring changes, as the detector's windows stop at them. Indices refer to ``points``.
    Returns None when either side has no finite sample (nothing to measure).
    """
    settings = settings or DetectionSettings()
    prep = prepare(points)
    split = int(np.searchsorted(prep.index, at))
    if split == 0 or split == len(prep.values):
        return None
    sigma = noise_scale(prep.values)
    smooth = winsorize(prep.values, sigma, width=settings.winsor_width, limit=settings.winsor_limit)
    test = _test(prep, smooth, (0, split, len(prep.values)), sigma, direction=direction, settings=settings)
    return MeasuredStep(_describe(prep, smooth, [split], test, sigma=sigma, settings=settings), sigma)


def separate_drifts(
    prep: PreparedSeries,
    smooth: npt.NDArray[np.float64],
    points: list[ChangePoint],
    sigma: float,
    *,
    direction: Direction,
    settings: DetectionSettings,
) -> tuple[list[ChangePoint], list[Drift]]:
    """Tell staircases that are really ramps from steps: each run of same-direction changes is one or the other.

    Method: model selection by BIC (Schwarz 1978) in noise units over the run's
    windows: the piecewise-constant fit with the run's ``k`` steps (``2k + 1``
    parameters) against the best ramp between two plateaus (``stats/trend.py``,
    4 parameters, at least ``min_drift_length`` revisions long). The ramp wins
    when its cost is lower: the run becomes one :class:`Drift`. A sharp step,
    alone or on top of a drift, fits a step far better than any ramp that long.
    """
    if settings.min_drift_length <= 0 or not points or sigma <= 0.0:
        return points, []
    positions = [int(np.searchsorted(prep.index, cp.index)) for cp in points]
    bounds = [0, *positions, len(smooth)]
    steps: list[ChangePoint] = []
    drifts: list[Drift] = []
    pending = _runs(points, positions, settings.window)
    while pending:
        run = pending.pop()
        lo, hi = bounds[run[0]], bounds[run[-1] + 2]
        drift = _as_drift(
            prep, smooth, points, positions, run, limits=(lo, hi), sigma=sigma, direction=direction, settings=settings
        )
        if drift is not None:
            drifts.append(drift)
        elif len(run) < 3:
            steps.extend(points[i] for i in run)
        else:  # keep the largest step; the changes either side of it may still be ramps
            top = max(run, key=lambda i: abs(points[i].relative_change))
            steps.append(points[top])
            pending.extend(part for part in (run[: run.index(top)], run[run.index(top) + 1 :]) if part)
    steps.sort(key=lambda cp: cp.index)
    drifts.sort(key=lambda d: d.first)
    return steps, drifts


def _runs(points: list[ChangePoint], positions: list[int], window: int) -> list[list[int]]:
    """Indices of consecutive changes in one direction, each within ``window`` revisions of the last."""
    runs: list[list[int]] = []
    for i, cp in enumerate(points):
        if (
            runs
            and (points[runs[-1][-1]].relative_change > 0) == (cp.relative_change > 0)
            and positions[i] - positions[runs[-1][-1]] < window
        ):
            runs[-1].append(i)
        else:
            runs.append([i])
    return runs


def _as_drift(
    prep: PreparedSeries,
    smooth: npt.NDArray[np.float64],
    points: list[ChangePoint],
    positions: list[int],
    run: list[int],
    *,
    limits: tuple[int, int],
    sigma: float,
    direction: Direction,
    settings: DetectionSettings,
) -> Drift | None:
    """The run as one :class:`Drift` when a ramp explains its windows better than its steps, else ``None``."""
    if len(run) < 2:  # a lone change is a step: a ramp needs a staircase to replace
        return None
    first, last = run[0], run[-1]
    a, b = max(limits[0], positions[first] - settings.window), min(limits[1], positions[last] + settings.window)
    ramp = fit_ramp(smooth, a, b, min_length=settings.min_drift_length)
    if ramp is None or ramp.per_revision * points[first].relative_change <= 0:
        return None
    penalty = math.log(b - a)
    cost_steps = step_rss(smooth, a, b, [positions[i] for i in run]) / sigma**2 + penalty * (2 * len(run) + 1)
    cost_ramp = ramp.rss / sigma**2 + 4 * penalty
    if cost_ramp >= cost_steps:
        return None
    before, after = ramp.level, ramp.level + ramp.per_revision * (ramp.stop - ramp.start)
    relative = _relative(before, after)
    return Drift(
        first=int(prep.index[ramp.start]),
        last=int(prep.index[min(ramp.stop, len(prep.index) - 1)]),
        before=before,
        after=after,
        relative_change=relative,
        per_revision=ramp.per_revision / abs(before) if before else 0.0,
        is_regression=direction.is_regression(relative),
        replaces=len(run),
        probability=1.0 / (1.0 + math.exp(max(-700.0, 0.5 * (cost_ramp - cost_steps)))),
    )


@dataclass(frozen=True, slots=True)
class _Test:
    position: int
    p_value: float
    passed: bool
    point: ChangePoint


def confirm(
    prep: PreparedSeries,
    candidates: Sequence[int],
    sigma: float,
    *,
    direction: Direction,
    settings: DetectionSettings,
    smooth: npt.NDArray[np.float64] | None = None,
) -> list[ChangePoint]:
    """Keep the candidates that pass the confirmation test, dropping the weakest failure first.

    Method: backward elimination. Each candidate is tested on the windows up to
    its neighbours (see :func:`_test`); while any fails, the failing one with
    the largest p-value (then the smallest shift) is removed, which widens its
    neighbours' windows, and they are re-tested. When all pass, the most
    significant noise burst posing as a reverting plateau (:func:`plateau_burst_p`)
    loses both its edges, and the survivors are re-tested. Survivors all pass.
    """
    kept = sorted(set(candidates))
    if smooth is None:
        smooth = winsorize(prep.values, sigma, width=settings.winsor_width, limit=settings.winsor_limit)
    cache: dict[tuple[int, int, int], _Test] = {}
    n = len(prep.values)
    while kept:
        tests = []
        for i, c in enumerate(kept):
            key = (kept[i - 1] if i else 0, c, kept[i + 1] if i + 1 < len(kept) else n)
            if key not in cache:
                cache[key] = _test(prep, smooth, key, sigma, direction=direction, settings=settings)
            tests.append(cache[key])
        failing = [t for t in tests if not t.passed]
        if failing:
            worst = max(failing, key=lambda t: (t.p_value, -abs(t.point.relative_change)))
            kept.remove(worst.position)
            continue
        burst = _strongest_burst(prep.values, kept, sigma, settings)
        if burst is None:
            described = [_describe(prep, smooth, kept, t, sigma=sigma, settings=settings) for t in tests]
            return [cp for cp in described if cp.probability >= settings.min_probability]
        kept = [c for c in kept if c not in burst]
    return []


def _describe(
    prep: PreparedSeries,
    smooth: npt.NDArray[np.float64],
    kept: list[int],
    test: _Test,
    *,
    sigma: float,
    settings: DetectionSettings,
) -> ChangePoint:
    """A confirmed change with its calibrated probability and the interval its position may lie in."""
    i = kept.index(test.position)
    lo = kept[i - 1] if i else 0
    hi = kept[i + 1] if i + 1 < len(kept) else len(prep.values)
    c, point = test.position, test.point
    start, stop = max(lo, c - settings.window), min(hi, c + settings.window)
    first, last = position_interval(smooth, lo, c, hi, sigma, min_size=2)
    evidence = alert_probability.features(
        prep.values,
        c,
        start=start,
        stop=stop,
        sigma=sigma,
        relative=point.relative_change,
        shift=point.after - point.before,
    )
    return replace(
        point,
        probability=alert_probability.probability(evidence),
        first_possible=int(prep.index[first]),
        last_possible=int(prep.index[last]),
    )


def _strongest_burst(
    values: npt.NDArray[np.float64], kept: list[int], sigma: float, settings: DetectionSettings
) -> tuple[int, int] | None:
    """Edges of the short reverting plateau most significantly explained as a noise burst, or ``None``."""
    if settings.burst_alpha <= 0.0:
        return None
    bounds = [0, *kept, len(values)]
    best: tuple[float, int, int] | None = None
    for i in range(1, len(bounds) - 2):
        a, b = bounds[i], bounds[i + 1]
        if b - a >= settings.window:  # a plateau filling a whole confirmation window is a level, not a burst
            continue
        before = values[max(bounds[i - 1], a - settings.window) : a]
        after = values[b : min(bounds[i + 2], b + settings.window)]
        p_value = plateau_burst_p(before, values[a:b], after, sigma)
        if p_value < settings.burst_alpha and (best is None or p_value < best[0]):
            best = (p_value, a, b)
    return None if best is None else (best[1], best[2])


def plateau_burst_p(
    before: npt.NDArray[np.float64],
    plateau: npt.NDArray[np.float64],
    after: npt.NDArray[np.float64],
    sigma: float,
) -> float:
    """p-value that the revisions around a reverting plateau visit its level no more often than its mirror image.

    Why: a temporary level shift (a backout) moves the plateau to a level the
    series does not otherwise visit, whereas a run of a bimodal or skewed noise's
    other mode lands where the surrounding revisions already go now and then; a
    10-revision run of either looks the same to the CUSUM and the rank test.
    Method: a sign test. On each side, with ``l`` its median and ``m`` the
    plateau's, count the revisions within ``sigma`` of ``m`` (``k``) and of the
    mirror level ``2 l - m`` (``k'``). Noise that is symmetric about ``l``
    (Gaussian or heavy-tailed alike) visits both equally, so ``k`` is
    Binomial(``k + k'``, 1/2); returns ``P(K >= k)``. Only a reverting plateau is
    tested (the level after is nearer the level before than the plateau: half
    the excursion or less); otherwise 1.
    """
    if len(before) == 0 or len(after) == 0 or len(plateau) == 0 or sigma <= 0.0:
        return 1.0
    level = median(plateau)
    old, new = median(before), median(after)
    if abs(new - old) > 0.5 * abs(level - old):
        return 1.0
    visits = mirrored = 0
    for side, centre in ((before, old), (after, new)):
        visits += int(np.count_nonzero(np.abs(side - level) <= sigma))
        mirrored += int(np.count_nonzero(np.abs(side - (2.0 * centre - level)) <= sigma))
    if visits == 0:
        return 1.0
    return float(bdtrc(visits - 1, visits + mirrored, 0.5))


def _test(
    prep: PreparedSeries,
    smooth: npt.NDArray[np.float64],
    bounds: tuple[int, int, int],
    sigma: float,
    *,
    direction: Direction,
    settings: DetectionSettings,
) -> _Test:
    """Mann-Whitney test and magnitudes of the change at ``bounds[1]`` between its neighbours."""
    lo, c, hi = bounds
    start, stop = max(lo, c - settings.window), min(hi, c + settings.window)
    before, before_spread = robust_level(prep.values[start:c])
    after, after_spread = robust_level(prep.values[c:stop])
    left = prep.samples[prep.offsets[start] : prep.offsets[c]]
    right = prep.samples[prep.offsets[c] : prep.offsets[stop]]
    p_value = mann_whitney_p(left, right)
    relative = _relative(before, after)
    passed = (
        c - start >= settings.min_segment
        and stop - c >= settings.min_segment
        and p_value <= 1.0 - settings.min_confidence
        and abs(relative) >= settings.min_relative_change
        and abs(after - before) >= settings.min_effect * sigma
        and not (lo == 0 and _warms_up(prep.values[start:c], after - before))
    )
    point = ChangePoint(
        index=int(prep.index[c]),
        last_before=int(prep.index[c - 1]),
        before=before,
        after=after,
        before_spread=before_spread,
        after_spread=after_spread,
        relative_change=relative,
        is_regression=direction.is_regression(relative),
        confidence=1.0 - p_value,
        n_before=c - start,
        n_after=stop - c,
    )
    return _Test(c, p_value, passed, point)


def _warms_up(head: npt.NDArray[np.float64], shift: float) -> bool:
    """Whether the first level of a series is a warm-up drift towards the next one rather than a level.

    Method: Mann-Whitney test (p < 0.01) between the two halves of the first
    segment; a warm-up is a significant move of the second half in the
    direction of the shift, by at least half the shift. Assumes warm-up is monotone.
    """
    half = len(head) // 2
    first, second = head[:half], head[half:]
    moving = median(second) - median(first)
    return moving * shift > 0 and abs(moving) >= 0.5 * abs(shift) and mann_whitney_p(first, second) < 0.01


def _relative(before: float, after: float) -> float:
    if before == 0.0:
        return 0.0 if after == before else math.copysign(math.inf, after)
    return (after - before) / abs(before)

"""Confirming a candidate alert before anyone sees it: which runs to ask for, and what the new data says.

Perfherder's code sheriffs do not trust a single data point: they retrigger the
alert's revision and the one before it until each has four data points, and
backfill the pushes around it that were never measured, before an alert goes to
a perf sheriff. perfsheriff does the same for the alerts of series it measures
itself, within the alert's run budget:

- :func:`plan_confirmation` says which runs to ask for: retriggers of the two
  ends of the suspect range (last good, first bad) up to ``points`` runs each,
  then one backfill run at each of the up to two revisions either side that has
  no data; the most useful runs first when the budget cannot pay for all.
- :func:`judge` re-tests the candidate on the runs then at hand at the two ends
  (see its docstring for the method and why it is this one); given the
  detector's :class:`Prior` it weighs the new runs against what detection
  already said (:func:`posterior`), and stops as soon as that settles it.
- :class:`ConfirmationPlanner` plays at most two rounds over the *window* (the
  range's two ends and their neighbours): the first at the claimed place; when
  it does not confirm, a second one where the runs show the change most clearly
  (:func:`best_split`): the same place with twice the data points (unless the
  first round showed no change there), or a place one or two pushes off, whose
  new ends are retriggered in turn. A detector can put a step a push or two off
  (noise decides between close positions); that is why Perfherder's sheriffs
  backfill either side, and reassign the alert when the data shows it on another
  push.

A data point is one run (its median of the series): the repetitions of one run
share that run's machine state, so they are not independent evidence.

Pure code: revisions are names, runs are numbers; the service layer reads and stores them.

Why one module of about 480 lines: the plan, the judgement and the two-round planner share one
vocabulary (the window, its ends, a data point) and one set of thresholds, which read best together.
"""

from __future__ import annotations

import enum
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace

import numpy as np

from perfsheriff.alerts import AlertKind
from perfsheriff.errors import InputError
from perfsheriff.model import Direction
from perfsheriff.scheduling import interleaved
from perfsheriff.stats.compare import CompareSettings, Comparison, ComparisonVerdict, compare

#: Data points (runs) each end of a suspect range needs (Perfherder's sheriffing practice).
DEFAULT_POINTS = 4
#: Revisions either side of the range whose data the re-test uses, and that are backfilled when unmeasured.
NEIGHBOURS = 2
#: A candidate is confirmed as soon as its posterior probability reaches this, closed when it falls to
#: ``REJECT_AT``; a round in between asks for more runs, and after the last one ``DECIDE_AT`` decides.
CONFIRM_AT = 0.95
REJECT_AT = 0.05
DECIDE_AT = 0.5
#: The detector's probability is clipped to this distance from 0 and 1 before it serves as the prior:
#: whatever detection said, the new runs must be able to overturn it.
PRIOR_CLIP = 0.05
#: Standard deviation of a real change's size around the detected one, as a share of it (see :func:`posterior`).
EFFECT_SPREAD = 0.25
#: Asymptotic variance of the Hodges-Lehmann shift over that of the difference of means (normal data): π/3.
HL_VARIANCE_FACTOR = math.pi / 3


@dataclass(frozen=True, slots=True)
class Measured:
    """A revision and how many runs of the series it already has."""

    revision: str
    runs: int

    def __post_init__(self) -> None:
        if self.runs < 0:
            raise InputError(f"revision {self.revision}: a run count must be >= 0, got {self.runs}")


@dataclass(frozen=True, slots=True)
class ConfirmationPlan:
    """Runs to ask for: ``(revision, runs)`` retriggers of the ends, then backfills (one run each)."""

    retrigger: tuple[tuple[str, int], ...] = ()
    backfill: tuple[str, ...] = ()
    trimmed: int = 0  # runs the budget could not pay for

    @property
    def runs(self) -> int:
        return sum(n for _, n in self.retrigger) + len(self.backfill)

    @property
    def revisions(self) -> list[str]:
        """Every run asked for, one entry per run, in the order to run them: the ends interleaved (A B B A,
        so that a machine drifting over the round weighs on both ends alike), then the backfills."""
        return interleaved(self.retrigger) + list(self.backfill)


def plan_confirmation(
    last_good: Measured,
    first_bad: Measured,
    before: Sequence[Measured] = (),
    after: Sequence[Measured] = (),
    *,
    budget: int,
    points: int = DEFAULT_POINTS,
) -> ConfirmationPlan:
    """The runs that give each end ``points`` data points and each neighbour one, within ``budget`` runs.

    ``before`` and ``after`` are the revisions either side of the range, nearest
    first (at most :data:`NEIGHBOURS` are looked at). When the budget is short,
    the ends are served first, alternately (a run at each end is worth more than
    two at one), then the nearest neighbours. Data already there is never asked
    for again: when every end has ``points`` runs and every neighbour one, the
    plan is empty.
    """
    if budget < 0:
        raise InputError(f"a run budget must be >= 0, got {budget}", where="budget")
    if points < 1:
        raise InputError(f"data points per end must be >= 1, got {points}", where="points")
    missing = [max(points - last_good.runs, 0), max(points - first_bad.runs, 0)]
    given = [0, 0]
    left = budget
    while left and given != missing:
        for end in (0, 1):
            if left and given[end] < missing[end]:
                given[end] += 1
                left -= 1
    nearest_first = [side[i] for i in range(NEIGHBOURS) for side in (before, after) if i < len(side)]
    gaps = [m.revision for m in nearest_first if m.runs == 0]
    retrigger = tuple((m.revision, n) for m, n in zip((last_good, first_bad), given, strict=True) if n)
    backfill = tuple(gaps[:left])
    trimmed = sum(missing) - sum(given) + len(gaps) - len(backfill)
    return ConfirmationPlan(retrigger, backfill, trimmed)


@dataclass(frozen=True, slots=True)
class Prior:
    """What detection said of a candidate, the starting point of its confirmation.

    ``probability``: the calibrated probability that the change is real
    (:mod:`perfsheriff.stats.alert_probability`); ``shift``: the detected relative
    change (after / before - 1); ``noise``: the relative standard deviation of one
    run's value (the series' noise sigma over the level before the change).
    """

    probability: float
    shift: float
    noise: float

    def __post_init__(self) -> None:
        if not 0.0 <= self.probability <= 1.0:
            raise InputError(f"a prior probability must lie in [0, 1], got {self.probability}", where="probability")
        if not (math.isfinite(self.shift) and self.shift > -1.0 and self.shift != 0.0):
            raise InputError(f"a detected change must be finite, > -100 % and not 0, got {self.shift}", where="shift")
        if not (math.isfinite(self.noise) and self.noise > 0.0):
            raise InputError(f"a run's relative noise must be finite and > 0, got {self.noise}", where="noise")


def posterior(prior: Prior, comparison: Comparison) -> float | None:
    """The probability that the candidate's change is real, given detection's prior and the new runs.

    Method: a Bayes factor on the Hodges-Lehmann shift ``d`` of the log values at
    the two ends (``comparison``). With ``s`` its standard error (the run noise,
    or the runs' own pooled spread if larger, times ``sqrt(π/3 · (1/m + 1/n))``),
    ``d ~ N(0, s²)`` when nothing changed, and ``d ~ N(δ, s² + (δ/4)²)`` when the
    change is real: centred on the detected log change ``δ`` but allowing it to be
    half or one and a half times that (two standard deviations of ``EFFECT_SPREAD``
    δ), since a detector's estimate of a change it
    just selected is biased away from zero. The prior odds are the detector's
    probability, clipped to [``PRIOR_CLIP``, 1 - ``PRIOR_CLIP``].
    Why: a rank test of four runs against four confirms any complete separation
    (p = 0.029), however small, and cannot confirm a one-sigma step more often
    than about a time in four; the known noise of the series and what detection
    already weighed say far more. Assumptions: runs are independent, their log
    values have the series' noise about their revision's level, the change is a
    multiplicative shift. ``None`` when the comparison has no estimate.
    Reference: Kass & Raftery (1995), *Bayes factors*, JASA 90(430), 773-795.
    """
    if comparison.relative_change is None or comparison.relative_change <= -1.0:
        return None
    noise = max(prior.noise, comparison.noise or 0.0)
    variance = noise**2 * HL_VARIANCE_FACTOR * (1.0 / comparison.n_base + 1.0 / comparison.n_head)
    d, delta = math.log1p(comparison.relative_change), math.log1p(prior.shift)
    spread = variance + (delta * EFFECT_SPREAD) ** 2
    log_factor = -0.5 * (math.log(spread / variance) + (d - delta) ** 2 / spread - d**2 / variance)
    p = min(max(prior.probability, PRIOR_CLIP), 1.0 - PRIOR_CLIP)
    log_odds = math.log(p / (1.0 - p)) + log_factor
    return 1.0 / (1.0 + math.exp(-log_odds)) if log_odds > -700.0 else 0.0


class Outcome(enum.StrEnum):
    CONFIRMED = "confirmed"  # the new data shows the change, in the alert's direction
    NOT_REPRODUCED = "not-reproduced"  # it does not: the candidate is closed, nobody is told
    UNCONFIRMED = "unconfirmed"  # too little data could be had (runs failed): the alert goes on as before


@dataclass(frozen=True, slots=True)
class Judgement:
    outcome: Outcome
    comparison: Comparison
    reason: str
    posterior: float | None = None  # with a prior: the probability that the change is real, given the runs
    prior: float | None = None  # the detector's probability it started from


def judge(
    good: Sequence[float],
    bad: Sequence[float],
    *,
    direction: Direction,
    regression: bool,
    min_magnitude: float = 0.01,
    alpha: float = 0.05,
    complete: bool = True,
    prior: Prior | None = None,
) -> Judgement:
    """Whether the runs at the two ends of a candidate's range still show its change.

    With the detector's ``prior``, the outcome follows the :func:`posterior`:
    confirmed at ``CONFIRM_AT`` or more, not reproduced at ``REJECT_AT`` or less,
    and in between (:func:`settled` says more runs may tell) by ``DECIDE_AT``;
    a change the runs show the other way, or smaller than ``min_magnitude``, is
    never confirmed. Without a prior, the rank test below decides alone.

    Method: :func:`perfsheriff.stats.compare.compare` (Hodges-Lehmann shift of the
    log values with its distribution-free interval, two-sided Mann-Whitney test)
    of the runs at the last good revision (``good``) against the runs at the first
    bad revision (``bad``). The candidate is
    confirmed when the comparison calls the same kind of change (regression or
    improvement, by ``direction``) with the interval excluding no change and the
    estimate at least ``min_magnitude``; not reproduced otherwise; unconfirmed
    when a side has fewer than two data points (runs failed), or when the data
    is not ``complete`` (the budget or failed runs left an end short of its data
    points) and the comparison is merely inconclusive: absence of evidence from
    too few runs must not close a real regression.

    Why this test and not the detector run again: the detector weighs up to 60
    revisions a side, all of which already voted for the candidate; a few new
    runs barely move it, so it re-finds most of what it found (the simulator:
    a re-run keeps 80 % of false candidates, this test 4 %). And why the two ends
    only, not their neighbours too: the neighbours' runs are the very data that
    raised the candidate (a slow period of the machine lies on them), while at
    the ends the new runs are three in four; the claim bisection needs is exactly
    that these two revisions differ. A slow period or a chance run of one mode of
    bimodal noise does not come back when the ends are measured again.
    Assumptions: runs are independent; the change is a multiplicative shift.
    Reference: Hollander, Wolfe & Chicken (2014), *Nonparametric Statistical
    Methods*, §4.2-4.3; Perfherder's sheriffing workflow (retrigger to four data
    points, backfill two pushes either side).
    """
    settings = CompareSettings(alpha=alpha, min_magnitude=min_magnitude, equivalence_margin=max(min_magnitude, 1e-6))
    comparison = compare(good, bad, direction, settings)
    expected = ComparisonVerdict.REGRESSION if regression else ComparisonVerdict.IMPROVEMENT
    if comparison.verdict is ComparisonVerdict.INSUFFICIENT_DATA:
        reason = f"too few data points ({comparison.n_base} before, {comparison.n_head} after)"
        return Judgement(Outcome.UNCONFIRMED, comparison, reason)
    chance = None if prior is None else posterior(prior, comparison)
    if prior is not None and chance is not None:
        return _weighed(
            comparison,
            chance,
            prior.probability,
            regression=regression,
            direction=direction,
            min_magnitude=min_magnitude,
        )
    if comparison.verdict is expected:
        return Judgement(Outcome.CONFIRMED, comparison, f"the new data shows the {expected.value}")
    if comparison.verdict is ComparisonVerdict.INCONCLUSIVE and not complete:
        reason = f"too few data points to tell ({comparison.n_base} before, {comparison.n_head} after)"
        return Judgement(Outcome.UNCONFIRMED, comparison, reason)
    shown = {
        ComparisonVerdict.NO_CHANGE: "no change",
        ComparisonVerdict.INCONCLUSIVE: "no significant change",
        ComparisonVerdict.REGRESSION: "a regression instead",
        ComparisonVerdict.IMPROVEMENT: "an improvement instead",
    }[comparison.verdict]
    return Judgement(Outcome.NOT_REPRODUCED, comparison, f"the new data shows {shown}")


def _weighed(
    comparison: Comparison,
    chance: float,
    prior: float,
    *,
    regression: bool,
    direction: Direction,
    min_magnitude: float,
) -> Judgement:
    """The judgement by the posterior probability ``chance`` (see :func:`judge`)."""
    change = comparison.relative_change or 0.0
    kind = AlertKind.of_step(regression).value
    large = abs(change) >= min_magnitude
    same_way = direction.is_regression(change) == regression
    if large and same_way and chance >= DECIDE_AT:
        if comparison.verdict.value == kind:
            return Judgement(Outcome.CONFIRMED, comparison, f"the new data shows the {kind}", chance, prior)
        # The rank test of these few runs alone is inconclusive (a wild run widens its interval), while the
        # shift of their medians against the series' known noise makes the change likely: say which spoke.
        reason = f"the new data makes the {kind} likely against the series' noise, though its rank test alone does not"
        return Judgement(Outcome.CONFIRMED, comparison, reason, chance, prior)
    if not large:
        reason = "the new data shows no change"
    elif same_way:
        reason = f"the new data does not make the {kind} likely"
    else:
        reason = "the new data shows a change the other way"
    return Judgement(Outcome.NOT_REPRODUCED, comparison, reason, chance, prior)


def settled(judgement: Judgement) -> bool:
    """Whether more runs at the same place could change the outcome: not when the change showed, nor when
    the data rules it out (``no_change``) or is missing; only an inconclusive comparison asks for more.
    With a posterior: only when it lies outside (``REJECT_AT``, ``CONFIRM_AT``)."""
    if judgement.posterior is not None:
        return not REJECT_AT < judgement.posterior < CONFIRM_AT
    return judgement.comparison.verdict is not ComparisonVerdict.INCONCLUSIVE or judgement.outcome is Outcome.CONFIRMED


def _decisive(judgement: Judgement) -> bool:
    """Whether a round's judgement ends the confirmation at once: a confirmation (by the posterior, a settled
    one). A change ruled out at the claimed place may still show a push or two off: the second round looks."""
    if judgement.posterior is not None:
        return judgement.posterior >= CONFIRM_AT and judgement.outcome is Outcome.CONFIRMED
    return judgement.outcome is Outcome.CONFIRMED


def _missing(judgement: Judgement) -> bool:
    return judgement.comparison.verdict is ComparisonVerdict.INSUFFICIENT_DATA


def describe(judgement: Judgement) -> str:
    """``+29.8%, CI +28.1% .. +31.0%, p = 0.00216, 6 v 6 runs, probability 0.62 -> 1.00``: the evidence in
    one line (the probability that the change is real before and after these runs, when a prior was given)."""
    c = judgement.comparison
    if c.relative_change is None or c.ci_low is None or c.ci_high is None or c.p_value is None:
        return f"{c.n_base} v {c.n_head} runs"
    odds = ""
    if judgement.posterior is not None and judgement.prior is not None:
        odds = f", probability {judgement.prior:.2f} -> {judgement.posterior:.2f}"
    return (
        f"{c.relative_change:+.1%}, CI {c.ci_low - 1:+.1%} .. {c.ci_high - 1:+.1%}, "
        f"p = {c.p_value:.3g}, {c.n_base} v {c.n_head} runs{odds}"
    )


def without_drift(
    good: Sequence[float], bad: Sequence[float], plan: ConfirmationPlan, good_rev: str, bad_rev: str
) -> tuple[list[float], list[float]]:
    """The two ends' runs with the machine's drift over the last round (``plan``) taken out.

    The round ran the ends interleaved (``plan.revisions``: A B B A ...), so a machine that slowed while it
    ran weighs on both ends' means alike; but it still widens each end's spread, and a wide spread reads
    as "too noisy to tell". Method: the drift is one slope over the round's order of runs, common to both
    ends, each end with its own level; its estimate is the median of the slopes between runs of the same
    end (Theil 1950, Sen 1968: a wild run moves it little). Each of the round's runs (the newest at each
    end, ``good`` and ``bad`` in the order they ran) is brought to the round's middle along that slope;
    older runs stay as they are. Assumptions: the drift is slow against one round (linear in the order of
    runs) and multiplicative. Runs that did not all come back (fewer values than the round asked for) are
    returned unchanged: without the order of runs there is no slope to take out.
    """
    order = plan.revisions
    times = {rev: [t for t, name in enumerate(order) if name == rev] for rev in (good_rev, bad_rev)}
    ends = ((list(good), times[good_rev]), (list(bad), times[bad_rev]))
    if any(len(when) < 2 or len(values) < len(when) or min(values) <= 0 for values, when in ends):
        return list(good), list(bad)
    logs = [(np.log(values[len(values) - len(when) :]), np.asarray(when, dtype=float)) for values, when in ends]
    slopes = [(y[j] - y[i]) / (t[j] - t[i]) for y, t in logs for i in range(len(t)) for j in range(i + 1, len(t))]
    slope = float(np.median(slopes))
    middle = (len(order) - 1) / 2
    out = []
    for (values, when), (y, t) in zip(ends, logs, strict=True):
        flat = np.exp(y - slope * (t - middle))
        out.append(values[: len(values) - len(when)] + [float(v) for v in flat])
    return out[0], out[1]


def _sides(runs: Sequence[Sequence[float]], split: int) -> tuple[list[float], list[float]]:
    """The runs of up to ``NEIGHBOURS + 1`` revisions either side of ``split``, the first of the new level."""
    good = [v for values in runs[max(0, split - 1 - NEIGHBOURS) : split] for v in values]
    bad = [v for values in runs[split : split + 1 + NEIGHBOURS] for v in values]
    return good, bad


def best_split(
    runs: Sequence[Sequence[float]], *, direction: Direction, regression: bool, min_magnitude: float = 0.01
) -> int | None:
    """The place in a window (``runs``: each revision's run values, oldest first) where the runs show the
    claimed change most clearly: the largest Hodges-Lehmann shift the claimed way between the revisions
    either side (a split inside the step's levels mixes them and shows less of it); None when no split
    shows at least ``min_magnitude`` with two runs a side."""
    settings = CompareSettings(min_magnitude=min_magnitude, equivalence_margin=max(min_magnitude, 1e-6))
    best: tuple[float, int] | None = None
    for split in range(1, len(runs)):
        c = compare(*_sides(runs, split), direction, settings)
        change = c.relative_change
        if change is None or abs(change) < min_magnitude or direction.is_regression(change) != regression:
            continue
        if best is None or abs(change) > best[0]:
            best = (abs(change), split)
    return None if best is None else best[1]


@dataclass(frozen=True, slots=True)
class Decision:
    """A confirmation's end: the judgement, where the change lies in the window, the runs asked for."""

    judgement: Judgement
    split: int  # the first bad revision's index in the window: where the change was judged
    runs: int
    plans: tuple[ConfirmationPlan, ...]
    moved: bool  # the change lies elsewhere in the window than the detector said


@dataclass(frozen=True, slots=True)
class WindowPlan:
    """:class:`ConfirmationPlan` of one round, with the place in the window it tests."""

    plan: ConfirmationPlan
    split: int
    points: int


class ConfirmationPlanner:
    """Decides a candidate's confirmation runs round by round, and its outcome (see the module docstring).

    ``window`` is the revisions around the change, oldest first; ``split`` the index of the first bad
    one. :meth:`next_step` takes every run value known so far, per revision, and returns the next
    runs to make or, at the end, the :class:`Decision`. Two looks at the data (two rounds, perhaps at
    two places) raise the chance of confirming a change that is not there from ``alpha`` to at most
    twice that; the simulator (``benchmarks/confirm_simulator.py``) measures what it gives.
    """

    def __init__(
        self,
        window: Sequence[str],
        split: int,
        *,
        budget: int,
        direction: Direction,
        regression: bool,
        min_magnitude: float = 0.01,
        points: int = DEFAULT_POINTS,
        prior: Prior | None = None,
    ) -> None:
        if not 0 < split < len(window):
            raise InputError(f"the change must lie inside the window, got split {split} of {len(window)}")
        self.window = tuple(window)
        self.split = split
        self.budget = budget
        self.direction = direction
        self.regression = regression
        self.min_magnitude = min_magnitude
        self.points = points
        self.prior = prior
        self.rounds: list[WindowPlan] = []

    def next_step(self, runs: Mapping[str, Sequence[float]]) -> WindowPlan | Decision:
        values = [tuple(runs.get(rev, ())) for rev in self.window]
        while True:
            if not self.rounds:
                step = self._round(values, self.split, self.points)
            else:
                last = self.rounds[-1]
                judgement = self._judge(values, last.split, last.points)
                final = len(self.rounds) == 2 or self._spent() >= self.budget
                if final or _decisive(judgement) or _missing(judgement):
                    return self._decision(judgement, last.split)
                split, points = self._second_round(values, last.split)
                if split == last.split and settled(judgement):
                    return self._decision(judgement, last.split)  # no change here, and no sign of one nearby
                step = self._round(values, split, points)
            if step.plan.runs:
                return step  # else: the data is there already, judge it at once

    def _second_round(self, values: list[tuple[float, ...]], split: int) -> tuple[int, int]:
        """Where the second round looks, and with how many data points per end."""
        moved = best_split(
            values, direction=self.direction, regression=self.regression, min_magnitude=self.min_magnitude
        )
        if moved is None or moved == split:
            return split, 2 * self.points
        return moved, self.points

    def _round(self, values: list[tuple[float, ...]], split: int, points: int) -> WindowPlan:
        measured = [Measured(rev, len(v)) for rev, v in zip(self.window, values, strict=True)]
        before = measured[max(0, split - 1 - NEIGHBOURS) : split - 1][::-1]
        after = measured[split + 1 : split + 1 + NEIGHBOURS]
        plan = plan_confirmation(
            measured[split - 1], measured[split], before, after, budget=self.budget - self._spent(), points=points
        )
        step = WindowPlan(plan, split, points)
        self.rounds.append(step)
        return step

    def _judge(self, values: list[tuple[float, ...]], split: int, points: int) -> Judgement:
        good, bad = list(values[split - 1]), list(values[split])
        complete = min(len(values[split - 1]), len(values[split])) >= points
        last = self.rounds[-1] if self.rounds else None
        if last is not None and last.split == split:
            good, bad = without_drift(good, bad, last.plan, self.window[split - 1], self.window[split])
        return judge(
            good,
            bad,
            direction=self.direction,
            regression=self.regression,
            min_magnitude=self.min_magnitude,
            complete=complete,
            prior=self._prior_at(split),
        )

    def _prior_at(self, split: int) -> Prior | None:
        """The detector's prior at its own place; a place the window's runs point to instead was never
        claimed by it, so there the prior is at most even (``DECIDE_AT``)."""
        if self.prior is None or split == self.split:
            return self.prior
        return replace(self.prior, probability=min(self.prior.probability, DECIDE_AT))

    def _spent(self) -> int:
        return sum(r.plan.runs for r in self.rounds)

    def _decision(self, judgement: Judgement, split: int) -> Decision:
        plans = tuple(r.plan for r in self.rounds if r.plan.runs)
        return Decision(judgement, split, self._spent(), plans, moved=split != self.split)

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
- :func:`judge` re-tests the candidate on the data then at hand (see its docstring
  for the method and why it is this one).

A data point is one run (its median of the series): the repetitions of one run
share that run's machine state, so they are not independent evidence.

Pure code: revisions are names, runs are numbers; the service layer reads and stores them.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass

from perfsheriff.errors import InputError
from perfsheriff.model import Direction
from perfsheriff.stats.compare import CompareSettings, Comparison, Verdict, compare

#: Data points (runs) each end of a suspect range needs (Perfherder's sheriffing practice).
DEFAULT_POINTS = 4
#: Revisions either side of the range whose data the re-test uses, and that are backfilled when unmeasured.
NEIGHBOURS = 2


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
        """Every run asked for, one entry per run, ends first (the order to run them in)."""
        return [rev for rev, n in self.retrigger for _ in range(n)] + list(self.backfill)


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


class Outcome(enum.StrEnum):
    CONFIRMED = "confirmed"  # the new data shows the change, in the alert's direction
    NOT_REPRODUCED = "not-reproduced"  # it does not: the candidate is closed, nobody is told
    UNCONFIRMED = "unconfirmed"  # too little data could be had (runs failed): the alert goes on as before


@dataclass(frozen=True, slots=True)
class Judgement:
    outcome: Outcome
    comparison: Comparison
    reason: str


def judge(
    good: Sequence[float],
    bad: Sequence[float],
    *,
    direction: Direction,
    regression: bool,
    min_magnitude: float = 0.01,
    alpha: float = 0.05,
    complete: bool = True,
) -> Judgement:
    """Whether the data points either side of a candidate still show its change.

    Method: :func:`perfsheriff.stats.compare.compare` (Hodges-Lehmann shift of the
    log values with its distribution-free interval, two-sided Mann-Whitney test)
    of the runs at the last good revision and its neighbours before against the
    runs at the first bad revision and its neighbours after. The candidate is
    confirmed when the comparison calls the same kind of change (regression or
    improvement, by ``direction``) with the interval excluding no change and the
    estimate at least ``min_magnitude``; not reproduced otherwise; unconfirmed
    when a side has fewer than two data points (runs failed), or when the data
    is not ``complete`` (the budget or failed runs left an end short of its data
    points) and the comparison is merely inconclusive: absence of evidence from
    too few runs must not close a real regression.

    Why this test and not the detector run again: the detector weighs up to 60
    revisions a side, all of which already voted for the candidate; a few new
    runs barely move it, so it would re-find most of what it found. The local
    comparison puts the new runs (half of each side or more) beside the old ones
    exactly where the step is claimed: a slow period of the machine, or a chance
    run of one mode of bimodal noise, does not come back when the ends are
    measured again, and the comparison then has no shift to find.
    Assumptions: runs are independent; the change is a multiplicative shift.
    Reference: Hollander, Wolfe & Chicken (2014), *Nonparametric Statistical
    Methods*, §4.2-4.3; Perfherder's sheriffing workflow (retrigger to four data
    points, backfill two pushes either side).
    """
    settings = CompareSettings(alpha=alpha, min_magnitude=min_magnitude, equivalence_margin=max(min_magnitude, 1e-6))
    comparison = compare(good, bad, direction, settings)
    expected = Verdict.REGRESSION if regression else Verdict.IMPROVEMENT
    if comparison.verdict is Verdict.INSUFFICIENT_DATA:
        reason = f"too few data points ({comparison.n_base} before, {comparison.n_head} after)"
        return Judgement(Outcome.UNCONFIRMED, comparison, reason)
    if comparison.verdict is expected:
        return Judgement(Outcome.CONFIRMED, comparison, f"the new data shows the {expected.value}")
    if comparison.verdict is Verdict.INCONCLUSIVE and not complete:
        reason = f"too few data points to tell ({comparison.n_base} before, {comparison.n_head} after)"
        return Judgement(Outcome.UNCONFIRMED, comparison, reason)
    shown = {
        Verdict.NO_CHANGE: "no change",
        Verdict.INCONCLUSIVE: "no significant change",
        Verdict.REGRESSION: "a regression instead",
        Verdict.IMPROVEMENT: "an improvement instead",
    }[comparison.verdict]
    return Judgement(Outcome.NOT_REPRODUCED, comparison, f"the new data shows {shown}")


def describe(judgement: Judgement) -> str:
    """``+29.8%, CI +28.1% .. +31.0%, p = 0.00216, 6 v 6 runs``: the evidence in one line."""
    c = judgement.comparison
    if c.relative_change is None or c.ci_low is None or c.ci_high is None or c.p_value is None:
        return f"{c.n_base} v {c.n_head} runs"
    return (
        f"{c.relative_change:+.1%}, CI {c.ci_low - 1:+.1%} .. {c.ci_high - 1:+.1%}, "
        f"p = {c.p_value:.3g}, {c.n_base} v {c.n_head} runs"
    )

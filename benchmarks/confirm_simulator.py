"""How many false candidates die in confirmation, how many true ones survive, and what it costs in runs.

Usage: ``.venv/bin/python benchmarks/confirm_simulator.py [--series N] [--seed S] [--rank-test] [--blocked]``

Each simulated series has 60 revisions, one run each; a run is five samples
``100 · exp(0.02 · (level + run noise + 0.3 · repetition noise))``: 2 % run-to-run
noise of unit standard deviation, Gaussian, Student-t (df = 3) or bimodal (the
noise models of ``perfsheriff.bisect.synthetic``), and repetitions that vary
less than runs do. Conditions:

- **pure noise**: no change at all; every candidate is false;
- **busy tail**: pure noise, but the newest 5-8 runs were measured on a busy
  machine, 15 % slow; their revisions are as fast as the others when run again;
- **step e**: one true step of ``e`` noise standard deviations (e · 2 %) at a random
  revision between 15 and 50; a candidate within two revisions of it, in its
  direction, is true, any other is false;
- **+ creep**: while confirmation runs, the machine slows by 6 % (3 noise sds) over each
  round, linearly in the order of the runs. The retriggers of the two ends run interleaved,
  A B B A (``scheduling.interleaved``), so the creep weighs on both alike, and the planner takes
  the round's drift out before judging (``triage.confirmation.without_drift``). ``--blocked`` runs
  all of one end first, as before, and the creep then reads as a slower second end (the planner
  still reads the runs as interleaved: the figures in ``docs/triage.md`` for the blocked order
  were taken before ``without_drift``).

The detector (``stats.changepoints.detect``, default settings) raises the
candidates; each is confirmed as ``perfsheriff track`` does, by the same
``triage.confirmation.ConfirmationPlanner`` (the ends retriggered to four runs
each and compared; if that does not confirm, a second round with eight runs an
end, or at the place of the window, two push tips either side, where the runs
show the change most clearly; budget 15 runs), starting from the detector's
calibrated probability, its change and the series' noise as the prior
(``--rank-test``: the rank test alone, without it). Fresh runs are drawn at the
revisions' true levels: the busy machine is over. For comparison, each
candidate is also judged by running the detector again on the series with the
new runs merged in (it survives if a change of the same kind is found within two
revisions). Columns: candidates; the share kept (confirmed, or unconfirmed for
lack of runs: published); the share kept and judged at the true step; the
share a detector re-run would keep; confirmation runs per candidate (a run is
one execution of the benchmark). Pure and seeded: the same arguments print the same table.

Figures of ``--series 300 --seed 0`` (the default) are quoted in ``docs/triage.md``.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass, field

import numpy as np

from perfsheriff.bisect.synthetic import NoiseKind, draw_noise
from perfsheriff.model import Direction
from perfsheriff.stats.changepoints import ChangePoint, detect
from perfsheriff.triage.confirmation import (
    NEIGHBOURS,
    ConfirmationPlan,
    ConfirmationPlanner,
    Decision,
    Outcome,
    Prior,
)

REVISIONS = 60
SAMPLES = 5
NOISE = 0.02
BUSY = 1.15
CREEP = 0.06  # 3 noise sds over one confirmation round
BLOCKED = False  # --blocked
BUDGET = 15
LOWER = Direction.LOWER_IS_BETTER
EFFECTS = (1.0, 2.0, 4.0, 8.0)


@dataclass
class Tally:
    candidates: int = 0
    kept: int = 0  # confirmed or unconfirmed: published
    kept_by_rerun: int = 0
    runs: int = 0
    placed: int = 0  # kept, and judged at the true step
    moved: int = 0  # judged at another place of the window than the detector's

    def row(self) -> str:
        if not self.candidates:
            return f"{0:>5} {'-':>7} {'-':>7} {'-':>7} {'-':>5}"
        n = self.candidates
        return (
            f"{n:>5} {self.kept / n:>7.1%} {self.placed / n:>7.1%} {self.kept_by_rerun / n:>7.1%} {self.runs / n:>5.1f}"
        )


@dataclass
class Condition:
    label: str
    noise: NoiseKind
    effect: float = 0.0  # true step in noise sds (0: none)
    busy_tail: bool = False
    creep: bool = False  # the machine slows while confirmation runs, by CREEP over each round
    true: Tally = field(default_factory=Tally)
    false: Tally = field(default_factory=Tally)


def run(level: float, kind: NoiseKind, rng: np.random.Generator, slow: float = 1.0) -> list[float]:
    """One run's samples at ``level`` (in noise sds)."""
    run_noise = float(draw_noise(kind, 1, rng)[0])
    repetitions = 0.3 * rng.standard_normal(SAMPLES)
    return list(slow * 100.0 * np.exp(NOISE * (level + run_noise + repetitions)))


def simulate(condition: Condition, rng: np.random.Generator, *, with_prior: bool = True) -> None:
    step = int(rng.integers(15, 50)) if condition.effect else REVISIONS
    busy_from = REVISIONS - int(rng.integers(5, 9)) if condition.busy_tail else REVISIONS
    levels = [condition.effect if i >= step else 0.0 for i in range(REVISIONS)]
    series = [run(levels[i], condition.noise, rng, BUSY if i >= busy_from else 1.0) for i in range(REVISIONS)]
    result = detect(series, direction=LOWER)
    for cp in result.change_points:
        good, bad = suspect_ends(cp)
        true = bool(condition.effect) and good - 2 < step <= bad + 2 and cp.is_regression
        prior = Prior(cp.probability, cp.relative_change, result.noise / abs(cp.before)) if with_prior else None
        tally = condition.true if true else condition.false
        confirm(cp, series, levels, condition, tally=tally, rng=rng, step=step, prior=prior)


def confirm(
    cp: ChangePoint,
    series: list[list[float]],
    levels: list[float],
    condition: Condition,
    *,
    tally: Tally,
    rng: np.random.Generator,
    step: int,
    prior: Prior | None,
) -> None:
    """Confirm as the service does, round by round, with fresh runs (the machine is not busy now); and
    judge by a detector re-run for comparison."""
    good, bad = suspect_ends(cp)
    window = [*range(max(good - NEIGHBOURS, 0), good + 1), *range(bad, min(bad + 1 + NEIGHBOURS, REVISIONS))]
    planner = ConfirmationPlanner(
        [str(i) for i in window],
        window.index(bad),
        budget=BUDGET,
        direction=LOWER,
        regression=cp.is_regression,
        prior=prior,
    )
    runs: dict[int, list[list[float]]] = {i: [series[i]] for i in range(REVISIONS)}
    while True:
        medians = {str(i): [float(np.median(r)) for r in runs[i]] for i in window}
        decision = planner.next_step(medians)
        if isinstance(decision, Decision):
            break
        order = blocked(decision.plan) if BLOCKED else decision.plan.revisions
        for t, revision in enumerate(order):
            slow = 1.0 + CREEP * t / max(len(order) - 1, 1) if condition.creep else 1.0
            runs[int(revision)].append(run(levels[int(revision)], condition.noise, rng, slow))
    merged = [[v for r in runs[i] for v in r] for i in range(REVISIONS)]
    again = detect(merged, direction=LOWER).change_points
    kept = decision.judgement.outcome is not Outcome.NOT_REPRODUCED
    tally.candidates += 1
    tally.runs += decision.runs
    tally.kept += kept
    tally.placed += kept and window[decision.split - 1] < step <= window[decision.split]
    tally.moved += decision.moved
    tally.kept_by_rerun += any(abs(c.index - cp.index) <= 2 and c.is_regression == cp.is_regression for c in again)


def blocked(plan: ConfirmationPlan) -> list[str]:
    """The order runs were asked for before they were interleaved: all of one end, then all of the other."""
    return [rev for rev, n in plan.retrigger for _ in range(n)] + list(plan.backfill)


def suspect_ends(cp: ChangePoint) -> tuple[int, int]:
    """The alert's last good and first bad revision, as the detection pass stores them: the ends of the
    change's credible interval over its position (``service.detection``)."""
    first = min(cp.first_possible, cp.index) if cp.first_possible >= 0 else cp.index
    return min(cp.last_before, max(first - 1, 0)), max(cp.last_possible, cp.index)


def conditions() -> list[Condition]:
    grid = []
    for kind in NoiseKind:
        grid.append(Condition(f"pure noise, {kind.value}", kind))
        grid.append(Condition(f"busy tail, {kind.value}", kind, busy_tail=True))
        grid += [Condition(f"step {effect:g} sd, {kind.value}", kind, effect=effect) for effect in EFFECTS]
    for kind in NoiseKind:
        grid.append(Condition(f"busy tail + creep, {kind.value}", kind, busy_tail=True, creep=True))
        grid.append(Condition(f"step 2 sd + creep, {kind.value}", kind, effect=2.0, creep=True))
    return grid


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--series", type=int, default=300, help="series per condition (300)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--rank-test", action="store_true", help="judge by the rank test alone, without the prior")
    parser.add_argument("--blocked", action="store_true", help="run each end's retriggers together (A A B B)")
    args = parser.parse_args()
    global BLOCKED  # noqa: PLW0603 - a switch of this script, read by confirm()
    BLOCKED = args.blocked
    grid = conditions()
    for index, condition in enumerate(grid):
        rng = np.random.default_rng([args.seed, index])
        for _ in range(args.series):
            simulate(condition, rng, with_prior=not args.rank_test)
    print(f"{args.series} series of {REVISIONS} revisions per condition, seed {args.seed}")
    print(
        "candidates; share kept (published) by confirmation, and kept with the change placed at the true step; "
        "share a detector re-run would keep; confirmation runs per candidate"
    )
    head = f"{'n':>5} {'kept':>7} {'at step':>7} {'re-run':>7} {'runs':>5}"
    print(f"{'condition':<26} {'true candidates':^35} | {'false candidates':^35}")
    print(f"{'':<26} {head} | {head}")
    for c in grid:
        print(f"{c.label:<26} {c.true.row()} | {c.false.row()}")
    print()
    _totals([c for c in grid if not c.creep], "all, steady machine")
    _totals([c for c in grid if c.creep], "all, creeping machine")


def _totals(grid: list[Condition], label: str) -> None:
    true, false = Tally(), Tally()
    for c in grid:
        for total, part in ((true, c.true), (false, c.false)):
            total.candidates += part.candidates
            total.kept += part.kept
            total.kept_by_rerun += part.kept_by_rerun
            total.runs += part.runs
            total.placed += part.placed
            total.moved += part.moved
    print(f"{label:<26} {true.row()} | {false.row()}")
    if false.candidates and true.candidates:
        per_candidate = (true.runs + false.runs) / (true.candidates + false.candidates)
        print(
            f"{label}: confirmation closes {1 - false.kept / false.candidates:.1%} of false candidates and keeps "
            f"{true.kept / true.candidates:.1%} of true ones, at {per_candidate:.1f} "
            f"runs per candidate; a detector re-run would close {1 - false.kept_by_rerun / false.candidates:.1%} "
            f"and keep {true.kept_by_rerun / true.candidates:.1%}"
        )


if __name__ == "__main__":
    main()

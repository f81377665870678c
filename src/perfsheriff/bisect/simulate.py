"""Play the planner and two baselines on synthetic cases; tally accuracy and runs per condition.

Pure and seeded: case ``i`` of condition ``k`` under seed ``s`` is drawn from
``numpy.random.default_rng([s, k, i])``, and every method gets its own
generator seeded ``[s, k, i, 1]`` for the samples (common random numbers: the
methods see the same noise stream, though they consume it differently). Even
cases are linear ranges, odd cases roll-up merges. A method is right when the
set of culprits it names equals the true set (one or two commits).
See ``benchmarks/bisect_simulator.py`` for the table and ``docs/bisection.md``.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np

from perfsheriff.bisect.baselines import Result, play_binary_search, play_recipe
from perfsheriff.bisect.bounds import runs_needed
from perfsheriff.bisect.planner import BisectPlanner
from perfsheriff.bisect.protocol import BisectOutcome, BisectSettings, OutcomeKind
from perfsheriff.bisect.synthetic import Bench, Case, Condition, NoiseKind, Shape, make_case
from perfsheriff.model import Direction

SIZE_BUCKETS = ((2, 4), (5, 16), (17, 64), (65, 128))
EFFECTS = (0.5, 1.0, 2.0, 5.0, 10.0)
METHODS = ("planner", "recipe", "binary")
#: Pushes before the good end and after the bad end whose samples (one each) come with the alert:
#: the detector's windows on either side of the change.
WINDOW = 5

Method = Callable[[Case, np.random.Generator], Result]


def play_planner(
    case: Case, rng: np.random.Generator, settings: BisectSettings | None = None, window: int = 0
) -> Result:
    """Drive a :class:`BisectPlanner` against a simulated machine until it gives its outcome."""
    outcome = run_planner(Bench(case, rng, window=window), settings)
    named = outcome.kind in (OutcomeKind.CULPRIT, OutcomeKind.TWO_CULPRITS)
    return Result(frozenset(outcome.culprits) if named else frozenset(), outcome.runs_spent)


def run_planner(bench: Bench, settings: BisectSettings | None = None) -> BisectOutcome:
    """The caller's loop: ask the planner, run what it asks, until it answers."""
    planner = BisectPlanner(bench.suspect, Direction.LOWER_IS_BETTER, settings)
    while True:
        step = planner.next_step(bench.observations)
        if isinstance(step, BisectOutcome):
            return step
        for sha in step.runs:  # in the order asked: on a drifting machine, the order matters
            bench.run(sha, 1)


@dataclass
class Tally:
    """Cases, right answers and runs of one method in one condition."""

    cases: int = 0
    correct: int = 0
    runs: int = 0

    def add(self, right: bool, runs: int) -> None:
        self.cases += 1
        self.correct += right
        self.runs += runs

    def merge(self, other: Tally) -> None:
        self.cases += other.cases
        self.correct += other.correct
        self.runs += other.runs

    @property
    def accuracy(self) -> float:
        return self.correct / self.cases if self.cases else float("nan")

    @property
    def mean_runs(self) -> float:
        return self.runs / self.cases if self.cases else float("nan")


@dataclass
class ConditionResult:
    """The tallies of one condition, and the information bound summed over its cases
    (:func:`perfsheriff.bisect.bounds.runs_needed`: the fewest runs any method needs on average)."""

    condition: Condition
    tallies: dict[str, Tally] = field(default_factory=lambda: {m: Tally() for m in METHODS})
    bound: float = 0.0


def conditions(
    buckets: Sequence[tuple[int, int]] = SIZE_BUCKETS,
    effects: Sequence[float] = EFFECTS,
    noises: Sequence[NoiseKind] = tuple(NoiseKind),
    two_steps: Sequence[bool] = (False, True),
    unbuildable: Sequence[float] = (0.0, 0.1),
    *,
    drifting: bool = False,
    unchanged: bool = False,
) -> list[Condition]:
    """Every combination of the given factors, in table order (on a drifting machine, with ``drifting``);
    with ``unchanged``, then ranges where nothing changed (effect 0, one row per size, noise and
    unbuildable share), after the others so that their seeds stay as they were."""
    grid = itertools.product(buckets, effects, noises, two_steps, unbuildable)
    out = [Condition(lo, hi, effect, noise, two, broken, drifting) for (lo, hi), effect, noise, two, broken in grid]
    if unchanged:
        nulls = itertools.product(buckets, noises, unbuildable)
        out += [Condition(lo, hi, 0.0, noise, False, broken, drifting) for (lo, hi), noise, broken in nulls]
    return out


def simulate_condition(
    condition: Condition,
    index: int,
    cases: int,
    seed: int,
    *,
    settings: BisectSettings | None = None,
    window: int = WINDOW,
) -> ConditionResult:
    """Play ``cases`` cases of one condition with the planner and both baselines.

    Every method gets the detector's data for free: 3 samples per end and
    ``window`` samples of each level from the pushes around the range.
    """
    methods: dict[str, Method] = {
        "planner": lambda case, rng: play_planner(case, rng, settings, window),
        "recipe": lambda case, rng: play_recipe(case, rng, window),
        "binary": lambda case, rng: play_binary_search(case, rng, window),
    }
    result = ConditionResult(condition)
    for i in range(cases):
        shape = Shape.LINEAR if i % 2 == 0 else Shape.MERGES
        case = make_case(condition, shape, np.random.default_rng([seed, index, i]))
        truth = frozenset(case.steps)
        if case.steps:
            result.bound += runs_needed(len(case.suspect.order), tuple(case.steps.values()), case.noise)
        for name, method in methods.items():
            played = method(case, np.random.default_rng([seed, index, i, 1]))
            result.tallies[name].add(played.culprits == truth, played.runs)
    return result


def simulate(
    grid: Iterable[Condition], cases: int, seed: int = 0, settings: BisectSettings | None = None, window: int = WINDOW
) -> list[ConditionResult]:
    return [simulate_condition(c, k, cases, seed, settings=settings, window=window) for k, c in enumerate(grid)]


def pooled(results: Iterable[ConditionResult]) -> dict[str, Tally]:
    """The tallies of several conditions added up, per method."""
    total = {m: Tally() for m in METHODS}
    for result in results:
        for name, tally in result.tallies.items():
            total[name].merge(tally)
    return total


def pooled_bound(results: Iterable[ConditionResult]) -> float:
    """The information bound of several conditions' cases, added up (runs)."""
    return sum(result.bound for result in results)

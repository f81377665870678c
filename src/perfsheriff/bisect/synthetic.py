"""Synthetic suspect ranges with known culprits, and a simulated benchmark machine.

Pure and seeded: everything random comes from a ``numpy.random.Generator``
the caller passes in. Used by :mod:`.simulate` (``benchmarks/bisect_simulator.py``)
and the tests.

Ranges are *linear* (a chain of commits) or *merges*: a first-parent chain of
roll-up merges, each merging a side branch of 1-7 commits (GHC's merge bot);
three side branches in ten fork from the previous-but-one merge, so their
commits miss the latest roll-up and the levels are not monotone along the
history. Levels are in noise standard deviations; a commit's level is the sum
of the steps of the culprits among its ancestors (itself included). Samples
are ``100 · exp(0.02 · (level + noise))``: 2 % relative noise of unit
standard deviation, Gaussian, Student-t (df = 3) or bimodal; on a drifting
machine (:func:`drifting_machine`) each sample taken after the alert is also
multiplied by the machine's speed factor at that moment.
"""

from __future__ import annotations

import enum
import math
from collections.abc import Mapping
from dataclasses import dataclass, replace

import numpy as np

from perfsheriff.bisect.dag import CommitGraph, SuspectRange
from perfsheriff.bisect.protocol import Observation

#: Relative noise of one sample (standard deviation of the log sample).
RELATIVE_NOISE = 0.02
#: Share of side branches that fork from the previous-but-one roll-up.
OLD_BASE_SHARE = 0.3
GOOD = "good"


class Shape(enum.StrEnum):
    LINEAR = "linear"
    MERGES = "merges"


class NoiseKind(enum.StrEnum):
    GAUSSIAN = "gaussian"
    HEAVY_TAILED = "t3"  # Student t, df = 3
    BIMODAL = "bimodal"  # 70 % in one mode, 30 % two standard deviations up


@dataclass(frozen=True, slots=True)
class Condition:
    """One row of the simulator: sizes in ``[size_min, size_max]``, step size ``effect`` in noise sds."""

    size_min: int
    size_max: int
    effect: float
    noise: NoiseKind
    two_steps: bool
    unbuildable: float
    drifting: bool = False  # the machine drifts while the bisection runs (:func:`drifting_machine`)


@dataclass(frozen=True, slots=True)
class Case:
    """A range with its truth: culprit steps, levels per commit, unbuildable commits."""

    suspect: SuspectRange
    shape: Shape
    steps: Mapping[str, float]
    levels: Mapping[str, float]
    unbuildable: frozenset[str]
    noise: NoiseKind
    machine: tuple[float, ...] = ()
    """The machine's log speed factor at each sample taken after the alert (empty: a steady machine)."""
    spurious: float = 0.0
    """A step (noise sds) in the alert's data of the bad end only: the machine was slow when the detector
    measured after the range, and nothing changed in it (``effect`` 0; every method should name nobody)."""


def draw_noise(kind: NoiseKind, size: int, rng: np.random.Generator) -> np.ndarray:
    """``size`` noise values of mean 0 and standard deviation 1."""
    if kind is NoiseKind.GAUSSIAN:
        return rng.standard_normal(size)
    if kind is NoiseKind.HEAVY_TAILED:
        return rng.standard_t(3, size) / math.sqrt(3.0)
    upper = rng.random(size) < 0.3
    return 0.4 * rng.standard_normal(size) + 2.0 * upper - 0.6


#: The step a machine's slow spell put into the alert's data where nothing changed (noise sds).
SPURIOUS_STEP = 3.0
#: Samples a drifting machine's timeline covers: more than any bisection here takes.
MACHINE_HORIZON = 2000


def drifting_machine(rng: np.random.Generator, horizon: int = MACHINE_HORIZON) -> tuple[float, ...]:
    """A shared machine's log speed factor at each of ``horizon`` samples, in the order they are taken.

    What makes one commit measured minutes apart differ by 30-50 %: a slow trend (up to 5 % either way per
    100 samples: warming up, a filling disk), busy spells (one per 100 samples on average, 5-20 samples
    long, 30-50 % slower: a neighbour's job) and wild samples (1 in 100, 1.5-3 times slower).
    """
    t = np.arange(horizon)
    logs = rng.uniform(-0.05, 0.05) * t / 100.0
    for start in np.flatnonzero(rng.random(horizon) < 0.01):
        logs[start : start + int(rng.integers(5, 21))] += math.log(rng.uniform(1.3, 1.5))
    wild = rng.random(horizon) < 0.01
    logs[wild] += np.log(rng.uniform(1.5, 3.0, int(wild.sum())))
    return tuple(float(v) for v in logs)


def linear_range(size: int) -> SuspectRange:
    names = [f"c{i:03d}" for i in range(1, size + 1)]
    parents = {sha: ((names[i - 1],) if i else ()) for i, sha in enumerate(names)}
    return SuspectRange(GOOD, names[-1], parents)


def merge_range(size: int, rng: np.random.Generator) -> SuspectRange:
    """A first-parent chain of roll-up merges holding ``size`` commits in all (merges included)."""
    parents: dict[str, tuple[str, ...]] = {}
    merges = [GOOD]
    while len(parents) < size:
        room = size - len(parents)
        if room < 2:  # a direct push on the first-parent chain
            sha = f"p{len(parents):03d}"
            parents[sha] = (merges[-1],)
            merges.append(sha)
            continue
        old = len(merges) > 1 and rng.random() < OLD_BASE_SHARE
        tip = merges[-2] if old else merges[-1]
        for _ in range(int(rng.integers(1, min(7, room - 1) + 1))):
            sha = f"s{len(parents):03d}"
            parents[sha], tip = (tip,), sha
        merge = f"m{len(parents):03d}"
        parents[merge] = (merges[-1], tip)
        merges.append(merge)
    return SuspectRange(GOOD, merges[-1], parents)


def make_case(condition: Condition, shape: Shape, rng: np.random.Generator) -> Case:
    """Draw a range, its culprit(s) and its unbuildable commits for ``condition``."""
    size = int(rng.integers(condition.size_min, condition.size_max + 1))
    suspect = linear_range(size) if shape is Shape.LINEAR else merge_range(size, rng)
    graph = CommitGraph(suspect)
    culprits = _culprits(graph, condition.two_steps, rng)
    if culprits is None:  # no two commits on one line of descent: fall back to a linear range
        return make_case(condition, Shape.LINEAR, rng)
    if condition.effect == 0:  # nothing changed: the alert came from the machine (see Case.spurious)
        culprits = ()
    sizes = rng.uniform(0.8, 1.25, len(culprits)) if condition.two_steps else np.ones(len(culprits))
    steps = {sha: condition.effect * float(s) for sha, s in zip(culprits, sizes, strict=True)}
    levels = {GOOD: 0.0}
    for sha in suspect.order:
        levels[sha] = sum(step for c, step in steps.items() if graph.ancestors_of(sha) & graph.bit(c))
    # The culprits' parents stay buildable: otherwise no method could tell them from the culprit.
    keep = {sha for c in steps for sha in (c, *suspect.parents[c])} | {suspect.bad}
    spare = [sha for sha in suspect.order if sha not in keep]
    broken = frozenset(sha for sha in spare if rng.random() < condition.unbuildable)
    machine = drifting_machine(rng) if condition.drifting else ()
    spurious = SPURIOUS_STEP if not culprits else 0.0
    return Case(suspect, shape, steps, levels, broken, condition.noise, machine, spurious)


def _culprits(graph: CommitGraph, two: bool, rng: np.random.Generator) -> tuple[str, ...] | None:
    """One non-merge commit, or two where the first is an ancestor of the second."""
    plain = [sha for sha in graph.order if not sha.startswith("m")]  # merges are named m###
    if not two:
        return (plain[int(rng.integers(len(plain)))],)
    pairs = [(a, b) for b in plain for a in plain if a != b and graph.ancestors_of(b) & graph.bit(a)]
    if not pairs:
        return None
    return pairs[int(rng.integers(len(pairs)))]


class Bench:
    """A simulated benchmark machine: it runs commits of a :class:`Case` and keeps the observations.

    The data the detector saw comes free: ``initial`` samples at each end and,
    with ``window > 0``, one sample of each of the ``window`` pushes before the
    good end and after the bad end (at the good and the bad level), which the
    alert hands over as ``SuspectRange.good_level`` / ``bad_level`` (see :attr:`suspect`).
    """

    def __init__(
        self, case: Case, rng: np.random.Generator, *, initial: int = 3, scale: float = 1.0, window: int = 0
    ) -> None:
        self.case = case
        self.rng = rng
        self.scale = scale
        self.observations: dict[str, Observation] = {}
        self.runs = 0
        self.clock: int | None = None  # samples taken since the alert, on case.machine's timeline
        self.run(GOOD, initial)
        bad = case.suspect.bad
        new = self._draw(case.levels[bad] + case.spurious, initial)
        self.observations[bad] = Observation(new)
        self.good_level = self._draw(self.case.levels[GOOD], window)
        self.bad_level = self._draw(self.case.levels[bad] + case.spurious, window)
        self.runs = 0
        self.clock = 0  # what the detector saw was measured before; from here on the machine drifts

    @property
    def suspect(self) -> SuspectRange:
        """The suspect range as the alert passes it: with the detector's window samples of both levels."""
        return replace(self.case.suspect, good_level=self.good_level, bad_level=self.bad_level)

    def _draw(self, level: float, size: int) -> tuple[float, ...]:
        logs = RELATIVE_NOISE * (level + draw_noise(self.case.noise, size, self.rng))
        if self.case.machine and self.clock is not None:
            timeline = self.case.machine
            logs = logs + np.array([timeline[min(self.clock + i, len(timeline) - 1)] for i in range(size)])
            self.clock += size
        return tuple(float(v) for v in self.scale * 100.0 * np.exp(logs))

    def run(self, sha: str, repetitions: int) -> None:
        """Run ``sha`` ``repetitions`` times; an unbuildable commit fails once (its build fails)."""
        seen = self.observations.get(sha, Observation())
        if sha in self.case.unbuildable:
            self.observations[sha] = Observation(seen.samples, seen.failed + 1)
            self.runs += 1
            return
        new = self._draw(self.case.levels[sha], repetitions)
        self.observations[sha] = Observation(seen.samples + new, seen.failed)
        self.runs += repetitions

    def top_up(self, sha: str, samples: int) -> None:
        have = len(self.observations.get(sha, Observation()).samples)
        if have < samples:
            self.run(sha, samples - have)

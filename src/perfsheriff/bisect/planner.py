"""The bisect planner: a state machine that a caller drives run by run.

::

    planner = BisectPlanner(suspect, direction, settings)
    while isinstance(step := planner.next_step(observations), RunRequest):
        observations = run(step.commit, step.repetitions)   # the caller's I/O
    outcome = step                                         # a BisectOutcome

Phases (see ``docs/bisection.md``):

1. **Confirm**: the two levels (each end's samples plus the alert's
   ``good_level`` / ``bad_level`` samples) are compared with
   :func:`perfsheriff.stats.compare.compare` (Hodges-Lehmann ratio,
   Mann-Whitney test), topped up to ``confirm_samples`` first, and more
   samples are added while the comparison is inconclusive. No regression
   between the ends -> ``not_reproduced``; nor when the ends, measured
   interleaved (``G B B G``), do not show the step the alert's data shows.
2. **Bisect**: a :class:`~perfsheriff.bisect.search.Search` over the whole
   range: a Bayesian (probabilistic) bisection on the posterior over one-step
   and two-step hypotheses given every sample (:mod:`.posterior`); the outcome
   names the hypothesis that reaches ``1 - culprit_error``: one culprit, or two.

Every request lists its runs in the order to make them (``RunRequest.runs``):
a probe's between the ends' (``G P P B B P P G``), so that the machine's drift
is read off the ends' runs next to each sample and taken out (:mod:`.timeline`).

The planner is pure: it reads only the observations it is given and never
exceeds the run budget ``settings.max_runs``, counted as the runs (samples and
failed attempts) reported since its first call.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import replace

import numpy as np

from perfsheriff.bisect.dag import CommitGraph, SuspectRange
from perfsheriff.bisect.evidence import noise_model
from perfsheriff.bisect.noise_shape import NoiseShape, fit_shape
from perfsheriff.bisect.protocol import (
    BisectOutcome,
    BisectSettings,
    Observation,
    OutcomeKind,
    ProbeRecord,
    RunRequest,
)
from perfsheriff.bisect.search import Evidence, Search
from perfsheriff.bisect.timeline import Timeline, drift_offsets, fresh_log_odds
from perfsheriff.model import Direction
from perfsheriff.stats.compare import Comparison, ComparisonVerdict, compare
from perfsheriff.stats.summary import MAD_TO_SIGMA

_EMPTY = Observation()
#: Probes with at least this many samples join the two levels in the fit of the noise shape (0: levels only).
SHAPE_PROBE_SAMPLES = 4
#: Pairs of the ends measured interleaved before a step in the alert's data is believed (at least, at most).
FRESH_PAIRS, FRESH_MAX_PAIRS = 2, 8
#: Error rate of the test of those pairs: a step of this share of the alert's against none (an alert is raised
#: where the data happened to show the step large: the alert's own figure overstates it).
FRESH_ERROR, FRESH_SHARE = 0.05, 0.5


class BisectPlanner:
    """Decides the next runs of one alert's bisection and when to stop (see the module docstring)."""

    def __init__(self, suspect: SuspectRange, direction: Direction, settings: BisectSettings | None = None) -> None:
        self.suspect = suspect
        self.direction = direction
        self.settings = settings or BisectSettings()
        self.comparison: Comparison | None = None
        self._graph = CommitGraph(suspect)
        self._baseline: int | None = None
        self._searches: list[Search] = []
        self._outcome: BisectOutcome | None = None
        self._shape_key: tuple[int, ...] = ()
        self._shape_fit: NoiseShape | None = None
        self._timeline = Timeline()

    @property
    def probes(self) -> tuple[ProbeRecord, ...]:
        """Every decided probe so far, in the order they were decided."""
        return tuple(record for search in self._searches for record in search.records)

    def runs_spent(self, observations: Mapping[str, Observation]) -> int:
        """Runs reported since the first call of :meth:`next_step` (the data found then is free)."""
        total = self._runs(observations)
        return total - (self._baseline if self._baseline is not None else total)

    def next_step(self, observations: Mapping[str, Observation]) -> RunRequest | BisectOutcome:
        """The next runs to make, or the outcome once the bisection is over.

        ``observations`` holds everything known so far (not only the latest
        runs); commits absent from it have no data. After the outcome, every
        further call returns the same outcome.
        """
        if self._outcome is not None:
            return self._outcome
        if self._baseline is None:
            self._baseline = self._runs(observations)
        self._timeline.record(observations)
        spent = self.runs_spent(observations)
        step = self._advance(observations, spent)
        if isinstance(step, BisectOutcome):
            self._outcome = step
            return step
        remaining = self.settings.max_runs - spent
        if remaining <= 0:
            self._outcome = self._undecided(spent, f"budget exhausted: {spent} runs spent", self._open_candidates())
            return self._outcome
        step = self._interleaved(step)
        step = replace(step, repetitions=min(step.repetitions, remaining))
        self._timeline.expect(step.runs)
        return step

    def _interleaved(self, step: RunRequest) -> RunRequest:
        """The runs of ``step`` with the ends between them, so that each run has an end for neighbour.

        An end's runs go ``A B A A B A``, the other end between them; a probe's go ``G P P B P P G``:
        the machine's offset at each run is read off its neighbours (:mod:`.timeline`).
        """
        good, bad = self.suspect.good, self.suspect.bad
        n = step.repetitions
        if step.sequence:
            return step
        if step.commit in (good, bad):
            other = bad if step.commit == good else good
            sequence = [sha for _ in range((n + 1) // 2) for sha in (step.commit, other, step.commit)]
            sequence = sequence[: n + (n + 1) // 2]
        else:
            ends = (good, bad)
            sequence = [ends[0]]
            for k in range(0, n, 2):
                sequence += [step.commit] * min(2, n - k) + [ends[(k // 2 + 1) % 2]]
        return replace(step, repetitions=len(sequence), sequence=tuple(sequence))

    def _runs(self, observations: Mapping[str, Observation]) -> int:
        shas = (self.suspect.good, *self.suspect.order)
        return sum(observations.get(sha, _EMPTY).runs for sha in shas)

    def _advance(self, observations: Mapping[str, Observation], spent: int) -> RunRequest | BisectOutcome:
        if not self._searches:
            step = self._confirm(observations, spent)
            if step is not None:
                return step
            self._searches = [self._root_search()]
        evidence = self._evidence(observations)
        found = self._searches[0].step(evidence)
        return found if found is not None else self._conclude(spent)

    def _confirm(self, observations: Mapping[str, Observation], spent: int) -> RunRequest | BisectOutcome | None:
        """Top up and compare the two levels; ``None`` once the regression is confirmed.

        A level's samples are its end's plus those that came with the alert
        (``SuspectRange.good_level`` / ``bad_level``): when the alert's own
        evidence already shows the regression, no run is spent on confirming it.
        """
        settings = self.settings
        ends = (("good", self.suspect.good, self.suspect.good_level), ("bad", self.suspect.bad, self.suspect.bad_level))
        levels = []
        corrected = self._corrected(observations)
        for label, sha, extra in ends:
            seen = observations.get(sha, _EMPTY)
            if not seen.samples and seen.failed:
                return self._undecided(spent, f"the {label} end could not be run", self.suspect.order)
            have, want = len(seen.samples) + len(extra), settings.confirm_samples
            if have < want or not seen.samples:
                more = max(want - have, 1)
                return RunRequest(sha, more, f"confirm {label} end: {have} of {want} samples")
            levels.append(tuple(float(v) for v in np.exp(corrected[sha])) + extra)
        good, bad = levels
        self.comparison = result = compare(good, bad, self.direction, settings.confirm)
        figures = f"ratio {result.ratio or math.nan:.3f}, p={result.p_value or math.nan:.2g}"
        if result.verdict is ComparisonVerdict.REGRESSION:
            return self._interleaved_ends(observations, spent)
        if result.verdict in (ComparisonVerdict.IMPROVEMENT, ComparisonVerdict.NO_CHANGE):
            return self._not_reproduced(spent, f"not reproduced: the ends show {result.verdict.value} ({figures})")
        sizes = [(label, sha, len(level)) for (label, sha, _), level in zip(ends, levels, strict=True)]
        label, sha, have = min(sizes, key=lambda end: end[2])
        if have >= settings.max_confirm_samples:
            reason = f"not reproduced: no significant regression after {have} samples per end ({figures})"
            return self._not_reproduced(spent, reason)
        more = min(settings.confirm_batch, settings.max_confirm_samples - have)
        return RunRequest(sha, more, f"confirm {label} end: evidence ambiguous ({figures})")

    def _interleaved_ends(
        self, observations: Mapping[str, Observation], spent: int
    ) -> RunRequest | BisectOutcome | None:
        """Measure the ends interleaved (``G B B G``) until their neighbouring pairs confirm the step the
        alert's data shows, or refute it (``not_reproduced``): a machine that was slow when the detector
        measured one side makes a step that interleaved runs do not show. ``None``: confirmed (or no
        data from before the bisection to doubt, or ``FRESH_MAX_PAIRS`` pairs without a verdict)."""
        suspect = self.suspect
        ends = (suspect.good, suspect.bad)
        before = [self._timeline.untimed(observations.get(end, _EMPTY).samples, end) for end in ends]
        levels = [
            np.log(np.array((*b, *extra)))
            for b, extra in zip(before, (suspect.good_level, suspect.bad_level), strict=True)
        ]
        if any(level.size < 2 for level in levels):
            return None
        gap = float(np.median(levels[1]) - np.median(levels[0]))
        sigma = MAD_TO_SIGMA * float(np.median(np.abs(np.concatenate([v - np.median(v) for v in levels]))))
        pairs = self._timeline.pairs(observations, ends)
        odds = fresh_log_odds(pairs, FRESH_SHARE * gap, sigma)
        bound = math.log((1 - FRESH_ERROR) / FRESH_ERROR)
        shown = f"{math.expm1(float(np.mean(pairs))) if pairs.size else math.nan:+.1%}"
        if pairs.size >= FRESH_PAIRS and odds <= -bound:
            reason = (
                f"not reproduced: measured interleaved, the ends differ by {shown} over {pairs.size} pairs "
                f"where the alert's data shows {math.expm1(gap):+.1%}"
            )
            return self._not_reproduced(spent, reason)
        if pairs.size >= FRESH_MAX_PAIRS or (pairs.size >= FRESH_PAIRS and odds >= bound):
            return None
        sequence = (suspect.good, suspect.bad, suspect.bad, suspect.good)
        reason = f"confirm the step with the ends interleaved: {pairs.size} pairs, {shown} (log odds {odds:.1f})"
        return RunRequest(suspect.bad, len(sequence), reason, tuple(sequence))

    def _root_search(self) -> Search:
        ends = (self.suspect.good, self.suspect.bad)
        graph, settings = self._graph, self.settings
        return Search(graph, graph.everything, ends, settings, mid_prior=settings.two_step_prior)

    def _evidence(self, observations: Mapping[str, Observation]) -> Evidence:
        suspect = self.suspect
        shas = (suspect.good, *suspect.order)
        logs = self._corrected(observations)
        failed = {sha: observations[sha].failed for sha in shas if sha in observations}
        extra = {suspect.good: suspect.good_level, suspect.bad: suspect.bad_level}
        levels = {sha: np.log(np.array(values)) for sha, values in extra.items() if values}
        low = float(np.median(np.concatenate([logs[suspect.good], levels.get(suspect.good, np.empty(0))])))
        high = float(np.median(np.concatenate([logs[suspect.bad], levels.get(suspect.bad, np.empty(0))])))
        groups = [g for g in (*logs.values(), *levels.values()) if g.size]
        references = [np.concatenate([logs[end], levels.get(end, np.empty(0))]) for end in (suspect.good, suspect.bad)]
        probes = [logs[sha] for sha in suspect.order if sha != suspect.bad and sha in logs]
        measured = [g for g in probes if SHAPE_PROBE_SAMPLES and g.size >= SHAPE_PROBE_SAMPLES]
        return Evidence(logs, failed, noise_model(groups, low, high), levels, low, self._shape(references + measured))

    def _corrected(self, observations: Mapping[str, Observation]) -> dict[str, np.ndarray]:
        """Every commit's log samples, less the machine's drift at the moment each was taken."""
        shas = (self.suspect.good, *self.suspect.order)
        logs = {sha: np.log(np.array(observations[sha].samples)) for sha in shas if sha in observations}
        offsets = drift_offsets(logs, self._timeline, (self.suspect.good, self.suspect.bad))
        return {sha: values - offsets[sha] for sha, values in logs.items()}

    def _shape(self, references: list[np.ndarray]) -> NoiseShape | None:
        """The noise shape learnt from the two levels' samples (refitted only when they change)."""
        if not self.settings.learn_noise_shape:
            return None
        key = tuple(r.size for r in references)
        if key != self._shape_key:
            self._shape_key, self._shape_fit = key, fit_shape(references)
        return self._shape_fit

    def _open_candidates(self) -> tuple[str, ...]:
        if not self._searches:
            return self.suspect.order
        return self._searches[0].remaining

    def _conclude(self, spent: int) -> BisectOutcome:
        search = self._searches[0]
        probes = self.probes
        culprits = search.culprits
        if culprits is None:
            return self._undecided(spent, search.leftover_reason(), search.remaining)
        kind = OutcomeKind.CULPRIT if len(culprits) == 1 else OutcomeKind.TWO_CULPRITS
        words = " and ".join(sha[:12] for sha in culprits)
        reason = f"{kind.value.replace('_', ' ')} {words} after {len(probes)} probes and {spent} runs"
        return BisectOutcome(kind, culprits, search.confidence, spent, probes, reason)

    def _undecided(
        self, spent: int, reason: str, candidates: tuple[str, ...], culprits: tuple[str, ...] = ()
    ) -> BisectOutcome:
        return BisectOutcome(OutcomeKind.UNDECIDED, culprits, None, spent, self.probes, reason, candidates)

    def _not_reproduced(self, spent: int, reason: str) -> BisectOutcome:
        return BisectOutcome(OutcomeKind.NOT_REPRODUCED, (), None, spent, (), reason)

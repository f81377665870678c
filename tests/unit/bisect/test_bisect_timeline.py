"""Runs interleaved with the ends: their time order, the pairs, and the machine's drift read off the ends."""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np

from perfsheriff.bisect import BisectOutcome, BisectPlanner, Observation, OutcomeKind, RunRequest
from perfsheriff.bisect.simulate import run_planner
from perfsheriff.bisect.synthetic import GOOD, Bench, Case, NoiseKind, Shape, linear_range
from perfsheriff.bisect.timeline import Timeline, drift_offsets, fresh_log_odds
from perfsheriff.model import Direction


def flat_case(
    size: int, culprit: str | None, step: float, *, spurious: float = 0.0, machine: tuple[float, ...] = ()
) -> Case:
    suspect = linear_range(size)
    at = int(culprit[1:]) if culprit else size + 1  # c001 .. c<size>
    levels = {GOOD: 0.0, **{sha: (step if int(sha[1:]) >= at else 0.0) for sha in suspect.order}}
    steps = {culprit: step} if culprit else {}
    return Case(suspect, Shape.LINEAR, steps, levels, frozenset(), NoiseKind.GAUSSIAN, machine, spurious)


def test_a_request_lists_its_runs_in_order() -> None:
    assert RunRequest("c1", 3, "why").runs == ("c1", "c1", "c1")
    assert RunRequest("c1", 3, "why", ("g", "c1", "b", "c1")).runs == ("g", "c1", "b")


def test_samples_take_the_slots_asked_for() -> None:
    timeline = Timeline()
    timeline.record({"g": Observation((1.0, 1.0)), "b": Observation((2.0,))})  # found before: untimed
    timeline.expect(("g", "p", "p", "b"))
    timeline.record({"g": Observation((1.0, 1.0, 1.0)), "b": Observation((2.0, 2.0)), "p": Observation((1.5, 1.5))})
    assert timeline.times("g") == [None, None, 0]
    assert timeline.times("p") == [1, 2]
    assert timeline.times("b") == [None, 3]
    timeline.expect(("b", "g"))
    timeline.record({"g": Observation((1.0,) * 4), "b": Observation((2.0,) * 3), "p": Observation((1.5,) * 3)})
    assert timeline.times("p") == [1, 2, 6]  # a run nobody asked for goes after the sequence
    pairs = timeline.pairs({"g": Observation((1.0,) * 4), "b": Observation((2.0,) * 3)}, ("g", "b"))
    assert np.allclose(pairs, [math.log(2.0), math.log(2.0)])  # (g@5, b@4) pairs; g@0 and b@3 are too far apart


def _steady_offsets(seed: int) -> list[np.ndarray]:
    """The offsets read off a steady machine (2 % noise): the ends and a probe interleaved, six rounds."""
    rng = np.random.default_rng(seed)
    timeline = Timeline()
    logs = {"g": rng.normal(0.0, 0.02, 8), "b": rng.normal(0.1, 0.02, 8)}
    timeline.record({sha: Observation(tuple(np.exp(v))) for sha, v in logs.items()})
    sequence = ("g", "p", "p", "b") * 6
    timeline.expect(sequence)
    new = {"p": rng.normal(0.05, 0.02, 12), "g": rng.normal(0.0, 0.02, 6), "b": rng.normal(0.1, 0.02, 6)}
    logs = {sha: np.concatenate([logs.get(sha, np.empty(0)), new[sha]]) for sha in new}
    timeline.record({sha: Observation(tuple(np.exp(v))) for sha, v in logs.items()})
    return list(drift_offsets(logs, timeline, ("g", "b")).values())


def test_a_steady_machine_is_rarely_corrected_and_then_by_little() -> None:
    """The drift tests fire by chance on a steady machine (about 4 % of seeds at their thresholds); when they
    do, the offsets stay within the noise, so a probe's verdict hardly moves."""
    corrected = [offsets for offsets in map(_steady_offsets, range(300)) if any(np.any(v) for v in offsets)]
    assert len(corrected) <= 0.08 * 300
    assert max(float(np.max(np.abs(v))) for offsets in corrected for v in offsets) <= 3 * 0.02


def test_a_busy_spell_is_taken_out_of_the_probe_it_fell_on() -> None:
    """The machine is 40 % slower for the middle third of the runs: the probe's samples there are corrected."""
    rng = np.random.default_rng(5)
    timeline = Timeline()
    logs = {"g": rng.normal(0.0, 0.01, 8), "b": rng.normal(0.1, 0.01, 8)}
    timeline.record({sha: Observation(tuple(np.exp(v))) for sha, v in logs.items()})
    sequence = ("g", "p", "p", "b", "b", "p", "p", "g") * 6
    machine = np.where((np.arange(len(sequence)) >= 16) & (np.arange(len(sequence)) < 32), math.log(1.4), 0.0)
    level = {"g": 0.0, "b": 0.1, "p": 0.0}
    timeline.expect(sequence)
    for t, sha in enumerate(sequence):
        logs[sha] = np.append(logs.get(sha, np.empty(0)), level[sha] + machine[t] + rng.normal(0, 0.01))
    timeline.record({sha: Observation(tuple(np.exp(v))) for sha, v in logs.items()})
    corrected = logs["p"] - drift_offsets(logs, timeline, ("g", "b"))["p"]
    assert np.ptp(logs["p"]) > 0.3  # raw: the spell shows
    assert abs(float(np.median(corrected))) < 0.02
    assert float(np.mean(np.abs(corrected) < 0.05)) >= 0.9  # all but the runs at the spell's edges


def test_the_log_odds_of_fresh_pairs_favour_the_truth() -> None:
    rng = np.random.default_rng(1)
    assert fresh_log_odds(rng.normal(0.0, 0.03, 6), 0.06, 0.02) < -3
    assert fresh_log_odds(rng.normal(0.06, 0.03, 6), 0.06, 0.02) > 3
    assert (
        fresh_log_odds(np.array([0.06, 0.06, 5.0]), 0.06, 0.02) < 0.06**2 / (2 * 0.02**2) * 3
    )  # a wild run is clipped


def test_a_step_only_in_the_alerts_data_is_not_reproduced() -> None:
    """The machine was slow when the detector measured the bad side: measured interleaved, the ends agree."""
    bench = Bench(flat_case(16, None, 0.0, spurious=3.0), np.random.default_rng(4), window=5)
    outcome = run_planner(bench)
    assert outcome.kind is OutcomeKind.NOT_REPRODUCED
    assert "measured interleaved" in outcome.reason
    assert outcome.culprits == ()
    assert outcome.runs_spent <= 16


def test_a_drifting_machine_does_not_fool_the_bisection() -> None:
    """A slowing machine (5 % over 100 runs) with two busy spells 40 % slow: the culprit of a step of two noise
    sds is still found (read without the ends between the probes, most of these cases name none or a wrong one)."""
    machine = 0.05 * np.arange(2000) / 100
    machine[20:40] += math.log(1.4)
    machine[60:75] += math.log(1.4)
    found = []
    for seed in range(6):
        bench = Bench(flat_case(16, "c007", 2.0, machine=tuple(machine)), np.random.default_rng(seed), window=5)
        found.append(run_planner(bench).culprits)
    assert found.count(("c007",)) >= 5


def test_probes_run_between_the_ends() -> None:
    bench = Bench(flat_case(16, "c009", 6.0), np.random.default_rng(21), window=5)
    planner = BisectPlanner(bench.suspect, Direction.LOWER_IS_BETTER)
    seen = []
    while not isinstance(step := planner.next_step(bench.observations), BisectOutcome):
        seen.append(step)
        for sha in step.runs:
            bench.run(sha, 1)
    probe = next(s for s in seen if s.reason.startswith("bisect"))
    ends = {GOOD, "c016"}
    assert probe.runs[0] in ends
    assert probe.runs[-1] in ends
    for k, sha in enumerate(probe.runs):
        if sha not in ends:  # every probe run has an end for neighbour
            assert probe.runs[k - 1] in ends or probe.runs[k + 1] in ends
    assert replace(probe, sequence=()).runs == (probe.commit,) * probe.repetitions

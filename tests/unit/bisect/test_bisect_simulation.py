"""A small seeded run of the simulator as a regression guard on accuracy and load (no timing)."""

from __future__ import annotations

from perfsheriff.bisect.protocol import BisectSettings
from perfsheriff.bisect.simulate import conditions, pooled, simulate
from perfsheriff.bisect.synthetic import NoiseKind


def test_planner_finds_culprits_cheaply_on_clear_steps() -> None:
    grid = conditions(buckets=[(17, 64)], effects=[5.0], noises=list(NoiseKind), two_steps=[False], unbuildable=[0.1])
    tallies = pooled(simulate(grid, cases=10, seed=3))
    assert tallies["planner"].accuracy >= 0.9
    assert tallies["planner"].runs <= tallies["recipe"].runs / 4


def test_planner_finds_both_culprits_of_two_clear_steps() -> None:
    grid = conditions(buckets=[(5, 16)], effects=[5.0], noises=[NoiseKind.GAUSSIAN], two_steps=[True], unbuildable=[0])
    tallies = pooled(simulate(grid, cases=12, seed=4))
    assert tallies["planner"].accuracy >= 0.9


def test_planner_beats_one_sample_binary_search_on_moderate_steps() -> None:
    grid = conditions(buckets=[(5, 16)], effects=[2.0], noises=[NoiseKind.HEAVY_TAILED], two_steps=[False])
    tallies = pooled(simulate(grid, cases=12, seed=5))
    assert tallies["planner"].accuracy >= 0.85
    assert tallies["planner"].accuracy > tallies["binary"].accuracy


def test_simulation_is_deterministic() -> None:
    grid = conditions(buckets=[(2, 4)], effects=[2.0], noises=[NoiseKind.BIMODAL], two_steps=[False], unbuildable=[0])
    first, second = simulate(grid, cases=4, seed=9), simulate(grid, cases=4, seed=9)
    assert [r.tallies for r in first] == [r.tallies for r in second]


def test_a_learnt_noise_shape_saves_runs_on_bimodal_noise() -> None:
    """Two tight modes: the learnt shape tells levels apart with far fewer runs than the normal model."""
    grid = conditions(buckets=[(5, 16)], effects=[1.0], noises=[NoiseKind.BIMODAL], two_steps=[False], unbuildable=[0])
    learnt = pooled(simulate(grid, cases=8, seed=7))["planner"]
    normal = pooled(simulate(grid, cases=8, seed=7, settings=BisectSettings(learn_noise_shape=False)))["planner"]
    assert learnt.accuracy >= 0.85
    assert learnt.accuracy >= normal.accuracy - 0.125  # one case of eight
    assert learnt.runs < 0.7 * normal.runs

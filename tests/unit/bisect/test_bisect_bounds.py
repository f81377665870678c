"""The information bound printed beside the simulator's figures: what any bisection needs, at least."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from perfsheriff.bisect.bounds import capacity, noise_density, runs_needed
from perfsheriff.bisect.simulate import simulate_condition
from perfsheriff.bisect.synthetic import Condition, NoiseKind
from perfsheriff.errors import InputError


@pytest.mark.parametrize("kind", list(NoiseKind))
def test_each_noise_is_a_density_of_mean_zero_and_unit_spread(kind: NoiseKind) -> None:
    import numpy as np

    y = np.linspace(-80, 80, 400_001)
    f = noise_density(kind, y)
    dy = y[1] - y[0]
    assert float(np.sum(f) * dy) == pytest.approx(1.0, abs=1e-4)
    assert float(np.sum(y * f) * dy) == pytest.approx(0.0, abs=1e-3)
    assert float(np.sum(y * y * f) * dy) == pytest.approx(1.0, abs=0.02)  # t3's tail converges slowly


@given(st.floats(0.05, 20.0), st.sampled_from(list(NoiseKind)))
def test_a_sample_tells_at_most_one_bit(gap: float, kind: NoiseKind) -> None:
    assert 0.0 < capacity(gap, kind) <= math.log(2) + 1e-6


@given(st.floats(0.05, 20.0), st.sampled_from([NoiseKind.GAUSSIAN, NoiseKind.HEAVY_TAILED]))
def test_with_one_mode_a_larger_step_tells_more(gap: float, kind: NoiseKind) -> None:
    # Not so for two modes: a step as large as the distance between them lays one level's upper mode on
    # the other's lower one (the bimodal noise tells less at 2 sds than at 1.25).
    assert capacity(gap * 1.5, kind) >= capacity(gap, kind) - 1e-6


@given(st.floats(0.05, 3.0))
def test_normal_noise_stays_under_the_gaussian_input_capacity(gap: float) -> None:
    closed = 0.5 * math.log1p(gap * gap / 4)  # the same power with a normal input: an upper bound
    assert capacity(gap, NoiseKind.GAUSSIAN) <= closed + 1e-4
    if gap <= 1.0:  # at low signal-to-noise a binary input gives nearly all of it
        assert capacity(gap, NoiseKind.GAUSSIAN) >= 0.95 * closed


def test_the_bound_that_docs_bisection_works_out() -> None:
    # docs/bisection.md: 7.5 runs for 3 commits, 18 for 10, 39 for 128, at one noise sd and 95 % right.
    figures = [runs_needed(n, (1.0,), NoiseKind.GAUSSIAN) for n in (3, 10, 128)]
    assert figures == pytest.approx([7.5, 18.0, 39.4], abs=0.5)
    # Large steps: one bit a sample at most, so about log2 of the commits.
    h = -0.05 * math.log(0.05) - 0.95 * math.log(0.95)  # Fano's binary entropy of the error, nats
    assert runs_needed(94, (50.0,), NoiseKind.GAUSSIAN) == pytest.approx((0.95 * math.log(94) - h) / math.log(2))
    assert runs_needed(1, (1.0,), NoiseKind.GAUSSIAN) == 0.0
    assert runs_needed(40, (1.0, 1.0), NoiseKind.GAUSSIAN) > runs_needed(40, (2.0,), NoiseKind.GAUSSIAN)


@pytest.mark.parametrize(("commits", "steps", "error"), [(0, (1.0,), 0.05), (5, (), 0.05), (5, (1.0,), 0.0)])
def test_bad_questions_are_refused(commits: int, steps: tuple[float, ...], error: float) -> None:
    with pytest.raises(InputError):
        runs_needed(commits, steps, NoiseKind.GAUSSIAN, error)
    with pytest.raises(InputError):
        capacity(0.0, NoiseKind.GAUSSIAN)


def test_no_method_that_is_right_beats_the_bound_in_the_simulator() -> None:
    for effect, noise in ((5.0, NoiseKind.GAUSSIAN), (2.0, NoiseKind.BIMODAL)):
        result = simulate_condition(Condition(17, 64, effect, noise, False, 0.0), 0, 8, seed=0)
        planner = result.tallies["planner"]
        assert result.bound > 0
        if planner.accuracy >= 0.95:
            assert planner.runs >= result.bound

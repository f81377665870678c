"""The learnt noise shape: when it is chosen, what it recovers, and the likelihoods built on it."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from perfsheriff.bisect.channel import LEVEL_SHARES, Channel
from perfsheriff.bisect.noise_shape import (
    OUTLIER_WEIGHT,
    NoiseShape,
    fit_shape,
    level_nodes,
    locate,
    robust_logpdf,
)
from perfsheriff.bisect.posterior import shape_log_likelihoods
from perfsheriff.bisect.synthetic import NoiseKind, draw_noise

BIMODAL = NoiseShape((0.7, 0.3), (0.0, 2.0), (0.4, 0.4))


def groups(kind: NoiseKind, sizes: list[int], seed: int, levels: list[float] | None = None) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    levels = levels or [float(i % 2) for i in range(len(sizes))]
    return [0.02 * (level + draw_noise(kind, n, rng)) for level, n in zip(levels, sizes, strict=True)]


def test_normal_noise_keeps_the_normal_model() -> None:
    chosen = sum(fit_shape(groups(NoiseKind.GAUSSIAN, [16, 16], seed)) is not None for seed in range(60))
    assert chosen <= 2


def test_bimodal_noise_is_learnt_with_its_second_mode() -> None:
    shape = fit_shape(groups(NoiseKind.BIMODAL, [60, 60, 30], seed=1))
    assert shape is not None
    minor = int(np.argmin(shape.weights))
    gap = abs(shape.offsets[1] - shape.offsets[0]) / 0.02
    assert 1.6 < gap < 2.4  # the simulator's modes are two noise standard deviations apart
    assert 0.2 < shape.weights[minor] < 0.4
    assert shape.precision() > 3 / 0.02**2  # a sample is worth several normal ones


def test_too_few_samples_keep_the_normal_model() -> None:
    assert fit_shape(groups(NoiseKind.BIMODAL, [4, 4], seed=2)) is None
    assert fit_shape([np.ones(10), np.ones(10)]) is None  # no spread at all


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 10_000), shift=st.floats(-5, 5))
def test_the_shape_does_not_depend_on_where_the_levels_are(seed: int, shift: float) -> None:
    data = groups(NoiseKind.BIMODAL, [24, 24], seed)
    first, second = fit_shape(data), fit_shape([g + shift for g in data])
    assert (first is None) == (second is None)
    if first is not None and second is not None:
        np.testing.assert_allclose(first.spreads, second.spreads, rtol=1e-4)
        np.testing.assert_allclose(first.weights, second.weights, rtol=1e-4, atol=1e-6)


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 10_000), level=st.floats(-3, 3))
def test_locate_finds_the_level_within_its_standard_error(seed: int, level: float) -> None:
    rng = np.random.default_rng(seed)
    samples = level + BIMODAL.offsets[0] + 0.4 * rng.standard_normal(40) + 2.0 * (rng.random(40) < 0.3)
    found, error = locate(BIMODAL, samples)
    assert abs(found - level) < 5 * error
    shifted, _ = locate(BIMODAL, samples + 1.5)
    assert shifted == pytest.approx(found + 1.5, abs=1e-6)


def test_an_outlier_moves_the_evidence_by_a_bounded_amount() -> None:
    wild = np.array([1e3])
    difference = float(robust_logpdf(BIMODAL, wild)[0] - robust_logpdf(BIMODAL, wild - 1.0)[0])
    assert abs(difference) < 1e-9  # far out, both levels explain it only as an outlier
    near = robust_logpdf(BIMODAL, np.array([0.0, 1.0]))
    assert abs(float(near[0] - near[1])) <= -math.log(OUTLIER_WEIGHT) + math.log(20 * BIMODAL.sd) + 5


def test_divergence_of_a_normal_shape_is_the_normal_formula() -> None:
    normal = NoiseShape((0.5, 0.5), (0.0, 0.0), (1.0, 1.0))
    for shift in (0.5, 1.0, 2.0):
        assert normal.divergence(shift) == pytest.approx(shift**2 / 2, rel=1e-3)
    assert normal.precision() == pytest.approx(1.0, rel=1e-3)
    assert BIMODAL.divergence(0.0) == pytest.approx(0.0, abs=1e-12)


def test_the_learnt_channel_rates_samples_of_a_bimodal_noise_higher() -> None:
    normal = Channel(gap=1.0, sigma=BIMODAL.sd)
    learnt = Channel(gap=1.0, sigma=BIMODAL.sd, shape=BIMODAL)
    assert learnt.divergence(1.0) > 2 * normal.divergence(1.0)
    uncertain = np.zeros((1, LEVEL_SHARES.size))
    uncertain[0, [0, -1]] = 0.5
    certain = np.zeros((1, LEVEL_SHARES.size))
    certain[0, 0] = 1.0
    assert learnt.information(uncertain)[0] > normal.information(uncertain)[0] > 0
    assert abs(learnt.information(certain)[0]) < 1e-3
    assert normal.information(uncertain)[0] <= math.log(2)


def test_shape_likelihoods_match_a_direct_sum() -> None:
    """Two candidates on a line (c0 older than c1) and one probe at each: one node, no level uncertainty."""
    rng = np.random.default_rng(5)
    per_level = rng.normal(size=(1, 2, LEVEL_SHARES.size))
    bad_if = np.array([[1.0, 1.0], [0.0, 1.0]])  # culprit c0: both probes bad; culprit c1: only probe 1
    pairs = (np.array([0]), np.array([1]))  # steps at c0 then c1: probe 0 intermediate, probe 1 bad
    single, double = shape_log_likelihoods(bad_if, per_level, np.zeros(1), pairs)
    assert single[0] == pytest.approx(per_level[0, 0, -1] + per_level[0, 1, -1])
    assert single[1] == pytest.approx(per_level[0, 0, 0] + per_level[0, 1, -1])
    for k in range(LEVEL_SHARES.size - 2):
        assert double[0, k] == pytest.approx(per_level[0, 0, k + 1] + per_level[0, 1, -1])


def test_level_nodes_integrate_a_normal() -> None:
    nodes, log_weights = level_nodes()
    weights = np.exp(log_weights)
    assert weights.sum() == pytest.approx(1.0)
    assert float(weights @ nodes**2) == pytest.approx(1.0)

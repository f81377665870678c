"""Severity: doublings x confidence x weight, monotone in each."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from perfsheriff.errors import InputError
from perfsheriff.triage import Alert, AlertKind, SuspectRange, alert_severity, doublings, severity, summary_severity
from perfsheriff.triage.severity import MAX_DOUBLINGS


def test_a_doubling_and_a_halving_are_the_same_size() -> None:
    assert doublings(1.0) == pytest.approx(1.0)
    assert doublings(-0.5) == pytest.approx(1.0)
    assert doublings(0.0) == 0.0
    assert severity(1.0, confidence=1.0) == pytest.approx(1.0)


def test_weights_let_a_small_real_world_change_outrank_a_big_micro_benchmark_one() -> None:
    cabal = severity(0.01, confidence=0.99, weight=10.0)
    t9872c = severity(0.25, confidence=0.99, weight=0.1)
    assert cabal > t9872c


def test_changes_past_the_cap_or_through_zero_count_as_the_cap() -> None:
    assert doublings(5000.0) == MAX_DOUBLINGS
    assert doublings(-1.0) == MAX_DOUBLINGS
    assert doublings(-3.0) == MAX_DOUBLINGS
    assert severity(-1.0, confidence=0.0, weight=0.0) == 0.0


@pytest.mark.parametrize(
    ("change", "confidence", "weight"),
    [
        (math.nan, 0.5, 1.0),
        (math.inf, 0.5, 1.0),
        (0.1, 1.1, 1.0),
        (0.1, -0.1, 1.0),
        (0.1, 0.5, -1.0),
        (0.1, 0.5, math.inf),
    ],
)
def test_bad_input(change: float, confidence: float, weight: float) -> None:
    with pytest.raises(InputError):
        severity(change, confidence, weight)


def make(change: float, confidence: float = 0.9, weight: float = 1.0, alert_id: int = 1) -> Alert:
    return Alert(alert_id, "main", "b", "m", "", SuspectRange(0, 1), AlertKind.REGRESSION, change, confidence, weight)


def test_a_summary_is_as_severe_as_its_worst_alert() -> None:
    alerts = [make(0.05, alert_id=1), make(0.5, alert_id=2), make(-0.2, alert_id=3)]
    assert summary_severity(alerts) == alert_severity(alerts[1])
    assert summary_severity([]) == 0.0


changes = st.floats(-0.99, 100.0)
confidences = st.floats(0.0, 1.0)
weights = st.floats(0.0, 1000.0)


@given(changes, confidences, confidences, weights)
def test_monotone_in_confidence(change: float, c1: float, c2: float, weight: float) -> None:
    low, high = sorted((c1, c2))
    assert severity(change, low, weight) <= severity(change, high, weight)


@given(changes, confidences, weights, weights)
def test_monotone_in_weight(change: float, confidence: float, w1: float, w2: float) -> None:
    low, high = sorted((w1, w2))
    assert severity(change, confidence, low) <= severity(change, confidence, high)


@given(st.floats(0.0, 100.0), st.floats(0.0, 100.0), confidences, weights, st.booleans())
def test_monotone_in_magnitude_for_either_sign(
    m1: float, m2: float, confidence: float, weight: float, up: bool
) -> None:
    small, large = sorted((m1, m2))
    if not up:  # a fall: -small and -large as fractions of what it fell from
        small, large = small / (1 + small), large / (1 + large)
    sign = 1.0 if up else -1.0
    assert severity(sign * small, confidence, weight) <= severity(sign * large, confidence, weight)


@given(st.floats(-0.99, 100.0), confidences, weights)
def test_swapping_before_and_after_keeps_the_severity(change: float, confidence: float, weight: float) -> None:
    reverse = 1.0 / (1.0 + change) - 1.0
    assert severity(reverse, confidence, weight) == pytest.approx(severity(change, confidence, weight), abs=1e-9)

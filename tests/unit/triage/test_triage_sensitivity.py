"""The sensitivity rule: identity without history, monotone in rejections and confirmations, bounded."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from perfsheriff.errors import InputError
from perfsheriff.triage import State
from perfsheriff.triage.sensitivity import CEILING, FLOOR, MARGIN, Judged, Sensitivity, judged, learn

changes = st.floats(-0.9, 5.0, allow_nan=False) | st.sampled_from([float("inf"), float("nan"), 0.0])
histories = st.lists(st.builds(Judged, st.booleans(), changes), max_size=40)
thresholds = st.floats(0.0, 1.0)


def threshold(history: list[Judged], configured: float) -> float:
    return learn(history).apply(configured)


def test_no_history_is_the_identity() -> None:
    assert learn([]) == Sensitivity()
    assert Sensitivity().apply(0.013) == 0.013
    assert Sensitivity().is_default


@given(history=histories, configured=thresholds)
def test_bounded_by_floor_and_ceiling(history: list[Judged], configured: float) -> None:
    learnt = threshold(history, configured)
    assert FLOOR * configured * (1 - 1e-12) <= learnt <= CEILING * configured


@given(history=histories, change=changes, configured=thresholds)
def test_one_more_rejection_never_makes_a_series_more_sensitive(
    history: list[Judged], change: float, configured: float
) -> None:
    assert threshold([*history, Judged(False, change)], configured) >= threshold(history, configured)


@given(history=histories, change=changes, configured=thresholds)
def test_one_more_confirmation_never_makes_a_series_less_sensitive(
    history: list[Judged], change: float, configured: float
) -> None:
    assert threshold([*history, Judged(True, change)], configured) <= threshold(history, configured)


@given(history=histories, configured=thresholds)
def test_order_does_not_matter(history: list[Judged], configured: float) -> None:
    assert threshold(history[::-1], configured) == threshold(history, configured)


def test_a_rejection_lifts_the_threshold_just_above_the_rejected_change() -> None:
    learnt = learn([Judged(False, -0.07)])
    assert (learnt.invalid, learnt.valid) == (1, 0)
    assert learnt.apply(0.05) == pytest.approx(0.07 * MARGIN)
    assert learnt.apply(0.01) == pytest.approx(0.02)  # never past twice the configured threshold
    assert learn([Judged(False, 0.001)]).apply(0.05) == pytest.approx(0.05 * 2 ** (1 / 3))


def test_three_net_rejections_double_and_confirmations_cancel_them() -> None:
    rejected = [Judged(False, 0.0)] * 3
    assert learn(rejected).apply(0.01) == pytest.approx(0.02)
    assert learn(rejected * 10).apply(0.01) == pytest.approx(0.02)
    assert learn([*rejected, *[Judged(True, 0.2)] * 3]).apply(0.01) == 0.01
    assert learn([Judged(True, 0.2)] * 5).apply(0.01) == pytest.approx(0.01 * FLOOR)


def test_which_states_decide() -> None:
    assert judged(State.INVALID, 0.1) == Judged(False, 0.1)
    assert all(judged(s, 0.1) == Judged(True, 0.1) for s in (State.ACKNOWLEDGED, State.FIXED, State.BACKEDOUT))
    assert judged(State.WONTFIX, 0.1) == Judged(True, 0.1)
    assert all(judged(s, 0.1) is None for s in (State.UNTRIAGED, State.INVESTIGATING, State.REASSIGNED))


def test_an_impossible_sensitivity_is_refused() -> None:
    with pytest.raises(InputError, match="factor"):
        Sensitivity(factor=3.0)
    with pytest.raises(InputError, match="at_least"):
        Sensitivity(at_least=float("nan"))


def test_describe_names_the_rule_and_the_counts() -> None:
    text = learn([Judged(False, 0.07)]).describe()
    assert (
        text
        == "max(1.26 x the configured min_relative_change, 7.70%), at most 2 x it (1 invalid, 0 valid triaged alerts)"
    )
    assert Sensitivity().describe().startswith("the configured min_relative_change")

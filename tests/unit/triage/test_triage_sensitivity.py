"""The sensitivity rule: identity without history, monotone in rejections, confirmations and hand-made alerts,
bounded."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from perfsheriff.errors import InputError
from perfsheriff.triage import State
from perfsheriff.triage.sensitivity import (
    CEILING,
    COUNTING_STATES,
    FLOOR,
    MARGIN,
    Judged,
    Sensitivity,
    judged,
    learn,
    learnt_by_series,
)

changes = st.floats(-0.9, 5.0, allow_nan=False) | st.sampled_from([float("inf"), float("nan"), 0.0])
judgements = st.builds(Judged, st.booleans(), changes) | st.builds(Judged, st.just(True), changes, st.just(True))
histories = st.lists(judgements, max_size=40)
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


@given(history=histories, change=changes, configured=thresholds)
def test_one_more_handmade_alert_never_makes_a_series_less_sensitive(
    history: list[Judged], change: float, configured: float
) -> None:
    assert threshold([*history, Judged(True, change, handmade=True)], configured) <= threshold(history, configured)


@given(history=histories, change=changes, configured=thresholds)
def test_a_handmade_alert_weighs_at_least_as_much_as_a_confirmation(
    history: list[Judged], change: float, configured: float
) -> None:
    made = threshold([*history, Judged(True, change, handmade=True)], configured)
    assert made <= threshold([*history, Judged(True, change)], configured)


@given(history=histories, change=st.floats(1e-6, 5.0) | st.floats(-0.9, -1e-6), configured=thresholds)
def test_while_rejections_do_not_dominate_a_handmade_change_alerts_next_time_unless_below_the_floor(
    history: list[Judged], change: float, configured: float
) -> None:
    after = [*history, Judged(True, change, handmade=True)]
    learnt = learn(after)
    if learnt.invalid <= learnt.valid:
        assert learnt.apply(configured) <= max(abs(change) / MARGIN, FLOOR * configured) * (1 + 1e-12)


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


def test_a_handmade_alert_counts_from_the_moment_it_is_made_until_it_is_rejected() -> None:
    made = Judged(True, 0.1, handmade=True)
    assert all(judged(s, 0.1, handmade=True) == made for s in (State.UNTRIAGED, State.INVESTIGATING))
    assert judged(State.ACKNOWLEDGED, 0.1, handmade=True) == made
    assert judged(State.INVALID, 0.1, handmade=True) == Judged(False, 0.1)  # the sheriffs changed their minds
    assert judged(State.REASSIGNED, 0.1, handmade=True) is None
    with pytest.raises(InputError, match="rejection"):
        Judged(False, 0.1, handmade=True)


def test_a_handmade_alert_lowers_the_threshold_just_below_its_change_but_never_below_the_floor() -> None:
    learnt = learn([Judged(True, -0.017, handmade=True)])
    assert (learnt.valid, learnt.handmade, learnt.at_most) == (1, 1, pytest.approx(0.017 / MARGIN))
    assert learnt.apply(0.02) == pytest.approx(0.02 * FLOOR)  # one confirmation's step already reaches below it
    even = learn([Judged(False, 0.03), Judged(True, 0.017, handmade=True)])  # net 0: the factor stays 1
    assert even.apply(0.019) == pytest.approx(0.017 / MARGIN)
    assert learnt.apply(0.05) == pytest.approx(0.05 * FLOOR)  # a change far below the threshold: the floor holds
    assert learn([Judged(True, 0.3, handmade=True)]).apply(0.05) == pytest.approx(0.05 * FLOOR)  # a large one
    assert learn([Judged(True, 0.0, handmade=True)]).at_most is None  # no size to learn from


def test_rejections_that_come_to_outnumber_the_confirmations_lift_the_handmade_cap() -> None:
    made = Judged(True, 0.017, handmade=True)
    rejected = [Judged(False, 0.03), Judged(False, 0.025)]
    learnt = learn([made, *rejected])
    assert learnt.at_most is None
    assert learnt.apply(0.02) == pytest.approx(0.03 * MARGIN)


def test_an_impossible_sensitivity_is_refused() -> None:
    with pytest.raises(InputError, match="factor"):
        Sensitivity(factor=3.0)
    with pytest.raises(InputError, match="at_least"):
        Sensitivity(at_least=float("nan"))
    with pytest.raises(InputError, match="at_most"):
        Sensitivity(at_most=float("inf"))
    with pytest.raises(InputError, match="hand-made"):
        Sensitivity(valid=1, handmade=2)


def test_describe_names_the_rule_and_the_counts() -> None:
    text = learn([Judged(False, 0.07)]).describe()
    assert (
        text
        == "max(1.26 x the configured min_relative_change, 7.70%), at most 2 x it (1 invalid, 0 valid triaged alerts)"
    )
    assert Sensitivity().describe().startswith("the configured min_relative_change")
    made = learn([Judged(True, 0.033, handmade=True)]).describe()
    assert made == (
        "min(0.79 x the configured min_relative_change, 3.00%), at least 0.79 x it, at most 2 x it "
        "(0 invalid, 1 valid triaged alerts, 1 of them made by hand)"
    )


alert_rows = st.lists(
    st.tuples(st.sampled_from(["s1", "s2", "s3"]), st.sampled_from([s.value for s in State]), changes, st.booleans()),
    max_size=30,
)


@given(rows=alert_rows)
def test_learnt_by_series_applies_the_rule_to_each_series_own_alerts_in_order(
    rows: list[tuple[str, str, float, bool]],
) -> None:
    """What the store reads (series, summary state, change, made by hand) becomes each series' sensitivity: the
    rule over the series' alerts that count, in the order read; a series none of whose alerts counts is absent."""
    counting = [row for row in rows if row[1] in COUNTING_STATES]
    found = learnt_by_series(counting)
    for series_id in {row[0] for row in rows}:
        verdicts = [
            judged(State(state), change, handmade=handmade) for s, state, change, handmade in counting if s == series_id
        ]
        kept = [verdict for verdict in verdicts if verdict is not None]
        assert found.get(series_id) == (learn(kept) if kept else None)

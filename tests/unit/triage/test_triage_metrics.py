"""The sheriffing figures: precision, medians, grouping and the period, on known and on generated alerts."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from perfsheriff.errors import InputError
from perfsheriff.triage import State
from perfsheriff.triage.metrics import (
    INVALID_STATES,
    NOT_REPRODUCED,
    VALID_STATES,
    AlertOutcome,
    Figures,
    breakdown,
    figures,
    median,
    noisiest,
    parse_moment,
    period,
    precision,
)

NOW = datetime(2026, 3, 1, tzinfo=UTC)


def outcome(benchmark: str = "parse", state: str | None = "untriaged", **fields: object) -> AlertOutcome:
    values: dict[str, object] = {"kind": "regression", "created_at": NOW, "suite": "core", "machine_class": "linux"}
    return AlertOutcome(project="p", benchmark=benchmark, state=state, **(values | fields))  # type: ignore[arg-type]


outcomes = st.builds(
    outcome,
    benchmark=st.sampled_from(["a", "b", "c"]),
    state=st.sampled_from([None, *(s.value for s in State)]),
    kind=st.sampled_from(["regression", "improvement", "drift"]),
    confirmation=st.sampled_from([None, "confirmed", NOT_REPRODUCED]),
    triaged_at=st.none() | st.integers(-5, 500).map(lambda h: NOW + timedelta(hours=h)),
    confirmation_runs=st.integers(0, 20),
    bisection_runs=st.integers(0, 40),
)


def test_every_state_is_valid_invalid_or_undecided_and_only_invalid_rejects() -> None:
    assert set(INVALID_STATES) == {"invalid"}
    assert set(VALID_STATES) == {"acknowledged", "wontfix", "downstream", "fixed", "backedout"}
    undecided = {s.value for s in State} - VALID_STATES - INVALID_STATES
    assert undecided == {"untriaged", "investigating", "reassigned"}


def test_medians_of_known_lists() -> None:
    assert median([]) is None
    assert median([3.0]) == 3.0
    assert median([5.0, 1.0, 3.0]) == 3.0
    assert median([1.0, 2.0, 3.0, 10.0]) == 2.5


def test_precision_of_known_counts() -> None:
    assert precision(0, 0) is None
    assert precision(3, 1) == 0.75
    assert precision(0, 2) == 0.0
    with pytest.raises(InputError):
        precision(-1, 2)


def test_an_empty_period_gives_zeros_and_nones() -> None:
    empty = figures([])
    assert empty == Figures(kinds={"regression": 0, "improvement": 0, "drift": 0})
    assert (empty.precision, empty.median_hours_to_triage, empty.runs_per_alert) == (None, None, None)
    assert breakdown([], lambda o: o.suite) == {}
    assert noisiest([]) == []


def test_figures_of_a_known_group() -> None:
    found = figures(
        [
            outcome(state="acknowledged", triaged_at=NOW + timedelta(hours=2), confirmation_runs=6, bisection_runs=10),
            outcome(state="invalid", triaged_at=NOW + timedelta(hours=4)),
            outcome(state="fixed", kind="improvement", triaged_at=NOW - timedelta(hours=1), culprit_at=NOW),
            outcome(state="invalid", confirmation=NOT_REPRODUCED, confirmation_runs=8),
            outcome(state="untriaged", kind="drift"),
        ]
    )
    assert found.alerts == 5
    assert found.kinds == {"regression": 3, "improvement": 1, "drift": 1}
    assert found.not_reproduced == 1
    assert found.states == {"acknowledged": 1, "fixed": 1, "invalid": 1, "untriaged": 1}  # shown alerts only
    assert (found.valid, found.invalid, found.precision) == (2, 1, pytest.approx(2 / 3))
    assert found.median_hours_to_triage == 2.0  # 2, 4 and 0 (it joined a summary triaged before)
    assert found.median_hours_to_culprit == 0.0
    assert (found.confirmation_runs, found.bisection_runs, found.runs_per_alert) == (14, 10, 24 / 5)


def test_the_noisiest_benchmarks_come_most_first_and_ten_at_most() -> None:
    alerts = [outcome(f"b{i:02}", "invalid") for i in range(12) for _ in range(i % 3 + 1)]
    alerts += [outcome("quiet", "acknowledged"), outcome("closed", "invalid", confirmation=NOT_REPRODUCED)]
    top = noisiest(alerts)
    assert len(top) == 10
    assert top[:2] == [("b02", 3), ("b05", 3)]
    assert all(name not in {"quiet", "closed"} for name, _ in top)


@given(st.lists(outcomes, max_size=40))
def test_generated_figures_add_up(alerts: list[AlertOutcome]) -> None:
    found = figures(alerts)
    assert found.alerts == len(alerts) == sum(found.kinds.values())
    assert found.valid + found.invalid <= found.alerts - found.not_reproduced
    assert sum(found.states.values()) <= found.alerts - found.not_reproduced
    assert found.precision is None or 0.0 <= found.precision <= 1.0
    assert (found.precision is None) == (found.valid + found.invalid == 0)
    assert found.median_hours_to_triage is None or found.median_hours_to_triage >= 0
    groups = breakdown(alerts, lambda o: o.benchmark)
    assert sum(g.alerts for g in groups.values()) == found.alerts
    assert sum(g.invalid for g in groups.values()) == found.invalid
    assert sum(n for _, n in noisiest(alerts)) <= found.invalid


@given(st.lists(st.floats(-1e6, 1e6), min_size=1, max_size=30))
def test_the_median_lies_between_the_extremes(values: list[float]) -> None:
    found = median(values)
    assert found is not None
    assert min(values) <= found <= max(values)


def test_periods_in_days_or_dates() -> None:
    assert parse_moment("30d", NOW, where="since") == NOW - timedelta(days=30)
    assert parse_moment("2026-01-01", NOW, where="since") == datetime(2026, 1, 1, tzinfo=UTC)
    assert parse_moment("2026-01-01T12:00+02:00", NOW, where="since") == datetime(2026, 1, 1, 10, tzinfo=UTC)
    assert period("7d", None, NOW) == (NOW - timedelta(days=7), NOW)


@pytest.mark.parametrize(
    ("since", "until", "message"),
    [
        ("yesterday-ish", None, "since: cannot read 'yesterday-ish'"),
        ("0001-01-01T00:00+14:00", None, "since: cannot read '0001-01-01T00:00+14:00'"),
        ("30d", "soon", "until: cannot read 'soon'"),
        ("2026-02-01", "2026-01-01", "until: 2026-01-01 00:00 is before since (2026-02-01 00:00)"),
    ],
)
def test_a_bad_period_is_an_input_error_naming_the_field(since: str, until: str | None, message: str) -> None:
    with pytest.raises(InputError) as caught:
        period(since, until, NOW)
    assert str(caught.value).startswith(message)

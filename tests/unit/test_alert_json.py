"""One ``alert_json`` behind every output: each output keeps exactly the fields, in the order, it always had."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from perfsheriff.alerts import AlertConfirmation, AlertKind, Bisection, BisectionProbe, BisectionState
from perfsheriff.service.analysis.detect_jsonl import detect_lines
from perfsheriff.service.views.alert_json import SUMMARY_FIELDS, alert_json, bisection_json
from perfsheriff.stats.changepoints import DetectionSettings
from perfsheriff.store.alerts import AlertRow
from perfsheriff.store.triage import AlertFacts

GOOD, CULPRIT, BAD = "a" * 40, "b" * 40, "c" * 40
CREATED = datetime(2026, 1, 4, 12, 0, tzinfo=UTC)
DECIDED = Bisection(
    7,
    GOOD,
    BAD,
    BisectionState.CULPRIT,
    range_size=2,
    runs_spent=9,
    culprits=(CULPRIT,),
    confidence=0.98,
    probes=(BisectionProbe(CULPRIT, "bad", 4, "like the bad end"),),
)
#: ``details["bisection"]`` as the track loop wrote it before bisections had a table of their own.
LEGACY_RECORD = {
    "kind": "culprit",
    "culprits": [CULPRIT],
    "confidence": 0.98,
    "runs_spent": 9,
    "range_size": 2,
    "reason": "",
    "probes": [{"commit": CULPRIT, "verdict": "bad", "n_samples": 4, "reason": "like the bad end"}],
}


def stored(bisection: Bisection | None) -> AlertRow:
    return AlertRow(
        7,
        "00ff00ff00ff00ff",
        "parse",
        "time",
        "ms",
        "linux",
        "os=linux",
        "main",
        "regression",
        0.3,
        0.99,
        GOOD,
        BAD,
        3,
        5,
        {"noise": 0.5},
        CREATED,
        "confirmed",
        None,
        bisection,
    )


def test_a_stored_alert_shows_every_field_and_its_bisection_in_its_details() -> None:
    rendered = alert_json(stored(DECIDED))
    assert rendered == {
        "id": 7,
        "series_id": "00ff00ff00ff00ff",
        "benchmark": "parse",
        "metric": "time",
        "unit": "ms",
        "machine_class": "linux",
        "configuration": "os=linux",
        "branch": "main",
        "kind": "regression",
        "relative_change": 0.3,
        "confidence": 0.99,
        "last_good": GOOD,
        "first_bad": BAD,
        "last_good_position": 3,
        "first_bad_position": 5,
        "details": {"noise": 0.5, "bisection": LEGACY_RECORD},
        "created_at": "2026-01-04T12:00:00+00:00",
        "confirmation": "confirmed",
        "created_by": None,
    }
    assert list(rendered) == [*list(rendered)[:-3], "created_at", "confirmation", "created_by"]
    assert json.loads(json.dumps(rendered)) == rendered  # plain JSON: the enums are their values
    assert type(rendered["kind"]) is str
    assert type(rendered["confirmation"]) is str


def test_a_stored_alert_shows_no_bisection_until_one_is_decided() -> None:
    for state in (BisectionState.RUNNING, BisectionState.FAILED):
        running = Bisection(7, GOOD, BAD, state, runs_spent=2)
        assert alert_json(stored(running))["details"] == {"noise": 0.5}
    assert alert_json(stored(None))["details"] == {"noise": 0.5}


def test_a_shared_bisection_names_the_alert_it_came_from() -> None:
    shared = Bisection(8, GOOD, BAD, BisectionState.CULPRIT, 2, 0, (CULPRIT,), 0.98, reused_from=7)
    assert bisection_json(shared)["reused_from_alert"] == 7
    assert "reused_from_alert" not in bisection_json(DECIDED)


def test_an_alert_of_a_summary_keeps_its_own_fields() -> None:
    fact = AlertFacts(
        *(7, 1, 1, "main", 3, "00ff00ff00ff00ff", "parse", 1.0, "linux", "os=linux", "regression", 0.3, 0.99),
        *(3, 5, GOOD, BAD, CULPRIT, 0.98, {}, CREATED, "ada"),
    )
    given: dict[str, Any] = {"severity": 2.5, "bisection": "culprit", "bisection_reason": None}
    given["created_at"] = "2026-01-04T12:00:00+00:00"
    rendered = alert_json(fact, fields=SUMMARY_FIELDS, given=given)
    assert list(rendered) == list(SUMMARY_FIELDS)
    assert rendered["severity"] == 2.5
    assert (rendered["culprit"], rendered["culprit_confidence"], rendered["created_by"]) == (CULPRIT, 0.98, "ada")
    assert rendered["kind"] == AlertKind.REGRESSION


def test_a_change_in_json_lines_keeps_its_fields_in_order() -> None:
    noise = [0.1, -0.1, 0.05, -0.05, 0.0, 0.08, -0.08, 0.02, -0.02, 0.03]
    values = [level + noise[i % 10] for level in (10.0, 13.0) for i in range(20)]
    line = json.dumps({"id": "s", "values": values, "revisions": [f"r{i}" for i in range(len(values))]})
    (result,) = detect_lines([line], DetectionSettings())
    assert isinstance(result, dict)
    (change,) = result["alerts"]
    assert list(change) == [
        *("index", "last_good_index", "kind", "relative_change", "confidence", "test_confidence", "range"),
        *("before", "after", "before_spread", "after_spread", "n_before", "n_after"),
        *("last_good_revision", "first_bad_revision", "suspect_revisions"),
    ]
    assert (change["index"], change["last_good_index"], change["kind"]) == (20, 19, "regression")
    assert (change["last_good_revision"], change["first_bad_revision"], change["suspect_revisions"]) == (
        "r19",
        "r20",
        ["r20"],
    )
    assert (change["range"], change["n_before"], change["n_after"]) == ([20, 20], 20, 20)
    assert json.loads(json.dumps(change)) == change


def test_confirmation_states_are_the_stored_strings() -> None:
    assert [c.value for c in AlertConfirmation] == ["confirming", "confirmed", "not-reproduced", "unconfirmed"]
    assert AlertKind.of_step(True) is AlertKind.REGRESSION
    assert AlertKind.of_step(False) is AlertKind.IMPROVEMENT

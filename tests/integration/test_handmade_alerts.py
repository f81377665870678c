"""Hand-made alerts over a real database (SQLite and PostgreSQL): measured from the stored data, placed in a
summary with the sheriff's note, counted by the sensitivity rule, and bad input refused with a clear error.

The series are those of ``test_sensitivity_service``: ``parse`` and ``render`` measured at every commit of a
real git history, 5 samples with 1 % noise, detection at 5 %.
"""

from __future__ import annotations

import threading
from dataclasses import replace
from pathlib import Path

import pytest
from sqlalchemy.engine import Engine

from perfsheriff.errors import ConflictError, InputError, NotFoundError, PerfsheriffError
from perfsheriff.service.sheriffing import summaries
from perfsheriff.service.sheriffing import triage as triage_service
from perfsheriff.service.sheriffing.handmade import Created, Request, create_alert
from perfsheriff.service.views import catalog
from perfsheriff.store import queries
from perfsheriff.triage.sensitivity import FLOOR, MARGIN
from support.measured import NOW, POLICY, Project


@pytest.fixture
def project(engine: Engine, tmp_path: Path) -> Project:
    return Project(engine, tmp_path / "project")


def series_id(project: Project, benchmark: str) -> str:
    with project.engine.connect() as conn:
        (row,) = queries.list_series(conn, benchmark=benchmark)
    return row.id


def make(project: Project, series: str, revision: str, **fields: str) -> Created:
    return create_alert(project.engine, Request(series, revision, **fields), who="ada", now=NOW)


def test_a_sheriff_makes_an_alert_for_a_change_the_detector_missed(project: Project) -> None:
    project.measure(30, parse=100.0, render=100.0)
    step = project.measure(30, parse=103.0, render=100.0)
    assert project.detect() == []  # 3 % is below the 5 % the team alerts on
    parse = series_id(project, "parse")

    created = make(project, parse[:6], step[0][:8], note="the graph steps up here")
    with project.engine.connect() as conn:
        alert = catalog.alert(conn, created.alert_id)
        detail = summaries.summary_detail(conn, created.summary_id)
    assert (alert["kind"], alert["created_by"], alert["series_id"]) == ("regression", "ada", parse)
    assert alert["relative_change"] == pytest.approx(0.03, abs=0.005)
    assert alert["first_bad"] == step[0]
    assert alert["last_good_position"] == alert["first_bad_position"] - 1  # the measured revision before it
    assert alert["confidence"] > 0.9  # 30 revisions a side show a 3 % step clearly
    assert alert["details"]["method"] == "hand-made"
    assert alert["details"]["n_before"] == alert["details"]["n_after"] == 30
    assert alert["details"]["note"] == "the graph steps up here"

    assert (detail["state"], [a["id"] for a in detail["alerts"]]) == ("untriaged", [created.alert_id])
    assert detail["alerts"][0]["created_by"] == "ada"
    made, learnt = detail["notes"]
    assert (made["who"], made["kind"]) == ("ada", "data")
    assert made["text"].startswith(f"created by hand: alert {created.alert_id} (regression of parse on box: +3.")
    assert made["text"].endswith(": the graph steps up here")
    assert learnt["who"] == "perfsheriff"
    assert f"series {parse} (parse on box) is now more sensitive" in learnt["text"]
    assert "(0 invalid, 1 valid triaged alerts, 1 of them made by hand)" in learnt["text"]
    (moved,) = learnt["details"]["sensitivity"]
    assert moved["new"]["at_most"] == pytest.approx(abs(alert["relative_change"]) / MARGIN)

    # A detection pass eager enough to see the 3 % step adds nothing: the hand-made alert stands there.
    assert project.detect(replace(POLICY, default=replace(POLICY.default, min_relative_change=0.01))) == []


def test_a_handmade_alert_makes_its_series_alert_on_a_change_of_that_size_next_time(project: Project) -> None:
    project.measure(30, parse=100.0, render=100.0)
    project.measure(30, parse=107.0, render=100.0)
    (rejected,) = project.detect()
    project.decide(rejected, "invalid")  # the threshold of parse rises to 7.7 %
    missed = project.measure(30, parse=107.0 * 1.045, render=100.0)
    assert project.detect() == []

    created = make(project, rejected.series_id, missed[0], kind="regression")
    with project.engine.connect() as conn:
        change = catalog.alert(conn, created.alert_id)["relative_change"]
    learnt = project.learnt(rejected.series_id)
    assert (learnt.invalid, learnt.valid, learnt.handmade) == (1, 1, 1)
    # One rejection, one hand-made alert: the factor is back to 1, and the cap lies just below the change.
    assert learnt.apply(0.05) == pytest.approx(max(abs(change) / MARGIN, 0.05 * FLOOR))
    assert learnt.apply(0.05) < 0.045

    project.measure(30, parse=107.0 * 1.045**2, render=100.0)  # the same +4.5 % again
    # The configured 5 % alone misses it (a pass that ignores triage finds no step)...
    assert [a for a in project.detect(replace(POLICY, learn_from_triage=False)) if a.kind != "drift"] == []
    # ...the hand-made alert is what makes the series see it.
    (found,) = project.detect()
    assert (found.benchmark, found.kind) == ("parse", "regression")
    assert found.relative_change == pytest.approx(0.045, abs=0.006)


def test_a_handmade_alert_its_summary_marks_invalid_counts_as_a_rejection(project: Project) -> None:
    project.measure(30, parse=100.0, render=100.0)
    step = project.measure(30, parse=103.0, render=100.0)
    created = make(project, series_id(project, "parse"), step[0])
    with project.engine.connect() as conn:
        alert = catalog.alert(conn, created.alert_id)
    assert project.learnt(alert["series_id"]).handmade == 1
    triage_service.transition(project.engine, created.summary_id, "invalid", who="bob", text="noise", now=NOW)
    learnt = project.learnt(alert["series_id"])
    assert (learnt.invalid, learnt.valid, learnt.handmade, learnt.at_most) == (1, 0, 0, None)
    with project.engine.connect() as conn:
        notes = summaries.summary_detail(conn, created.summary_id)["notes"]
    assert "is now less sensitive" in notes[-1]["text"]


def test_bad_input_is_refused_with_an_error_naming_what_is_wrong(project: Project) -> None:
    project.measure(5, parse=100.0, render=100.0)
    gap = project.repo.commit("not measured")  # on the branch, inside the series' history, without data
    before = project.measure(30, parse=100.0, render=100.0)
    step = project.measure(30, parse=107.0, render=100.0)
    (detected,) = project.detect()
    parse = detected.series_id

    cases: list[tuple[type[PerfsheriffError], dict[str, str], str, str]] = [
        (NotFoundError, {"series": "ffffffffffffffff"}, "no series with id 'ffffffffffffffff'", "series_id"),
        (InputError, {"revision": "xyz"}, "expected a commit sha (4 to 40 hex digits), got 'xyz'", "revision"),
        (NotFoundError, {"revision": "deadbeef"}, "no commit 'deadbeef' on branch", "revision"),
        (InputError, {"revision": gap}, f"revision {gap[:12]} has no data in series {parse}", "revision"),
        (InputError, {"previous": gap}, f"revision {gap[:12]} has no data", "previous"),
        (InputError, {"previous": step[3]}, "does not come before", "previous"),
        (InputError, {"kind": "improvement"}, "the data shows a regression at", "kind"),
        (InputError, {"kind": "slower"}, "expected regression or improvement, got 'slower'", "kind"),
        (ConflictError, {"revision": step[0]}, f"alert {detected.id} (regression +7", "revision"),
    ]
    for error, fields, message, field in cases:
        asked = {"series": parse, "revision": before[5], **fields}
        with pytest.raises(error) as raised:
            create_alert(project.engine, Request(**asked), who="ada", now=NOW)
        assert message in str(raised.value), (fields, str(raised.value))
        assert raised.value.field == field, fields
    with pytest.raises(InputError, match="no data before"):
        make(project, parse, _first_measured(project, parse))
    with pytest.raises(InputError, match="who makes the alert must be named"):
        create_alert(project.engine, Request(parse, before[5]), who=" ", now=NOW)
    with pytest.raises(InputError, match="NUL"):
        make(project, parse, before[5], note="a\x00b")

    made = make(project, parse, before[5])  # a place of its own is fine...
    with pytest.raises(ConflictError, match=f"alert {made.alert_id} "):  # ...once
        make(project, parse, before[5])


def _first_measured(project: Project, series: str) -> str:
    with project.engine.connect() as conn:
        return queries.series_history(conn, series)[0].sha


@pytest.mark.commits
def test_two_sheriffs_making_the_same_alert_at_once_make_one(project: Project) -> None:
    project.measure(30, parse=100.0, render=100.0)
    step = project.measure(30, parse=103.0, render=100.0)
    parse = series_id(project, "parse")
    outcomes: list[object] = []

    def attempt() -> None:
        try:
            outcomes.append(make(project, parse, step[0]))
        except ConflictError as error:
            outcomes.append(error)

    threads = [threading.Thread(target=attempt) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(type(o).__name__ for o in outcomes) == ["ConflictError", "Created"]

"""Sensitivity learnt from triage, over a real database: sheriffs' decisions change later detection passes.

Two series along one real git history (``parse`` and ``render``), stored as ingest stores them, found
by the real detection pass and triaged through the real triage service.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest
from sqlalchemy.engine import Engine

from perfsheriff.service.sheriffing import summaries
from perfsheriff.service.sheriffing import triage as triage_service
from perfsheriff.service.views import series
from perfsheriff.triage.sensitivity import FLOOR, MARGIN, Sensitivity
from support.measured import NOW, POLICY, Project


@pytest.fixture
def project(engine: Engine, tmp_path: Path) -> Project:
    return Project(engine, tmp_path / "project")


def test_an_invalid_alert_stops_a_change_of_its_size_alerting_again_on_its_series_only(project: Project) -> None:
    project.measure(30, parse=100.0, render=100.0)
    project.measure(30, parse=107.0, render=100.0)
    (rejected,) = project.detect()
    assert (rejected.benchmark, rejected.kind) == ("parse", "regression")

    detail = project.decide(rejected, "invalid")
    note = detail["notes"][-1]  # type: ignore[index]
    assert (note["who"], note["kind"]) == ("perfsheriff", "comment")
    assert note["text"].startswith(f"sensitivity learnt from triage: series {rejected.series_id} (parse on box")
    assert "is now less sensitive" in note["text"]
    assert "(1 invalid, 0 valid triaged alerts)" in note["text"]
    (moved,) = note["details"]["sensitivity"]
    assert moved["old"] == {"factor": 1.0, "at_least": 0.0, "invalid": 0, "valid": 0, "at_most": None, "handmade": 0}
    assert moved["new"]["at_least"] == pytest.approx(MARGIN * abs(rejected.relative_change))

    project.measure(30, parse=107.0 * 1.07, render=107.0)  # the same +7 % on both series
    (alert,) = project.detect()
    assert alert.benchmark == "render"
    # Without what triage taught it, the pass does alert on parse: the learnt threshold is what held it back.
    (unlearnt,) = project.detect(replace(POLICY, learn_from_triage=False))
    assert unlearnt.benchmark == "parse"
    assert unlearnt.relative_change == pytest.approx(0.07, abs=0.01)


def test_a_valid_alert_restores_the_configured_sensitivity_and_more_confirmations_raise_it(project: Project) -> None:
    project.measure(30, parse=100.0, render=100.0)
    project.measure(30, parse=107.0, render=100.0)
    (rejected,) = project.detect()
    project.decide(rejected, "invalid")
    assert project.learnt(rejected.series_id).apply(0.05) == pytest.approx(MARGIN * abs(rejected.relative_change))

    project.measure(30, parse=107.0 * 1.3, render=100.0)  # far beyond even twice the threshold: still alerts
    (real,) = project.detect()
    assert (real.benchmark, real.series_id) == ("parse", rejected.series_id)
    note = project.decide(real, "acknowledged")["notes"][-1]  # type: ignore[index]
    assert "is now more sensitive" in note["text"]
    assert "(1 invalid, 1 valid triaged alerts)" in note["text"]
    assert project.learnt(rejected.series_id).apply(0.05) == 0.05

    project.decide(rejected, "acknowledged")  # the sheriff changes their mind: it was real after all
    assert project.learnt(rejected.series_id).apply(0.05) == pytest.approx(0.05 * FLOOR)
    with project.engine.connect() as conn:
        shown = series.series_detail(conn, rejected.series_id)
    assert shown.sensitivity == Sensitivity(FLOOR, 0.0, 0, 2)


def test_a_decision_that_moves_no_threshold_writes_no_sensitivity_note(project: Project) -> None:
    project.measure(30, parse=100.0, render=100.0)
    project.measure(30, parse=107.0, render=100.0)
    (alert,) = project.detect()
    notes = project.decide(alert, "investigating")["notes"]
    assert not any("sensitivity" in n["text"] for n in notes)  # type: ignore[attr-defined]


def test_an_alert_moved_to_a_summary_of_another_state_counts_with_it_and_the_journal_says_so(
    project: Project,
) -> None:
    project.measure(30, parse=100.0, render=100.0)
    project.measure(30, parse=107.0, render=100.0)
    (rejected,) = project.detect()
    project.decide(rejected, "invalid")
    project.measure(30, parse=107.0, render=120.0)
    (real,) = project.detect()
    detail = project.decide(real, "acknowledged")
    assert project.learnt(rejected.series_id).invalid == 1

    triage_service.reassign_alert(project.engine, rejected.id, detail["id"], who="sheriff", now=NOW)  # type: ignore[arg-type]
    assert project.learnt(rejected.series_id) == Sensitivity(FLOOR, 0.0, 0, 1)
    with project.engine.connect() as conn:
        notes = summaries.summary_detail(conn, detail["id"])["notes"]  # type: ignore[arg-type]
    assert notes[-1]["who"] == "perfsheriff"
    assert f"series {rejected.series_id} (parse on box) is now more sensitive" in notes[-1]["text"]

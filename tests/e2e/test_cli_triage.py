"""``perfsheriff alerts --queue`` and ``perfsheriff triage`` in real child processes, after a real ``track``."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from perfsheriff.store import database
from support.benchrepo import BenchProject, build_project
from support.cli import assert_one_error_line, run_cli
from support.measured import Project


@pytest.fixture(scope="module")
def tracked(tmp_path_factory: pytest.TempPathFactory) -> tuple[BenchProject, str, Path]:
    """A project tracked once: detection found the roll-up's regression and bisection named its culprit."""
    root = tmp_path_factory.mktemp("triaged")
    project = build_project(root)
    db = f"sqlite:///{root / 'track.db'}"
    result = run_cli(
        "track", "--config", str(project.config), "--once", "--db", db, "--workdir", str(root / "work"), cwd=root
    )
    assert result.returncode == 0, result.stderr
    return project, db, root


def test_the_perf_queue_lists_the_summary_with_its_culprit_and_a_sheriff_triages_it(
    tracked: tuple[BenchProject, str, Path],
) -> None:
    project, db, root = tracked
    assert project.culprit is not None
    listed = run_cli("alerts", "--queue", "perf", "--json", "--db", db, cwd=root)
    assert listed.returncode == 0, listed.stderr
    (summary,) = json.loads(listed.stdout)
    assert summary["state"] == "untriaged"
    assert summary["culprit"]["sha"] == project.culprit
    assert summary["culprit"]["subject"] == "slow down work"
    assert [a["benchmark"] for a in summary["alerts"]] == ["work"]
    sid = str(summary["id"])

    table = run_cli("alerts", "--queue", "perf", "--db", db, cwd=root)
    assert f"#{sid}  untriaged" in table.stdout
    assert f'culprit {project.culprit[:10]} "slow down work" by Ada Lovelace' in table.stdout
    assert re.search(r"regression \+(29|30|31)\.\d% work", table.stdout)  # a 30 % step, measured with noise
    code = run_cli("alerts", "--queue", "code", "--json", "--db", db, cwd=root)
    assert json.loads(code.stdout) == []
    plain = run_cli("alerts", "--json", "--db", db, cwd=root)  # without --queue: the alerts, as before
    assert [a["benchmark"] for a in json.loads(plain.stdout)] == ["work"]

    shown = run_cli("triage", sid, "--db", db, cwd=root)
    assert shown.returncode == 0, shown.stderr
    assert "created by detection" in shown.stdout
    assert f"culprit {project.culprit[:12]}" in shown.stdout  # the bisection round in the journal

    note = "real: the roll-up's second member doubles the work"
    acked = run_cli(
        "triage", sid, "--state", "acknowledged", "--note", note, "--as", "ada", "--json", "--db", db, cwd=root
    )
    assert acked.returncode == 0, acked.stderr
    detail = json.loads(acked.stdout)
    assert detail["state"] == "acknowledged"
    decided, learnt = detail["notes"][-2:]
    assert (decided["who"], decided["from_state"], decided["to_state"], decided["text"]) == (
        "ada",
        "untriaged",
        "acknowledged",
        note,
    )
    assert learnt["who"] == "perfsheriff"
    assert "(work on " in learnt["text"]
    assert "is now more sensitive" in learnt["text"]
    (moved,) = learnt["details"]["sensitivity"]
    shown_series = run_cli("show", moved["series_id"], "--db", db, cwd=root)
    assert shown_series.returncode == 0, shown_series.stderr
    assert "alerts when a change exceeds 0.79 x the configured min_relative_change" in shown_series.stdout
    assert "(0 invalid, 1 valid triaged alerts)" in shown_series.stdout
    as_json = json.loads(run_cli("show", moved["series_id"], "--json", "--db", db, cwd=root).stdout)
    assert (as_json["sensitivity"]["valid"], as_json["sensitivity"]["invalid"]) == (1, 0)
    assert json.loads(run_cli("alerts", "--queue", "perf", "--json", "--db", db, cwd=root).stdout) == []

    stranger = run_cli("triage", sid, "--owner", "grace", "--as", "ada", "--db", db, cwd=root)
    assert_one_error_line(stranger, "unknown user 'grace'")
    made = run_cli("token", "create", "--role", "sheriff", "--name", "grace", "--db", db, cwd=root)
    assert made.returncode == 0, made.stderr
    owned = run_cli("triage", sid, "--owner", "grace", "--note", "over to grace", "--as", "ada", "--db", db, cwd=root)
    assert owned.returncode == 0, owned.stderr
    assert "owner grace" in owned.stdout
    assert "ada [comment] over to grace" in owned.stdout

    refused = run_cli("triage", sid, "--state", "untriaged", "--db", db, cwd=root)
    assert_one_error_line(refused, "cannot move a summary from acknowledged to untriaged", "investigating", "fixed")
    assert_one_error_line(run_cli("triage", "999999", "--db", db, cwd=root), "no summary 999999")
    assert_one_error_line(run_cli("alerts", "--queue", "sheriff", "--db", db, cwd=root), "unknown queue")


def test_untrusted_text_is_printed_as_text(tracked: tuple[BenchProject, str, Path]) -> None:
    """Rich markup (``[/]``, ``[red]``) and terminal escape sequences in notes, names and error messages are
    shown as text: no traceback, no lost brackets, no escape sequence reaching the terminal."""
    _project, db, root = tracked
    sid = "1"  # the one summary of the tracked project (the queue no longer lists it once acknowledged)
    note = "seen [/] and [red]not red[/red] \x1b[31mred\x1b]0;retitled\x07 end"
    added = run_cli("triage", sid, "--note", note, "--as", "eve [bold]\x1b[2J", "--db", db, cwd=root)
    assert added.returncode == 0, added.stderr
    shown = run_cli("triage", sid, "--db", db, cwd=root)
    assert shown.returncode == 0, shown.stderr
    assert "seen [/] and [red]not red[/red] \ufffd[31mred\ufffd]0;retitled\ufffd end" in shown.stdout
    assert "eve [bold]\ufffd[2J" in shown.stdout
    assert "\x1b" not in shown.stdout
    assert "\x07" not in shown.stdout
    missing = run_cli("show", "[/]nope\x1b[2J", "--db", db, cwd=root)
    assert_one_error_line(missing, "[/]nope")
    assert "\x1b" not in missing.stderr


def test_a_sheriff_makes_an_alert_by_hand_from_the_command_line(tmp_path: Path) -> None:
    """Two small steps (3 %, then 2.9 %) that detection at its defaults did not report, made alerts by hand."""
    db = f"sqlite:///{tmp_path / 'hand.db'}"
    engine = database.create_engine(db)
    database.upgrade(engine)
    project = Project(engine, tmp_path / "project")  # parse and render at every commit, stored as ingest does
    project.measure(20, parse=100.0, render=100.0)
    first = project.measure(20, parse=103.0, render=100.0)
    second = project.measure(20, parse=106.0, render=100.0)
    engine.dispose()
    (series,) = json.loads(run_cli("series", "--benchmark", "parse", "--json", "--db", db, cwd=tmp_path).stdout)
    parse = series["id"]

    args = ("alert", "create", parse[:6], "--revision", first[0][:10], "--as", "ada", "--db", db)
    made = run_cli(*args, "--note", "steps up [here]", "--json", cwd=tmp_path)
    assert made.returncode == 0, made.stderr
    alert, summary = json.loads(made.stdout)["alert"], json.loads(made.stdout)["summary"]
    assert (alert["kind"], alert["created_by"], alert["first_bad"]) == ("regression", "ada", first[0])
    assert (summary["notes"][0]["who"], summary["alerts"][0]["created_by"]) == ("ada", "ada")
    assert summary["notes"][0]["text"].endswith(": steps up [here]")

    text = run_cli(
        "alert",
        "create",
        parse,
        "--revision",
        second[0],
        "--kind",
        "regression",
        "--as",
        "ada",
        "--db",
        db,
        cwd=tmp_path,
    )
    assert text.returncode == 0, text.stderr
    assert text.stdout.startswith("alert 2 created by ada: regression +")
    assert "% of parse on box" in text.stdout.splitlines()[0]
    assert "ada [data] created by hand: alert 2 (regression of parse on box: +" in text.stdout
    assert "perfsheriff [comment] sensitivity learnt from triage" in text.stdout
    listed = run_cli("alerts", "--db", db, cwd=tmp_path)
    assert listed.stdout.count("created by ada") == 2
    assert [a["created_by"] for a in json.loads(run_cli("alerts", "--json", "--db", db, cwd=tmp_path).stdout)] == [
        "ada",
        "ada",
    ]
    shown = run_cli("triage", str(summary["id"]), "--db", db, cwd=tmp_path)
    assert f"{alert['id']}: regression {alert['relative_change']:+.1%} parse on box, created by ada" in shown.stdout
    series_shown = run_cli("show", parse, "--db", db, cwd=tmp_path)
    assert "(0 invalid, 2 valid triaged alerts, 2 of them made by hand)" in series_shown.stdout

    covered = f"alert {alert['id']} (regression {alert['relative_change']:+.1%}"
    assert_one_error_line(run_cli(*args, cwd=tmp_path), covered, "covers this change")
    refusals = [
        (("alert", "create", "ffff", "--revision", first[0]), "no series with id 'ffff'"),
        (("alert", "create", parse, "--revision", "nothex"), "expected a commit sha"),
        (("alert", "create", parse, "--revision", "deadbeef"), "no commit 'deadbeef' on branch"),
        (("alert", "create", parse, "--revision", first[5], "--kind", "improvement"), "the data shows a regression"),
        (("alert", "create", parse, "--revision", second[5], "--previous", second[9]), "does not come before"),
        (("alert", "create", parse, "--revision", first[5], "--kind", "faster"), "expected regression or improvement"),
    ]
    for command, words in refusals:
        assert_one_error_line(run_cli(*command, "--db", db, cwd=tmp_path), words)

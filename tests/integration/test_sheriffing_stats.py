"""How well the sheriffing works, read from a real database: a month of alerts, triage, bisection and
notifications made through the services (``support.sheriffing``), and the figures they must give."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.engine import Engine

from perfsheriff.errors import InputError, NotFoundError
from perfsheriff.service.sheriffing.stats import sheriffing_stats
from support.cli import assert_one_error_line, invoke, run_cli
from support.liveserver import LiveServer
from support.sheriffing import EXPECTED_OVERALL, PROJECT, READ_AT, build_history


def read(engine: Engine, **query: Any) -> dict[str, Any]:
    with engine.connect() as conn:
        return sheriffing_stats(conn, now=READ_AT, **query)


def named(rows: list[dict[str, Any]], key: str) -> dict[str, Any]:
    return {row["name"]: row[key] for row in rows}


def test_the_figures_of_a_month_of_sheriffing(engine: Engine, tmp_path: Path) -> None:
    build_history(engine, tmp_path)
    found = read(engine, since="30d")
    assert found["until"] == READ_AT.isoformat()
    (project,) = found["projects"]
    assert project["project"] == PROJECT
    assert project["overall"] == EXPECTED_OVERALL
    assert named(project["by_suite"], "alerts") == {"core": 3, "io": 2}
    assert named(project["by_suite"], "not_reproduced") == {"core": 0, "io": 1}
    assert named(project["by_machine_class"], "alerts") == {"arm-mac": 1, "linux": 4}
    assert named(project["by_machine_class"], "precision") == {"arm-mac": 0.0, "linux": 0.5}
    assert named(project["by_benchmark"], "median_hours_to_triage") == {"load": None, "parse": 5.0, "render": 4.0}
    assert project["notifications"] == {"sent": 1, "failed": 1, "suppressed": 0}
    assert project["noisiest"] == [{"benchmark": "parse", "invalid": 1}, {"benchmark": "render", "invalid": 1}]


def test_a_period_without_alerts_gives_zeros_and_the_older_alert_alone(engine: Engine, tmp_path: Path) -> None:
    build_history(engine, tmp_path)
    assert read(engine, since="2025-01-01", until="2025-06-01")["projects"] == []
    (empty,) = read(engine, since="2025-01-01", until="2025-06-01", project=PROJECT)["projects"]
    assert (empty["overall"]["alerts"], empty["overall"]["precision"], empty["by_suite"]) == (0, None, [])
    (older,) = read(engine, since="90d", until=(READ_AT - timedelta(days=30)).isoformat())["projects"]
    assert older["overall"]["alerts"] == 1
    assert older["overall"]["states"] == {}  # in no summary: never placed


def test_bad_periods_and_unknown_projects_are_refused(engine: Engine) -> None:
    with pytest.raises(InputError, match="since: cannot read 'yesterday-ish'"):
        read(engine, since="yesterday-ish")
    with pytest.raises(InputError, match="until: 2026-01-01 00:00 is before since"):
        read(engine, since="2026-01-10", until="2026-01-01")
    with pytest.raises(NotFoundError, match="no project named 'nope'"):
        read(engine, project="nope")


# -- the faces: API, dashboard page, command ------------------------------------------------------------------------

FEBRUARY = {"since": "2026-01-15", "until": "2026-03-01"}


def test_the_api_answers_the_figures_and_refuses_bad_input(server: LiveServer, engine: Engine, tmp_path: Path) -> None:
    build_history(engine, tmp_path)
    with server.client() as http:
        answer = http.get("/api/v1/stats", params={**FEBRUARY, "project": PROJECT})
        assert answer.status_code == 200, answer.text
        (project,) = answer.json()["projects"]
        assert project["overall"] == EXPECTED_OVERALL
        assert project["notifications"]["failed"] == 1
        refused = {
            "since=yesterday-ish": 422,
            "since=2026-02-01&until=2026-01-01": 422,
            "project=nope": 404,
            "since=" + "9" * 41: 422,
        }
        for query, status in refused.items():
            found = http.get(f"/api/v1/stats?{query}")
            assert found.status_code == status, (query, found.text)
            assert "error" in found.json()


def test_the_dashboard_page_shows_the_figures(server: LiveServer, engine: Engine, tmp_path: Path) -> None:
    build_history(engine, tmp_path)
    with server.client() as http:
        assert 'href="/stats"' in http.get("/").text
        page = http.get("/stats", params=FEBRUARY)
        assert page.status_code == 200, page.text[:500]
        assert f"<h2>{PROJECT}</h2>" in page.text
        assert "<td>33%</td>" in page.text
        assert "<li>parse: 1</li>" in page.text
        refused = http.get("/stats", params={"since": "yesterday-ish"})
        assert refused.status_code == 422
        assert "cannot read &#39;yesterday-ish&#39;" in refused.text


def test_the_command_prints_the_figures_and_one_line_errors(engine_url: str, engine: Engine, tmp_path: Path) -> None:
    build_history(engine, tmp_path)
    period = ["--since", FEBRUARY["since"], "--until", FEBRUARY["until"]]
    code, out, _ = invoke("stats", *period, "--json", db=engine_url)
    assert code == 0
    (project,) = json.loads(out)["projects"]
    assert project["overall"] == EXPECTED_OVERALL
    code, out, _ = invoke("stats", *period, "--project", PROJECT, db=engine_url)
    assert code == 0
    assert "notifications: 1 sent, 1 failed" in out
    assert "most invalid alerts: parse (1), render (1)" in out
    for args, fragment in (
        (["--since", "yesterday-ish"], "cannot read 'yesterday-ish'"),
        (["--since", "2026-02-01", "--until", "2026-01-01"], "is before since"),
        (["--project", "nope"], "no project named 'nope'"),
    ):
        assert_one_error_line(run_cli("stats", *args, "--db", engine_url, cwd=tmp_path), fragment)

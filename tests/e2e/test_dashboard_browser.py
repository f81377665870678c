"""The dashboard in a real browser: Playwright drives Debian's Chromium against a real ``perfsheriff serve``.

Outside CI the test is skipped when Chromium (``/usr/bin/chromium``) or Playwright is missing; in CI
(the ``CI`` variable set, as ``.ci/run`` does) their absence fails it, like the PostgreSQL tests.
Screenshots of each page land in the test's temporary folder.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.engine import Engine

from perfsheriff.alerts import Bisection, BisectionProbe, BisectionState
from perfsheriff.service.generations import upgrades
from perfsheriff.store import bisections as bisection_store
from perfsheriff.store import database
from support.benchrepo import BenchProject, build_project
from support.dashdata import EVIL_BENCHMARK, EVIL_SUBJECT, Populated, populate
from support.liveserver import LiveServer, start_server
from support.mypylike import CLASS, MypyLike

CHROMIUM = Path(os.environ.get("PERFSHERIFF_CHROMIUM", "/usr/bin/chromium"))


def _unavailable(reason: str) -> None:
    if os.environ.get("CI"):
        pytest.fail(f"browser tests must run in CI: {reason}")
    pytest.skip(reason)


@pytest.fixture
def browser() -> Iterator[Any]:
    if not CHROMIUM.exists():
        _unavailable(f"Chromium is not installed at {CHROMIUM} (apt-get install -y chromium)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _unavailable("Playwright for Python is not installed (pip install -e '.[dev]')")
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM), args=["--no-sandbox"])
        yield launched
        launched.close()


@pytest.fixture
def project(tmp_path: Path) -> BenchProject:
    return build_project(tmp_path / "project")


@pytest.fixture
def server(tmp_path: Path, sqlite_template: Path, project: BenchProject) -> Iterator[LiveServer]:
    db = tmp_path / "dash.db"
    db.write_bytes(sqlite_template.read_bytes())
    live = start_server(f"sqlite:///{db}", tmp_path, config=project.config)
    yield live
    live.stop()


@pytest.fixture
def data(server: LiveServer, project: BenchProject) -> Populated:
    engine: Engine = database.create_engine(server.db_url)
    try:
        return populate(server, project, engine)
    finally:
        engine.dispose()


def test_dashboard_in_chromium(
    browser: Any, server: LiveServer, data: Populated, project: BenchProject, tmp_path: Path
) -> None:
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
    shots = tmp_path / "screenshots"
    shots.mkdir()
    with server.client() as http:
        ids = {s["benchmark"]: s["id"] for s in http.get("/api/v1/series").json()["series"]}
    work, evil = ids["work"], ids[EVIL_BENCHMARK]
    assert project.culprit is not None
    bisection = Bisection(
        data.alert_id,
        project.last_good,
        project.rollup,
        BisectionState.CULPRIT,
        culprits=(project.culprit,),
        probes=(BisectionProbe(project.culprit, "bad", 5, "like the bad end"),),
    )
    engine = database.create_engine(server.db_url)
    with engine.begin() as conn:
        bisection_store.save(conn, bisection, now=datetime.now(UTC))
    engine.dispose()

    page.goto(f"{server.url}/")
    assert page.locator("#latest-alerts tbody tr").count() == 1
    page.screenshot(path=str(shots / "overview.png"), full_page=True)

    # The graph: a canvas is painted, hovering shows the commit, clicking opens it.
    page.goto(f"{server.url}/series/{work}")
    page.wait_for_selector('#chart[data-painted="1"]')
    assert page.locator("#chart canvas").count() == 1
    assert page.locator("#graph-title").inner_text().startswith("work")
    over = page.locator("#chart .u-over")
    box = over.bounding_box()
    assert box is not None
    page.mouse.move(box["x"] + box["width"] - 2, box["y"] + box["height"] / 2)
    tooltip = page.locator("#chart-tooltip")
    tooltip.wait_for(state="visible")
    assert data.evil_commit[:12] in tooltip.inner_text()
    assert EVIL_SUBJECT in page.locator("#chart-tooltip .tt-subject").inner_text()
    assert page.evaluate("window.pwned") is None
    marks = page.locator("#chart-marks")
    assert f"culprit of alert {data.alert_id}: {project.culprit[:12]}" in marks.inner_text()
    assert f"{project.culprit[:8]} bad (n=5)" in marks.locator(".mark-probes").inner_text()
    page.screenshot(path=str(shots / "graph-hover.png"), full_page=True)

    # Zooming in fetches the visible range again from the server.
    with page.expect_response(lambda r: "/data?" in r.url and "start=" in r.url) as zoomed:
        page.click('[data-chart-action="zoom-in"]')
    assert zoomed.value.ok
    with page.expect_response(lambda r: "/data?" in r.url and "start=" in r.url) as panned:
        page.click('[data-chart-action="pan-left"]')
    assert panned.value.ok
    with page.expect_response(lambda r: "/data?" in r.url and "start=" not in r.url) as whole:
        page.click('[data-chart-action="reset"]')
    assert whole.value.ok
    page.wait_for_timeout(100)  # the response is drawn on the next frame

    page.mouse.move(box["x"] + box["width"] - 2, box["y"] + box["height"] / 2)
    tooltip.wait_for(state="visible")
    sha = tooltip.get_attribute("data-revision")
    page.mouse.click(box["x"] + box["width"] - 2, box["y"] + box["height"] / 2)
    page.wait_for_url(f"**/revision/{sha}")
    assert page.locator("#revision-subject").inner_text() == EVIL_SUBJECT
    page.screenshot(path=str(shots / "revision.png"), full_page=True)

    # Two series on one graph.
    page.goto(f"{server.url}/graph?series={work},{evil}")
    page.wait_for_selector('#chart[data-painted="1"]')
    assert EVIL_BENCHMARK in page.locator(".u-legend").inner_text()
    assert page.evaluate("window.pwned") is None
    page.screenshot(path=str(shots / "graph-two.png"), full_page=True)

    # Compare: filter and sort without a reload.
    page.goto(f"{server.url}/compare?base={data.tips[0]}&head={data.evil_commit}")
    assert page.locator("#compare-table tbody tr").count() == 1  # the series with no change is hidden
    page.click("#compare-hidden a")
    page.wait_for_url("**all=1")
    rows = page.locator("#compare-table tbody tr")
    assert rows.count() == 2
    page.fill("#compare-filter", "work")
    assert page.locator("#compare-table tbody tr:not([hidden])").count() == 1
    page.fill("#compare-filter", "")
    page.click("#compare-table th:text-is('Ratio')")
    assert page.locator("#compare-table th:text-is('Ratio')").get_attribute("aria-sort") == "ascending"
    page.screenshot(path=str(shots / "compare.png"), full_page=True)

    # Triage with clicks: filter the list, log in, change the state with a note, add a note, check the journal.
    page.goto(f"{server.url}/summaries")
    page.select_option("select[name=machine]", "test-class")
    page.select_option("select[name=state]", "untriaged")
    page.click(".filters button[type=submit]")
    page.wait_for_url("**/summaries?*machine=test-class*")
    assert page.locator("#summaries tbody a[href^='/summaries/']").count() == 1
    page.click("#summaries tbody a[href^='/summaries/']")
    summary_url = page.url
    assert page.locator("#state-form").count() == 0
    page.goto(f"{server.url}/login?next={re.sub(r'^https?://[^/]+', '', summary_url)}")
    page.fill("#token", server.token("sheriff"))
    page.click("#login-submit")
    page.wait_for_url(summary_url)
    page.wait_for_selector('#chart[data-painted="1"]')
    page.select_option("#to-state", "acknowledged")
    page.fill("#state-text", "real: the roll-up's second member")
    page.click("#state-submit")
    page.wait_for_url(summary_url)
    assert page.locator("#summary-state").inner_text() == "acknowledged"
    page.fill("#note-text", "<b>bold?</b> asked the author")
    page.click("#note-submit")
    page.wait_for_url(summary_url)
    journal = page.locator("#journal").inner_text()
    assert "untriaged → acknowledged" in journal
    assert "real: the roll-up's second member" in journal
    assert "<b>bold?</b> asked the author" in journal  # shown as text, not bold
    assert page.locator("#journal b").count() == 0
    page.screenshot(path=str(shots / "summary.png"), full_page=True)

    assert errors == []
    assert len(list(shots.glob("*.png"))) == 6


def test_the_graph_marks_machine_generations_in_chromium(browser: Any, tmp_path: Path, sqlite_template: Path) -> None:
    """The mypy-like history with both upgrades recorded: the graph lists each boundary with its factor."""
    db = tmp_path / "generations.db"
    db.write_bytes(sqlite_template.read_bytes())
    engine = database.create_engine(f"sqlite:///{db}")
    try:
        mypy = MypyLike(engine, tmp_path / "mypy")
        now = datetime.now(UTC)
        for old, new in (("A", "B"), ("B", "C")):
            upgrades.record_upgrade(engine, mypy.project_file, CLASS, from_label=old, to_label=new, at=None, now=now)
    finally:
        engine.dispose()
    live = start_server(f"sqlite:///{db}", tmp_path)
    try:
        with live.client() as http:
            (series,) = http.get("/api/v1/series").json()["series"]
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        page.goto(f"{live.url}/series/{series['id']}")
        page.wait_for_selector('#chart[data-painted="1"]')
        marks = page.locator("#chart-marks .mark-generation").all_inner_texts()
        page.goto(f"{live.url}/compare?base={mypy.shas[20]}&head={mypy.shas[110]}")
        across = page.locator("#compare-generations li").all_inner_texts()
    finally:
        live.stop()
    assert len(marks) == 2, marks
    assert marks[0].startswith("machine generation B (after A) at #40: values before it × 0.69"), marks
    assert marks[1].startswith("machine generation C (after B) at #80: values before it × 1.21"), marks
    (line,) = across
    assert line.startswith("self-check time on mypy-runner: compared in the units of C; base measured on A, × 0.8")

"""``perfsheriff report`` in a real child process over uploaded data; ``--git-commit`` with real git."""

from __future__ import annotations

import subprocess
import xml.etree.ElementTree as ET
from datetime import UTC, datetime
from pathlib import Path

from perfsheriff.service.sheriffing import handmade
from perfsheriff.store import database, queries
from support.benchrepo import build_project
from support.cli import run_cli
from support.dashdata import EVIL_SUBJECT, populate, run_body
from support.liveserver import start_server


def test_report_html_and_markdown_with_git_commit(tmp_path: Path, sqlite_template: Path) -> None:
    project = build_project(tmp_path / "project")
    db_path = tmp_path / "report.db"
    db_path.write_bytes(sqlite_template.read_bytes())
    db = f"sqlite:///{db_path}"
    server = start_server(db, tmp_path, config=project.config)
    engine = database.create_engine(db)
    try:
        data = populate(server, project, engine)
        agent = server.token("agent", machine="box", machine_class="test-class")
        with server.client(agent) as http:  # the newest commit slower again: a sheriff makes that alert by hand
            assert http.post("/api/v1/runs", json=run_body(data.evil_commit, 140.0, 99)).status_code == 201
        with engine.connect() as conn:
            (work,) = queries.list_series(conn, benchmark="work")
        asked = handmade.Request(work.id, data.evil_commit)
        handmade.create_alert(engine, asked, who="ada", now=datetime.now(UTC))
    finally:
        server.stop()
        engine.dispose()

    out = tmp_path / "published"
    first = run_cli("report", "--out", str(out), "--db", db, "--git-commit", cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    assert "committed" in first.stdout
    html = (out / "index.html").read_text()
    assert "<script>window.pwned" not in html
    assert "&lt;script&gt;window.pwned = &#34;benchmark&#34;&lt;/script&gt;parse" in html
    assert html.count("<tr><td>1</td><td>regression</td>") == 1
    assert html.count("<tr><td>2 (created by ada)</td><td>regression</td>") == 1
    graphs = sorted((out / "graphs").glob("*.svg"))
    assert len(graphs) == 2
    for graph in graphs:
        ET.fromstring(graph.read_text())
        assert "<script>" not in graph.read_text()
    log = subprocess.run(["git", "-C", str(out), "log", "--format=%s"], capture_output=True, text=True, check=True)
    assert log.stdout.startswith("perfsheriff report ")

    again = run_cli("report", "--out", str(out), "--db", db, "--format", "markdown", "--git-commit", cwd=tmp_path)
    assert again.returncode == 0, again.stderr
    markdown = (out / "index.md").read_text()
    assert '&lt;script&gt;window.pwned = "benchmark"&lt;/script&gt;parse' in markdown
    assert "<script>" not in markdown
    assert "![graph of " in markdown
    assert "| 2 (created by ada) | regression |" in markdown
    assert EVIL_SUBJECT not in markdown  # commit subjects appear only escaped, if at all
    log = subprocess.run(["git", "-C", str(out), "log", "--format=%s"], capture_output=True, text=True, check=True)
    assert len(log.stdout.splitlines()) == 2

    unchanged = run_cli("report", "--out", str(out), "--db", db, "--format", "markdown", "--git-commit", cwd=tmp_path)
    assert unchanged.returncode == 0, unchanged.stderr
    assert "nothing changed" in unchanged.stdout or "committed" in unchanged.stdout  # "Generated" names the minute

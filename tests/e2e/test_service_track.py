"""The whole service: `track --queue` schedules runs, confirmation runs and bisection steps as jobs, a real agent
answers them."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import sqlalchemy as sa

from perfsheriff.store import database
from perfsheriff.store import schema as t
from support.benchrepo import build_project
from support.cli import run_cli
from support.liveserver import start_server

CLI = "from perfsheriff.cli.main import main; main()"


def test_track_through_the_queue_finds_the_culprit_with_an_agent(tmp_path: Path) -> None:
    project = build_project(tmp_path / "project")
    db_url = f"sqlite:///{tmp_path / 'service.db'}"
    server = start_server(db_url, tmp_path, config=project.config)
    token = server.token("agent", machine="box-2", machine_class="test-class")
    with (tmp_path / "agent.log").open("w") as log:
        agent = subprocess.Popen(
            [
                *(sys.executable, "-c", CLI, "agent", "--server", server.url, "--machine", "box-2"),
                *("--workdir", str(tmp_path / "agent"), "--poll", "0.2"),
            ],
            env={**os.environ, "PERFSHERIFF_TOKEN": token},
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        tracked = run_cli(
            "track", "--queue", "--wait", "5m", "--config", str(project.config), "--db", db_url, cwd=tmp_path
        )
    finally:
        agent.send_signal(signal.SIGTERM)
        agent.wait(60)
        server.stop()
    assert tracked.returncode == 0, tracked.stderr + (tmp_path / "agent.log").read_text()
    assert project.culprit is not None
    assert project.culprit[:10] in tracked.stdout  # the culprit inside the roll-up, named
    engine = database.create_engine(db_url)
    with engine.connect() as conn:
        jobs = conn.execute(sa.select(t.jobs.c.reason, t.jobs.c.state, t.jobs.c.run_id)).all()
        runs = conn.execute(
            sa.select(t.runs.c.id, t.machines.c.name).join(t.machines, t.machines.c.id == t.runs.c.machine_id)
        ).all()
        alerts = [tuple(row) for row in conn.execute(sa.select(t.alerts.c.confirmation))]
    engine.dispose()
    assert {reason for reason, _, _ in jobs} >= {"backfill", "routine", "confirm", "bisect"}
    assert all(state == "done" for _, state, _ in jobs)
    # The candidate waited for its six confirmation runs (three at each end of the range) before bisection.
    assert sum(reason == "confirm" for reason, _, _ in jobs) == 6
    assert "6 confirmation runs, confirmed: the new data shows the regression" in tracked.stdout
    assert alerts == [("confirmed",)]
    # Every run came from the agent, one per job: nothing ran locally, nothing twice.
    assert sorted(run_id for _, _, run_id in jobs) == sorted(run_id for run_id, _ in runs)
    assert {name for _, name in runs} == {"box-2"}

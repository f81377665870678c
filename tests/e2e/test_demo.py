"""The README's main command, as a new user runs it: a real process in an empty folder."""

from __future__ import annotations

import json
import shlex
import subprocess
from pathlib import Path

from perfsheriff.cli.demo_project import CULPRIT, IMPROVEMENT
from support.cli import run_cli


def subject(repo: Path, sha: str) -> str:
    command = ["git", "-C", str(repo), "log", "-1", "--format=%s", sha]
    done = subprocess.run(command, capture_output=True, text=True, check=True)
    return done.stdout.strip()


def test_demo_tracks_detects_and_bisects_to_the_culprits(tmp_path: Path) -> None:
    result = run_cli("demo", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    db = f"sqlite:///{tmp_path / '.perfsheriff' / 'demo' / 'perfsheriff.db'}"
    every = json.loads(run_cli("alerts", "--db", db, "--json", cwd=tmp_path).stdout)
    # Each candidate was measured again before anyone saw it: the two real changes held up; the one the
    # machine's busy spell raised (tokenize 30 % slower as the newest pushes landed) is closed, not reported.
    closed = [a for a in every if a["confirmation"] == "not-reproduced"]
    assert [(a["benchmark"], a["kind"]) for a in closed] == [("tokenize", "regression")]
    assert 0.2 < closed[0]["relative_change"] < 0.4
    assert closed[0]["details"]["confirmation"]["probability"] < 0.05
    runs = closed[0]["details"]["confirmation"]["runs"]
    assert f"alert {closed[0]['id']}: tokenize regression " in result.stdout
    assert f"candidate -> not-reproduced after {runs} runs (nobody told)" in result.stdout
    assert "confirmation: 3 candidates measured again in " in result.stdout
    assert ": 2 confirmed, 1 not reproduced (nobody told)" in result.stdout
    listed = [a for a in every if a["confirmation"] != "not-reproduced"]
    assert sorted((a["benchmark"], a["kind"]) for a in listed) == [("parse", "regression"), ("render", "improvement")]
    assert {a["confirmation"] for a in listed} == {"confirmed"}
    for alert in listed:
        runs = alert["details"]["confirmation"]["runs"]
        assert f"alert {alert['id']}: {runs} confirmation runs, confirmed: the new data shows the " in result.stdout
        assert f", confirmed by {runs} runs -> culprit" in result.stdout
    alerts = {a["benchmark"]: a for a in listed}
    assert 0.1 < alerts["parse"]["relative_change"] < 0.3
    # Both changes landed inside roll-ups that CI measured only at their tips: bisection named the commits.
    repo = tmp_path / ".perfsheriff" / "demo" / "textkit"
    for benchmark, expected in (("parse", CULPRIT), ("render", IMPROVEMENT)):
        bisection = alerts[benchmark]["details"]["bisection"]
        assert bisection["kind"] == "culprit", bisection
        (culprit,) = bisection["culprits"]
        assert subject(repo, culprit) == expected, (bisection, result.stdout)
        assert f"culprit {culprit[:10]}" in result.stdout
    # The next steps are commands that run as printed.
    assert f"serve --db {db} --config " in result.stdout
    assert "then open http://127.0.0.1:8321/" in result.stdout
    steps = [line.split(None, 1)[1] for line in result.stdout.splitlines() if line.startswith("    perfsheriff ")]
    triage = [shlex.split(step) for step in steps if step.startswith("triage ")]
    assert [command[:2] for command in triage] == [["triage", triage[0][1]]] * 2
    for command in (*triage, *(shlex.split(step) for step in steps if step.startswith("report "))):
        done = run_cli(*command, cwd=tmp_path)
        assert done.returncode == 0, (command, done.stderr)
    assert (tmp_path / ".perfsheriff" / "demo" / "report" / "index.html").is_file()
    decided = json.loads(run_cli("triage", triage[0][1], "--db", db, "--json", cwd=tmp_path).stdout)
    assert decided["state"] == "acknowledged"
    again = run_cli("demo", cwd=tmp_path)  # a second run replaces the first
    assert again.returncode == 0, again.stderr

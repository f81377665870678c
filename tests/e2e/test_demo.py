"""The README's main command, as a new user runs it: a real process in an empty folder."""

from __future__ import annotations

import json
from pathlib import Path

from test_cli_ingest import run_cli

from perfsheriff.service.demo import CULPRIT, IMPROVEMENT


def test_demo_tracks_detects_and_bisects_to_the_culprits(tmp_path: Path) -> None:
    result = run_cli("demo", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    db = f"sqlite:///{tmp_path / '.perfsheriff' / 'demo' / 'perfsheriff.db'}"
    alerts = {a["benchmark"]: a for a in json.loads(run_cli("alerts", "--db", db, "--json", cwd=tmp_path).stdout)}
    assert alerts["parse"]["kind"] == "regression"
    assert 0.1 < alerts["parse"]["relative_change"] < 0.3
    assert alerts["render"]["kind"] == "improvement"
    # Both changes landed inside roll-ups that CI measured only at their tips: bisection named the commits.
    repo = tmp_path / ".perfsheriff" / "demo" / "textkit"
    for benchmark, subject in (("parse", CULPRIT), ("render", IMPROVEMENT)):
        bisection = alerts[benchmark]["details"]["bisection"]
        assert bisection["kind"] == "culprit"
        (culprit,) = bisection["culprits"]
        shown = run_cli(
            "compare", "--base", f"{culprit}^", "--head", culprit, "--repo", str(repo), "--db", db, cwd=tmp_path
        )
        assert shown.returncode == 0, shown.stderr
        assert subject in result.stdout
    assert f"culprit {alerts['parse']['details']['bisection']['culprits'][0][:10]}" in result.stdout
    assert "Next:" in result.stdout
    again = run_cli("demo", cwd=tmp_path)  # a second run replaces the first
    assert again.returncode == 0, again.stderr

"""The README's main command, as a new user runs it: a real process in an empty folder."""

from __future__ import annotations

import json
from pathlib import Path

from test_cli_ingest import run_cli


def test_demo_builds_ingests_and_shows(tmp_path: Path) -> None:
    result = run_cli("demo", cwd=tmp_path, env={"COLUMNS": "160"})
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    for expected in ("perfsheriff demo", "roll-ups included", "parse", "render", "tokenize", "Merge roll-up"):
        assert expected in result.stdout
    db = f"sqlite:///{tmp_path / '.perfsheriff' / 'demo' / 'perfsheriff.db'}"
    listed = json.loads(run_cli("series", "--json", "--db", db, cwd=tmp_path).stdout)
    assert sorted(s["benchmark"] for s in listed) == ["parse", "render", "tokenize"]
    parse = next(s for s in listed if s["benchmark"] == "parse")
    shown = json.loads(run_cli("show", parse["id"], "--json", "--db", db, cwd=tmp_path).stdout)
    medians = [p["median"] for p in shown["points"]]
    assert len(medians) == parse["n_revisions"] > 10
    # One commit inside a roll-up made parse about 20% slower: the series steps up once.
    assert medians[-1] / medians[0] > 1.12
    # Detection found it, and the suspect range holds the culprit commit, inside its roll-up.
    assert "somewhere in these" in result.stdout
    assert "Use a regular expression per token in the parser" in result.stdout
    again = run_cli("demo", cwd=tmp_path)  # a second run replaces the first
    assert again.returncode == 0, again.stderr

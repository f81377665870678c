"""Every supported format goes through the real CLI into the database, detected by content."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from support.cli import invoke
from support.gitfixtures import Repo

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "formats"
CASES = {
    "asv_v2.json": "asv",
    "bmf.json": "bmf",
    "criterion/target/criterion": "criterion",
    "go_bench.txt": "go",
    "google_benchmark.json": "google-benchmark",
    "hyperfine.json": "hyperfine",
    "perfherder.log": "perfherder",
    "perfsheriff.json": "perfsheriff",
    "pyperf_suite.json": "pyperf",
    "pytest_benchmark.json": "pytest-benchmark",
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_each_format_is_detected_and_stored_with_every_repetition(name: str, tmp_path: Path) -> None:
    repo = Repo.init(tmp_path / "project")
    repo.commit("one")
    db = f"sqlite:///{tmp_path / 'db.sqlite'}"
    path = FIXTURES / name
    code, out, err = invoke(
        "ingest", str(path), "--repo", str(repo.path), "--revision", "HEAD", "--machine", "box", "--json", db=db
    )
    assert code == 0, err
    (stored,) = json.loads(out)
    assert stored["format"] == CASES[name]
    assert stored["series"] >= 1
    assert stored["samples"] >= stored["series"]
    _, listed, _ = invoke("series", "--json", db=db)
    assert len(json.loads(listed)) == stored["series"]

"""detect, alerts and compare through the CLI: on stored series and on JSON-lines files."""

from __future__ import annotations

import gzip
import json
import os
from pathlib import Path

import pytest
from test_cli_ingest import run_cli

SHARED = Path(__file__).resolve().parents[2].parent / "shared" / "data"


@pytest.mark.skipif(
    not SHARED.is_dir() and not os.environ.get("CI"),  # in CI the data must be there: a missing file fails
    reason="the shared data sets are not checked out beside the repository",
)
def test_detect_jsonl_on_real_series(tmp_path: Path) -> None:
    source = SHARED / "mozilla_perfherder_real_dev.jsonl.gz"
    lines = gzip.decompress(source.read_bytes()).decode().splitlines()
    path = tmp_path / "series.jsonl"
    path.write_text("\n".join(lines) + "\n")
    result = run_cli("detect", "--input", str(path), "--jsonl", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    out = [json.loads(line) for line in result.stdout.splitlines()]
    assert [o["id"] for o in out] == [json.loads(line)["id"] for line in lines]
    found = [o for o in out if o["change_points"]]
    assert found, "the real series hold confirmed changes"
    for item in found:
        assert [a["index"] for a in item["alerts"]] == item["change_points"]
        alert = item["alerts"][0]
        assert {"kind", "relative_change", "confidence", "first_bad_revision", "last_good_revision"} <= alert.keys()
        assert len(item["ranges"]) == len(item["change_points"])
        for (first, last), index in zip(item["ranges"], item["change_points"], strict=True):
            assert first <= index <= last
    confidences = [a["confidence"] for o in found for a in o["alerts"]]
    assert all(0.0 <= c <= 1.0 for c in confidences)
    assert min(confidences) < 0.5 < max(confidences), "a calibrated probability, not 1 - p of a test"


def test_detect_jsonl_reports_bad_lines_and_goes_on(tmp_path: Path) -> None:
    lines = [
        json.dumps({"id": "good", "values": [[10, 10.1]] * 20 + [[12, 12.1]] * 20}),
        "{not json",
        json.dumps({"id": "short", "values": [1, 2, 3], "revisions": ["a"]}),
        json.dumps({"id": "flat", "values": [5.0] * 30}),
        json.dumps({"id": "empty", "values": []}),
        json.dumps({"id": "negative", "values": [1, -1], "meta": {"unit": "ms"}}),
    ]
    result = run_cli("detect", "--input", "-", "--jsonl", cwd=tmp_path, stdin="\n".join(lines))
    assert result.returncode == 1
    out = {o["id"]: o for o in map(json.loads, result.stdout.splitlines())}
    assert out["good"]["change_points"] == [20]
    assert out["flat"]["change_points"] == []
    assert out["empty"]["verdict"] == "insufficient_data"
    errors = result.stderr.strip().splitlines()
    assert len(errors) == 3
    assert "line 2" in errors[0]
    assert "line 3, series short" in errors[1]
    assert "line 6, series negative" in errors[2]
    assert "Traceback" not in result.stderr


@pytest.fixture(scope="module")
def demo_db(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    folder = tmp_path_factory.mktemp("demo")
    assert run_cli("demo", cwd=folder).returncode == 0
    return folder, f"sqlite:///{folder / '.perfsheriff' / 'demo' / 'perfsheriff.db'}"


def test_detect_alerts_and_compare_on_the_demo(demo_db: tuple[Path, str]) -> None:
    folder, db = demo_db
    listed = json.loads(run_cli("alerts", "--db", db, "--json", cwd=folder).stdout)
    by_benchmark = {a["benchmark"]: a for a in listed}
    assert by_benchmark["parse"]["kind"] == "regression"
    assert by_benchmark["render"]["kind"] == "improvement"
    # The demo's track pass detected them already, with the thresholds of the demo's configuration.
    config = str(folder / ".perfsheriff" / "demo" / "perfsheriff.toml")
    again = run_cli("detect", "--db", db, "--config", config, "--json", cwd=folder)
    assert (again.returncode, json.loads(again.stdout)) == (0, [])
    parse = by_benchmark["parse"]
    repo = folder / ".perfsheriff" / "demo" / "textkit"
    revisions = ("--base", parse["last_good"], "--head", parse["first_bad"], "--repo", str(repo))
    compared = run_cli("compare", *revisions, "--db", db, "--json", cwd=folder)
    assert compared.returncode == 0, compared.stderr
    rows = {r["benchmark"]: r for r in json.loads(compared.stdout)["series"]}
    row = rows["parse"]
    assert row["ratio"] > 1.05  # the code made parse about 20 % slower
    if row["verdict"] == "regression":
        assert row["ci_low"] > 1.0, row
    else:
        # Nine real samples a side on a busy shared machine can leave the two revisions alone undecided
        # (the alert saw the windows around them); the comparison must then say so, and what would settle it.
        assert row["verdict"] == "inconclusive", row
        assert row["ci_low"] < 1.05 < row["ci_high"]
        assert 1 <= row["runs_needed"] <= 50, row


def test_compare_names_an_unknown_revision(demo_db: tuple[Path, str]) -> None:
    folder, db = demo_db
    result = run_cli("compare", "--base", "deadbeef", "--head", "HEAD", "--db", db, cwd=folder)
    assert result.returncode == 1
    assert "no stored revision 'deadbeef'" in result.stderr

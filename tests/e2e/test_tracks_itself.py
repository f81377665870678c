"""perfsheriff tracks itself: ``perfsheriff track --once`` on a fresh clone of this repository, as the README says."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from support.cli import run_cli

REPO_ROOT = Path(__file__).resolve().parents[2]
HOT_PATHS = {
    "test_parse_a_large_result_file",
    "test_store_one_revisions_results",
    "test_detect_changes_in_many_series",
    "test_read_a_long_series",
    "test_claim_round_trip",
}


def test_track_once_measures_this_repositorys_own_hot_paths(tmp_path: Path) -> None:
    clone = tmp_path / "perfsheriff"
    subprocess.run(["git", "clone", "--quiet", str(REPO_ROOT), str(clone)], check=True)
    (clone / ".venv").symlink_to(Path(sys.prefix), target_is_directory=True)  # what `make` would create there
    db = f"sqlite:///{tmp_path / 'self.db'}"
    tracked = run_cli("track", "--once", "--backfill", "1", "--db", db, "--workdir", str(tmp_path / "work"), cwd=clone)
    assert tracked.returncode == 0, tracked.stderr
    series = json.loads(run_cli("series", "--json", "--db", db, cwd=clone).stdout)
    names = {s["benchmark"].rpartition("::")[2] for s in series}
    assert names == HOT_PATHS, tracked.stdout + tracked.stderr
    assert {s["n_revisions"] for s in series} == {1}

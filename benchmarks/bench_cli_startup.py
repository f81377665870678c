"""How long the CLI takes to answer: ``--help``, a command's help, and ``series``/``show`` on a small database.

Target (issue: fit into people's day): ``perfsheriff --help`` and ``series``/``show`` on a small database
under 0.3 s. Each figure is the median wall time of ``--runs`` runs of a fresh process, as a user types it.

    .venv/bin/python benchmarks/bench_cli_startup.py [--runs 7]
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

PERFSHERIFF = [sys.executable, "-c", "from perfsheriff.cli.main import main; main()"]


def timed(args: list[str], cwd: Path, runs: int) -> float:
    times = []
    for _ in range(runs):
        began = time.perf_counter()
        subprocess.run([*PERFSHERIFF, *args], cwd=cwd, capture_output=True, check=True)
        times.append(time.perf_counter() - began)
    return statistics.median(times)


def small_database(folder: Path) -> tuple[str, str]:
    """A git repository of 20 commits, each with one result file ingested; the database URL and a series id."""
    repo = folder / "repo"
    repo.mkdir()
    git = ["git", "-C", str(repo), "-c", "user.name=A", "-c", "user.email=a@example.org"]
    subprocess.run([*git, "init", "--quiet", "--initial-branch", "main"], check=True)
    db = f"sqlite:///{folder / 'perf.db'}"
    for i in range(20):
        subprocess.run([*git, "commit", "--quiet", "--allow-empty", "-m", f"change {i}"], check=True)
        result = folder / "result.json"
        samples = [100.0 + i % 3 + k for k in range(5)]
        result.write_text(
            json.dumps(
                {
                    "format": "perfsheriff",
                    "version": 1,
                    "results": [{"name": "parse", "unit": "ms", "samples": samples}],
                }
            )
        )
        args = ["ingest", str(result), "--repo", str(repo), "--revision", "HEAD", "--machine", "box", "--db", db]
        subprocess.run([*PERFSHERIFF, *args], check=True, capture_output=True)
    listed = subprocess.run([*PERFSHERIFF, "series", "--json", "--db", db], check=True, capture_output=True)
    return db, json.loads(listed.stdout)[0]["id"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="perfsheriff-cli-"))
    try:
        db, series_id = small_database(folder)
        bare = statistics.median(_time_python(folder) for _ in range(args.runs))
        rows = [
            ("python -c pass (the floor)", bare),
            ("perfsheriff --help", timed(["--help"], folder, args.runs)),
            ("perfsheriff comment --help", timed(["comment", "--help"], folder, args.runs)),
            ("perfsheriff series (20 revisions)", timed(["series", "--db", db], folder, args.runs)),
            ("perfsheriff show SERIES", timed(["show", series_id, "--db", db], folder, args.runs)),
        ]
        print("| command | median wall time |")
        print("|---|---|")
        for name, seconds in rows:
            print(f"| {name} | {seconds * 1000:.0f} ms |")
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _time_python(cwd: Path) -> float:
    began = time.perf_counter()
    subprocess.run([sys.executable, "-c", "pass"], cwd=cwd, check=True)
    return time.perf_counter() - began


if __name__ == "__main__":
    main()

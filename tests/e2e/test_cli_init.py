"""``perfsheriff init`` on a real repository, then ``perfsheriff track`` with the file it wrote, as a new user would."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

from perfsheriff import projectfile
from support.cli import run_cli
from support.gitfixtures import Repo

# A pytest-benchmark test whose work grows with the committed level.txt: the measurement follows the revision.
SPEED_TEST = """\
from pathlib import Path

LEVEL = int(Path(__file__).with_name("level.txt").read_text())


def test_sum(benchmark):
    benchmark(sum, range(LEVEL * 20_000))
"""


def user_environment() -> dict[str, str]:
    """A user's shell with perfsheriff's environment active: ``python3`` has pytest and pytest-benchmark."""
    return {"PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}


def test_init_finds_a_pytest_benchmark_suite_and_track_measures_it(tmp_path: Path) -> None:
    repo = Repo.init(tmp_path / "project")
    repo.commit("a benchmark", files={"tests/test_speed.py": SPEED_TEST, "tests/level.txt": "1\n"})
    repo.commit("docs", files={"README.md": "speed\n"})
    repo.commit("more work", files={"tests/level.txt": "6\n"})

    made = run_cli("init", cwd=repo.path)
    assert made.returncode == 0, made.stderr
    assert "pytest-benchmark" in made.stdout
    assert "tests/test_speed.py" in made.stdout
    assert "check the [[benchmarks]] entries" in made.stdout  # Rich must not eat the brackets
    config = projectfile.load(repo.path / "perfsheriff.toml")
    (bench,) = config.benchmarks
    assert (bench.name, bench.format, bench.setup) == ("pytest-benchmark", "pytest-benchmark", None)

    db = f"sqlite:///{tmp_path / 'perf.db'}"
    tracked = run_cli(
        "track", "--once", "--backfill", "3", "--db", db, "--workdir", str(tmp_path / "work"),
        cwd=repo.path, env=user_environment(),
    )  # fmt: skip
    assert tracked.returncode == 0, tracked.stderr
    listed = run_cli("series", "--json", "--db", db, cwd=repo.path)
    series = json.loads(listed.stdout)
    assert [s["benchmark"] for s in series] == ["tests/test_speed.py::test_sum"]
    shown = json.loads(run_cli("show", series[0]["id"], "--json", "--db", db, cwd=repo.path).stdout)
    medians = [point["median"] for point in shown["points"]]
    assert len(medians) == 3
    # Six times the work at the last revision. A sum over a range does not scale exactly with its length
    # (three times the work once measured 1.88x in a full run), so the margin is wide: the measurement follows
    # the revision, which is what this checks.
    assert medians[2] > 2 * medians[0]


def test_init_without_benchmarks_writes_the_commented_example_and_says_what_to_edit(tmp_path: Path) -> None:
    repo = Repo.init(tmp_path / "project")
    repo.commit("code", files={"lib.py": "x = 1\n"})
    made = run_cli("init", cwd=repo.path)
    assert made.returncode == 0, made.stderr
    assert "found no benchmarks" in made.stdout
    assert "edit [project] and [[benchmarks]]" in made.stdout
    assert (repo.path / "perfsheriff.toml").read_text() == projectfile.example_config()
    again = run_cli("init", cwd=repo.path)
    assert again.returncode == 1
    assert "the file exists already; pass --force to overwrite it" in again.stderr

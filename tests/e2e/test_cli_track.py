"""``perfsheriff init``, ``track`` and ``bisect`` in real child processes, on a real project and SQLite."""

from __future__ import annotations

import json
import shlex
import signal
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
import sqlalchemy as sa

from perfsheriff import projectfile
from perfsheriff.alerts import BisectionState
from perfsheriff.service.views.alert_json import alert_json
from perfsheriff.store import alerts as alert_store
from perfsheriff.store import bisections as bisection_store
from perfsheriff.store import database
from perfsheriff.store import schema as t
from support.agents import wait_for
from support.benchrepo import BASE_LEVEL, BenchProject, build_project, held_benchmark, write_config
from support.cli import assert_one_error_line, run_cli
from support.procfs import kill_with_supervisor, live_members


@dataclass(frozen=True, slots=True)
class Tracked:
    """A project after one ``perfsheriff track --once``: its database holds the runs and the alert."""

    project: BenchProject
    db: str
    workdir: Path
    stdout: str
    stderr: str
    returncode: int


@pytest.fixture(scope="module")
def tracked(tmp_path_factory: pytest.TempPathFactory) -> Tracked:
    root = tmp_path_factory.mktemp("tracked")
    project = build_project(root)
    db, workdir = f"sqlite:///{root / 'track.db'}", root / "work"
    result = run_cli(
        "track", "--config", str(project.config), "--once", "--db", db, "--workdir", str(workdir), cwd=root
    )
    return Tracked(project, db, workdir, result.stdout, result.stderr, result.returncode)


def bisect_args(tracked: Tracked, *args: str) -> list[str]:
    config = str(tracked.project.config)
    return ["bisect", *args, "--config", config, "--db", tracked.db, "--workdir", str(tracked.workdir), "--json"]


# -- init ----------------------------------------------------------------------------------------------------------


def test_init_writes_a_configuration_that_loads_and_keeps_an_existing_one(tmp_path: Path) -> None:
    written = run_cli("init", cwd=tmp_path)
    assert written.returncode == 0, written.stderr
    path = tmp_path / "perfsheriff.toml"
    assert "wrote perfsheriff.toml" in written.stdout
    loaded = projectfile.load(path)
    assert loaded.project.repository == str(tmp_path.resolve())
    assert [b.name for b in loaded.benchmarks] == ["startup"]

    path.write_text("# mine\n")
    refused = run_cli("init", cwd=tmp_path)
    assert_one_error_line(refused, "perfsheriff.toml", "pass --force")
    assert path.read_text() == "# mine\n"

    forced = run_cli("init", "--force", cwd=tmp_path)
    assert forced.returncode == 0, forced.stderr
    assert path.read_text() == projectfile.example_config()


def test_init_writes_to_a_given_path(tmp_path: Path) -> None:
    result = run_cli("init", "elsewhere.toml", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert projectfile.load(tmp_path / "elsewhere.toml").project.name == "my-project"
    assert not (tmp_path / "perfsheriff.toml").exists()


# -- track ---------------------------------------------------------------------------------------------------------


def test_track_once_measures_detects_and_names_the_culprit(tracked: Tracked) -> None:
    assert tracked.returncode == 0, tracked.stderr
    assert "Traceback" not in tracked.stderr
    project = tracked.project
    assert f"{len(project.tips)} runs ok, 0 failed, 1 new alerts" in tracked.stdout
    assert "regression" in tracked.stdout
    assert f"{project.last_good[:10]}..{project.rollup[:10]}" in tracked.stdout  # the suspect range
    assert "culprit: 1 commit(s)" in tracked.stdout
    assert project.culprit is not None
    assert f"{project.culprit[:12]}  Ada Lovelace <ada@example.org>  slow down work" in tracked.stdout


def test_a_second_track_pass_runs_nothing(tracked: Tracked) -> None:
    again = run_cli(
        "track",
        "--config",
        str(tracked.project.config),
        "--db",
        tracked.db,
        "--workdir",
        str(tracked.workdir),
        cwd=tracked.workdir.parent,
    )
    assert again.returncode == 0, again.stderr
    assert "0 runs ok, 0 failed, 0 new alerts" in again.stdout


# -- one track per workdir -------------------------------------------------------------------------------------


def track_args(project: BenchProject, root: Path) -> list[str]:
    """``track --once`` of the newest push only, in ``root/work``."""
    return [
        *("track", "--once", "--backfill", "1", "--config", str(project.config)),
        *("--db", f"sqlite:///{root / 'track.db'}", "--workdir", str(root / "work")),
    ]


def start_track(project: BenchProject, root: Path) -> subprocess.Popen[bytes]:
    """A ``track`` in a child process that waits in its held benchmark; its output goes to ``root/first.log``."""
    (root / "hold").touch()
    with (root / "first.log").open("wb") as log:
        track = subprocess.Popen(
            [sys.executable, "-c", "from perfsheriff.cli.main import main; main()", *track_args(project, root)],
            cwd=root,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    wait_for((root / "held-started").exists, "the held benchmark to start")
    return track


def test_a_second_track_in_the_same_workdir_is_refused_naming_the_first(tmp_path: Path) -> None:
    project = build_project(tmp_path / "project", extra_config=held_benchmark(tmp_path, first_run_only=True))
    first = start_track(project, tmp_path)
    try:
        second = run_cli(*track_args(project, tmp_path), cwd=tmp_path)
        assert_one_error_line(second, str(tmp_path / "work"), f"pid {first.pid}")
        bisect = run_cli(
            "bisect",
            "--good",
            project.last_good,
            "--bad",
            project.rollup,
            "--benchmark",
            "work",
            *track_args(project, tmp_path)[4:],
            cwd=tmp_path,
        )
        assert_one_error_line(bisect, f"pid {first.pid}")
        (tmp_path / "hold").unlink()
        assert first.wait(120) == 0, (tmp_path / "first.log").read_text()
    finally:
        (tmp_path / "hold").unlink(missing_ok=True)
        first.kill()
        first.wait(10)
    again = run_cli(*track_args(project, tmp_path), cwd=tmp_path)  # the lock went with its holder
    assert again.returncode == 0, again.stderr


def test_a_track_kills_what_a_killed_predecessor_left_running(tmp_path: Path) -> None:
    """The first ``track`` and the benchmark's supervisor die (the supervisor frozen first, so that it cannot act)."""
    project = build_project(tmp_path / "project", extra_config=held_benchmark(tmp_path, first_run_only=True))
    first = start_track(project, tmp_path)
    try:
        group = kill_with_supervisor(first, int((tmp_path / "held-started").read_text().split()[0]))
        second = run_cli(*track_args(project, tmp_path), cwd=tmp_path)  # later runs of the benchmark do not wait
        assert second.returncode == 0, second.stderr
        assert f"killed process group {group}, left running by a previous track" in second.stderr
        assert live_members({group}) == []
        assert "Traceback" not in second.stderr
    finally:
        (tmp_path / "hold").unlink(missing_ok=True)
        first.kill()
        first.wait(10)


# -- bisect --------------------------------------------------------------------------------------------------------


def test_bisect_a_stored_alert(tracked: Tracked) -> None:
    alerts = run_cli("alerts", "--json", "--db", tracked.db, cwd=tracked.workdir.parent)
    assert alerts.returncode == 0, alerts.stderr
    (alert,) = json.loads(alerts.stdout)

    result = run_cli(*bisect_args(tracked, str(alert["id"])), cwd=tracked.workdir.parent)

    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["kind"] == "culprit"
    assert report["culprit"] == tracked.project.culprit
    assert report["culprits"][0]["subject"] == "slow down work"
    assert report["confidence"] > 0.8
    assert 0 <= report["runs_spent"] <= 60  # the runs track stored count as evidence already
    assert report["range_size"] == len(tracked.project.side) + 1
    assert isinstance(report["probes"], list)
    assert {p["commit"] for p in report["probes"]} <= {*tracked.project.side, tracked.project.rollup}


def test_bisect_a_range_by_hand(tmp_path: Path) -> None:
    project = build_project(tmp_path)
    db, workdir = f"sqlite:///{tmp_path / 'hand.db'}", tmp_path / "work"
    args = ["--good", project.last_good, "--bad", project.rollup, "--benchmark", "work", "--result", "work"]
    common = ["--config", str(project.config), "--db", db, "--workdir", str(workdir), "--json"]

    result = run_cli("bisect", *args, *common, cwd=tmp_path)

    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    report = json.loads(result.stdout)
    assert report["kind"] == "culprit", report["reason"]
    assert report["culprit"] == project.culprit
    assert [c["sha"] for c in report["culprits"]] == [project.culprit]
    assert report["confidence"] > 0.8
    assert 0 < report["runs_spent"] <= 60
    assert report["range_size"] == len(project.side) + 1
    assert isinstance(report["probes"], list)
    assert report["probes"]
    for probe in report["probes"]:
        assert set(probe) >= {"commit", "verdict", "n_samples", "reason"}
    assert report["probes"][0]["commit"] in {*project.side, project.rollup}


# -- errors --------------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> BenchProject:
    return build_project(tmp_path_factory.mktemp("errors"), level_after=BASE_LEVEL)


def _bisect(project: BenchProject, tmp_path: Path, good: str, bad: str, benchmark: str = "work") -> list[str]:
    return [
        "bisect",
        *("--good", good, "--bad", bad, "--benchmark", benchmark),
        *("--config", str(project.config), "--db", f"sqlite:///{tmp_path / 'e.db'}"),
        *("--workdir", str(tmp_path / "work")),
    ]


def test_bisect_unknown_revision(project: BenchProject, tmp_path: Path) -> None:
    result = run_cli(*_bisect(project, tmp_path, "no-such-rev", project.tips[-1]), cwd=tmp_path)
    assert_one_error_line(result, "unknown revision 'no-such-rev'")


def test_bisect_good_after_bad(project: BenchProject, tmp_path: Path) -> None:
    result = run_cli(*_bisect(project, tmp_path, project.tips[-1], project.tips[2]), cwd=tmp_path)
    assert_one_error_line(result, f"{project.tips[-1][:12]} is not an ancestor of {project.tips[2][:12]}")


def test_bisect_unknown_benchmark(project: BenchProject, tmp_path: Path) -> None:
    result = run_cli(*_bisect(project, tmp_path, project.tips[2], project.tips[-1], "nope"), cwd=tmp_path)
    assert_one_error_line(result, "no benchmark named 'nope'")


def test_bisect_needs_a_whole_range(project: BenchProject, tmp_path: Path) -> None:
    args = ["bisect", "--good", project.tips[2], "--config", str(project.config)]
    result = run_cli(*args, "--db", f"sqlite:///{tmp_path / 'e.db'}", "--workdir", str(tmp_path / "w"), cwd=tmp_path)
    assert_one_error_line(result, "--good, --bad and --benchmark")


def test_bisect_an_unknown_alert(project: BenchProject, tmp_path: Path) -> None:
    args = ["bisect", "42", "--config", str(project.config)]
    result = run_cli(*args, "--db", f"sqlite:///{tmp_path / 'e.db'}", "--workdir", str(tmp_path / "w"), cwd=tmp_path)
    assert_one_error_line(result, "no alert 42")


def test_bisect_a_result_the_benchmark_does_not_produce(project: BenchProject, tmp_path: Path) -> None:
    args = [*_bisect(project, tmp_path, project.tips[2], project.tips[-1]), "--result", "nope"]
    result = run_cli(*args, cwd=tmp_path)
    assert_one_error_line(result, "benchmark 'work' produced no result named 'nope'", "--result")


# Turns the project's perfsheriff JSON into Bencher's format: one result, named as a Rust bench would be, "latency".
TO_BMF = """\
import json, statistics, sys
samples = json.load(sys.stdin)["results"][0]["samples"]
print(json.dumps({"bench_parse": {"latency": {"value": statistics.median(samples)}}}))
"""


def bmf_project(tmp_path: Path) -> BenchProject:
    converter = tmp_path / "to_bmf.py"
    converter.write_text(TO_BMF)
    python = shlex.quote(sys.executable)
    command = f"{python} {{worktree}}/bench.py {{config_dir}}/invocations | {python} {shlex.quote(str(converter))}"
    extra = f'\n[[benchmarks]]\nname = "parse"\ncommand = {json.dumps(command)}\nformat = "bmf"\ntimeout = "60s"\n'
    return build_project(tmp_path / "bmf", extra_config=extra)


def test_bisect_follows_the_only_result_the_tool_named_itself(tmp_path: Path) -> None:
    project = bmf_project(tmp_path)
    result = run_cli(*_bisect(project, tmp_path, project.last_good, project.rollup, "parse"), "--json", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert (report["kind"], report["culprit"]) == ("culprit", project.culprit)


def test_bisect_of_a_result_by_the_wrong_name_lists_what_the_output_has(tmp_path: Path) -> None:
    project = bmf_project(tmp_path)
    args = [*_bisect(project, tmp_path, project.last_good, project.rollup, "parse"), "--metric", "time"]
    result = run_cli(*args, cwd=tmp_path)
    choice = "bench_parse (latency): --result bench_parse --metric latency"
    assert_one_error_line(result, "produced no result named 'parse' (time)", choice)


def test_missing_configuration_file(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere.toml"
    result = run_cli("track", "--config", str(missing), "--db", f"sqlite:///{tmp_path / 'e.db'}", cwd=tmp_path)
    assert_one_error_line(result, str(missing), "cannot read the file")


def test_configuration_with_a_bad_value(project: BenchProject, tmp_path: Path) -> None:
    config = write_config(tmp_path / "perfsheriff.toml", str(project.repo.path), timeout="soon")
    args = ["bisect", "--good", project.tips[2], "--bad", project.tips[-1], "--benchmark", "work"]
    result = run_cli(*args, "--config", str(config), "--db", f"sqlite:///{tmp_path / 'e.db'}", cwd=tmp_path)
    assert_one_error_line(result, str(config), "benchmarks[0].timeout", '"soon"')


def test_configuration_with_an_unknown_key(project: BenchProject, tmp_path: Path) -> None:
    config = write_config(tmp_path / "perfsheriff.toml", str(project.repo.path), extra="\n[budget]\nruns = 3\n")
    result = run_cli("track", "--config", str(config), "--db", f"sqlite:///{tmp_path / 'e.db'}", cwd=tmp_path)
    assert_one_error_line(result, "budget", "unknown key")


def test_track_once_and_every_exclude_each_other(project: BenchProject, tmp_path: Path) -> None:
    args = ["track", "--config", str(project.config), "--once", "--every", "1h"]
    result = run_cli(*args, "--db", f"sqlite:///{tmp_path / 'e.db'}", cwd=tmp_path)
    assert_one_error_line(result, "--once and --every exclude each other")
    assert not (tmp_path / ".perfsheriff").exists()


def test_track_with_an_unknown_machine(project: BenchProject, tmp_path: Path) -> None:
    args = ["track", "--config", str(project.config), "--machine", "other"]
    result = run_cli(*args, "--db", f"sqlite:///{tmp_path / 'e.db'}", cwd=tmp_path)
    assert_one_error_line(result, "no machine 'other'", "known: box")


# -- a bisection interrupted ---------------------------------------------------------------------------------------


#: Every run, in the order stored, with the commit it measured.
RUNS = sa.select(t.runs.c.id, t.revisions.c.sha).join(t.revisions).order_by(t.runs.c.id)


def test_a_bisection_a_killed_track_left_running_is_resumed_by_the_next_pass(tmp_path: Path) -> None:
    """The benchmark kills ``track`` (SIGKILL) in the middle of the bisection; the next pass finishes it from the
    runs already stored, and names the culprit."""
    project = build_project(tmp_path / "project")
    db, workdir = f"sqlite:///{tmp_path / 'track.db'}", tmp_path / "work"
    args = ["track", "--once", "--config", str(project.config), "--db", db, "--workdir", str(workdir)]
    first = subprocess.Popen(
        [sys.executable, "-c", "from perfsheriff.cli.main import main; main()", *args],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    # The track runs of every push and the confirmation's six runs come first, then the bisection's, in steps
    # of four runs: the ends interleaved (G B B G), the first probe between them (G P P B), ...: the kill comes
    # in the second run of the third step.
    confirming = 6
    kill_at = len(project.tips) + confirming + 9
    (project.config.parent / "invocations.kill").write_text(f"{kill_at} {first.pid}\n")
    output, _ = first.communicate(timeout=600)
    assert first.returncode == -signal.SIGKILL, output
    engine = database.create_engine(db)
    try:
        with engine.connect() as conn:
            (alert,) = alert_store.list_alerts(conn)
            interrupted = bisection_store.load(conn)[alert.id]
            runs_before = conn.execute(RUNS).all()
        assert interrupted.state is BisectionState.RUNNING
        assert interrupted.runs_spent == 8  # the first two steps'; the third was cut short after one run
        assert len(runs_before) == kill_at  # the killing run stored nothing
        assert alert.bisection is not None
        assert alert_json(alert)["details"].get("bisection") is None  # views show no bisection while it runs

        second = run_cli(*args, cwd=tmp_path)
        assert second.returncode == 0, second.stderr
        assert "culprit: 1 commit(s)" in second.stdout
        assert project.culprit is not None
        assert f"{project.culprit[:12]}  Ada Lovelace <ada@example.org>  slow down work" in second.stdout
        with engine.connect() as conn:
            (alert,) = alert_store.list_alerts(conn)
            runs = conn.execute(RUNS).all()
    finally:
        engine.dispose()
    resumed = alert.bisection
    assert resumed is not None
    assert resumed.state is BisectionState.CULPRIT
    assert resumed.culprits == (project.culprit,)
    bisection_runs = len(runs) - len(project.tips) - confirming
    # Every run of both attempts counts against the alert's budget (a step cut short by the kill aside).
    assert interrupted.runs_spent <= resumed.runs_spent <= bisection_runs <= 60 - confirming
    assert bisection_runs - resumed.runs_spent <= 1
    # What the first attempt measured serves again: the probe of its finished step is not run again.
    probe_step = [sha for _, sha in runs_before[len(project.tips) + confirming :]][4:8]
    assert probe_step[1] == probe_step[2]
    assert probe_step[1] not in (probe_step[0], probe_step[3])  # between the ends
    again = [sha for run_id, sha in runs if run_id > runs_before[-1].id]
    assert probe_step[1] not in again, again
    assert len(again) < bisection_runs  # the resumed bisection did not start over
    assert alert_json(alert)["details"]["bisection"]["culprits"] == [project.culprit]

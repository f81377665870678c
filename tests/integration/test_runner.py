"""The runner against real repositories whose benchmark scripts measure the checked-out code."""

from __future__ import annotations

import contextlib
import json
import os
import shlex
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from perfsheriff import formats
from perfsheriff.gitrepo import GitRepo
from perfsheriff.model import BenchmarkResult, RunStatus
from perfsheriff.projectfile import BenchmarkSpec
from perfsheriff.resultfiles import read_result_bytes
from perfsheriff.runner import OUTPUT_VARIABLE, Runner, expand_placeholders, reap_groups
from perfsheriff.runner.environment import cpu_model_from_cpuinfo, describe_environment
from support.gitfixtures import Repo
from support.procfs import alive, live_members, process_group, stat_fields

PYTHON = shlex.quote(sys.executable)
FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"

# Reads the checked-out code's "factor" and prints BMF: the measurement depends on the revision.
BMF_BENCH = """\
import json, pathlib, sys
factor = float((pathlib.Path(sys.argv[1]) / "factor.txt").read_text())
print(json.dumps({"parse": {"latency": {"value": factor * 1000}}}))
"""

# Writes perfsheriff JSON to $PERFSHERIFF_OUTPUT and records what it saw, for the placeholder test.
PERFSHERIFF_BENCH = """\
import json, os, pathlib, sys
record = {"cwd": os.getcwd(), "argv": sys.argv[1:], "output": os.environ["PERFSHERIFF_OUTPUT"],
          "extra": os.environ.get("EXTRA"), "token": os.environ.get("PERFSHERIFF_TOKEN")}
pathlib.Path(sys.argv[1]).write_text(json.dumps(record))
factor = float(pathlib.Path("factor.txt").read_text())
result = {"name": "startup", "unit": "ms", "samples": [factor, factor + 0.5]}
pathlib.Path(os.environ["PERFSHERIFF_OUTPUT"]).write_text(
    json.dumps({"format": "perfsheriff", "version": 1, "results": [result]}))
"""

# Counts its executions in a file outside the worktree and prints one sample per benchmark.
COUNTING_BENCH = """\
import json, pathlib, sys
counter = pathlib.Path(sys.argv[1])
n = int(counter.read_text()) + 1 if counter.exists() else 1
counter.write_text(str(n))
results = [{"name": "a", "unit": "ms", "samples": [n]}, {"name": "b", "unit": "ms", "samples": [10 * n, 10 * n]}]
print(json.dumps({"format": "perfsheriff", "version": 1, "results": results}))
"""

# Starts a sleeping child, records its pid, then hangs.
HANGING_BENCH = """\
import pathlib, signal, subprocess, sys, time
if sys.argv[2] == "ignore-term":
    child = subprocess.Popen([sys.executable, "-c",
        "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); time.sleep(60)"])
else:
    child = subprocess.Popen(["sleep", "60"])
pathlib.Path(sys.argv[1]).write_text(str(child.pid))
time.sleep(60)
"""


@pytest.fixture
def project(tmp_path: Path) -> tuple[Repo, list[str]]:
    """A repository whose two commits have different "speed" (factor 1 and 2)."""
    repo = Repo.init(tmp_path / "repo")
    first = repo.commit("slow parser", files={"factor.txt": "1\n"})
    second = repo.commit("slower parser", files={"factor.txt": "2\n"})
    return repo, [first, second]


@pytest.fixture
def config_dir(tmp_path: Path) -> Path:
    folder = tmp_path / "config dir"  # a space, so quoting matters
    folder.mkdir()
    for name, script in {
        "bench.py": BMF_BENCH,
        "output_bench.py": PERFSHERIFF_BENCH,
        "counting.py": COUNTING_BENCH,
        "hang.py": HANGING_BENCH,
    }.items():
        (folder / name).write_text(script)
    return folder


@pytest.fixture
def runner(project: tuple[Repo, list[str]], config_dir: Path, tmp_path: Path) -> Runner:
    return Runner(GitRepo(project[0].path), tmp_path / "work", config_dir, "bench-1", grace_s=0.5)


def spec(command: str, **options: object) -> BenchmarkSpec:
    return BenchmarkSpec(name="parse", command=command.replace("python3", PYTHON), **options)  # type: ignore[arg-type]


def wait_dead(pid: int, seconds: float = 2.0) -> bool:
    deadline = time.monotonic() + seconds
    while alive(pid):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)
    return True


def only_samples(outcome_results: object) -> tuple[float, ...]:
    assert outcome_results is not None
    (result,) = outcome_results.results  # type: ignore[attr-defined]
    return tuple(result.samples)


def test_the_requested_revision_is_measured(runner: Runner, project: tuple[Repo, list[str]]) -> None:
    _, (first, second) = project
    bench = spec("python3 {config_dir}/bench.py {worktree} > {output}", format="bmf", timeout=30)
    outcomes = [runner.run(bench, sha) for sha in (first, second, first)]
    assert [o.status for o in outcomes] == [RunStatus.OK] * 3
    assert [only_samples(o.results) for o in outcomes] == [(1000.0,), (2000.0,), (1000.0,)]
    ok = outcomes[0]
    assert (ok.error, ok.attempts) == (None, 1)
    assert ok.results is not None
    assert ok.results.format == "bmf"
    assert ok.results.results[0].metric == "latency"
    assert ok.environment["machine"] == "bench-1"
    assert {"cpu_model", "cpu_count", "kernel", "os", "python", "arch"} <= set(ok.environment)
    assert ok.duration_s > 0


def test_placeholders_output_variable_and_env(
    runner: Runner, project: tuple[Repo, list[str]], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PERFSHERIFF_TOKEN", "agent-secret")  # the measured code must not see the agent's token
    record = tmp_path / "seen.json"
    bench = spec(f"python3 {{config_dir}}/output_bench.py {shlex.quote(str(record))}", env=(("EXTRA", "yes"),))
    outcome = runner.run(bench, project[1][1])
    assert outcome.status is RunStatus.OK, outcome.error
    assert only_samples(outcome.results) == (2.0, 2.5)
    seen = json.loads(record.read_text())
    worktree = runner.worktrees / "slot-0"
    assert Path(seen["cwd"]) == worktree
    assert Path(seen["output"]).parent.parent == runner.scratch
    assert (seen["extra"], seen["token"]) == ("yes", None)
    assert OUTPUT_VARIABLE == "PERFSHERIFF_OUTPUT"


def test_placeholders_are_quoted_and_other_braces_left_alone() -> None:
    places = {"worktree": Path("/w t"), "config_dir": Path("/c"), "output": Path("/o's")}
    command = "cd {worktree} && awk '{print $1}' ${HOME} {config_dir}/x > {output} {unknown}"
    expected = "cd '/w t' && awk '{print $1}' ${HOME} /c/x > '/o'\"'\"'s' {unknown}"
    assert expand_placeholders(command, places) == expected


def test_standard_output_is_parsed_when_the_output_file_stays_empty(
    runner: Runner, project: tuple[Repo, list[str]], tmp_path: Path
) -> None:
    bench = spec(f"touch {{output}} && python3 {{config_dir}}/counting.py {tmp_path / 'count'}")
    outcome = runner.run(bench, project[1][0])
    assert outcome.status is RunStatus.OK, outcome.error
    assert outcome.results is not None
    assert outcome.results.format == "perfsheriff"


def test_repetitions_concatenate_samples_per_benchmark(
    runner: Runner, project: tuple[Repo, list[str]], tmp_path: Path
) -> None:
    bench = spec(f"python3 {{config_dir}}/counting.py {tmp_path / 'count'}", repetitions=3)
    outcome = runner.run(bench, project[1][0])
    assert outcome.status is RunStatus.OK, outcome.error
    assert outcome.results is not None
    by_name = {r.name: r.samples for r in outcome.results.results}
    assert by_name == {"a": (1.0, 2.0, 3.0), "b": (10.0, 10.0, 20.0, 20.0, 30.0, 30.0)}


def test_setup_runs_first_in_the_worktree(runner: Runner, project: tuple[Repo, list[str]]) -> None:
    setup = "python3 -c \"import pathlib; pathlib.Path('build.txt').write_text('7')\""
    command = (
        """python3 -c "import json; print(json.dumps({'b': {'m': {'value': float(open('build.txt').read())}}}))" """
    )
    outcome = runner.run(spec(command, setup=setup.replace("python3", PYTHON)), project[1][0])
    assert outcome.status is RunStatus.OK, outcome.error
    assert only_samples(outcome.results) == (7.0,)


def test_a_failing_setup_marks_the_commit_unusable(runner: Runner, project: tuple[Repo, list[str]]) -> None:
    bench = spec("echo never", setup="echo 'cannot build: missing header' >&2; exit 3")
    outcome = runner.run(bench, project[1][0])
    assert outcome.status is RunStatus.FAILED
    assert outcome.error == "setup exited with status 3: cannot build: missing header"
    assert "missing header" in outcome.log_tail
    assert (outcome.results, outcome.attempts) == (None, 1)


def test_a_result_folder_at_output_is_read_as_one_tree_for_each_repetition(
    runner: Runner, project: tuple[Repo, list[str]]
) -> None:
    """Criterion writes a folder (target/criterion); a command copying it to {output} gives its results."""
    criterion = shlex.quote(str(FIXTURES / "formats" / "criterion" / "target" / "criterion"))
    bench = spec(f"cp -R {criterion} {{output}}", format="criterion", timeout=30, repetitions=2)
    outcome = runner.run(bench, project[1][0])
    assert outcome.status is RunStatus.OK, outcome.error
    assert outcome.results is not None
    by_name = {(r.name, r.metric): r for r in outcome.results.results}
    assert ("fib/20", "time") in by_name
    single = parse_tree_of(FIXTURES / "formats" / "criterion")
    # the second repetition found no folder left by the first (cp -R into an existing folder nests it)
    assert len(by_name["fib/20", "time"].samples) == 2 * len(single["fib/20", "time"].samples)


def parse_tree_of(folder: Path) -> dict[tuple[str, str], BenchmarkResult]:
    tree = read_result_bytes(folder, 1 << 26)
    return {(r.name, r.metric): r for r in formats.parse_tree(str(folder), dict(tree.files), "criterion").results}


def test_an_empty_result_folder_fails_saying_so(runner: Runner, project: tuple[Repo, list[str]]) -> None:
    outcome = runner.run(spec("mkdir {output}", format="criterion", timeout=30), project[1][0])
    assert outcome.status is RunStatus.FAILED
    assert outcome.error is not None
    assert "holds no *.json result files" in outcome.error


def test_a_non_zero_exit_fails_with_the_end_of_stderr(runner: Runner, project: tuple[Repo, list[str]]) -> None:
    lines = "; ".join(f"echo line{i} >&2" for i in range(40))
    outcome = runner.run(spec(f"{lines}; exit 2"), project[1][0])
    assert outcome.status is RunStatus.FAILED
    assert outcome.error == "command exited with status 2: line39"
    assert outcome.log_tail.splitlines() == [f"line{i}" for i in range(20, 40)]


def test_a_missing_command_is_a_failure_that_says_so(runner: Runner, project: tuple[Repo, list[str]]) -> None:
    outcome = runner.run(spec("perfsheriff-no-such-tool --run"), project[1][0])
    assert outcome.status is RunStatus.FAILED
    assert outcome.error is not None
    assert outcome.error.startswith("command: command not found: ")
    assert "perfsheriff-no-such-tool" in outcome.error
    assert outcome.attempts == 1, "a configuration mistake is not retried"


@pytest.mark.parametrize("mode", ["plain", "ignore-term"])
def test_a_hung_benchmark_and_its_children_are_killed(
    runner: Runner, project: tuple[Repo, list[str]], tmp_path: Path, mode: str
) -> None:
    """SIGTERM first; whoever ignores it (here the shell and all it starts) gets SIGKILL after the grace period."""
    pid_file = tmp_path / "child.pid"
    ignore = "trap '' TERM; " if mode == "ignore-term" else ""
    bench = spec(f"{ignore}python3 {{config_dir}}/hang.py {pid_file} {mode}", timeout=1.0)
    started = time.monotonic()
    outcome = runner.run(bench, project[1][0])
    elapsed = time.monotonic() - started
    assert outcome.status is RunStatus.TIMEOUT
    assert outcome.error == "timed out after 1 s in the command; its process group was killed"
    assert elapsed < 1.0 + runner.grace_s + 1.5
    if mode == "ignore-term":
        assert elapsed >= 1.0 + runner.grace_s
    assert wait_dead(int(pid_file.read_text())), "a child of the hung benchmark survived"


def test_the_timeout_bounds_setup_and_repetitions_together(runner: Runner, project: tuple[Repo, list[str]]) -> None:
    bench = spec('sleep 0.4; echo \'{"b": {"m": {"value": 1}}}\'', setup="sleep 0.4", timeout=1.0, repetitions=3)
    outcome = runner.run(bench, project[1][0])
    assert outcome.status is RunStatus.TIMEOUT
    assert outcome.error is not None
    assert "repetition 2" in outcome.error


def test_background_processes_do_not_outlive_the_run(
    runner: Runner, project: tuple[Repo, list[str]], tmp_path: Path
) -> None:
    pid_file = tmp_path / "daemon.pid"
    command = f'sleep 60 > /dev/null 2>&1 & echo $! > {pid_file}; echo \'{{"b": {{"m": {{"value": 1}}}}}}\''
    outcome = runner.run(spec(command), project[1][0])
    assert outcome.status is RunStatus.OK, outcome.error
    assert wait_dead(int(pid_file.read_text()))


def test_output_in_another_format_fails_with_the_parse_error(runner: Runner, project: tuple[Repo, list[str]]) -> None:
    bench = spec("python3 {config_dir}/bench.py {worktree} > {output}", format="perfsheriff")
    outcome = runner.run(bench, project[1][0])
    assert outcome.status is RunStatus.FAILED
    assert outcome.error is not None
    assert outcome.error.startswith("the results do not parse: ")
    assert str(runner.scratch) in outcome.error
    assert "/output" in outcome.error


def test_unrecognisable_or_missing_output_fails(runner: Runner, project: tuple[Repo, list[str]]) -> None:
    garbage = runner.run(spec("echo 'all good!'"), project[1][0])
    assert garbage.status is RunStatus.FAILED
    assert garbage.error is not None
    assert "cannot recognise the result format" in garbage.error
    nothing = runner.run(spec("true"), project[1][0])
    assert nothing.status is RunStatus.FAILED
    assert nothing.error is not None
    assert "no results" in nothing.error


def test_a_revision_that_cannot_be_checked_out_is_infra_and_retried(
    project: tuple[Repo, list[str]], config_dir: Path, tmp_path: Path
) -> None:
    runner = Runner(GitRepo(project[0].path), tmp_path / "work", config_dir, infra_retries=2)
    outcome = runner.run(spec("true"), "f" * 40)
    assert outcome.status is RunStatus.INFRA
    assert outcome.attempts == 3
    assert outcome.error is not None
    assert outcome.error.startswith(f"cannot check out {'f' * 40}")


def test_leftovers_of_a_killed_run_do_not_stop_the_next(
    runner: Runner, project: tuple[Repo, list[str]], config_dir: Path
) -> None:
    _, (first, second) = project
    bench = spec("python3 {config_dir}/bench.py {worktree} > {output}")
    assert runner.run(bench, first).status is RunStatus.OK
    worktree = runner.worktrees / "slot-0"
    admin = Path(Repo(worktree).git("rev-parse", "--absolute-git-dir").strip())
    (admin / "index.lock").write_text("")  # killed while git held the index
    (worktree / "partial-build.o").write_text("junk")
    outcome = runner.run(bench, second)
    assert outcome.status is RunStatus.OK, outcome.error
    assert only_samples(outcome.results) == (2000.0,)
    assert not (worktree / "partial-build.o").exists()


def test_a_stray_slot_directory_is_replaced(project: tuple[Repo, list[str]], config_dir: Path, tmp_path: Path) -> None:
    stray = tmp_path / "work" / "worktrees" / "slot-0"
    stray.mkdir(parents=True)
    (stray / "factor.txt").write_text("99\n")
    runner = Runner(GitRepo(project[0].path), tmp_path / "work", config_dir)
    outcome = runner.run(spec("python3 {config_dir}/bench.py {worktree}"), project[1][0])
    assert outcome.status is RunStatus.OK, outcome.error
    assert only_samples(outcome.results) == (1000.0,)


def test_the_environment_is_described() -> None:
    described = describe_environment()
    assert described["machine"]
    assert int(described["cpu_count"]) >= 1
    assert described["python"].count(".") == 2
    assert cpu_model_from_cpuinfo("processor\t: 0\nmodel name\t: Example CPU @ 3GHz\n") == "Example CPU @ 3GHz"
    assert cpu_model_from_cpuinfo("Processor\t: ARMv7\nHardware\t: BCM2835\n") == "BCM2835"
    assert cpu_model_from_cpuinfo("processor\t: 0\n") is None


def test_the_runner_imports_no_server_module() -> None:
    """Agents run the runner without a database driver or web framework installed."""
    code = (
        "import sys, perfsheriff.runner\n"
        "bad = [m for m in sys.modules if m.split('.')[0] in ('sqlalchemy', 'fastapi', 'alembic', 'psycopg')\n"
        "       or m.startswith(('perfsheriff.store', 'perfsheriff.service', 'perfsheriff.api', 'perfsheriff.cli'))]\n"
        "print(bad)"
    )
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env)
    assert result.stdout.strip() == "[]"


# Runs one benchmark with a Runner in this child process (killed by the test while it runs).
RUNNER_CHILD = """\
import sys
from pathlib import Path
from perfsheriff import formats
from perfsheriff.gitrepo import GitRepo
from perfsheriff.projectfile import BenchmarkSpec
from perfsheriff.runner import Runner
repo, work, config, command = sys.argv[1:]
Runner(GitRepo(repo), Path(work), Path(config)).run(BenchmarkSpec(name="parse", command=command), "HEAD")
"""


def wait_until(condition: object, seconds: float = 10.0) -> bool:
    assert callable(condition)
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)
    return True


def test_a_killed_runner_takes_its_benchmark_and_children_with_it(
    project: tuple[Repo, list[str]], config_dir: Path, tmp_path: Path
) -> None:
    shell_pid, child_pid = tmp_path / "shell.pid", tmp_path / "child.pid"
    command = f"echo $$ > {shell_pid}; sleep 60 & echo $! > {child_pid}; wait"
    runner = subprocess.Popen(
        [sys.executable, "-c", RUNNER_CHILD, str(project[0].path), str(tmp_path / "work"), str(config_dir), command]
    )
    try:
        assert wait_until(lambda: child_pid.exists() and child_pid.read_text().strip()), "the benchmark did not start"
        group = process_group(int(shell_pid.read_text()))
        assert group is not None
        runner.kill()  # SIGKILL: no handler, no finally block runs in the runner
        runner.wait(10)
        assert wait_until(lambda: not live_members({group})), f"left running: {live_members({group})}"
        assert list((tmp_path / "work" / "groups").iterdir()) != []  # the record a restarted runner reaps
    finally:
        for pid in (shell_pid, child_pid):
            with contextlib.suppress(ValueError, OSError):
                os.kill(int(pid.read_text()), signal.SIGKILL)


def test_an_escaped_process_of_an_earlier_attempt_cannot_write_into_a_later_one(
    runner: Runner, project: tuple[Repo, list[str]], tmp_path: Path
) -> None:
    """A process that left the group (setsid) outlives its attempt; the path it was given is never reused."""
    started, wrote, orphan_pid = tmp_path / "second-started", tmp_path / "orphan-wrote", tmp_path / "orphan.pid"
    orphan_result = '{"orphan": {"m": {"value": 666}}}'
    orphan = f'while [ ! -e {started} ]; do sleep 0.05; done; echo {shlex.quote(orphan_result)} > "$1"; touch {wrote}'
    first = spec(
        f"python3 -c 'import os, subprocess, sys; os.setsid(); subprocess.Popen(sys.argv[1:])' "
        f"sh -c {shlex.quote('{ ' + orphan + '; } & echo $! > ' + str(orphan_pid))} orphan {{output}}; "
        f'while [ ! -s {orphan_pid} ]; do sleep 0.05; done; echo \'{{"first": {{"m": {{"value": 1}}}}}}\''
    )
    second = spec(
        f'touch {started}; while [ ! -e {wrote} ]; do sleep 0.05; done; echo \'{{"second": {{"m": {{"value": 2}}}}}}\''
    )
    try:
        assert runner.run(first, project[1][0]).status is RunStatus.OK
        outcome = runner.run(second, project[1][1])
    finally:
        with contextlib.suppress(ValueError, OSError):
            os.killpg(int(stat_fields(int(orphan_pid.read_text()))[2]), signal.SIGKILL)
    assert outcome.status is RunStatus.OK, outcome.error
    assert outcome.results is not None
    assert [r.name for r in outcome.results.results] == ["second"]


def test_process_groups_left_by_a_dead_runner_are_reaped_and_no_other(tmp_path: Path) -> None:
    registry = tmp_path / "groups"
    registry.mkdir()
    ours = subprocess.Popen(["sleep", "60"], start_new_session=True)
    reused = subprocess.Popen(["sleep", "60"], start_new_session=True)
    gone = subprocess.Popen(["true"], start_new_session=True)
    gone.wait()
    try:
        start_time = stat_fields(ours.pid)[19]
        (registry / str(ours.pid)).write_text(start_time)
        (registry / str(reused.pid)).write_text("1")  # the id of a group that is not the recorded one
        (registry / str(gone.pid)).write_text("1")
        assert reap_groups(registry) == [ours.pid]
        assert ours.wait(10) == -signal.SIGKILL
        assert reused.poll() is None
        assert list(registry.iterdir()) == []
    finally:
        for process in (ours, reused):
            process.kill()
            process.wait()

"""Kill tests: an agent or a server dies at a bad moment, and still every result is stored once, in its place.

Real agent processes work for a real server through ``faultproxy`` (a relay
on 127.0.0.1 that can stall or cut uploads). The ``held`` benchmark records
its shell's pid, then waits while a ``hold`` file exists, so a test can act
while it runs; it stores a series of its own (``held``, three samples), and
``work`` stores five, so a result that lands under the wrong benchmark or
revision shows. After each kill a second job (``work`` at another revision)
is queued for the restarted agent, which uses the same folder, worktree slot
included: the situation in which a killed agent's leftovers once wrote their
output into another job's result. The agent's git may be held too, in a real
clone or checkout: a hook between git and a program it starts (``pack-objects``
for a clone, a smudge filter for a checkout) waits while ``hold-git`` exists.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from support.agents import SAMPLES_PER_INVOCATION, Setup, stop, wait_for
from support.benchrepo import build_project, held_benchmark
from support.faultproxy import FaultProxy
from support.liveserver import start_server
from support.procfs import alive, ancestors, command_line, kill_with_supervisor, live_members, process_group

HELD_SAMPLES = 3
MOMENTS = ["checkout", "benchmark", "before-upload", "upload", "before-ack"]

GIT_SHIM = """\
#!/bin/sh
# Holds a worktree checkout while {hold} exists, so that a test can kill the agent in the middle of it.
case " $* " in *" worktree add "*|*" checkout "*)
  if [ -e {hold} ]; then
    echo $$ >> {marker}
    while [ -e {hold} ]; do sleep 0.05; done
  fi;;
esac
exec {git} "$@"
"""

GIT_HOLD = """\
#!/bin/sh
# Stands between git and a program it starts; holds it while {hold} exists, so that a test can kill the agent then.
echo $$ >> {marker}
while [ -e {hold} ]; do sleep 0.05; done
exec "$@"
"""

# The agent's global git configuration: every clone's pack-objects and every smudge filter named "hold" pass the hook.
GIT_CONFIG = """\
[uploadpack]
\tpackObjectsHook = {hook}
[filter "hold"]
\tsmudge = {hook} cat
"""


class Kills(Setup):
    proxy: FaultProxy
    shim: Path

    @property
    def env(self) -> dict[str, str]:
        env = super().env
        return {**env, "PATH": f"{self.shim}:{env['PATH']}", "GIT_CONFIG_GLOBAL": str(self.root / "gitconfig")}

    def agent_args(self, workdir: str = "agent", *extra: str) -> list[str]:
        args = super().agent_args(workdir, "--lease", "3", *extra)
        args[args.index("--server") + 1] = self.proxy.url
        return args

    def file(self, name: str) -> Path:
        return self.root / name

    def pids(self, name: str) -> list[int]:
        path = self.file(name)
        return [int(line) for line in path.read_text().split()] if path.exists() else []


@contextlib.contextmanager
def killable(engine_url: str, tmp_path: Path, *, url: bool = False) -> Iterator[Kills]:
    """A project (``url``: named by a ``file://`` URL, which the agent clones), its server behind a relay, git shims."""
    project = build_project(tmp_path / "project", url=url, extra_config=held_benchmark(tmp_path))
    server = start_server(engine_url, tmp_path, config=project.config)
    proxy = FaultProxy(server.port)
    shim = tmp_path / "bin"
    shim.mkdir()
    git = shutil.which("git")
    assert git is not None
    (shim / "git").write_text(
        GIT_SHIM.format(hold=tmp_path / "hold-checkout", marker=tmp_path / "checkout-started", git=git)
    )
    (shim / "git").chmod(0o755)
    hook = tmp_path / "git-hold"
    hook.write_text(GIT_HOLD.format(hold=tmp_path / "hold-git", marker=tmp_path / "git-held"))
    hook.chmod(0o755)
    (tmp_path / "gitconfig").write_text(GIT_CONFIG.format(hook=hook))
    try:
        made = Kills(
            project=project,
            server=server,
            marker=tmp_path / "held-started",
            sheriff=server.token("sheriff"),
            agent_token=server.token("agent", machine="box", machine_class="test-class"),
            root=tmp_path,
        )
        made.proxy, made.shim = proxy, shim
        yield made
    finally:
        proxy.close()
        server.stop()


@pytest.fixture
def kills(engine_url: str, tmp_path: Path) -> Iterator[Kills]:
    with killable(engine_url, tmp_path) as made:
        yield made


@pytest.fixture
def url_kills(engine_url: str, tmp_path: Path) -> Iterator[Kills]:
    with killable(engine_url, tmp_path, url=True) as made:
        yield made


def kill_agent_at(kills: Kills, moment: str, agent: subprocess.Popen[str]) -> set[int]:
    """Wait for ``moment`` of the held job, SIGKILL the agent then; return the benchmark's process groups."""
    groups: set[int] = set()
    if moment == "checkout":
        wait_for(kills.file("checkout-started").exists, "the checkout to start")
    else:
        wait_for(kills.marker.exists, "the held benchmark to start")
        groups = {g for pid in kills.pids("held-started") if (g := process_group(pid)) is not None}
        assert groups, "the held benchmark's group was not found"
        if moment != "benchmark":
            kills.file("hold").unlink()
        if moment == "before-upload":
            wait_for(kills.file("held-finished").exists, "the held benchmark to finish")
        elif moment == "upload":
            wait_for(kills.proxy.seen.is_set, "the upload to reach the relay")
        elif moment == "before-ack":
            wait_for(kills.proxy.answered.is_set, "the server to answer the upload")
    agent.send_signal(signal.SIGKILL)
    agent.wait(10)
    return groups


@pytest.mark.slow
@pytest.mark.parametrize("moment", MOMENTS)
def test_an_agent_killed_at_any_moment_leaves_each_result_stored_once_in_its_place(kills: Kills, moment: str) -> None:
    held_at, work_at = kills.project.tips[3], kills.project.tips[6]
    kills.file("hold").touch()
    if moment == "checkout":
        kills.file("hold-checkout").touch()
    if moment in ("before-upload", "upload"):
        kills.proxy.arm("hold")  # the upload never reaches the server
    elif moment == "before-ack":
        kills.proxy.arm("answer-held")  # stored, but the agent never hears it
    held = kills.enqueue(held_at, benchmark="held")
    first = kills.start_agent(workdir="agent")
    try:
        groups = kill_agent_at(kills, moment, first)
    finally:
        first.kill()
        first.wait(10)
    assert wait_for_quietly(lambda: not live_members(groups)), f"left running: {live_members(groups)}"
    held_git = kills.pids("checkout-started")
    assert wait_for_quietly(lambda: not any(alive(pid) for pid in held_git)), "the killed agent's git is running"
    work = kills.enqueue(work_at, benchmark="work")
    kills.file("hold").unlink(missing_ok=True)
    kills.file("hold-checkout").unlink(missing_ok=True)
    kills.proxy.release.set()
    restarted = kills.start_agent(workdir="agent")
    try:
        wait_for(lambda: {j["id"] for j in kills.jobs("done")} == {held, work}, "both jobs to be done")
    finally:
        assert stop(restarted) == 0
    assert kills.jobs("failed") == []
    assert kills.samples_at(held_at, "held") == [HELD_SAMPLES]
    assert kills.samples_at(work_at, "work") == [SAMPLES_PER_INVOCATION]
    assert kills.samples_at(work_at, "held") == []
    assert kills.samples_at(held_at, "work") == []
    every_group = {g for pid in kills.pids("held-started") if (g := process_group(pid)) is not None} | groups
    assert live_members(every_group) == []


def wait_for_quietly(condition: object, timeout: float = 10.0) -> bool:
    assert callable(condition)
    try:
        wait_for(condition, "a condition", timeout)
    except AssertionError:
        return False
    return True


def kill_during_git(kills: Kills, revision: str) -> None:
    """Hold the agent's git in the middle of a real operation and SIGKILL the agent: nothing git started survives.

    Every process between the agent and the hook (git, the programs git
    started, the hook itself) must end with the agent; a restarted agent then
    does the job, and its result is stored once.
    """
    kills.file("hold-git").touch()
    job = kills.enqueue(revision, benchmark="work")
    first = kills.start_agent(workdir="agent")
    try:
        wait_for(kills.file("git-held").exists, "git to reach the hook")
        chain = ancestors(kills.pids("git-held")[0], until=first.pid)
        started = {pid: command_line(pid) for pid in chain}
        assert any(Path(line.split()[0]).name.startswith("git") for line in started.values() if line), started
        first.send_signal(signal.SIGKILL)
        first.wait(10)
    finally:
        first.kill()
        first.wait(10)

    def left() -> list[str]:
        return [started[pid] for pid in chain if alive(pid)]

    assert wait_for_quietly(lambda: not left()), f"left running: {left()}"
    kills.file("hold-git").unlink()
    restarted = kills.start_agent(workdir="agent")
    try:
        wait_for(lambda: [j["id"] for j in kills.jobs("done")] == [job], "the job to be done")
    finally:
        assert stop(restarted) == 0
    assert kills.jobs("failed") == []
    assert kills.samples_at(revision, "work") == [SAMPLES_PER_INVOCATION]


@pytest.mark.slow
def test_an_agent_killed_while_git_clones_leaves_no_git_process(url_kills: Kills) -> None:
    """The clone of a URL repository (over git's own protocol, through ``upload-pack``) is held in ``pack-objects``."""
    kill_during_git(url_kills, url_kills.project.tips[2])


@pytest.mark.slow
def test_an_agent_killed_while_git_checks_out_leaves_no_git_process(kills: Kills) -> None:
    """``git worktree add`` runs ``git reset --hard`` as a child, which runs the smudge filter that is held."""
    (kills.project.repo.path / ".git" / "info").mkdir(exist_ok=True)
    (kills.project.repo.path / ".git" / "info" / "attributes").write_text("* filter=hold\n")
    kill_during_git(kills, kills.project.tips[3])


@pytest.mark.parametrize("fault", ["cut-mid-body", "cut-after-answer"])
def test_a_server_killed_during_an_upload_or_a_cut_after_the_commit_stores_the_result_once(
    kills: Kills, fault: str
) -> None:
    """The server dies with half the upload received, or the answer to a committed upload is lost on the way.

    Either way the agent spools the result and sends it again with the same
    Idempotency-Key: the server stores it once (a repeat is a duplicate).
    """
    held_at = kills.project.tips[4]
    kills.proxy.arm(fault)
    held = kills.enqueue(held_at, benchmark="held")
    agent = kills.start_agent(workdir="agent")
    try:
        if fault == "cut-mid-body":
            wait_for(kills.proxy.seen.is_set, "the upload to reach the relay")
            kills.server.kill()
            kills.proxy.release.set()
            wait_for(lambda: "result spooled in" in kills.agent_log(), "the result to be spooled")
            kills.server.start()  # same port, same database
        wait_for(lambda: [j["id"] for j in kills.jobs("done")] == [held], "the job to be done")
        wait_for(lambda: "delivered spooled" in kills.agent_log(), "the spooled result to be delivered")
    finally:
        assert stop(agent) == 0
    log = kills.agent_log()
    if fault == "cut-after-answer":
        assert kills.proxy.answers[0] == 201  # the first try was stored; its answer never arrived
        assert "already uploaded" in log
    assert "set aside" not in log
    assert kills.samples_at(held_at, "held") == [HELD_SAMPLES]
    assert not list((kills.root / "agent" / "spool").glob("*.json"))


def test_a_restarted_agent_kills_what_survived_its_predecessor_and_its_outputs(kills: Kills) -> None:
    """Both the agent and the benchmark's supervisor die (the supervisor frozen first, so that it cannot act)."""
    held_at = kills.project.tips[5]
    kills.file("hold").touch()
    held = kills.enqueue(held_at, benchmark="held")
    first = kills.start_agent(workdir="agent")
    try:
        wait_for(kills.marker.exists, "the held benchmark to start")
        (shell,) = kills.pids("held-started")
        group = kill_with_supervisor(first, shell)
    finally:
        first.kill()
        first.wait(10)
    outputs = list((kills.root / "agent" / "work").glob("*/outputs/slot-0/attempt-*"))
    assert len(outputs) == 1
    restarted = kills.start_agent(workdir="agent")
    try:
        wait_for(lambda: "left running by a previous agent" in kills.agent_log(), "the restarted agent to clean up")
        assert wait_for_quietly(lambda: not live_members({group})), f"left running: {live_members({group})}"
        kills.file("hold").unlink()
        wait_for(lambda: [j["id"] for j in kills.jobs("done")] == [held], "the job to be done")
    finally:
        assert stop(restarted) == 0
    assert f"killed process group {group}, left running by a previous agent" in kills.agent_log()
    assert not outputs[0].exists()
    assert kills.pids("held-started")[0] == shell
    assert kills.samples_at(held_at, "held") == [HELD_SAMPLES]
    assert live_members({group}) == []


def test_a_ci_upload_cut_after_the_commit_is_retried_and_stored_once(kills: Kills) -> None:
    """``perfsheriff upload`` loses the answer to a stored upload: its retry, with the same key, is a duplicate."""
    revision = kills.project.tips[2]
    result = {"name": "ci", "unit": "ms", "samples": [4.0, 5.0]}
    results = kills.root / "ci.json"
    results.write_text(json.dumps({"format": "perfsheriff", "version": 1, "results": [result]}))
    kills.proxy.arm("cut-after-answer")
    command = [*kills.agent_args("unused")[:3], "upload", str(results), "--server", kills.proxy.url]
    command += ["--revision", revision, "--machine", "box", "--project", "bench-project"]
    env = {**os.environ, "PERFSHERIFF_TOKEN": kills.agent_token}
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    assert kills.proxy.answers[0] == 201  # stored the first time; the answer was lost
    assert "trying again in" in done.stderr
    assert done.stdout.startswith(f"{results}: already uploaded (run ")
    assert kills.samples_at(revision, "ci") == [2]

"""Benchmarks run code from commits: a real agent's benchmark looks for the agent's token and must not find it.

The ``probe`` benchmark records what the measured code could see (its
environment, the token file, the processes in ``/proc`` and their command
lines and environments), then measures like ``work``. The ``confined`` one
does the same from where a bwrap sandbox lets it write (its ``TMPDIR``), and
also tries to unmask the token and to write outside the agent's work folder.
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from support.agents import SAMPLES_PER_INVOCATION, Setup, stop, wait_for
from support.benchrepo import build_project
from support.liveserver import start_server

PROBE = """\
env > {seen}/seen-env
cat {root}/token > {seen}/seen-token 2>&1
ls /proc > {seen}/seen-proc
cat /proc/[0-9]*/cmdline /proc/[0-9]*/environ > {seen}/seen-proc-text 2>/dev/null
ls {workdir}/spool > {seen}/seen-spool 2>&1
"""

# A sandbox that left root its capabilities would let it unmount the mask. The last write is inside ($1: the worktree).
CONFINED = """\
umount {root}/token 2>> {seen}/seen-token; cat {root}/token >> {seen}/seen-token 2>&1
for target in {root}/escaped {workdir}/escaped {repo}/.git/hooks/escaped /dev/shm/perfsheriff-escaped; do
  touch "$target" 2>> {seen}/seen-writes
done
echo written > "$1/written" && echo "wrote in the worktree" >> {seen}/seen-writes
"""


def probe_benchmark(root: Path, repo: Path) -> str:
    python = shlex.quote(sys.executable)
    probe, confined = root / "probe.sh", root / "confined.sh"
    probe.write_text(PROBE.format(root=root, seen=root, workdir=root / "agent") + "exit 0\n")
    confined.write_text(
        PROBE.format(root=root, seen='"${TMPDIR:?}"', workdir=root / "agent")
        + CONFINED.format(root=root, seen='"${TMPDIR:?}"', workdir=root / "agent", repo=repo)
    )
    commands = {
        "probe": f"sh {probe} && {python} {{worktree}}/bench.py {{config_dir}}/invocations > {{output}}",
        # The configuration folder is read-only in the sandbox: the invocation counter goes to TMPDIR.
        "confined": f'sh {confined} {{worktree}} && {python} {{worktree}}/bench.py "$TMPDIR/invocations" > {{output}}',
    }
    return "".join(
        f'\n[[benchmarks]]\nname = "{name}"\ncommand = {json.dumps(command)}\nformat = "perfsheriff"\n'
        for name, command in commands.items()
    )


class Secrets(Setup):
    @property
    def env(self) -> dict[str, str]:
        """The agent's environment, with credentials of the kind CI machines carry."""
        return {**os.environ, "GITHUB_TOKEN": "ghp_not-for-benchmarks", "AWS_SECRET_ACCESS_KEY": "aws-not-for-them"}

    def token_file(self, mode: int = 0o600) -> Path:
        path = self.root / "token"
        path.write_text(self.agent_token + "\n")
        path.chmod(mode)
        return path

    def start(self, *extra: str) -> subprocess.Popen[str]:
        """An agent whose environment holds no token: it has only what ``extra`` gives it."""
        with (self.root / "agent.log").open("w") as log:
            return subprocess.Popen(
                self.agent_args("agent", *extra), env=self.env, stdout=log, stderr=subprocess.STDOUT, text=True
            )

    def seen(self, name: str, where: Path | None = None) -> str:
        return ((where or self.root) / f"seen-{name}").read_text(errors="replace")


@pytest.fixture
def secrets(engine_url: str, tmp_path: Path) -> Iterator[Secrets]:
    project = build_project(tmp_path / "project", extra_config=probe_benchmark(tmp_path, tmp_path / "project" / "repo"))
    server = start_server(engine_url, tmp_path, config=project.config)
    try:
        yield Secrets(
            project=project,
            server=server,
            marker=tmp_path / "unused",
            sheriff=server.token("sheriff"),
            agent_token=server.token("agent", machine="box", machine_class="test-class"),
            root=tmp_path,
        )
    finally:
        server.stop()


def test_a_benchmark_gets_an_allow_list_of_the_agents_environment(secrets: Secrets) -> None:
    revision = secrets.project.tips[2]
    secrets.enqueue(revision, benchmark="probe")
    env = {**secrets.env, "PERFSHERIFF_TOKEN": secrets.agent_token, "BUILD_FLAGS": "-O2"}
    done = subprocess.run(
        [*secrets.agent_args("agent", "--once", "--pass-env", "BUILD_FLAGS")],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert ": ok in " in done.stderr
    seen = secrets.seen("env")
    for secret in (secrets.agent_token, "ghp_not-for-benchmarks", "aws-not-for-them", "PERFSHERIFF_TOKEN"):
        assert secret not in seen
    assert "BUILD_FLAGS=-O2\n" in seen
    assert f"PATH={os.environ['PATH']}\n" in seen
    assert secrets.samples_at(revision, "work") == [SAMPLES_PER_INVOCATION]


def test_with_a_token_file_the_token_is_on_no_command_line_and_in_no_environment(secrets: Secrets) -> None:
    revision = secrets.project.tips[3]
    secrets.enqueue(revision, benchmark="probe")
    token_file = secrets.token_file()
    agent = secrets.start("--token-file", str(token_file))
    try:
        wait_for((secrets.root / "seen-proc-text").exists, "the probe to run")
        exposed = Path(f"/proc/{agent.pid}/cmdline").read_bytes() + Path(f"/proc/{agent.pid}/environ").read_bytes()
        assert secrets.agent_token.encode() not in exposed
        wait_for(lambda: ": ok in " in secrets.agent_log(), "the job to be done")
    finally:
        assert stop(agent) == 0
    assert secrets.agent_token not in secrets.seen("proc-text")  # what the benchmark could read of every process
    assert secrets.samples_at(revision, "work") == [SAMPLES_PER_INVOCATION]


def test_a_token_file_others_may_read_is_refused(secrets: Secrets) -> None:
    token_file = secrets.token_file(0o644)
    done = subprocess.run(
        secrets.agent_args("agent", "--once", "--token-file", str(token_file)),
        env=secrets.env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 1
    assert done.stderr.strip() == (
        f"error: {token_file}: other users may read this token file (mode 644): chmod 600 it"
    )
    both = subprocess.run(
        secrets.agent_args("agent", "--once", "--token-file", str(secrets.token_file()), "--token", "psf_x"),
        env=secrets.env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert both.returncode == 1
    assert "a token is given twice" in both.stderr


def _unshare_works() -> bool:
    if shutil.which("unshare") is None:
        return False
    probe = ["unshare", "--map-current-user", "--mount", "--pid", "--fork", "--mount-proc", "true"]
    return subprocess.run(probe, capture_output=True, check=False).returncode == 0


@pytest.mark.skipif(not _unshare_works(), reason="unshare cannot create user namespaces here")
def test_a_sandboxed_benchmark_cannot_read_the_token_file_the_spool_or_the_agents_process(secrets: Secrets) -> None:
    revision = secrets.project.tips[4]
    secrets.enqueue(revision, benchmark="probe")
    token_file = secrets.token_file()
    (secrets.root / "agent" / "spool").mkdir(parents=True)
    (secrets.root / "agent" / "spool" / "0000000001-0123456789abcdef.json.reason").write_text("kept\n")
    agent = secrets.start("--token-file", str(token_file), "--sandbox", "unshare")
    try:
        wait_for(lambda: ": ok in " in secrets.agent_log(), "the job to be done")
    finally:
        assert stop(agent) == 0
    assert secrets.agent_token not in secrets.seen("token")
    assert secrets.agent_token not in secrets.seen("proc-text")
    assert str(agent.pid) not in secrets.seen("proc").split()
    assert "0000000001" not in secrets.seen("spool")
    assert secrets.token_file().read_text().strip() == secrets.agent_token  # masked for the benchmark only
    assert secrets.samples_at(revision, "work") == [SAMPLES_PER_INVOCATION]


def _bwrap_works() -> bool:
    if shutil.which("bwrap") is None:
        return False
    probe = ["bwrap", "--ro-bind", "/", "/", "--unshare-pid", "--unshare-user-try", "--cap-drop", "ALL", "true"]
    return subprocess.run(probe, capture_output=True, check=False).returncode == 0


# CI installs bubblewrap (.ci/run): there a missing or broken bwrap fails the test rather than skipping it.
@pytest.mark.skipif(not os.environ.get("CI") and not _bwrap_works(), reason="bwrap is missing or cannot sandbox here")
def test_a_bwrap_sandboxed_benchmark_sees_no_secret_and_writes_only_in_its_workdir(secrets: Secrets) -> None:
    revision = secrets.project.tips[5]
    secrets.enqueue(revision, benchmark="confined")
    token_file = secrets.token_file()
    workdir = secrets.root / "agent"
    (workdir / "spool").mkdir(parents=True)
    (workdir / "spool" / "0000000001-0123456789abcdef.json.reason").write_text("kept\n")
    agent = secrets.start("--token-file", str(token_file), "--sandbox", "bwrap")
    try:
        wait_for(lambda: ": ok in " in secrets.agent_log(), "the job to be done")
    finally:
        assert stop(agent) == 0
    seen = workdir / "tmp"  # the benchmark's TMPDIR, where it wrote what it saw
    assert f"TMPDIR={seen}\n" in secrets.seen("env", seen)
    for secret in (secrets.agent_token, "ghp_not-for-benchmarks", "aws-not-for-them", "PERFSHERIFF_TOKEN"):
        assert secret not in secrets.seen("env", seen)
    assert secrets.agent_token not in secrets.seen("token", seen)  # masked, and no capability to unmount the mask
    assert "umount: " in secrets.seen("token", seen)  # it tried
    assert secrets.agent_token not in secrets.seen("proc-text", seen)
    assert str(agent.pid) not in secrets.seen("proc", seen).split()
    assert "0000000001" not in secrets.seen("spool", seen)
    writes = secrets.seen("writes", seen)
    assert writes.count("Read-only file system") == 3, writes  # outside the agent's work folder and TMPDIR
    assert writes.endswith("wrote in the worktree\n"), writes
    assert not (secrets.root / "escaped").exists()
    assert not (workdir / "escaped").exists()
    assert not (secrets.project.repo.path / ".git" / "hooks" / "escaped").exists()
    assert not Path("/dev/shm/perfsheriff-escaped").exists()  # a /dev of its own
    (worktree,) = (workdir / "work").glob("*/worktrees/slot-0")
    assert (worktree / "written").read_text() == "written\n"
    assert secrets.token_file().read_text().strip() == secrets.agent_token
    assert secrets.samples_at(revision, "work") == [SAMPLES_PER_INVOCATION]


def test_a_sandbox_this_machine_lacks_is_refused_at_start_up(secrets: Secrets) -> None:
    job = secrets.enqueue(secrets.project.tips[5], benchmark="probe")
    nothing = secrets.root / "empty-bin"
    nothing.mkdir()
    done = subprocess.run(
        secrets.agent_args("agent", "--once", "--sandbox", "bwrap"),
        env={**secrets.env, "PERFSHERIFF_TOKEN": secrets.agent_token, "PATH": str(nothing)},  # a machine without it
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 1
    assert done.stderr.strip().splitlines()[-1] == (
        "error: --sandbox: bwrap is not installed (install bubblewrap), or choose another sandbox"
    )
    assert [j["id"] for j in secrets.jobs("queued")] == [job]  # nothing was run without the sandbox

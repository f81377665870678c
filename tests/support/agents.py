"""Real agent processes against a live server: the project, its server and tokens, and how tests drive agents."""

from __future__ import annotations

import json
import os
import shlex
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from support.benchrepo import BenchProject
from support.liveserver import LiveServer

CLI = "from perfsheriff.cli.main import main; main()"
SAMPLES_PER_INVOCATION = 5
SLEEP_S = 4


def slow_benchmark(marker: Path) -> str:
    """A benchmark that announces itself in ``marker``, sleeps, then measures like ``work``."""
    python = shlex.quote(sys.executable)
    command = (
        f"echo $$ >> {shlex.quote(str(marker))} && sleep {SLEEP_S} && "
        f"{python} {{worktree}}/bench.py {{config_dir}}/invocations > {{output}}"
    )
    return (
        f'\n[[benchmarks]]\nname = "slow"\ncommand = {json.dumps(command)}\nformat = "perfsheriff"\ntimeout = "60s"\n'
    )


@dataclass
class Setup:
    project: BenchProject
    server: LiveServer
    marker: Path
    sheriff: str
    agent_token: str
    root: Path

    def enqueue(self, revision: str, benchmark: str = "work", **extra: object) -> int:
        body = {"project": "bench-project", "revision": revision, "benchmark": benchmark, "machine_class": "test-class"}
        with self.server.client(self.sheriff) as http:
            made = http.post("/api/v1/jobs", json={**body, **extra})
        assert made.status_code == 201, made.text
        return int(made.json()["job"]["id"])

    def jobs(self, state: str) -> list[dict[str, object]]:
        with self.server.client(self.sheriff) as http:
            listed: list[dict[str, object]] = http.get("/api/v1/jobs", params={"state": state}).json()["jobs"]
        return listed

    def samples_at(self, revision: str, benchmark: str) -> list[int]:
        """The number of samples of each stored point of ``benchmark`` (a result name) at ``revision``."""
        with self.server.client(self.sheriff) as http:
            series = http.get("/api/v1/series", params={"project": "bench-project"}).json()["series"]
            found = []
            for row in series:
                if row["benchmark"] == benchmark:
                    points = http.get(f"/api/v1/series/{row['id']}").json()["points"]
                    found += [n for rev, n in zip(points["revision"], points["n"], strict=True) if rev == revision]
        return found

    def agent_args(self, workdir: str = "agent", *extra: str) -> list[str]:
        return [
            sys.executable,
            "-c",
            CLI,
            "agent",
            "--server",
            self.server.url,
            "--machine",
            "box",
            "--workdir",
            str(self.root / workdir),
            "--poll",
            "0.2",
            *extra,
        ]

    def run_agent(self, *extra: str, workdir: str = "agent") -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            self.agent_args(workdir, "--once", *extra),
            env=self.env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )

    def start_agent(self, *extra: str, workdir: str = "agent") -> subprocess.Popen[str]:
        with (self.root / f"{workdir}.log").open("w") as log:  # the child keeps its own descriptor
            return subprocess.Popen(
                self.agent_args(workdir, *extra), env=self.env, stdout=log, stderr=subprocess.STDOUT, text=True
            )

    @property
    def env(self) -> dict[str, str]:
        return {**os.environ, "PERFSHERIFF_TOKEN": self.agent_token}

    def agent_log(self, workdir: str = "agent") -> str:
        return (self.root / f"{workdir}.log").read_text()


def wait_for(condition: Callable[[], bool], what: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.1)


def stop(process: subprocess.Popen[str]) -> int:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
    return process.wait(60)

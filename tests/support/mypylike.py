"""A history shaped like mypy's public benchmark results, uploaded run by run as ``perfsheriff upload`` does.

mypy publishes one row per commit with the machine's hardware, OS, Python and compiler recorded in every row,
and re-measures a baseline each time the environment changes. Here: 120 commits of one benchmark on one
machine, ``bench-1`` of class ``mypy-runner``, in three environments, each with its own speed:

- A (commits 0-39): the old hardware; a kernel update at commit 20 (no new generation);
- B (commits 40-79): new hardware, same OS, Python and compiler; 0.7 times A's time;
- C (commits 80-119): B's hardware, a new OS, Python and compiler; 0.85 times A's time.

Before each environment's first commit, ten earlier revisions are measured again on it (the baseline). The
code gets 10 % slower at commit 100; commit 60 is tagged as a release. Every run records its environment;
the samples are seeded.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
from sqlalchemy.engine import Engine

from perfsheriff import projectfile
from perfsheriff.gitrepo import GitRepo
from perfsheriff.model import Machine
from perfsheriff.service.intake import projects, uploads
from perfsheriff.store import records
from support.gitfixtures import Repo
from support.uploads import perfsheriff_json

CLASS = "mypy-runner"
MACHINE = Machine("bench-1", CLASS)
COMMITS = 120
T0 = datetime(2026, 3, 2, tzinfo=UTC)  # commit i is measured at T0 + i hours
STEP_AT = 100  # the code's real regression: 10 % slower from here
RELEASE, RELEASE_AT = "v0.990", 60  # a release measured on environment B
TOML = (
    '[project]\nname = "mypy"\nrepository = "."\nbranch = "main"\n'
    '[[benchmarks]]\nname = "self-check"\ncommand = "true"\n'
)
_A = {
    "machine": "bench-1",
    "cpu_model": "Intel(R) Xeon(R) CPU E5-2673 v4 @ 2.30GHz",
    "cpu_count": "2",
    "arch": "x86_64",
    "os": "Ubuntu 20.04.6 LTS",
    "kernel": "5.15.0-1040-azure",
    "python": "3.8.10",
    "compiler": "GCC 9.4.0",
}
_B = {**_A, "cpu_model": "AMD EPYC 7763 64-Core Processor", "cpu_count": "4", "kernel": "5.15.0-1057-azure"}
_C = {**_B, "os": "Ubuntu 22.04.4 LTS", "kernel": "6.5.0-1025-azure", "python": "3.11.9", "compiler": "GCC 11.4.0"}


class Environment:
    """One recorded environment: from which commit it measured, its speed, and the revisions re-measured."""

    def __init__(self, name: str, first: int, speed: float, environment: dict[str, str], baseline: range) -> None:
        self.name, self.first, self.speed, self.environment, self.baseline = name, first, speed, environment, baseline

    @property
    def starts_at(self) -> datetime:
        """Its first run: the baseline's, half an hour before its first commit's."""
        return T0 + timedelta(hours=self.first) - timedelta(minutes=30 if self.baseline else 0)


ENVIRONMENTS = (
    Environment("A", 0, 1.0, _A, range(0)),
    Environment("B", 40, 0.7, _B, range(30, 40)),
    Environment("C", 80, 0.85, _C, range(70, 80)),
)
KERNEL_UPDATE_AT = 20


def environment_of(commit: int) -> Environment:
    return [e for e in ENVIRONMENTS if e.first <= commit][-1]


def level(commit: int) -> float:
    """The code's time in seconds on environment A."""
    return 10.0 * (1.1 if commit >= STEP_AT else 1.0)


class MypyLike:
    """The project's repository, registered, with every run uploaded."""

    def __init__(self, engine: Engine, path: Path, *, seed: int = 20) -> None:
        self.engine, self.path = engine, path
        repo = Repo.init(path)
        self.shas = [repo.commit(f"commit {i}") for i in range(COMMITS)]
        repo.tag(RELEASE, self.shas[RELEASE_AT])
        (path / "perfsheriff.toml").write_text(TOML)
        self.project_file = projectfile.load(path / "perfsheriff.toml")
        projects.register_project(engine, self.project_file, GitRepo(path))
        with engine.begin() as conn:
            records.machine_id(conn, MACHINE)
        self.rng = np.random.default_rng(seed)
        for env in ENVIRONMENTS:
            for k, commit in enumerate(env.baseline):
                self.upload(commit, env, env.starts_at + timedelta(minutes=k))
            for commit in range(env.first, env.first + 40):
                self.upload(commit, env, T0 + timedelta(hours=commit))

    def upload(self, commit: int, env: Environment, at: datetime) -> None:
        recorded = dict(env.environment)
        if env.name == "A" and commit >= KERNEL_UPDATE_AT:
            recorded["kernel"] = "5.15.0-1057-azure"
        values = env.speed * level(commit) * np.exp(0.005 * self.rng.standard_normal(5))
        request = uploads.Upload(
            project="mypy",
            revision=self.shas[commit],
            machine=MACHINE.name,
            files={"result.json": perfsheriff_json({"self-check": [float(v) for v in values]}, unit="s").encode()},
            environment=recorded,
        )
        uploads.upload(self.engine, request, limit=1 << 20, now=at)

"""A project repository with a real benchmark in it, and the perfsheriff.toml that tracks it.

The repository's ``bench.py`` reads ``level.txt`` and prints perfsheriff JSON:
five samples of ``level * (1 + noise)``, the noise drawn with ~1 % spread from
a generator seeded by the level and an invocation counter (a file beside the
configuration), so every run differs yet a test run is the same every time.
It exits 1 when the checkout has a file named ``broken``; the invocations listed in
``invocations.busy`` beside the counter run 30 % slow, as on a machine busy with
something else for a while (:func:`busy_machine`); the invocation named in
``invocations.kill`` (``N PID``) kills process PID, as a machine's crash or an
operator's ``kill -9`` of the track process would.

The main branch has direct commits (one push each) and one roll-up whose
second member raises ``level.txt`` from 100 to 130: a 30 % regression over
1 % noise, which detection finds and bisection pins on that member.

    project = build_project(tmp_path)
    tracker = ...  # config = project.config
    assert report.bisections[alert].culprits[0].sha == project.culprit
"""

from __future__ import annotations

import json
import shlex
import sys
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from support.gitfixtures import Repo

BENCH_SCRIPT = '''\
"""A benchmark whose result is whatever level.txt says, with ~1 % seeded noise."""
import json
import os
import random
import signal
import sys
from pathlib import Path

here = Path(__file__).resolve().parent
if (here / "broken").exists():
    print("build failed: the tree is broken", file=sys.stderr)
    sys.exit(1)
level = float((here / "level.txt").read_text())
counter = Path(sys.argv[1])
invocation = int(counter.read_text()) if counter.exists() else 0
counter.write_text(str(invocation + 1))
kill = counter.with_name(counter.name + ".kill")  # "N PID": invocation N kills process PID (a track) and fails
if kill.exists() and kill.read_text().split()[0] == str(invocation):
    os.kill(int(kill.read_text().split()[1]), signal.SIGKILL)
    sys.exit(1)
busy = counter.with_name(counter.name + ".busy")  # invocations during which the machine was busy: 30 % slower
if busy.exists() and str(invocation) in busy.read_text().split():
    level *= 1.3
rng = random.Random(f"{level}/{invocation}")
samples = [round(level * (1 + rng.gauss(0.0, 0.01)), 4) for _ in range(5)]
result = {"name": "work", "unit": "ms", "samples": samples}
print(json.dumps({"format": "perfsheriff", "version": 1, "results": [result]}))
'''

BASE_LEVEL = 100
SLOW_LEVEL = 130
PUSHES_BEFORE = 9  # direct commits after the root, before the roll-up
PUSHES_AFTER = 9  # direct commits after the roll-up: 1 + 9 + 1 + 9 = 20 pushes, the default backfill


@dataclass(frozen=True, slots=True)
class BenchProject:
    """The repository, the configuration tracking it, and the commits tests check against."""

    repo: Repo
    config: Path
    tips: list[str]  # every push tip of main, oldest first
    last_good: str  # the push tip before the roll-up
    rollup: str  # the roll-up's merge commit
    side: list[str]  # the roll-up's members, oldest first
    culprit: str | None  # the member that raised level.txt (None for a flat project)
    broken_tip: str | None  # a push tip whose tree is broken


def write_config(
    path: Path,
    repository: str,
    *,
    runs_per_alert: int = 60,
    timeout: str = "60s",
    extra: str = "",
) -> Path:
    """A perfsheriff.toml at ``path`` tracking ``repository`` with the ``work`` benchmark on machine ``box``."""
    command = f"{shlex.quote(sys.executable)} {{worktree}}/bench.py {{config_dir}}/invocations > {{output}}"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(
        f"""\
[project]
name = "bench-project"
repository = {json.dumps(repository)}
branch = "main"

[[benchmarks]]
name = "work"
command = {json.dumps(command)}
format = "perfsheriff"
timeout = {json.dumps(timeout)}

[[machines]]
name = "box"
class = "test-class"

[budgets]
runs_per_alert = {runs_per_alert}
{extra}"""
    )
    return path


def build_project(
    root: Path,
    *,
    level_after: int = SLOW_LEVEL,
    broken: bool = False,
    url: bool = False,
    runs_per_alert: int = 60,
    extra_config: str = "",
) -> BenchProject:
    """Build the repository under ``root/repo`` and its configuration in ``root/config``.

    ``level_after`` is what the culprit sets ``level.txt`` to: ``BASE_LEVEL`` keeps it
    flat (no change anywhere), below it makes an improvement. ``broken=True``
    breaks one direct push (fixed by the next) and, inside the roll-up, two
    members after the culprit, so a bisection meets commits it must skip.
    ``url=True`` names the repository by a ``file://`` URL, which is mirrored;
    ``extra_config`` is appended to the configuration (a ``[schedule]``, say).
    """
    repo = Repo.init(root / "repo")
    tips = [repo.commit("initial", files={"bench.py": BENCH_SCRIPT, "level.txt": f"{BASE_LEVEL}\n"})]
    broken_tip = None
    for i in range(1, PUSHES_BEFORE + 1):
        files: dict[str, str | None] = {"notes.txt": f"note {i}\n"}
        if broken and i == 4:
            files["broken"] = "yes\n"
        if broken and i == 5:
            files["broken"] = None
        tips.append(repo.commit(f"direct change {i}", files=files))
        if broken and i == 4:
            broken_tip = tips[-1]
    last_good = tips[-1]
    slow = f"{level_after}\n"
    repo.branch("rollup-1")
    side = [repo.commit("tidy docs", files={"docs.txt": "docs\n"})]
    side.append(repo.commit("slow down work", files={"level.txt": slow, "work.txt": "more work\n"}))
    if broken:
        side.append(repo.commit("break the build", files={"broken": "yes\n"}))
        side.append(repo.commit("keep it broken", files={"docs.txt": "docs 2\n"}))
        side.append(repo.commit("fix the build", files={"broken": None}))
    side.append(repo.commit("fix typo", files={"docs.txt": "docs, fixed\n"}))
    repo.switch("main")
    rollup = repo.merge("rollup-1", message="Merge roll-up rollup-1")
    tips.append(rollup)
    for i in range(1, PUSHES_AFTER + 1):
        tips.append(repo.commit(f"later change {i}", files={"later.txt": f"later {i}\n"}))
    repository = repo.path.absolute().as_uri() if url else str(repo.path.absolute())
    config = write_config(
        root / "config" / "perfsheriff.toml", repository, runs_per_alert=runs_per_alert, extra=extra_config
    )
    return BenchProject(
        repo=repo,
        config=config,
        tips=tips,
        last_good=last_good,
        rollup=rollup,
        side=side,
        culprit=side[1] if level_after != BASE_LEVEL else None,
        broken_tip=broken_tip,
    )


def busy_machine(config: Path, invocations: Iterable[int]) -> None:
    """Make the benchmark's ``invocations`` (counted from 0 across runs) 30 % slow: a noisy neighbour."""
    (config.parent / "invocations.busy").write_text(" ".join(map(str, invocations)) + "\n")


def held_benchmark(root: Path, *, first_run_only: bool = False) -> str:
    """Configuration of a ``held`` benchmark, to act while a benchmark runs: it appends its shell's pid to
    ``root/held-started``, waits while ``root/hold`` exists (only in its first run, with ``first_run_only``),
    then stores three samples of its own series and appends its pid to ``root/held-finished``."""
    result = {"name": "held", "unit": "ms", "samples": [1.0, 2.0, 3.0]}
    document = json.dumps({"format": "perfsheriff", "version": 1, "results": [result]})
    wait = f"while [ -e {root / 'hold'} ]; do sleep 0.05; done"
    if first_run_only:
        wait = f"if mkdir {root / 'held-first'} 2>/dev/null; then {wait}; fi"
    command = (
        f"echo $$ >> {root / 'held-started'}; {wait}; "
        f"echo {shlex.quote(document)} > {{output}}; echo $$ >> {root / 'held-finished'}"
    )
    return (
        f'\n[[benchmarks]]\nname = "held"\ncommand = {json.dumps(command)}\nformat = "perfsheriff"\ntimeout = "60s"\n'
    )

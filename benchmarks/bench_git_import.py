"""How long perfsheriff takes to import a large branch history.

Builds a merge-bot shaped repository with ``git fast-import`` (direct commits,
roll-up branches merged with merge commits, the odd octopus merge), then times
GitRepo's bulk reads. The target: 50,000 commits (revisions + pushes) in under
10 seconds.

    .venv/bin/python benchmarks/bench_git_import.py --commits 50000
"""

from __future__ import annotations

import argparse
import os
import random
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TypeVar

from perfsheriff.gitrepo import GitRepo

START = 1_700_000_000
T = TypeVar("T")


class Stream:
    """Writes a fast-import stream; marks number the commits from 1."""

    def __init__(self) -> None:
        self.parts: list[bytes] = []
        self.marks = 0

    def commit(self, ref: str, message: str, parents: list[int]) -> int:
        self.marks += 1
        mark = self.marks
        message_bytes = message.encode()
        content = f"{mark}\n".encode()
        lines = [
            f"commit {ref}",
            f"mark :{mark}",
            f"author Dev {mark % 97} <dev{mark % 97}@example.org> {START + mark * 60} +0000",
            f"committer Merge Bot <bot@example.org> {START + mark * 60} +0000",
            f"data {len(message_bytes)}",
        ]
        self.parts.append("\n".join(lines).encode() + b"\n" + message_bytes + b"\n")
        if parents:
            self.parts.append(f"from :{parents[0]}\n".encode())
        self.parts.extend(f"merge :{p}\n".encode() for p in parents[1:])
        self.parts.append(f"M 644 inline file{mark % 50}.txt\ndata {len(content)}\n".encode() + content + b"\n")
        return mark


def merge_bot_stream(commits: int, seed: int) -> Iterator[bytes]:
    """A history of about ``commits`` commits: one in three pushes is a roll-up of 2-8 commits."""
    rng = random.Random(seed)
    stream = Stream()
    tip = stream.commit("refs/heads/main", "initial commit", [])
    while stream.marks < commits:
        kind = rng.random()
        if kind < 0.6:
            tip = stream.commit("refs/heads/main", f"direct change {stream.marks}\n\nwith a body", [tip])
            continue
        side_tips = []
        for branch in range(3 if kind > 0.97 else 1):  # now and then an octopus of three roll-ups
            side = tip
            for _ in range(rng.randint(2, 8)):
                side = stream.commit(f"refs/heads/rollup{branch}", f"roll-up change {stream.marks}", [side])
            side_tips.append(side)
        tip = stream.commit("refs/heads/main", f"Merge roll-up at {stream.marks}", [tip, *side_tips])
    yield from stream.parts


def build(path: Path, commits: int, seed: int) -> float:
    started = time.perf_counter()
    subprocess.run(["git", "init", "--quiet", "--initial-branch", "main", str(path)], check=True)
    data = b"".join(merge_bot_stream(commits, seed))
    subprocess.run(["git", "-C", str(path), "fast-import", "--quiet"], input=data, check=True)
    return time.perf_counter() - started


def timed(action: Callable[[], T]) -> tuple[T, float]:
    started = time.perf_counter()
    result = action()
    return result, time.perf_counter() - started


def measure(path: Path) -> None:
    git = GitRepo(path)
    first_parent, t_first = timed(lambda: git.first_parent_history("main"))
    pushes, t_pushes = timed(lambda: git.pushes("main"))
    revisions, t_all = timed(lambda: git.all_revisions("main"))
    history, t_history = timed(lambda: git.history("main"))
    assert len(history.pushes) == len(pushes) == len(first_parent)
    assert len(history.revisions) == len(revisions)
    print(f"commits (all_revisions)      {len(revisions):>8}  {t_all:6.2f} s")
    print(f"first-parent commits         {len(first_parent):>8}  {t_first:6.2f} s")
    print(f"pushes                       {len(pushes):>8}  {t_pushes:6.2f} s")
    print(f"first-parent + pushes + all  {'':>8}  {t_first + t_pushes + t_all:6.2f} s")
    print(f"history (one git log)        {'':>8}  {t_history:6.2f} s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--commits", type=int, default=50_000, help="size of the generated history")
    parser.add_argument("--seed", type=int, default=1, help="seed of the history's shape")
    args = parser.parse_args()
    os.environ.update(GIT_CONFIG_GLOBAL=os.devnull, GIT_CONFIG_NOSYSTEM="1")
    with tempfile.TemporaryDirectory(prefix="perfsheriff-bench-") as tmp:
        path = Path(tmp) / "repo"
        print(f"built {args.commits} commits with git fast-import in {build(path, args.commits, args.seed):.2f} s")
        measure(path)


if __name__ == "__main__":
    main()

"""Build real git repositories for tests, reproducibly.

A :class:`Repo` runs git with the user's configuration switched off and a
clock that advances one minute per commit, so the same build gives the same
shas on every machine. :func:`merge_bot_history` builds the history most tests
want: a main branch fed by roll-up merges, fast-forwards and an octopus merge.

    repo = Repo.init(tmp_path / "repo")
    base = repo.commit("initial", files={"a.txt": "1"})
    side, merge = repo.rollup("rollup-1", ["fix parser", "speed up"])
"""

from __future__ import annotations

import os
import re
import subprocess
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

EPOCH = datetime(2024, 1, 1, 12, 0, tzinfo=UTC)
DEFAULT_AUTHOR = "Ada Lovelace <ada@example.org>"
_IDENTITY = re.compile(r"(?P<name>[^<]*?)\s*<(?P<email>[^>]*)>")


class Repo:
    """A git work tree under construction; each method runs git and returns shas."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.clock = EPOCH
        self._env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
        self._env.update(
            LC_ALL="C",
            GIT_CONFIG_GLOBAL=os.devnull,
            GIT_CONFIG_NOSYSTEM="1",
            GIT_AUTHOR_NAME="Ada Lovelace",
            GIT_AUTHOR_EMAIL="ada@example.org",
            GIT_COMMITTER_NAME="Merge Bot",
            GIT_COMMITTER_EMAIL="bot@example.org",
        )

    @classmethod
    def init(cls, path: Path, branch: str = "main") -> Repo:
        path.mkdir(parents=True, exist_ok=True)
        repo = cls(path)
        repo.git("init", "--quiet", "--initial-branch", branch)
        return repo

    def git(self, *args: str, stdin: str | None = None, env: Mapping[str, str] | None = None) -> str:
        """Run git in the repository and return its standard output; fail loudly with stderr."""
        result = subprocess.run(
            ["git", "-C", str(self.path), *args],
            input=stdin,
            capture_output=True,
            text=True,
            env={**self._env, **(env or {})},
            check=False,
        )
        if result.returncode != 0:
            raise RuntimeError(f"git {' '.join(args)} failed: {result.stderr.strip()}")
        return result.stdout

    def rev(self, rev: str = "HEAD") -> str:
        return self.git("rev-parse", "--verify", f"{rev}^{{commit}}").strip()

    def _tick(self, author: str) -> dict[str, str]:
        """Advance the clock and return the environment that dates and signs the next commit."""
        self.clock += timedelta(minutes=1)
        match = _IDENTITY.fullmatch(author.strip())
        if match is None:
            raise ValueError(f"author must look like 'Name <email>', got {author!r}")
        date = self.clock.isoformat()
        return {
            "GIT_AUTHOR_NAME": match["name"],
            "GIT_AUTHOR_EMAIL": match["email"],
            "GIT_AUTHOR_DATE": date,
            "GIT_COMMITTER_DATE": date,
        }

    def commit(
        self, message: str = "", files: Mapping[str, str | None] | None = None, author: str = DEFAULT_AUTHOR
    ) -> str:
        """Commit ``files`` (path -> content; ``None`` deletes) with ``message`` kept verbatim.

        Without files the commit is empty, which is all most history tests need.
        """
        for name, content in (files or {}).items():
            target = self.path / name
            if content is None:
                self.git("rm", "--quiet", "--", name)
                continue
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(content)
            self.git("add", "--", name)
        flags = ["--quiet", "--allow-empty", "--allow-empty-message", "--cleanup=verbatim", "-F", "-"]
        self.git("commit", *flags, stdin=message, env=self._tick(author))
        return self.rev()

    def commits(self, messages: Sequence[str], author: str = DEFAULT_AUTHOR) -> list[str]:
        """Commit once per message (empty commits), returning the shas in order."""
        return [self.commit(message, author=author) for message in messages]

    def branch(self, name: str, start: str = "HEAD") -> None:
        """Create branch ``name`` at ``start`` and switch to it."""
        self.git("switch", "--quiet", "--create", name, start)

    def switch(self, name: str) -> None:
        self.git("switch", "--quiet", name)

    def tag(self, name: str, rev: str = "HEAD", message: str | None = None) -> None:
        """Tag ``rev``: lightweight, or annotated when a message is given."""
        args = ["-a", "-m", message] if message is not None else []
        self.git("tag", *args, name, rev, env=self._tick(DEFAULT_AUTHOR))

    def merge(self, *branches: str, message: str | None = None, fast_forward: bool = False) -> str:
        """Merge ``branches`` into the current branch: a merge commit, or ``--ff-only`` if asked.

        Several branches make an octopus merge.
        """
        mode = ["--ff-only"] if fast_forward else ["--no-ff", "-m", message or f"Merge {', '.join(branches)}"]
        self.git("merge", "--quiet", *mode, *branches, env=self._tick(DEFAULT_AUTHOR))
        return self.rev()

    def rollup(self, name: str, messages: Sequence[str], author: str = DEFAULT_AUTHOR) -> tuple[list[str], str]:
        """A merge bot's roll-up: branch off here, commit ``messages``, merge back with ``--no-ff``.

        Returns the side commits, oldest first, and the merge commit.
        """
        target = self.git("symbolic-ref", "--short", "HEAD").strip()
        self.branch(name)
        side = self.commits(messages, author=author)
        self.switch(target)
        return side, self.merge(name, message=f"Merge roll-up {name}")


def merge_bot_history(path: Path) -> tuple[Repo, dict[str, str]]:
    """Build a main branch the way merge bots shape it, naming every commit.

    First-parent history: root, c1, m1, f1, f2, m2, c2, m3, c3 (tag ``v1`` at m3).

    - ``m1`` merges roll-up ``s1a``-``s1c`` with ``--no-ff``;
    - ``f1``, ``f2`` arrive by fast-forward, each its own push;
    - ``m2`` is an octopus merge of ``o1``, ``o2a``-``o2b`` and ``o3``;
    - ``m3`` merges ``t1``, ``t2`` and ``u1`` (merged into the roll-up as ``t3``),
      a roll-up that started before ``c2`` landed.
    """
    repo = Repo.init(path)
    shas = {"root": repo.commit("initial", files={"README": "hello\n"})}
    shas["c1"] = repo.commit("direct commit", files={"a.txt": "1\n"})
    side, shas["m1"] = repo.rollup("rollup-1", ["s1a", "s1b", "s1c"])
    shas.update(zip(("s1a", "s1b", "s1c"), side, strict=True))
    repo.branch("ff")
    shas["f1"], shas["f2"] = repo.commits(["f1", "f2"])
    repo.switch("main")
    repo.merge("ff", fast_forward=True)
    for name, messages in (("o1", ["o1"]), ("o2", ["o2a", "o2b"]), ("o3", ["o3"])):
        repo.branch(name, "main")
        shas.update(zip(messages, repo.commits(messages), strict=True))
    repo.switch("main")
    shas["m2"] = repo.merge("o1", "o2", "o3", message="Octopus roll-up")
    repo.branch("rollup-2")
    shas["t1"] = repo.commit("t1", files={"t.txt": "1\n"})
    repo.branch("sub")
    shas["u1"] = repo.commit("u1", files={"u.txt": "1\n"})
    repo.switch("rollup-2")
    shas["t2"] = repo.commit("t2", files={"t.txt": "2\n"})
    shas["t3"] = repo.merge("sub", message="Merge sub into rollup-2")
    repo.switch("main")
    shas["c2"] = repo.commit("c2", files={"c.txt": "2\n"})
    shas["m3"] = repo.merge("rollup-2", message="Merge roll-up rollup-2")
    repo.tag("v1")
    shas["c3"] = repo.commit("c3")
    return repo, shas

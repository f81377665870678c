"""``GitRepo.commit_folder``: what ``perfsheriff report --git-commit`` uses, with real git."""

from __future__ import annotations

import subprocess
from pathlib import Path

from perfsheriff.gitrepo import GitRepo
from support.gitfixtures import Repo


def subjects(path: Path) -> list[str]:
    done = subprocess.run(["git", "-C", str(path), "log", "--format=%s"], capture_output=True, text=True, check=True)
    return done.stdout.splitlines()


def test_a_new_folder_gets_a_repository_and_a_commit_only_when_something_changed(tmp_path: Path) -> None:
    out = tmp_path / "report"
    out.mkdir()
    (out / "index.html").write_text("one")
    first = GitRepo.commit_folder(out, "report 1")
    assert first is not None
    assert (out / ".git").is_dir()
    assert GitRepo.commit_folder(out, "report 2") is None
    (out / "index.html").write_text("two")
    assert GitRepo.commit_folder(out, "report 3") not in {None, first}
    assert subjects(out) == ["report 3", "report 1"]


def test_a_folder_inside_a_repository_is_committed_there_and_nothing_else(tmp_path: Path) -> None:
    repo = Repo.init(tmp_path / "site")
    repo.commit("initial", files={"README": "site\n"})
    (repo.path / "unrelated.txt").write_text("not mine")
    out = repo.path / "perf"
    out.mkdir()
    (out / "index.md").write_text("# report")
    assert GitRepo.commit_folder(out, "perf report") is not None
    assert subjects(repo.path) == ["perf report", "initial"]
    args = ["git", "-C", str(repo.path), "status", "--porcelain"]
    status = subprocess.run(args, capture_output=True, text=True, check=True)
    assert status.stdout.strip() == "?? unrelated.txt"

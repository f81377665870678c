"""GitRepo.patch_id: the same change keeps its id across a cherry-pick; merges and empty commits have none."""

from __future__ import annotations

from pathlib import Path

import pytest

from perfsheriff.errors import NotFoundError
from perfsheriff.gitrepo import GitRepo
from support.gitfixtures import Repo


def test_a_cherry_pick_keeps_the_patch_id_and_other_changes_differ(tmp_path: Path) -> None:
    repo = Repo.init(tmp_path / "repo")
    repo.commit("initial", files={"parse.py": "def parse():\n    return 1\n", "data.bin": "\0\1"})
    repo.branch("release")
    repo.commit("release notes", files={"NOTES": "1.0\n"})  # the release branch has moved on
    repo.switch("main")
    culprit = repo.commit("slow parser", files={"parse.py": "def parse():\n    return slow()\n"})
    other = repo.commit("faster parser", files={"parse.py": "def parse():\n    return fast()\n"})
    binary_a = repo.commit("binary a", files={"data.bin": "\0\2"})
    binary_b = repo.commit("binary b", files={"data.bin": "\0\3"})
    empty = repo.commit("empty")
    repo.switch("release")
    repo.git("cherry-pick", "-x", culprit)
    picked = repo.rev()
    repo.switch("main")
    repo.branch("docs")
    repo.commit("docs", files={"README": "hi\n"})
    repo.switch("main")
    merge = repo.merge("docs", message="merge docs")

    git = GitRepo(repo.path)
    assert picked != culprit
    original = git.patch_id(culprit)
    assert original is not None
    assert len(original) == 40
    assert git.patch_id(picked) == original
    assert git.patch_id("release") == original  # any revision expression
    assert git.patch_id(other) not in (None, original)
    assert git.patch_id(binary_a) != git.patch_id(binary_b)
    assert git.patch_id(empty) is None
    assert git.patch_id(merge) is None


def test_the_root_commit_has_a_patch_id_and_unknown_revisions_are_not_found(tmp_path: Path) -> None:
    repo = Repo.init(tmp_path / "repo")
    root = repo.commit("initial", files={"a.txt": "1\n"})
    git = GitRepo(repo.path)
    assert git.patch_id(root) is not None
    with pytest.raises(NotFoundError):
        git.patch_id("no-such-branch")

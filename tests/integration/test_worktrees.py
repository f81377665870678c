"""GitRepo's worktree pool against real repositories: create, reuse, clean, and recover from killed runs."""

from __future__ import annotations

from pathlib import Path

import pytest

from perfsheriff.errors import GitError, NotFoundError
from perfsheriff.gitrepo import GitRepo
from support.gitfixtures import Repo


@pytest.fixture
def repo(tmp_path: Path) -> Repo:
    repo = Repo.init(tmp_path / "repo")
    repo.commit("one", files={"value.txt": "1\n", "src/code.txt": "a\n"})
    repo.commit("two", files={"value.txt": "2\n", "src/code.txt": None, "src/new.txt": "b\n"})
    return repo


@pytest.fixture
def git(repo: Repo) -> GitRepo:
    return GitRepo(repo.path)


@pytest.fixture
def root(tmp_path: Path) -> Path:
    return tmp_path / "pool"


def head(path: Path) -> str:
    return Repo(path).rev()


def registered(repo: Repo) -> list[str]:
    lines = repo.git("worktree", "list", "--porcelain").splitlines()
    return [line.removeprefix("worktree ") for line in lines if line.startswith("worktree ")][1:]


def admin_dir(path: Path) -> Path:
    return Path(Repo(path).git("rev-parse", "--absolute-git-dir").strip())


def test_a_worktree_holds_the_commit_detached(git: GitRepo, repo: Repo, root: Path) -> None:
    first = repo.rev("HEAD~1")
    path = git.worktree(first[:10], root)
    assert path == root / "slot-0"
    assert head(path) == first
    assert (path / "value.txt").read_text() == "1\n"
    with pytest.raises(RuntimeError, match="not a symbolic ref"):
        Repo(path).git("symbolic-ref", "HEAD")
    assert repo.git("symbolic-ref", "--short", "HEAD").strip() == "main"  # the clone's own checkout is untouched


def test_a_slot_is_reused_and_left_pristine(git: GitRepo, repo: Repo, root: Path) -> None:
    path = git.worktree("HEAD~1", root)
    marker = admin_dir(path) / "perfsheriff-test-marker"
    marker.write_text("still the same worktree")
    (path / "value.txt").write_text("edited\n")
    (path / "build").mkdir()
    (path / "build" / "out.o").write_text("object")
    (path / "ignored.log").write_text("untracked")

    again = git.worktree("HEAD", root)

    assert again == path
    assert marker.exists(), "the worktree was re-created instead of reused"
    assert head(path) == repo.rev("HEAD")
    assert sorted(p.name for p in path.iterdir() if p.name != ".git") == ["src", "value.txt"]
    assert (path / "value.txt").read_text() == "2\n"
    assert not (path / "src" / "code.txt").exists()


def test_slots_are_independent(git: GitRepo, repo: Repo, root: Path) -> None:
    zero = git.worktree("HEAD~1", root, slot=0)
    one = git.worktree("HEAD", root, slot=1)
    assert (zero.name, one.name) == ("slot-0", "slot-1")
    assert (head(zero), head(one)) == (repo.rev("HEAD~1"), repo.rev("HEAD"))
    with pytest.raises(ValueError, match="slot"):
        git.worktree("HEAD", root, slot=-1)


def test_an_unknown_revision_is_not_found(git: GitRepo, root: Path) -> None:
    with pytest.raises(NotFoundError, match="unknown revision"):
        git.worktree("0" * 40, root)


def test_a_stale_index_lock_from_a_killed_run_is_removed(git: GitRepo, repo: Repo, root: Path) -> None:
    path = git.worktree("HEAD~1", root)
    (admin_dir(path) / "index.lock").write_text("")
    assert head(git.worktree("HEAD", root)) == repo.rev("HEAD")


def test_a_stray_directory_in_the_slot_is_replaced(git: GitRepo, repo: Repo, root: Path) -> None:
    stray = root / "slot-0"
    (stray / "half").mkdir(parents=True)
    (stray / "half" / "file").write_text("left by a killed run")
    path = git.worktree("HEAD", root)
    assert head(path) == repo.rev("HEAD")
    assert not (path / "half").exists()


def test_a_slot_whose_directory_vanished_is_created_again(git: GitRepo, repo: Repo, root: Path) -> None:
    path = git.worktree("HEAD", root)
    admin = admin_dir(path)
    (admin / "locked").write_text("initializing")  # "git worktree add" killed half-way leaves this
    for file in sorted(path.rglob("*"), reverse=True):
        file.rmdir() if file.is_dir() else file.unlink()
    path.rmdir()
    assert head(git.worktree("HEAD~1", root)) == repo.rev("HEAD~1")


def test_a_worktree_with_a_broken_link_to_the_repository_is_replaced(git: GitRepo, repo: Repo, root: Path) -> None:
    path = git.worktree("HEAD", root)
    (path / ".git").write_text("gitdir: /nonexistent/worktrees/slot-0\n")
    assert head(git.worktree("HEAD~1", root)) == repo.rev("HEAD~1")
    assert registered(repo) == [str(path.resolve())]


TRAP = """\
#!/bin/sh
echo "$0" >> {trap}
"""


def plant_repository(path: Path, repo: Repo, trap: Path, *, how: str) -> None:
    """What a benchmark may do in the worktree it can write: point ``.git`` at a repository of its own.

    That repository borrows the real objects (so checkouts succeed there) and
    names hooks and an fsmonitor, which git runs for whoever works in the
    worktree next: the agent, outside any sandbox, with its credentials.
    ``how``: ``directory`` replaces the ``.git`` file by that repository,
    ``file`` makes the ``.git`` file name it.
    """
    own = path / ".git" if how == "directory" else path.parent / "elsewhere.git"
    (path / ".git").unlink()
    Repo.init(own.parent if how == "directory" else own)
    git_dir = own if how == "directory" else own / ".git"
    if how == "file":
        (path / ".git").write_text(f"gitdir: {git_dir}\n")
    (git_dir / "objects" / "info" / "alternates").write_text(f"{repo.path / '.git' / 'objects'}\n")
    hooks = path.parent / "planted-hooks"
    hooks.mkdir()
    for name in ("post-checkout", "fsmonitor"):
        (hooks / name).write_text(TRAP.format(trap=trap))
        (hooks / name).chmod(0o755)
    git = Repo(path)
    git.git("config", "core.hooksPath", str(hooks))
    git.git("config", "core.fsmonitor", str(hooks / "fsmonitor"))
    git.git("update-ref", "HEAD", repo.rev("HEAD~1"))


@pytest.mark.parametrize("how", ["directory", "file"])
def test_a_worktree_whose_git_link_was_replaced_is_recreated_and_runs_none_of_its_hooks(
    git: GitRepo, repo: Repo, root: Path, tmp_path: Path, how: str
) -> None:
    path = git.worktree("HEAD~1", root)
    trap = tmp_path / "ran"
    plant_repository(path, repo, trap, how=how)
    assert head(git.worktree("HEAD", root)) == repo.rev("HEAD")
    assert git.prune_worktrees(root) == []
    assert head(git.worktree("HEAD~1", root)) == repo.rev("HEAD~1")
    assert not trap.exists(), trap.read_text()
    assert registered(repo) == [str(path.resolve())]
    assert (path / ".git").read_text() == f"gitdir: {repo.path.resolve() / '.git' / 'worktrees' / 'slot-0'}\n"


def test_a_pool_inside_the_repository_never_touches_the_clone(git: GitRepo, repo: Repo) -> None:
    """Without its own .git, a slot would let ``git -C slot clean`` act on the enclosing clone."""
    root = repo.path / ".perfsheriff" / "worktrees"
    (root / "slot-0").mkdir(parents=True)
    (repo.path / "precious.txt").write_text("untracked work of the user")
    path = git.worktree("HEAD~1", root)
    git.worktree("HEAD", root)
    assert (repo.path / "precious.txt").read_text() == "untracked work of the user"
    assert head(repo.path) == repo.rev("main")
    assert head(path) == repo.rev("HEAD")


def test_the_repository_itself_is_never_a_slot(tmp_path: Path) -> None:
    repo = Repo.init(tmp_path / "slot-0")
    repo.commit("one")
    with pytest.raises(GitError, match="refusing"):
        GitRepo(repo.path).worktree("HEAD", tmp_path)
    assert head(repo.path) == repo.rev("main")


def test_remove_worktree_deletes_files_and_registration(git: GitRepo, repo: Repo, root: Path) -> None:
    path = git.worktree("HEAD", root)
    (path / "untracked").write_text("x")
    git.remove_worktree(path)
    assert not path.exists()
    assert registered(repo) == []
    git.remove_worktree(path)  # already gone: nothing to do


def test_remove_worktree_refuses_what_is_not_a_worktree(git: GitRepo, repo: Repo, tmp_path: Path) -> None:
    folder = tmp_path / "documents"
    folder.mkdir()
    with pytest.raises(GitError, match="not a worktree"):
        git.remove_worktree(folder)
    with pytest.raises(GitError, match="refusing"):
        git.remove_worktree(repo.path)
    assert folder.is_dir()


def test_prune_cleans_up_after_a_killed_run(git: GitRepo, repo: Repo, root: Path) -> None:
    kept = git.worktree("HEAD", root, slot=0)
    (admin_dir(kept) / "index.lock").write_text("")
    gone = git.worktree("HEAD", root, slot=1)
    for file in sorted(gone.rglob("*"), reverse=True):
        file.rmdir() if file.is_dir() else file.unlink()
    gone.rmdir()
    stray = root / "slot-2"
    stray.mkdir()
    (stray / "junk").write_text("x")
    other = root / "notes"
    other.mkdir()

    removed = git.prune_worktrees(root)

    assert removed == [stray]
    assert registered(repo) == [str(kept.resolve())]
    assert not (admin_dir(kept) / "index.lock").exists()
    assert other.is_dir(), "only slot-<n> directories belong to the pool"
    assert git.prune_worktrees() == []
    assert git.prune_worktrees(root / "missing") == []

"""GitRepo against real repositories built by ``gitfixtures``."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from pathlib import Path

import pytest

from perfsheriff.errors import GitError, NotFoundError
from perfsheriff.gitrepo import GitRepo
from perfsheriff.model import Push
from support.gitfixtures import EPOCH, Repo, merge_bot_history

FIRST_PARENT = ["root", "c1", "m1", "f1", "f2", "m2", "c2", "m3", "c3"]
PUSHES = {
    "root": ["root"],
    "c1": ["c1"],
    "m1": ["s1a", "s1b", "s1c", "m1"],
    "f1": ["f1"],
    "f2": ["f2"],
    "m2": ["o1", "o2a", "o2b", "o3", "m2"],
    "c2": ["c2"],
    "m3": ["t1", "t2", "u1", "t3", "m3"],
    "c3": ["c3"],
}


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> tuple[Repo, dict[str, str]]:
    return merge_bot_history(tmp_path_factory.mktemp("mergebot") / "repo")


@pytest.fixture
def shas(built: tuple[Repo, dict[str, str]]) -> dict[str, str]:
    return built[1]


@pytest.fixture
def git(built: tuple[Repo, dict[str, str]]) -> GitRepo:
    return GitRepo(built[0].path)


@pytest.fixture
def repo(tmp_path: Path) -> Repo:
    return Repo.init(tmp_path / "repo")


def names(shas: dict[str, str], found: Sequence[str]) -> list[str]:
    by_sha = {sha: name for name, sha in shas.items()}
    return [by_sha[sha] for sha in found]


def assert_parents_first(git: GitRepo, order: Sequence[str]) -> None:
    position = {sha: i for i, sha in enumerate(order)}
    for revision in git.revisions(order):
        for parent in revision.parents:
            assert position.get(parent, -1) < position[revision.sha]


# -- opening a repository -----------------------------------------------------


def test_a_directory_that_is_not_a_repository_is_refused(tmp_path: Path) -> None:
    with pytest.raises(GitError, match="not a git repository"):
        GitRepo(tmp_path)


def test_a_missing_path_is_refused(tmp_path: Path) -> None:
    with pytest.raises(GitError, match="not a git repository"):
        GitRepo(tmp_path / "absent")


def test_missing_git_is_reported(repo: Repo, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(repo.path))
    with pytest.raises(GitError, match="git is not installed"):
        GitRepo(repo.path)


def test_repository_variables_of_the_caller_do_not_redirect_git(
    git: GitRepo, shas: dict[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GIT_DIR", str(tmp_path))
    assert GitRepo(git.path).resolve("main") == shas["c3"]


# -- single revisions ---------------------------------------------------------


@pytest.mark.parametrize(
    ("rev", "name"),
    [("HEAD", "c3"), ("main", "c3"), ("HEAD~2", "c2"), ("v1^2", "t3"), ("v1", "m3"), ("rollup-1", "s1c")],
)
def test_resolve_revision_expressions(git: GitRepo, shas: dict[str, str], rev: str, name: str) -> None:
    assert git.resolve(rev) == shas[name]


def test_resolve_short_and_full_shas(git: GitRepo, shas: dict[str, str]) -> None:
    assert git.resolve(shas["m2"][:10]) == shas["m2"]
    assert git.resolve(shas["m2"]) == shas["m2"]


def test_resolve_peels_an_annotated_tag(repo: Repo) -> None:
    sha = repo.commit("tagged")
    repo.tag("v2", message="release 2")
    assert GitRepo(repo.path).resolve("v2") == sha


@pytest.mark.parametrize("rev", ["nope", "HEAD~99", "0" * 40, "--all", "-h", "", "HEAD^{tree}", "a\nb"])
def test_resolve_unknown_revision(git: GitRepo, rev: str) -> None:
    with pytest.raises(NotFoundError, match=f"unknown revision .* in {git.path}"):
        git.resolve(rev)


def test_is_ancestor(git: GitRepo, shas: dict[str, str]) -> None:
    assert git.is_ancestor(shas["s1a"], shas["m3"])
    assert git.is_ancestor("v1", "main")
    assert git.is_ancestor(shas["m2"], shas["m2"])
    assert not git.is_ancestor(shas["m3"], shas["s1a"])
    assert not git.is_ancestor(shas["u1"], shas["t2"])
    with pytest.raises(NotFoundError):
        git.is_ancestor("nope", "main")


def test_branches_and_current_branch(git: GitRepo, repo: Repo) -> None:
    assert git.branches() == ["ff", "main", "o1", "o2", "o3", "rollup-1", "rollup-2", "sub"]
    assert git.current_branch() == "main"
    repo.commit("first")
    repo.git("switch", "--quiet", "--detach", "HEAD")
    assert GitRepo(repo.path).current_branch() is None


# -- history ------------------------------------------------------------------


def test_first_parent_history_is_oldest_first(git: GitRepo, shas: dict[str, str]) -> None:
    history = git.first_parent_history("main")
    assert names(shas, [r.sha for r in history]) == FIRST_PARENT
    octopus = history[FIRST_PARENT.index("m2")]
    assert octopus.parents == (shas["f2"], shas["o1"], shas["o2b"], shas["o3"])
    assert history[0].parents == ()


def test_revision_fields(git: GitRepo, shas: dict[str, str]) -> None:
    (root,) = git.revisions([shas["root"]])
    assert (root.author, root.author_email, root.message) == ("Ada Lovelace", "ada@example.org", "initial")
    assert root.time == EPOCH + timedelta(minutes=1)
    assert root.time.utcoffset() == timedelta(0)


def test_pushes_group_roll_ups_fast_forwards_and_octopus_merges(git: GitRepo, shas: dict[str, str]) -> None:
    pushes = git.pushes("main")
    assert [names(shas, p.commits) for p in pushes] == list(PUSHES.values())
    assert [p.tip for p in pushes] == [shas[name] for name in FIRST_PARENT]
    assert [p.base for p in pushes] == [None] + [shas[name] for name in FIRST_PARENT[:-1]]


def test_each_push_is_the_rev_list_between_consecutive_tips(git: GitRepo, built: tuple[Repo, dict[str, str]]) -> None:
    for push in git.pushes("main")[1:]:
        expected = built[0].git("rev-list", f"{push.base}..{push.tip}").split()
        assert sorted(push.commits) == sorted(expected)
        assert_parents_first(git, push.commits)


def test_all_revisions_include_side_commits_parents_first(git: GitRepo, shas: dict[str, str]) -> None:
    revisions = git.all_revisions("main")
    assert sorted(r.sha for r in revisions) == sorted(shas.values())
    assert_parents_first(git, [r.sha for r in revisions])


def test_history_reads_all_three_at_once(git: GitRepo) -> None:
    history = git.history("main")
    assert list(history.revisions) == git.all_revisions("main")
    assert list(history.pushes) == git.pushes("main")
    assert list(history.first_parent) == [r.sha for r in git.first_parent_history("main")]


def test_range_is_the_suspect_set_parents_first(git: GitRepo, shas: dict[str, str]) -> None:
    suspects = git.range(shas["c1"], shas["m2"])
    expected = ["s1a", "s1b", "s1c", "m1", "f1", "f2", "o1", "o2a", "o2b", "o3", "m2"]
    assert sorted(names(shas, suspects)) == sorted(expected)
    assert_parents_first(git, suspects)
    assert git.range("HEAD~1", "HEAD") == [shas["c3"]]
    assert git.range("main", "v1") == []
    with pytest.raises(NotFoundError):
        git.range("nope", "main")


def test_revisions_keep_the_given_order_once_each(git: GitRepo, shas: dict[str, str]) -> None:
    wanted = [shas["u1"], shas["root"][:8], shas["u1"], shas["m2"].upper()]
    assert names(shas, [r.sha for r in git.revisions(wanted)]) == ["u1", "root", "m2"]
    assert git.revisions([]) == []


@pytest.mark.parametrize("sha", ["0" * 40, "HEAD", "--all", "^abcd"])
def test_revisions_refuse_unknown_or_non_sha_input(git: GitRepo, sha: str) -> None:
    with pytest.raises(NotFoundError):
        git.revisions([sha])


@pytest.mark.parametrize("method", [GitRepo.first_parent_history, GitRepo.pushes, GitRepo.all_revisions])
def test_an_unknown_branch_is_not_found(git: GitRepo, method: object) -> None:
    assert callable(method)
    with pytest.raises(NotFoundError, match="unknown revision 'no-such-branch'"):
        method(git, "no-such-branch")


def test_an_empty_repository_has_no_branch_yet(repo: Repo) -> None:
    with pytest.raises(NotFoundError):
        GitRepo(repo.path).pushes("main")


# -- incremental import -------------------------------------------------------


def test_since_reads_only_what_came_after(git: GitRepo, shas: dict[str, str]) -> None:
    since = shas["m2"]
    assert names(shas, [r.sha for r in git.first_parent_history("main", since)]) == ["c2", "m3", "c3"]
    pushes = git.pushes("main", since=since)
    assert [names(shas, p.commits) for p in pushes] == [PUSHES["c2"], PUSHES["m3"], PUSHES["c3"]]
    assert pushes[0].base == since
    assert sorted(r.sha for r in git.all_revisions("main", since)) == sorted(
        shas[n] for n in ["c2", "t1", "t2", "u1", "t3", "m3", "c3"]
    )
    assert git.pushes("main", since="main") == []
    assert git.history("main", since=shas["c3"]).revisions == ()


def test_incremental_pushes_match_a_full_import(git: GitRepo, shas: dict[str, str]) -> None:
    full = git.pushes("main")
    for i, name in enumerate(FIRST_PARENT):
        assert git.pushes("main", since=shas[name]) == full[i + 1 :]


@pytest.mark.parametrize("since", ["s1b", "u1", "o2a"])
def test_since_off_the_first_parent_history_is_refused(git: GitRepo, shas: dict[str, str], since: str) -> None:
    for method in (git.first_parent_history, git.pushes, git.all_revisions):
        with pytest.raises(GitError, match="not on the first-parent history of 'main'"):
            method("main", shas[since])


def test_since_after_a_rewrite_is_refused(repo: Repo) -> None:
    repo.commits(["a", "b"])
    old_tip = repo.commit("c")
    repo.git("reset", "--quiet", "--hard", "HEAD~1")
    repo.commit("c rewritten")
    git = GitRepo(repo.path)
    with pytest.raises(GitError, match="was the branch rewritten"):
        git.pushes("main", since=old_tip)
    repo.git("reset", "--quiet", "--hard", "HEAD~1")
    with pytest.raises(GitError, match="was the branch rewritten"):
        git.first_parent_history("main", since=old_tip)
    with pytest.raises(NotFoundError):
        git.pushes("main", since="no-such-commit")


# -- awkward content ----------------------------------------------------------

AWKWARD_MESSAGES = [
    "",
    "subject only",
    "subject\n\nbody with\ttabs, \x01 control, émoji 🚀 and a 0123456789abcdef0123456789abcdef01234567 sha",
    "\n\nleading blank lines",
    "commit deadbeef\nAuthor: fake\n%H%x00%n",
]


def test_messages_and_authors_survive_any_characters(repo: Repo) -> None:
    made = [repo.commit(m, author="Zoë O'Brien-Łukasz <zoe+perf@例え.jp>") for m in AWKWARD_MESSAGES]
    revisions = GitRepo(repo.path).first_parent_history("main")
    assert [r.sha for r in revisions] == made
    assert [r.message for r in revisions] == AWKWARD_MESSAGES
    assert {(r.author, r.author_email) for r in revisions} == {("Zoë O'Brien-Łukasz", "zoe+perf@例え.jp")}


def test_author_time_keeps_its_offset(repo: Repo) -> None:
    env = {"GIT_AUTHOR_DATE": "2024-03-10T09:30:00+05:30", "GIT_COMMITTER_DATE": "2024-03-10T09:30:00+05:30"}
    repo.git("commit", "--quiet", "--allow-empty", "-m", "from India", env=env)
    (revision,) = GitRepo(repo.path).first_parent_history("main")
    assert revision.time.utcoffset() == timedelta(hours=5, minutes=30)
    assert revision.time == EPOCH.replace(month=3, day=10, hour=4, minute=0)


def test_a_merged_unrelated_history_belongs_to_the_merging_push(repo: Repo) -> None:
    root = repo.commit("main root", files={"a": "1"})
    repo.git("switch", "--quiet", "--orphan", "imported")
    imported = repo.commits(["imported root", "imported work"])
    repo.switch("main")
    repo.git("merge", "--quiet", "--no-ff", "--allow-unrelated-histories", "-m", "import", "imported")
    merge = repo.rev()
    pushes = GitRepo(repo.path).pushes("main")
    assert pushes == [Push(root, None, (root,)), Push(merge, root, (*imported, merge))]


def test_a_bare_clone_reads_the_same(built: tuple[Repo, dict[str, str]], git: GitRepo, tmp_path: Path) -> None:
    built[0].git("clone", "--quiet", "--bare", str(built[0].path), str(tmp_path / "bare.git"))
    bare = GitRepo(tmp_path / "bare.git")
    assert bare.pushes("main") == git.pushes("main")
    assert bare.current_branch() == "main"


def test_tags_are_those_merged_into_the_branch_peeled_to_their_commit(repo: Repo) -> None:
    repo.commit("base")
    first = repo.commit("one")
    repo.tag("v1.0", message="annotated")
    repo.tag("tree-tag", "HEAD^{tree}")  # names a tree, not a commit: left out
    repo.branch("feature")
    repo.commit("unmerged")
    repo.tag("v2.0-feature")  # on a branch main does not contain
    repo.switch("main")
    second = repo.commit("two")
    repo.tag("v1.1")
    tags = {tag.name: tag.sha for tag in GitRepo(repo.path).tags("main")}
    assert tags == {"v1.0": first, "v1.1": second}

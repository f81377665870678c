"""The only module that runs ``git``: history, pushes and ranges of a repository.

Every call is ``git -C <path> ...`` with an argument list (never a shell), in the
C locale and with prompts off, so output is parseable and a missing credential
fails instead of hanging. Commands that write (clone, fetch, checkout, clean,
worktrees, commits) run behind a supervisor (:mod:`perfsheriff.supervision`),
in a process group that dies with this process however it ends, SIGKILL
included: ``git worktree add`` runs ``git reset --hard`` and smudge filters,
``git clone`` runs ``upload-pack`` or a remote helper, and none of them may go
on writing a worktree or a mirror that the next run uses. Queries run
directly (a supervisor would cost more than they take); they write nothing
and end when their output has nowhere to go. Bulk reads use one ``git log`` with a NUL-separated
format, parsed here: importing 50,000 commits must stay a matter of seconds,
which rules out one process per commit or per push.

Incremental reads take ``since``: the last first-parent commit already imported.
It must lie on the branch's first-parent history; if the branch was rewritten
(force-push, reset) a :class:`~perfsheriff.errors.GitError` says so rather than
returning a history with a hole in it.

Why one module of about 570 lines: "git runs only in gitrepo" is an import-linter contract over this
one module (pyproject.toml); split up, the contract would become a list to keep in step with the files.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from perfsheriff.errors import GitError, NotFoundError
from perfsheriff.model import Push, Revision, redact_url
from perfsheriff.supervision import supervised

# Fields of one commit in ``git log`` output; the message goes last.
_LOG_FORMAT = "--format=tformat:%H%x00%P%x00%an%x00%ae%x00%aI%x00%B"
_LOG_FIELDS = 6
# Read-only options that keep user configuration out of the output.
_LOG_OPTIONS = ("-z", "--no-color", "--encoding=UTF-8", "--no-show-signature", _LOG_FORMAT)
# Variables that would point git at another repository than ``-C`` names.
_LOCATION_VARIABLES = (
    "GIT_DIR",
    "GIT_WORK_TREE",
    "GIT_INDEX_FILE",
    "GIT_OBJECT_DIRECTORY",
    "GIT_ALTERNATE_OBJECT_DIRECTORIES",
    "GIT_COMMON_DIR",
    "GIT_NAMESPACE",
)
_HEX_PREFIX = re.compile(r"[0-9a-f]{4,40}")
# Directories of a worktree pool: root/slot-0, root/slot-1, ...
_SLOT_NAME = re.compile(r"slot-[0-9]+")


@dataclass(frozen=True, slots=True)
class History:
    """What one import of a branch needs, read with a single ``git log``.

    ``revisions`` holds every commit reachable from the tip (side commits of
    roll-ups included, so bisection can reach them), parents before children;
    ``first_parent`` the branch's own commits, oldest first; ``pushes`` one per
    first-parent commit.
    """

    revisions: tuple[Revision, ...]
    first_parent: tuple[str, ...]
    pushes: tuple[Push, ...]


@dataclass(frozen=True, slots=True)
class Tag:
    """A tag and the commit it names."""

    name: str
    sha: str


class GitRepo:
    """A local git repository (work tree or bare), read through the ``git`` command."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path).absolute()
        self._env = _git_environment()
        if not self.path.is_dir():
            raise GitError(f"not a git repository: {self.path} is not a directory")
        result = self._run_raw(["rev-parse", "--absolute-git-dir"])
        if result.returncode != 0:
            raise GitError(f"not a git repository: {self.path}")
        self.git_dir = Path(result.stdout.decode().strip())

    @classmethod
    def create(cls, path: str | os.PathLike[str], fast_import: bytes, branch: str = "main") -> GitRepo:
        """Make a new repository at ``path`` from a ``git fast-import`` stream and check ``branch`` out.

        One process writes any number of commits, merges included: this is how the
        demo builds its project history.
        """
        target = Path(path)
        target.mkdir(parents=True, exist_ok=True)
        _git_outside(["init", "--quiet", "--initial-branch", branch, str(target)], f"git init failed in {target}")
        repo = cls(target)
        repo._run(["fast-import", "--quiet", "--done"], fast_import, writes=True)
        repo._run(["checkout", "--quiet", "--force", branch], writes=True)
        return repo

    @classmethod
    def mirror(cls, url: str, path: str | os.PathLike[str]) -> GitRepo:
        """A bare mirror of ``url`` at ``path``: cloned the first time, fetched afterwards.

        A mirror's branches follow the remote's exactly, so tracking a URL reads
        the same refs as tracking a local checkout.
        """
        target = Path(path)
        if target.exists():
            repo = cls(target)
            repo._run(["fetch", "--prune", "--quiet", "origin"], writes=True)
            return repo
        target.parent.mkdir(parents=True, exist_ok=True)
        clone = ["clone", "--mirror", "--quiet", "--", url, str(target)]
        _git_outside(clone, f"git clone of {redact_url(url)} failed", writes=True)
        return cls(target)

    def __repr__(self) -> str:
        return f"GitRepo({str(self.path)!r})"

    @classmethod
    def commit_folder(cls, path: str | os.PathLike[str], message: str) -> str | None:
        """Commit everything under ``path`` in the repository holding it (one is initialised there if none does).

        Returns the new commit's sha, or ``None`` when nothing changed. Without a
        configured ``user.email`` the commit is made as ``perfsheriff``.
        """
        folder = Path(path).absolute()
        if cls._run_outside_quiet(["-C", str(folder), "rev-parse", "--git-dir"]) != 0:
            _git_outside(["init", "--quiet", str(folder)], f"git init failed in {folder}")
        repo = cls(folder)
        repo._run(["add", "--all", "--", "."], writes=True)
        if repo._run_raw(["diff", "--cached", "--quiet", "--", "."]).returncode == 0:
            return None
        identity: list[str] = []
        if repo._run_raw(["config", "user.email"]).returncode != 0:
            identity = ["-c", "user.name=perfsheriff", "-c", "user.email=perfsheriff@localhost"]
        args = ["-C", str(folder), *identity, "commit", "--quiet", "--no-verify", "-m", message, "--", "."]
        done = _git(args, env=repo._env, writes=True)
        if done.returncode != 0:
            raise GitError(f"git commit failed in {folder}: {_first_line(done.stderr)}")
        return repo.resolve("HEAD")

    @staticmethod
    def _run_outside_quiet(args: Sequence[str]) -> int:
        return _git(args, env=_git_environment()).returncode

    # -- running git ---------------------------------------------------------

    def _run_raw(
        self, args: Sequence[str], stdin: bytes | None = None, *, writes: bool = False
    ) -> subprocess.CompletedProcess[bytes]:
        return _git(["-C", str(self.path), *args], env=self._env, stdin=stdin, writes=writes)

    def _run(self, args: Sequence[str], stdin: bytes | None = None, *, writes: bool = False) -> bytes:
        """Run git and return its output; a failure becomes a one-line GitError."""
        result = self._run_raw(args, stdin, writes=writes)
        if result.returncode != 0:
            raise GitError(f"git {args[0]} failed in {self.path}: {_first_line(result.stderr)}")
        return result.stdout

    def _log(self, args: Sequence[str]) -> list[Revision]:
        return _parse_log(self._run(["log", *_LOG_OPTIONS, *args]))

    # -- single revisions ----------------------------------------------------

    def resolve(self, rev: str) -> str:
        """The full sha of the commit ``rev`` names (sha, short sha, branch, tag, ``HEAD~3``...)."""
        if not rev or rev.startswith("-") or any(c in rev for c in "\0\n"):
            raise NotFoundError(f"unknown revision {rev!r} in {self.path}")
        result = self._run_raw(["rev-parse", "--verify", "--quiet", "--end-of-options", f"{rev}^{{commit}}"])
        if result.returncode != 0:
            raise NotFoundError(f"unknown revision {rev!r} in {self.path}")
        return result.stdout.decode().strip()

    def set_ref(self, ref: str, sha: str) -> None:
        """Point ``ref`` (e.g. ``refs/demo/upcoming``) at ``sha``."""
        self._run(["update-ref", "--end-of-options", ref, self.resolve(sha)], writes=True)

    def move_checkout(self, sha: str) -> None:
        """Move the checked-out branch, and its files, to ``sha``: a push landing (or being held back), as the
        demo plays it."""
        self._run(["reset", "--hard", "--quiet", self.resolve(sha)], writes=True)

    def is_ancestor(self, ancestor: str, descendant: str) -> bool:
        """Whether ``ancestor`` is reachable from ``descendant`` (a commit is its own ancestor)."""
        args = ["merge-base", "--is-ancestor", self.resolve(ancestor), self.resolve(descendant)]
        result = self._run_raw(args)
        if result.returncode not in (0, 1):
            raise GitError(f"git merge-base failed in {self.path}: {_first_line(result.stderr)}")
        return result.returncode == 0

    def patch_id(self, sha: str) -> str | None:
        """The stable patch id of a commit's change, or ``None`` for a merge or an empty commit.

        ``git diff-tree --patch | git patch-id --stable``: the same diff has the
        same id under another sha, which is how triage recognises a culprit
        cherry-picked or rebased onto another branch. ``--binary`` makes two
        different binary changes differ; ``--root`` gives a root commit its diff.
        Merges have no single diff (``diff-tree`` prints none), so no id.
        """
        diff = self._run(["diff-tree", "--patch", "--binary", "--root", "--no-color", self.resolve(sha)])
        fields = self._run(["patch-id", "--stable"], diff).split()
        return fields[0].decode() if fields else None

    def current_branch(self) -> str | None:
        """The branch HEAD points at, or ``None`` when HEAD is detached."""
        result = self._run_raw(["symbolic-ref", "--quiet", "--short", "HEAD"])
        return result.stdout.decode().strip() if result.returncode == 0 else None

    def branches(self) -> list[str]:
        """Local branch names, sorted."""
        output = self._run(["for-each-ref", "--format=%(refname:short)", "refs/heads/"])
        return sorted(output.decode().split())

    def tags(self, branch: str) -> list[Tag]:
        """The tags whose commit is on ``branch`` (merged into it), oldest commit first.

        Annotated tags are peeled to their commit; a tag of a tree or blob is left out.
        """
        fields = "%(refname:strip=2)%00%(objecttype)%00%(objectname)%00%(*objecttype)%00%(*objectname)"
        output = self._run(["for-each-ref", f"--merged={branch}", f"--format={fields}", "refs/tags/"])
        found = []
        for line in output.decode("utf-8", "replace").splitlines():
            name, kind, sha, peeled_kind, peeled = line.split("\0")
            if kind == "commit":
                found.append(Tag(name, sha))
            elif peeled_kind == "commit":
                found.append(Tag(name, peeled))
        return found

    # -- bulk reads ----------------------------------------------------------

    def revisions(self, shas: Iterable[str]) -> list[Revision]:
        """Look commits up by (possibly abbreviated) sha, in the given order, duplicates once.

        The shas travel on standard input, so any number fits in one process.
        """
        wanted = [sha.strip().lower() for sha in shas]
        for sha in wanted:
            if not _HEX_PREFIX.fullmatch(sha):
                raise NotFoundError(f"unknown revision {sha!r} in {self.path}: not a commit sha")
        if not wanted:
            return []
        stdin = "".join(f"{sha}\n" for sha in wanted).encode()
        result = self._run_raw(["log", *_LOG_OPTIONS, "--no-walk=unsorted", "--stdin"], stdin)
        if result.returncode != 0:
            raise NotFoundError(f"unknown revision in {self.path}: {_first_line(result.stderr)}")
        return _parse_log(result.stdout)

    def first_parent_history(self, branch: str, since: str | None = None) -> list[Revision]:
        """The branch's first-parent commits, oldest first, after ``since`` (exclusive)."""
        return self._read(branch, since, "--first-parent")[0]

    def all_revisions(self, branch: str, since: str | None = None) -> list[Revision]:
        """Every commit reachable from the branch and not from ``since``, parents first.

        Side-branch commits of roll-ups are included: they are the candidates a
        bisection narrows a push down to.
        """
        return self._read(branch, since, "--topo-order")[0]

    def pushes(self, branch: str, since: str | None = None) -> list[Push]:
        """The branch's pushes after ``since``, oldest first; see :func:`group_pushes`.

        Reads only the commit graph (``rev-list --parents``), not the messages.
        """
        tip, exclude, base = self._span(branch, since)
        parents = {}
        for line in self._run(["rev-list", "--parents", tip, *exclude]).decode().splitlines():
            sha, *rest = line.split(" ")
            parents[sha] = tuple(rest)
        return group_pushes(parents, _first_parent_chain(parents, tip, base, branch))

    def history(self, branch: str, since: str | None = None) -> History:
        """Revisions, first-parent chain and pushes of a branch, from one ``git log``."""
        revisions, parents, chain = self._read(branch, since, "--topo-order")
        return History(tuple(revisions), tuple(chain), tuple(group_pushes(parents, chain)))

    def range(self, good: str, bad: str) -> list[str]:
        """The suspect set: commits reachable from ``bad`` but not from ``good``, parents first."""
        args = ["rev-list", "--topo-order", "--reverse", self.resolve(bad), f"^{self.resolve(good)}"]
        return self._run(args).decode().split()

    def _span(self, branch: str, since: str | None) -> tuple[str, list[str], str | None]:
        """Resolve ``branch`` and ``since`` into a tip, the exclusion arguments and the base sha."""
        tip = self.resolve(branch)
        if since is None:
            return tip, [], None
        base = self.resolve(since)
        return tip, [f"^{base}"], base

    def _read(
        self, branch: str, since: str | None, walk: str
    ) -> tuple[list[Revision], dict[str, tuple[str, ...]], list[str]]:
        """Log the branch after ``since`` (oldest first) and check ``since`` lies on its first-parent chain."""
        tip, exclude, base = self._span(branch, since)
        revisions = self._log([walk, "--reverse", tip, *exclude])
        parents = {r.sha: r.parents for r in revisions}
        return revisions, parents, _first_parent_chain(parents, tip, base, branch)

    # -- worktrees -----------------------------------------------------------

    def worktree(self, rev: str, root: Path, slot: int = 0) -> Path:
        """Check ``rev`` out, detached and clean, in the pool slot ``root/slot-<slot>``; return its path.

        A worktree already in the slot is reused: ``checkout --detach --force``
        plus ``clean -ffdx`` costs far less than checking out a large tree
        afresh, and leaves nothing of the previous revision (build output
        included) behind. A slot serves one runner at a time, so an
        ``index.lock`` found in it was left by a killed run and is removed.
        Anything else in the slot (a half-created worktree, a stray directory)
        is replaced by a fresh worktree.
        """
        if slot < 0:
            raise ValueError(f"slot must be >= 0, got {slot}")
        sha = self.resolve(rev)
        path = root.absolute() / f"slot-{slot}"
        self._refuse_repository_path(path)
        if path.resolve() in self._worktree_paths():
            try:
                self._refresh_worktree(path, sha)
            except GitError:
                pass  # damaged beyond a checkout: replaced below
            else:
                return path
        self._discard_worktree(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        # --force twice: the slot may still be registered (even locked) by a run killed during "add".
        args = ["worktree", "add", "--quiet", "--detach", "--force", "--force", str(path), sha]
        result = self._run_raw(args, writes=True)
        if result.returncode != 0:
            raise GitError(f"cannot create a worktree for {sha[:12]} at {path}: {_first_line(result.stderr)}")
        return path

    def remove_worktree(self, path: str | os.PathLike[str]) -> None:
        """Remove a worktree of this repository, its files and its registration.

        A directory that is not (or no longer) registered is removed only if it
        looks like a worktree (a ``.git`` file): this never deletes a folder
        that was named by mistake.
        """
        target = Path(path).absolute()
        self._refuse_repository_path(target)
        if target.resolve() in self._worktree_paths() and target.exists():
            result = self._run_raw(["worktree", "remove", "--force", "--force", str(target)], writes=True)
            if result.returncode != 0:
                raise GitError(f"cannot remove the worktree {target}: {_first_line(result.stderr)}")
        elif target.exists():
            if not (target / ".git").is_file():
                raise GitError(f"{target} is not a worktree of {self.path}")
            _remove_tree(target)
        self._run(["worktree", "prune"])

    def prune_worktrees(self, root: Path | None = None) -> list[Path]:
        """Clean up what a killed run left behind; return the directories removed.

        ``git worktree prune`` forgets worktrees whose directory is gone. With
        ``root`` (a pool of ``slot-<n>`` directories owned by the caller, and
        only when no runner is using it), stray slot directories that git does
        not know are deleted and stale ``index.lock`` files in registered slots
        are removed, so the next checkout does not fail on them.
        """
        self._run(["worktree", "prune"])
        if root is None or not root.is_dir():
            return []
        registered = self._worktree_paths()
        removed = []
        for entry in sorted(root.absolute().iterdir()):
            if not _SLOT_NAME.fullmatch(entry.name) or not entry.is_dir() or entry.is_symlink():
                continue
            admin = self._admin_folder(entry) if entry.resolve() in registered else None
            if admin is not None:
                (admin / "index.lock").unlink(missing_ok=True)
                continue
            self._discard_worktree(entry)
            removed.append(entry)
        if removed:
            self._run(["worktree", "prune"])
        return removed

    def _worktree_paths(self) -> set[Path]:
        """Resolved paths of the linked worktrees git has registered (the main work tree excluded)."""
        output = self._run(["worktree", "list", "--porcelain", "-z"]).decode(errors="replace")
        paths = [field.removeprefix("worktree ") for field in output.split("\0") if field.startswith("worktree ")]
        return {Path(p).resolve() for p in paths[1:]}

    def _refresh_worktree(self, path: Path, sha: str) -> None:
        """Move a registered worktree to ``sha`` and make it pristine."""
        admin = self._admin_folder(path)
        if admin is None:
            raise GitError(f"{path} is not linked to {self.path} as git registered it")
        (admin / "index.lock").unlink(missing_ok=True)
        # The work tree is named, so checkout and clean never reach an enclosing repository either.
        tree = ["-C", str(path), f"--git-dir={admin}", f"--work-tree={path}"]
        for args in (["checkout", "--quiet", "--detach", "--force", sha], ["clean", "--quiet", "-ffdx"]):
            result = _git([*tree, *args], env=self._env, writes=True)
            if result.returncode != 0:
                raise GitError(f"git {args[0]} failed in {path}: {_first_line(result.stderr)}")

    def _admin_folder(self, path: Path) -> Path | None:
        """The folder this repository keeps for its linked worktree at ``path``; None when ``path/.git`` is not
        the link git wrote there.

        A benchmark can write in its worktree: it may replace the ``.git``
        file by a repository of its own, or make it name one, whose
        configuration (hooks, an fsmonitor) git would run for the next
        command there, outside any sandbox. So git runs in a slot only with
        the administrative folder named explicitly, and only when ``.git`` is
        a file naming a folder under this repository's ``worktrees/`` that
        names ``path`` back.
        """
        link = path / ".git"
        try:
            if link.is_symlink() or not link.is_file():
                return None
            named = link.read_text(errors="replace").strip().removeprefix("gitdir: ")
            admin = (path / named).resolve()  # an absolute path stays itself
            back = (admin / (admin / "gitdir").read_text(errors="replace").strip()).resolve()
        except OSError:
            return None
        ours = admin.parent == (self.git_dir / "worktrees").resolve()
        return admin if ours and back == link.resolve() else None

    def _discard_worktree(self, path: Path) -> None:
        """Delete whatever occupies a slot, registered worktree or stray directory."""
        if path.resolve() in self._worktree_paths():
            self._run_raw(["worktree", "remove", "--force", "--force", str(path)], writes=True)
        if path.exists() or path.is_symlink():
            try:
                _remove_tree(path)
            except OSError as err:
                raise GitError(f"cannot clear the worktree slot {path}: {err.strerror or err}") from None
        self._run(["worktree", "prune"])

    def _refuse_repository_path(self, path: Path) -> None:
        """A slot must never be the repository itself or contain it: clearing it would destroy the clone."""
        resolved, own = path.resolve(), self.path.resolve()
        if resolved == own or resolved in own.parents:
            raise GitError(f"refusing to use {path} as a worktree: it holds the repository {self.path}")


def group_pushes(parents: Mapping[str, tuple[str, ...]], chain: Sequence[str]) -> list[Push]:
    """Split a history into pushes: for consecutive first-parent tips A, B, ``git rev-list A..B``.

    ``parents`` maps every commit after the import base to its parents (commits
    missing from it count as already imported); ``chain`` is the first-parent
    history, oldest first; a push's base is its tip's first parent. One walk over the graph serves all pushes: ``seen``
    always holds everything reachable from the previous tip, so a depth-first
    walk from B that stops at ``seen`` finds exactly A..B, and its post-order
    lists parents before children, each side branch in one piece.
    """
    seen: set[str] = set()
    pushes = []
    for tip in chain:
        members: list[str] = []
        stack = [(tip, iter(parents[tip]))]
        seen.add(tip)
        while stack:
            sha, pending = stack[-1]
            parent = next(pending, None)
            if parent is None:
                stack.pop()
                members.append(sha)
            elif parent not in seen and parent in parents:
                seen.add(parent)
                stack.append((parent, iter(parents[parent])))
        base = parents[tip][0] if parents[tip] else None
        pushes.append(Push(tip=tip, base=base, commits=tuple(members)))
    return pushes


def _first_parent_chain(parents: Mapping[str, tuple[str, ...]], tip: str, base: str | None, branch: str) -> list[str]:
    """Walk first parents from ``tip`` back to ``base`` (or a root), oldest first.

    Raises GitError when ``base`` is not on the branch's first-parent history:
    importing from there would leave a gap or mix in commits of another line.
    """
    chain = []
    sha = tip
    while sha != base and sha in parents:
        chain.append(sha)
        first = parents[sha][:1]
        if not first:
            break
        sha = first[0]
    reached = chain[-1] if chain else None
    ended_well = (sha == base) if base is not None else (reached is not None and not parents[reached])
    if not ended_well:
        raise GitError(f"{base} is not on the first-parent history of {branch!r}: was the branch rewritten?")
    chain.reverse()
    return chain


def _parse_log(output: bytes) -> list[Revision]:
    """Parse ``git log -z`` output in :data:`_LOG_FORMAT` into revisions.

    git refuses NUL bytes in messages, so splitting on NUL is unambiguous; bytes
    that are not UTF-8 (legacy encodings) are replaced rather than fatal.
    """
    fields = output.decode("utf-8", errors="replace").split("\0")
    if fields and fields[-1] == "":
        fields.pop()
    if len(fields) % _LOG_FIELDS:
        raise GitError("unexpected output from git log: fields do not group into commits")
    revisions = []
    for i in range(0, len(fields), _LOG_FIELDS):
        sha, parents, author, email, time, message = fields[i : i + _LOG_FIELDS]
        revisions.append(
            Revision(
                sha=sha,
                parents=tuple(parents.split()),
                author=author,
                author_email=email,
                time=datetime.fromisoformat(time),
                message=message.rstrip("\n"),
            )
        )
    return revisions


def _git(
    args: Sequence[str], *, env: Mapping[str, str], stdin: bytes | None = None, writes: bool = False
) -> subprocess.CompletedProcess[bytes]:
    """Run ``git args`` and capture its output; with ``writes``, in a process group that dies with us.

    ``git`` is looked up on the ``PATH`` of ``env``; a missing one is a GitError.
    """
    git = shutil.which("git", path=env.get("PATH", os.defpath))
    if git is None:
        raise GitError("git is not installed or not on PATH")
    argv = [git, *args]
    if not writes:
        return subprocess.run(argv, input=stdin, capture_output=True, env=env, check=False)
    pipe = subprocess.PIPE
    given = subprocess.DEVNULL if stdin is None else pipe
    with supervised(argv, env=env, stdin=given, stdout=pipe, stderr=pipe) as child:
        stdout, stderr = child.process.communicate(stdin)
    return subprocess.CompletedProcess(argv, child.process.returncode, stdout, stderr)


def _git_outside(args: Sequence[str], failure: str, *, writes: bool = False) -> None:
    """Run git where no repository exists yet (init, clone); a failure becomes ``failure: <git's line>``."""
    done = _git(args, env=_git_environment(), writes=writes)
    if done.returncode != 0:
        raise GitError(f"{failure}: {_first_line(done.stderr)}")


def _git_environment() -> dict[str, str]:
    """The environment for git: ours, minus repository overrides, in the C locale, never prompting."""
    env = {k: v for k, v in os.environ.items() if k not in _LOCATION_VARIABLES}
    env.update(LC_ALL="C", LANGUAGE="C", GIT_TERMINAL_PROMPT="0", GIT_OPTIONAL_LOCKS="0")
    return env


def _first_line(stderr: bytes) -> str:
    lines = [line.strip() for line in stderr.decode(errors="replace").splitlines() if line.strip()]
    return redact_url(lines[0].removeprefix("fatal: ").removeprefix("error: ")) if lines else "no error message"


def _remove_tree(path: Path) -> None:
    """Delete a directory tree, read-only parts included (Go's module cache, for one, is read-only)."""
    if path.is_symlink() or not path.is_dir():
        path.unlink()
        return
    try:
        shutil.rmtree(path)
    except PermissionError:
        for folder, _, _ in os.walk(path):
            os.chmod(folder, 0o700)  # our own scratch directory, about to be deleted
        shutil.rmtree(path)

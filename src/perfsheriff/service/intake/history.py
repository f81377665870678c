"""Import a branch's git history into the store, incrementally.

Reading git and writing the store are two steps, so that a caller can read git before it opens a
transaction (:func:`read_new_history`, then :func:`store_new_history`): an upload holds no database lock
while git runs. :func:`import_history` does both on a connection that is already open.
"""

from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa

from perfsheriff.gitrepo import GitRepo, History, Tag
from perfsheriff.store import records


@dataclass(frozen=True, slots=True)
class HistoryImport:
    branch_id: int
    new_revisions: int
    new_pushes: int
    tip: str | None
    changed_tags: int = 0


@dataclass(frozen=True, slots=True)
class NewHistory:
    """What git says of a branch since the tip the store had: commits, pushes and the branch's tags."""

    since: str | None
    history: History
    tags: list[Tag]


def read_new_history(repo: GitRepo, branch: str, since: str | None) -> NewHistory:
    """Read with git what arrived on ``branch`` after ``since`` (the stored tip; None: everything)."""
    return NewHistory(since, repo.history(branch, since=since), repo.tags(branch))


def import_history(conn: sa.Connection, repo: GitRepo, project_id: int, branch: str) -> HistoryImport:
    """Store the commits and pushes of ``branch`` that arrived since the last import.

    Every commit reachable from the branch is stored (side commits of roll-ups
    too: bisection searches inside pushes); pushes are appended in order; the
    tags merged into the branch are recorded (drift is measured since a release).
    """
    branch_id = records.branch_id(conn, project_id, branch)
    return store_new_history(
        conn, project_id, branch_id, read_new_history(repo, branch, records.branch_tip(conn, branch_id))
    )


def store_new_history(conn: sa.Connection, project_id: int, branch_id: int, new: NewHistory) -> HistoryImport:
    """Store what :func:`read_new_history` read; nothing when the branch's stored tip moved meanwhile
    (another import stored that history first)."""
    since, history = new.since, new.history
    current = records.branch_tip(conn, branch_id)
    if current != since:
        return HistoryImport(branch_id, 0, 0, current)
    ids = records.store_revisions(conn, project_id, history.revisions)
    if since is not None:
        # A push's base is the previous tip, already stored; its side commits may be older.
        missing = [sha for push in history.pushes for sha in push.commits if sha not in ids]
        ids.update(records.revision_ids(conn, project_id, missing))
    records.append_pushes(conn, branch_id, history.pushes, ids)
    tip = history.pushes[-1].tip if history.pushes else since
    tags = new.tags
    tagged = records.revision_ids(conn, project_id, sorted({tag.sha for tag in tags}))
    changed = records.store_tags(conn, project_id, {tag.name: tagged[tag.sha] for tag in tags if tag.sha in tagged})
    return HistoryImport(branch_id, len(history.revisions), len(history.pushes), tip, changed)

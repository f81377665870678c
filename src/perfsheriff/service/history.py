"""Import a branch's git history into the store, incrementally."""

from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa

from perfsheriff.gitrepo import GitRepo
from perfsheriff.store import records


@dataclass(frozen=True, slots=True)
class HistoryImport:
    branch_id: int
    new_revisions: int
    new_pushes: int
    tip: str | None
    changed_tags: int = 0


def import_history(conn: sa.Connection, repo: GitRepo, project_id: int, branch: str) -> HistoryImport:
    """Store the commits and pushes of ``branch`` that arrived since the last import.

    Every commit reachable from the branch is stored (side commits of roll-ups
    too: bisection searches inside pushes); pushes are appended in order; the
    tags merged into the branch are recorded (drift is measured since a release).
    """
    branch_id = records.branch_id(conn, project_id, branch)
    since = records.branch_tip(conn, branch_id)
    history = repo.history(branch, since=since)
    ids = records.store_revisions(conn, project_id, history.revisions)
    if since is not None:
        # A push's base is the previous tip, already stored; its side commits may be older.
        missing = [sha for push in history.pushes for sha in push.commits if sha not in ids]
        ids.update(records.revision_ids(conn, project_id, missing))
    records.append_pushes(conn, branch_id, history.pushes, ids)
    tip = history.pushes[-1].tip if history.pushes else since
    tags = repo.tags(branch)
    tagged = records.revision_ids(conn, project_id, sorted({tag.sha for tag in tags}))
    changed = records.store_tags(conn, project_id, {tag.name: tagged[tag.sha] for tag in tags if tag.sha in tagged})
    return HistoryImport(branch_id, len(history.revisions), len(history.pushes), tip, changed)

"""Reads of stored commits: their details, their places on branches, and pages of a branch's history."""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa

from perfsheriff.store import schema as t


def first_parent(conn: sa.Connection, revision_id: int) -> str | None:
    parents = conn.execute(sa.select(t.revisions.c.parents).where(t.revisions.c.id == revision_id)).scalar()
    first = str(parents or "").split()
    return first[0] if first else None


def commits(conn: sa.Connection, revision_ids: Sequence[int]) -> dict[int, tuple[str, str, str]]:
    """revision id -> (sha, author, subject), for the ids given only."""
    found: dict[int, tuple[str, str, str]] = {}
    for start in range(0, len(revision_ids), 5000):
        ids: sa.BindParameter[list[int]] = sa.bindparam(
            "ids", list(revision_ids[start : start + 5000]), expanding=True, literal_execute=True
        )
        query = sa.select(t.revisions.c.id, t.revisions.c.sha, t.revisions.c.author, t.revisions.c.message).where(
            t.revisions.c.id.in_(ids)
        )
        for rid, sha, author, message in conn.execute(query):
            found[int(rid)] = (str(sha), str(author), str(message).split("\n", 1)[0])
    return found


def positions_of_shas(conn: sa.Connection, branch_id: int, shas: Sequence[str]) -> dict[str, int]:
    """sha -> branch position, for the commits of ``shas`` that reached the branch (roll-ups' side commits too)."""
    query = (
        sa.select(t.revisions.c.sha, t.branch_revisions.c.position)
        .join(t.branch_revisions, t.branch_revisions.c.revision_id == t.revisions.c.id)
        .where(t.branch_revisions.c.branch_id == branch_id, t.revisions.c.sha.in_(list(shas)))
    )
    return {str(sha): int(position) for sha, position in conn.execute(query)}


def details(conn: sa.Connection, revision_id: int) -> sa.RowMapping:
    """A stored commit's ``author``, ``author_email``, ``time`` and ``message``."""
    r = t.revisions
    query = sa.select(r.c.author, r.c.author_email, r.c.time, r.c.message).where(r.c.id == revision_id)
    return conn.execute(query).one()._mapping


def positions_by_branch(conn: sa.Connection, revision_id: int) -> dict[str, int]:
    """Branch name -> the commit's position there, for each branch it reached."""
    query = (
        sa.select(t.branches.c.name, t.branch_revisions.c.position)
        .join(t.branches, t.branches.c.id == t.branch_revisions.c.branch_id)
        .where(t.branch_revisions.c.revision_id == revision_id)
    )
    return {str(name): int(position) for name, position in conn.execute(query)}


def page(conn: sa.Connection, branch_id: int, *, limit: int, before: int | None) -> list[sa.RowMapping]:
    """Up to ``limit`` of a branch's revisions below position ``before`` (None: from the newest), newest first:
    ``position``, ``first_parent``, ``sha``, ``author``, ``time`` and ``message``."""
    br, rv = t.branch_revisions, t.revisions
    query = (
        sa.select(br.c.position, br.c.first_parent, rv.c.sha, rv.c.author, rv.c.time, rv.c.message)
        .join(rv, rv.c.id == br.c.revision_id)
        .where(br.c.branch_id == branch_id)
        .order_by(br.c.position.desc())
        .limit(limit)
    )
    if before is not None:
        query = query.where(br.c.position < before)
    return [row._mapping for row in conn.execute(query)]


def shas_named(conn: sa.Connection, name: str) -> tuple[list[str], list[str]]:
    """The revisions ``name`` may mean: (shas of tags so named, tip shas of branches so named), each sorted."""
    tagged = sa.select(t.revisions.c.sha).join(t.tags, t.tags.c.revision_id == t.revisions.c.id)
    tags = sorted(set(conn.execute(tagged.where(t.tags.c.name == name)).scalars()))
    tips = conn.execute(sa.select(t.branches.c.tip_sha).where(t.branches.c.name == name)).scalars()
    return tags, sorted({tip for tip in tips if tip})


def all_branch_tips(conn: sa.Connection) -> list[str]:
    """The tip of every tracked branch (of every project), for what ``HEAD`` may mean."""
    tips = conn.execute(sa.select(t.branches.c.tip_sha).where(t.branches.c.tip_sha.is_not(None))).scalars()
    return sorted(set(tips))


def parents_of(conn: sa.Connection, sha: str) -> list[str] | None:
    """A stored revision's parents, first parent first; None when the revision is not stored."""
    found = conn.execute(sa.select(t.revisions.c.parents).where(t.revisions.c.sha == sha).limit(1)).scalar()
    return None if found is None else str(found).split()

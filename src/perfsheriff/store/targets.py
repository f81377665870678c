"""What an upload, a job or a claim names, found by name: projects, branches, machines, revisions, configurations.

Projects, machines and configurations are never renamed or deleted (nor a machine moved to another class),
so their ids are remembered per engine once seen committed, and an upload or a claim costs a few statements
rather than a few more. A configuration is remembered only when its caller says the transaction that may
have inserted it committed (:func:`remember_configuration`).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from perfsheriff.model import Configuration
from perfsheriff.store import schema as t
from perfsheriff.store.caches import PerEngine


@dataclass(slots=True)
class _Known:
    """Ids seen committed: project name -> (id, repository), machine name -> (id, class), configuration -> id."""

    projects: dict[str, tuple[int, str]] = field(default_factory=dict)
    machines: dict[str, tuple[int, str]] = field(default_factory=dict)
    configurations: dict[str, int] = field(default_factory=dict)


_known: PerEngine[_Known] = PerEngine(_Known)


def project(conn: sa.Connection, name: str) -> tuple[int, str] | None:
    """(id, repository) of the project called ``name``, or None."""
    known = _known(conn.engine).projects
    if name not in known:
        row = conn.execute(sa.select(t.projects.c.id, t.projects.c.repository).where(t.projects.c.name == name)).first()
        if row is None:
            return None
        known[name] = (int(row.id), str(row.repository))
    return known[name]


def machine(conn: sa.Connection, name: str) -> tuple[int, str] | None:
    """(id, machine class) of the machine called ``name``, or None."""
    known = _known(conn.engine).machines
    if name not in known:
        row = conn.execute(
            sa.select(t.machines.c.id, t.machines.c.machine_class).where(t.machines.c.name == name)
        ).first()
        if row is None:
            return None
        known[name] = (int(row.id), str(row.machine_class))
    return known[name]


def remembered_configuration(engine: Engine, configuration: Configuration) -> int | None:
    return _known(engine).configurations.get(str(configuration))


def remember_configuration(engine: Engine, configuration: Configuration, configuration_id: int) -> None:
    """Remember a configuration's id once the transaction that may have inserted it committed."""
    _known(engine).configurations[str(configuration)] = configuration_id


def branches(conn: sa.Connection, project_id: int) -> dict[str, int]:
    """Branch name -> id, of one project."""
    rows = conn.execute(sa.select(t.branches.c.name, t.branches.c.id).where(t.branches.c.project_id == project_id))
    return {str(name): int(branch_id) for name, branch_id in rows}


def projects_with_branches(conn: sa.Connection) -> list[tuple[str, str, str | None]]:
    """(project, repository, branch) of every project and branch, by name; a project without branches once,
    with None."""
    query = (
        sa.select(t.projects.c.name, t.projects.c.repository, t.branches.c.name)
        .outerjoin(t.branches, t.branches.c.project_id == t.projects.c.id)
        .order_by(t.projects.c.name, t.branches.c.name)
    )
    return [(str(name), str(repository), branch) for name, repository, branch in conn.execute(query)]


def revisions_on_branch(conn: sa.Connection, project_id: int, branch_id: int, rev: str) -> list[tuple[int, str, int]]:
    """(id, sha, branch position) of the branch's revisions whose sha is ``rev`` (40 digits) or starts with it
    (fewer); at most two, which is enough to tell that a prefix is ambiguous."""
    match = t.revisions.c.sha == rev if len(rev) == 40 else t.revisions.c.sha.startswith(rev)
    rows = conn.execute(
        sa.select(t.revisions.c.id, t.revisions.c.sha, t.branch_revisions.c.position)
        .join(t.branch_revisions, t.branch_revisions.c.revision_id == t.revisions.c.id)
        .where(t.revisions.c.project_id == project_id, t.branch_revisions.c.branch_id == branch_id, match)
        .limit(2)
    )
    return [(int(i), str(sha), int(position)) for i, sha, position in rows]


def sha_of(conn: sa.Connection, revision_id: int) -> str | None:
    found = conn.execute(sa.select(t.revisions.c.sha).where(t.revisions.c.id == revision_id)).scalar()
    return None if found is None else str(found)

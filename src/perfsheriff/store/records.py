"""Writes: get-or-create of the named things, bulk history import, runs with samples.

Every function takes an open ``Connection`` inside the caller's transaction, so
one upload is written whole or not at all. Get-or-create uses
``INSERT ... ON CONFLICT DO NOTHING`` and then reads, which is safe when several
writers (agents, CI uploads) create the same machine or series at once.
"""

from __future__ import annotations

import struct
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

import numpy as np
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from perfsheriff.model import Configuration, Machine, Push, Revision, RunStatus, SeriesKey
from perfsheriff.store import schema as t
from perfsheriff.store.caches import PerEngine

# Benchmarks and series are never renamed or deleted one by one, so once a row is seen
# committed its id stays valid for the engine's life. Caching what a SELECT found (never
# what this transaction inserted, which a rollback could undo) saves two queries per file.
_seen_benchmarks: PerEngine[dict[tuple[int, str], int]] = PerEngine(dict)
_seen_series: PerEngine[set[str]] = PerEngine(set)


def _insert_ignore(conn: sa.Connection, table: sa.Table, rows: Sequence[Mapping[str, Any]]) -> None:
    if not rows:
        return
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    conn.execute(dialect.insert(table).on_conflict_do_nothing(), list(rows))


def _get_or_create(conn: sa.Connection, table: sa.Table, key: Mapping[str, Any], extra: Mapping[str, Any]) -> int:
    where = sa.and_(*(table.c[name] == value for name, value in key.items()))
    found = conn.execute(sa.select(table.c.id).where(where)).scalar()
    if found is None:
        _insert_ignore(conn, table, [{**key, **extra}])
        found = conn.execute(sa.select(table.c.id).where(where)).scalar_one()
    return int(found)


def project_id(conn: sa.Connection, name: str, repository: str = "") -> int:
    return _get_or_create(conn, t.projects, {"name": name}, {"repository": repository})


def branch_id(conn: sa.Connection, project: int, name: str) -> int:
    return _get_or_create(conn, t.branches, {"project_id": project, "name": name}, {"tip_sha": None})


def machine_id(conn: sa.Connection, machine: Machine) -> int:
    extra = {
        "machine_class": machine.machine_class,
        "fingerprint": machine.fingerprint,
        "generation": machine.generation,
    }
    return _get_or_create(conn, t.machines, {"name": machine.name}, extra)


def configuration_id(conn: sa.Connection, configuration: Configuration) -> int:
    return _get_or_create(conn, t.configurations, {"canonical": str(configuration)}, {"items": configuration.as_dict()})


def benchmark_id(conn: sa.Connection, project: int, name: str, suite: str = "") -> int:
    return _get_or_create(
        conn, t.benchmarks, {"project_id": project, "name": name}, {"suite": suite, "weight": 1.0, "tags": []}
    )


def benchmark_ids(conn: sa.Connection, project: int, suites: Mapping[str, str]) -> dict[str, int]:
    """Ids of the named benchmarks (name -> suite), creating the missing ones in one statement."""

    seen = _seen_benchmarks(conn.engine)

    def known() -> dict[str, int]:
        out = {name: seen[project, name] for name in suites if (project, name) in seen}
        names = [name for name in suites if name not in out]
        for start in range(0, len(names), 5000):
            query = sa.select(t.benchmarks.c.name, t.benchmarks.c.id).where(
                t.benchmarks.c.project_id == project, t.benchmarks.c.name.in_(names[start : start + 5000])
            )
            out.update({name: int(bid) for name, bid in conn.execute(query)})
        return out

    found = known()
    seen.update({(project, name): bid for name, bid in found.items()})
    missing = [
        {"project_id": project, "name": n, "suite": s, "weight": 1.0, "tags": []}
        for n, s in suites.items()
        if n not in found
    ]
    if missing:
        _insert_ignore(conn, t.benchmarks, missing)
        found = known()
    return found


def configure_benchmarks(
    conn: sa.Connection, project: int, weights: Mapping[str, float], tags: Mapping[str, Sequence[str]] | None = None
) -> None:
    """Give the project's benchmarks of these names their configured weight and (when given) tags, which
    summaries and gates use; a row is written only when it changes."""
    for name, weight in weights.items():
        conn.execute(
            t.benchmarks.update()
            .where(t.benchmarks.c.project_id == project, t.benchmarks.c.name == name, t.benchmarks.c.weight != weight)
            .values(weight=weight)
        )
    if not tags:
        return
    wanted = {name: sorted(set(found)) for name, found in tags.items()}
    query = sa.select(t.benchmarks.c.id, t.benchmarks.c.name, t.benchmarks.c.tags).where(
        t.benchmarks.c.project_id == project, t.benchmarks.c.name.in_(list(wanted))
    )
    for benchmark, name, stored in conn.execute(query).all():
        if sorted(stored or []) != wanted[name]:
            conn.execute(t.benchmarks.update().where(t.benchmarks.c.id == benchmark).values(tags=wanted[name]))


def store_revisions(conn: sa.Connection, project: int, revisions: Iterable[Revision]) -> dict[str, int]:
    """Insert commits not yet known; return sha -> id for all of them."""
    rows = [
        {
            "project_id": project,
            "sha": r.sha,
            "parents": " ".join(r.parents),
            "author": r.author,
            "author_email": r.author_email,
            "time": r.time,
            "message": r.message,
        }
        for r in revisions
    ]
    for start in range(0, len(rows), 5000):
        _insert_ignore(conn, t.revisions, rows[start : start + 5000])
    return revision_ids(conn, project, [str(row["sha"]) for row in rows])


def revision_ids(conn: sa.Connection, project: int, shas: Sequence[str]) -> dict[str, int]:
    out: dict[str, int] = {}
    for start in range(0, len(shas), 5000):
        chunk = shas[start : start + 5000]
        query = sa.select(t.revisions.c.sha, t.revisions.c.id).where(
            t.revisions.c.project_id == project, t.revisions.c.sha.in_(chunk)
        )
        out.update({sha: int(rid) for sha, rid in conn.execute(query)})
    return out


def store_tags(conn: sa.Connection, project: int, tags: Mapping[str, int]) -> int:
    """Record tag name -> revision id; a tag that moved is updated. Returns how many rows changed."""
    known = {
        str(name): (int(tag_id), int(revision_id))
        for tag_id, name, revision_id in conn.execute(
            sa.select(t.tags.c.id, t.tags.c.name, t.tags.c.revision_id).where(t.tags.c.project_id == project)
        )
    }
    new = [{"project_id": project, "name": n, "revision_id": r} for n, r in tags.items() if n not in known]
    if new:
        conn.execute(sa.insert(t.tags), new)
    moved = [(known[n][0], r) for n, r in tags.items() if n in known and known[n][1] != r]
    for tag_id, revision_id in moved:
        conn.execute(sa.update(t.tags).where(t.tags.c.id == tag_id).values(revision_id=revision_id))
    return len(new) + len(moved)


def append_pushes(conn: sa.Connection, branch: int, pushes: Sequence[Push], ids: Mapping[str, int]) -> None:
    """Append pushes (oldest first) after the branch's last one, with their commits in order."""
    last = conn.execute(
        sa.select(sa.func.max(t.pushes.c.position), sa.func.max(t.branch_revisions.c.position))
        .select_from(t.pushes.outerjoin(t.branch_revisions, t.branch_revisions.c.push_id == t.pushes.c.id))
        .where(t.pushes.c.branch_id == branch)
    ).one()
    push_pos = -1 if last[0] is None else int(last[0])
    rev_pos = -1 if last[1] is None else int(last[1])
    known = {
        int(rid)
        for (rid,) in conn.execute(
            sa.select(t.branch_revisions.c.revision_id).where(t.branch_revisions.c.branch_id == branch)
        )
    }
    for push in pushes:
        push_pos += 1
        push_id = conn.execute(
            sa.insert(t.pushes).returning(t.pushes.c.id),
            {"branch_id": branch, "tip_revision_id": ids[push.tip], "base_sha": push.base, "position": push_pos},
        ).scalar_one()
        members = []
        for sha in push.commits:
            if ids[sha] in known:
                continue  # a commit already on the branch (merged twice); keep its first place
            known.add(ids[sha])
            rev_pos += 1
            members.append(
                {
                    "branch_id": branch,
                    "revision_id": ids[sha],
                    "push_id": push_id,
                    "position": rev_pos,
                    "first_parent": sha == push.tip,
                }
            )
        if members:
            conn.execute(sa.insert(t.branch_revisions), members)
    if pushes:
        conn.execute(sa.update(t.branches).where(t.branches.c.id == branch).values(tip_sha=pushes[-1].tip))


def branch_position(conn: sa.Connection, branch: int, revision: int) -> int | None:
    """Where ``revision`` stands on ``branch``, or ``None`` when it never reached the branch."""
    query = sa.select(t.branch_revisions.c.position).where(
        t.branch_revisions.c.branch_id == branch, t.branch_revisions.c.revision_id == revision
    )
    found = conn.execute(query).scalar()
    return None if found is None else int(found)


def branch_tip(conn: sa.Connection, branch: int) -> str | None:
    return conn.execute(sa.select(t.branches.c.tip_sha).where(t.branches.c.id == branch)).scalar()


def ensure_series(conn: sa.Connection, rows: Sequence[Mapping[str, Any]]) -> None:
    """Create series rows that do not exist yet (``rows`` carry every column)."""
    seen = _seen_series(conn.engine)
    ids = [row["id"] for row in rows if row["id"] not in seen]
    existing: set[str] = set()
    for start in range(0, len(ids), 5000):
        query = sa.select(t.series.c.id).where(t.series.c.id.in_(ids[start : start + 5000]))
        existing.update(conn.execute(query).scalars())
    seen.update(existing)
    _insert_ignore(conn, t.series, [row for row in rows if row["id"] not in existing and row["id"] not in seen])


def series_row(
    key: SeriesKey, *, project: int, branch: int, benchmark: int, configuration: int, unit: str, direction: str
) -> dict[str, Any]:
    return {
        "id": key.id,
        "project_id": project,
        "branch_id": branch,
        "benchmark_id": benchmark,
        "metric": key.metric,
        "unit": unit,
        "direction": direction,
        "machine_class": key.machine_class,
        "configuration_id": configuration,
    }


def find_run(conn: sa.Connection, *, revision: int, machine: int, configuration: int, content_hash: str) -> int | None:
    query = sa.select(t.runs.c.id).where(
        t.runs.c.revision_id == revision,
        t.runs.c.machine_id == machine,
        t.runs.c.configuration_id == configuration,
        t.runs.c.content_hash == content_hash,
    )
    found = conn.execute(query).scalar()
    return None if found is None else int(found)


def run_by_key(conn: sa.Connection, key: str) -> tuple[int, str | None] | None:
    """(id, format) of the run stored under an upload's idempotency key, if any."""
    row = conn.execute(sa.select(t.runs.c.id, t.runs.c.format).where(t.runs.c.idempotency_key == key)).first()
    return None if row is None else (int(row.id), row.format)


def run_identity(conn: sa.Connection, run_id: int) -> sa.RowMapping:
    """What makes a run the run it is: its ``revision_id``, ``configuration_id``, ``status`` and ``content_hash``."""
    return (
        conn.execute(
            sa.select(t.runs.c.revision_id, t.runs.c.configuration_id, t.runs.c.status, t.runs.c.content_hash).where(
                t.runs.c.id == run_id
            )
        )
        .one()
        ._mapping
    )


def run_counts(conn: sa.Connection, run_id: int) -> tuple[int, int]:
    """(series, samples) a stored run gave samples to and has."""
    count, total = conn.execute(
        sa.select(sa.func.count(), sa.func.coalesce(sa.func.sum(t.samples.c.n), 0)).where(
            t.samples.c.run_id == run_id, t.samples.c.part == 0
        )
    ).one()
    return int(count), int(total)


def insert_run(
    conn: sa.Connection,
    *,
    project: int,
    branch: int,
    revision: int,
    machine: int,
    configuration: int,
    status: RunStatus,
    created_at: datetime,
    fmt: str | None = None,
    source: str = "",
    content_hash: str | None = None,
    environment: Mapping[str, str] | None = None,
    error: str | None = None,
    idempotency_key: str | None = None,
) -> int:
    values = {
        "project_id": project,
        "branch_id": branch,
        "revision_id": revision,
        "machine_id": machine,
        "configuration_id": configuration,
        "status": status.value,
        "format": fmt,
        "source": source,
        "content_hash": content_hash,
        "environment": dict(environment or {}),
        "error": error,
        "created_at": created_at,
        "idempotency_key": idempotency_key,
    }
    return int(conn.execute(sa.insert(t.runs).returning(t.runs.c.id), values).scalar_one())


def pack(values: Sequence[float]) -> bytes:
    return struct.pack(f"<{len(values)}d", *values)


def unpack(blob: bytes) -> np.ndarray[Any, np.dtype[np.float64]]:
    return np.frombuffer(blob, dtype="<f8")


def insert_samples(
    conn: sa.Connection, run: int, revision: int, position: int, per_series: Mapping[str, Sequence[float]]
) -> int:
    """Insert each series' repetitions of the run, in parts of at most VALUES_PER_PART; return the count."""
    rows = []
    count = 0
    for series_id, values in per_series.items():
        ordered = sorted(values)  # a handful of repetitions: sorting beats numpy's per-call overhead
        n = len(ordered)
        middle = n // 2
        median = ordered[middle] if n % 2 else (ordered[middle - 1] + ordered[middle]) / 2
        count += n
        for part, start in enumerate(range(0, n, t.VALUES_PER_PART)):
            rows.append(
                {
                    "run_id": run,
                    "series_id": series_id,
                    "revision_id": revision,
                    "position": position,
                    "part": part,
                    "n": n,
                    "median": median,
                    "min": ordered[0],
                    "max": ordered[-1],
                    "values": pack(values[start : start + t.VALUES_PER_PART]),
                }
            )
    if conn.dialect.name == "postgresql":
        _copy_rows(conn, t.samples, rows)
    elif rows:
        conn.execute(sa.insert(t.samples), rows)
    return count


def _copy_rows(conn: sa.Connection, table: sa.Table, rows: Sequence[Mapping[str, Any]]) -> None:
    """Bulk insert with PostgreSQL's COPY, inside the caller's transaction.

    psycopg's executemany sends one INSERT per row; COPY streams them all at once.
    """
    if not rows:
        return
    columns = list(rows[0])
    statement = f"COPY {table.name} ({', '.join(f'{c!r}'.replace(chr(39), chr(34)) for c in columns)}) FROM STDIN"
    cursor = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
    with cursor.copy(statement) as copy:
        for row in rows:
            copy.write_row([row[c] for c in columns])

"""Reads shared by every view (CLI, API, dashboard): one read model.

``series_history`` is the hot path: one range scan of the ``(series_id,
revision_id)`` index joined to the branch order, one short row per run.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from perfsheriff.store import schema as t
from perfsheriff.store.series_rows import RevisionSamples, SeriesRow

if TYPE_CHECKING:  # numpy loads where samples are read: listing series (`perfsheriff series`) needs none
    import numpy as np

    FloatArray = np.ndarray[Any, np.dtype[np.float64]]


def series_fields() -> sa.Select[Any]:
    """What names a series (``SeriesRow`` without its revision count), joined from its tables."""
    return (
        sa.select(
            t.series.c.id,
            t.projects.c.name.label("project"),
            t.branches.c.name.label("branch"),
            t.benchmarks.c.name.label("benchmark"),
            t.benchmarks.c.suite,
            t.series.c.metric,
            t.series.c.unit,
            t.series.c.direction,
            t.series.c.machine_class,
            t.configurations.c.canonical.label("configuration"),
        )
        .join(t.projects, t.projects.c.id == t.series.c.project_id)
        .join(t.branches, t.branches.c.id == t.series.c.branch_id)
        .join(t.benchmarks, t.benchmarks.c.id == t.series.c.benchmark_id)
        .join(t.configurations, t.configurations.c.id == t.series.c.configuration_id)
    )


def series_fields_by_prefix(conn: sa.Connection, prefix: str, *, limit: int) -> list[dict[str, Any]]:
    """:func:`series_fields` of up to ``limit`` series whose id starts with ``prefix`` (lower-case hex)."""
    query = series_fields().where(t.series.c.id.startswith(prefix)).limit(limit)
    return [dict(row._mapping) for row in conn.execute(query)]


def list_series(
    conn: sa.Connection,
    *,
    project: str | None = None,
    branch: str | None = None,
    benchmark: str | None = None,
    machine: str | None = None,
    metric: str | None = None,
    ids: Collection[str] | None = None,
    count_revisions: bool = True,
    limit: int | None = None,
) -> list[SeriesRow]:
    """Series matching every given filter; ``benchmark`` matches a substring.

    Counting revisions reads the samples' index of each series listed; without ``count_revisions``
    ``n_revisions`` is ``None`` (a comparison of two revisions lists every series and needs no count).
    """
    query = series_fields().order_by(
        t.projects.c.name,
        t.benchmarks.c.name,
        t.series.c.metric,
        t.series.c.machine_class,
        t.configurations.c.canonical,
    )
    if project:
        query = query.where(t.projects.c.name == project)
    if branch:
        query = query.where(t.branches.c.name == branch)
    if benchmark:
        query = query.where(t.benchmarks.c.name.contains(benchmark, autoescape=True))
    if machine:
        query = query.where(t.series.c.machine_class == machine)
    if metric:
        query = query.where(t.series.c.metric == metric)
    if ids is not None:
        wanted: sa.BindParameter[list[str]] = sa.bindparam("ids", sorted(ids), expanding=True, literal_execute=True)
        query = query.where(t.series.c.id.in_(wanted))
    if limit:
        query = query.limit(limit)
    rows = conn.execute(query).all()
    counts = _revision_counts(conn, [str(row.id) for row in rows]) if count_revisions else {}
    return [
        SeriesRow(**row._mapping, n_revisions=counts.get(str(row.id), 0) if count_revisions else None) for row in rows
    ]


def _revision_counts(conn: sa.Connection, series_ids: Sequence[str]) -> dict[str, int]:
    found: dict[str, int] = {}
    for start in range(0, len(series_ids), 2000):
        chunk: sa.BindParameter[list[str]] = sa.bindparam(
            "ids", list(series_ids[start : start + 2000]), expanding=True, literal_execute=True
        )
        query = (
            sa.select(t.samples.c.series_id, sa.func.count(sa.distinct(t.samples.c.revision_id)))
            .where(t.samples.c.series_id.in_(chunk))
            .group_by(t.samples.c.series_id)
        )
        found.update({str(series_id): int(n) for series_id, n in conn.execute(query)})
    return found


def find_series(conn: sa.Connection, prefix: str) -> list[SeriesRow]:
    """Series whose id starts with ``prefix`` (ids are hashes; a short prefix is enough)."""
    ids = (
        conn.execute(sa.select(t.series.c.id).where(t.series.c.id.startswith(prefix, autoescape=True)).limit(20))
        .scalars()
        .all()
    )
    return list_series(conn, ids=ids) if ids else []


@dataclass(frozen=True, slots=True)
class SeriesPoints:
    """A series as arrays, for statistics: revision ``i`` holds ``values[offsets[i]:offsets[i + 1]]``."""

    positions: np.ndarray[Any, np.dtype[np.int64]]
    revision_ids: np.ndarray[Any, np.dtype[np.int64]]
    offsets: np.ndarray[Any, np.dtype[np.int64]]
    values: FloatArray
    runs: np.ndarray[Any, np.dtype[np.int64]]

    def __len__(self) -> int:
        return int(self.positions.size)

    def samples(self, index: int) -> FloatArray:
        return self.values[self.offsets[index] : self.offsets[index + 1]]


def series_points(
    conn: sa.Connection,
    series_id: str,
    *,
    last_runs: int | None = None,
    first_runs: int | None = None,
    from_position: int = 0,
) -> SeriesPoints:
    """Every revision of the series along its branch, oldest first, repetitions of all runs merged.

    The hot path of detection and graphs: one range scan of the ``(series_id, position)`` index.
    ``last_runs`` reads only the newest runs (incremental detection looks at the tail), ``first_runs``
    only the oldest at or after ``from_position`` (the window after a release tag). A revision cut
    through by either limit keeps only the runs read.
    """
    import numpy as np

    query = sa.select(t.samples.c.position, t.samples.c.revision_id, t.samples.c["values"], t.samples.c.part).where(
        t.samples.c.series_id == series_id
    )
    if from_position:
        query = query.where(t.samples.c.position >= from_position)
    if first_runs is not None:
        rows = conn.execute(query.order_by(t.samples.c.position, t.samples.c.id).limit(first_runs)).all()
    elif last_runs is None:
        rows = conn.execute(query.order_by(t.samples.c.position, t.samples.c.id)).all()
    else:
        newest = query.order_by(t.samples.c.position.desc(), t.samples.c.id.desc()).limit(last_runs)
        rows = list(reversed(conn.execute(newest).all()))
    if not rows:
        empty = np.zeros(0, dtype=np.int64)
        return SeriesPoints(empty, empty, np.zeros(1, dtype=np.int64), np.zeros(0), empty)
    position_list, revision_list, blobs, parts = zip(*rows, strict=True)  # transposed at C speed
    positions = np.array(position_list, dtype=np.int64)
    starts = np.flatnonzero(np.r_[True, positions[1:] != positions[:-1]])
    lengths = np.fromiter(map(len, blobs), dtype=np.int64, count=len(rows)) // 8
    row_offsets = np.concatenate(([0], np.cumsum(lengths)))
    return SeriesPoints(
        positions=positions[starts],
        revision_ids=np.array(revision_list, dtype=np.int64)[starts],
        offsets=np.append(row_offsets[starts], row_offsets[-1]).astype(np.int64),
        values=np.frombuffer(b"".join(blobs), dtype="<f8"),
        runs=np.add.reduceat(np.array(parts, dtype=np.int64) == 0, starts).astype(np.int64),
    )


def series_history(conn: sa.Connection, series_id: str) -> list[RevisionSamples]:
    """:func:`series_points` with each revision's sha, time, author and subject, for people to read."""
    return history_of(conn, series_points(conn, series_id))


def history_of(conn: sa.Connection, points: SeriesPoints) -> list[RevisionSamples]:
    """``points`` (as :func:`series_points` reads them, or rescaled) with each revision's sha, time, author and
    subject."""
    meta: dict[int, Any] = {}
    ids = [int(i) for i in points.revision_ids]
    for start in range(0, len(ids), 5000):
        query = sa.select(
            t.revisions.c.id, t.revisions.c.sha, t.revisions.c.time, t.revisions.c.author, t.revisions.c.message
        ).where(t.revisions.c.id.in_(ids[start : start + 5000]))
        meta.update({row[0]: row for row in conn.execute(query)})
    out = []
    for index, revision_id in enumerate(ids):
        _, sha, time, author, message = meta[revision_id]
        subject = message.split("\n", 1)[0]
        out.append(
            RevisionSamples(
                sha, int(points.positions[index]), time, author, subject, points.samples(index), int(points.runs[index])
            )
        )
    return out


def revisions_by_prefix(conn: sa.Connection, prefix: str, limit: int = 5) -> list[tuple[int, str]]:
    """(id, sha) of stored commits whose sha starts with ``prefix``."""
    query = (
        sa.select(t.revisions.c.id, t.revisions.c.sha)
        .where(t.revisions.c.sha.startswith(prefix.lower(), autoescape=True))
        .limit(limit)
    )
    return [(int(row[0]), row[1]) for row in conn.execute(query)]


def branch_revisions_by_prefix(
    conn: sa.Connection, branch_id: int, prefix: str, limit: int = 5
) -> list[tuple[int, str, int]]:
    """(id, sha, position) of the branch's commits whose sha starts with ``prefix``, in branch order."""
    query = (
        sa.select(t.revisions.c.id, t.revisions.c.sha, t.branch_revisions.c.position)
        .join(t.branch_revisions, t.branch_revisions.c.revision_id == t.revisions.c.id)
        .where(
            t.branch_revisions.c.branch_id == branch_id,
            t.revisions.c.sha.startswith(prefix.lower(), autoescape=True),
        )
        .order_by(t.branch_revisions.c.position)
        .limit(limit)
    )
    return [(int(row[0]), str(row[1]), int(row[2])) for row in conn.execute(query)]


def samples_at_revision(conn: sa.Connection, revision_id: int) -> dict[str, FloatArray]:
    """Every series' repetitions at one revision (all runs merged), by series id."""
    import numpy as np

    query = (
        sa.select(t.samples.c.series_id, t.samples.c["values"])
        .where(t.samples.c.revision_id == revision_id)
        .order_by(t.samples.c.id)
    )
    grouped: dict[str, list[bytes]] = {}
    for series_id, blob in conn.execute(query):
        grouped.setdefault(series_id, []).append(blob)
    return {key: np.frombuffer(b"".join(blobs), dtype="<f8") for key, blobs in grouped.items()}


def branch_id_of_series(conn: sa.Connection, series_id: str) -> int:
    return int(conn.execute(sa.select(t.series.c.branch_id).where(t.series.c.id == series_id)).scalar_one())


def run_medians(conn: sa.Connection, series_id: str, revision_ids: Sequence[int]) -> dict[int, list[float]]:
    """Each run's median of the series at the given revisions: one value per run."""
    out: dict[int, list[float]] = {}
    for start in range(0, len(revision_ids), 5000):
        query = (
            sa.select(t.samples.c.revision_id, t.samples.c.median)
            .where(
                t.samples.c.series_id == series_id,
                t.samples.c.part == 0,
                t.samples.c.revision_id.in_(revision_ids[start : start + 5000]),
            )
            .order_by(t.samples.c.id)
        )
        for revision_id, median in conn.execute(query):
            out.setdefault(int(revision_id), []).append(float(median))
    return out


def failed_runs(
    conn: sa.Connection, revision_ids: Sequence[int], *, machine_class: str, configuration_id: int, source: str
) -> dict[int, int]:
    """How many runs of ``source`` failed (not infra) at each revision on machines of a class, in one configuration."""
    query = (
        sa.select(t.runs.c.revision_id, sa.func.count())
        .join(t.machines, t.machines.c.id == t.runs.c.machine_id)
        .where(
            t.runs.c.revision_id.in_(list(revision_ids)),
            t.machines.c.machine_class == machine_class,
            t.runs.c.configuration_id == configuration_id,
            t.runs.c.source == source,
            t.runs.c.status.in_(["failed", "timeout"]),
        )
        .group_by(t.runs.c.revision_id)
    )
    return {int(rid): int(n) for rid, n in conn.execute(query)}


def branch_positions_at(
    conn: sa.Connection, *, sha: str | None = None, since: datetime | None = None
) -> dict[tuple[str, str], int]:
    """Per (project, branch): the position of commit ``sha``, or of the first commit at or after ``since``."""
    query = (
        sa.select(t.projects.c.name, t.branches.c.name, sa.func.min(t.branch_revisions.c.position))
        .join(t.branches, t.branches.c.id == t.branch_revisions.c.branch_id)
        .join(t.projects, t.projects.c.id == t.branches.c.project_id)
        .join(t.revisions, t.revisions.c.id == t.branch_revisions.c.revision_id)
        .group_by(t.projects.c.name, t.branches.c.name)
    )
    if sha is not None:
        query = query.where(t.revisions.c.sha == sha)
    if since is not None:
        query = query.where(t.revisions.c.time >= since)
    return {(project, branch): int(position) for project, branch, position in conn.execute(query)}


def newest_tags(conn: sa.Connection, pattern: re.Pattern[str]) -> dict[tuple[str, str], tuple[int, str, int]]:
    """Per (project, branch): (tag id, name, branch position) of the newest tag on the branch whose name
    ``pattern`` finds (a release), newest by position on the branch."""
    query = (
        sa.select(t.projects.c.name, t.branches.c.name, t.tags.c.id, t.tags.c.name, t.branch_revisions.c.position)
        .join(t.branch_revisions, t.branch_revisions.c.revision_id == t.tags.c.revision_id)
        .join(t.branches, t.branches.c.id == t.branch_revisions.c.branch_id)
        .join(t.projects, t.projects.c.id == t.branches.c.project_id)
        .order_by(t.branch_revisions.c.position, t.tags.c.name)
    )
    found: dict[tuple[str, str], tuple[int, str, int]] = {}
    for project, branch, tag_id, name, position in conn.execute(query):
        if pattern.search(name):
            found[(str(project), str(branch))] = (int(tag_id), str(name), int(position))
    return found


def revisions_measured(conn: sa.Connection, series_id: str, *, from_position: int = 0) -> int:
    """How many revisions of the series have samples, at or after ``from_position``."""
    query = sa.select(sa.func.count(sa.distinct(t.samples.c.position))).where(
        t.samples.c.series_id == series_id, t.samples.c.position >= from_position
    )
    return int(conn.execute(query).scalar_one())

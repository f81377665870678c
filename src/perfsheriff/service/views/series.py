"""The read model of series, shared by the CLI, the API and the dashboard.

Each read takes SQLAlchemy's connection, or the standard library's sqlite3 connection that
:func:`quick_connection` opens on an SQLite file at the newest schema: ``perfsheriff series`` and ``show`` read
through it (:mod:`perfsheriff.store.sqlite_reads`) without loading SQLAlchemy, and get the same answers.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from perfsheriff.errors import InputError, NotFoundError
from perfsheriff.stats.revision_levels import revision_levels
from perfsheriff.store import sqlite_reads
from perfsheriff.store.series_rows import RevisionSamples, SeriesRow
from perfsheriff.triage.sensitivity import COUNTING_STATES, Sensitivity, learnt_by_series

if TYPE_CHECKING:
    import sqlalchemy as sa

    from perfsheriff.service.generations.factors import GenerationFactor
    from perfsheriff.store import alerts as alert_store

__all__ = [
    "NeedsStore",
    "RevisionPoint",
    "SeriesDetail",
    "SeriesRow",
    "list_series",
    "quick_connection",
    "series_detail",
]


class NeedsStore(Exception):
    """The series is to be read rescaled across a machine upgrade, which only the store's reads do: read it
    again through a SQLAlchemy connection."""


@dataclass(frozen=True, slots=True)
class RevisionPoint:
    """One revision of a series as people read it: count, median and spread of its samples."""

    revision: str
    position: int
    author: str
    subject: str
    n_samples: int
    n_runs: int
    median: float
    mad: float
    min: float
    max: float
    samples: tuple[float, ...]


@dataclass(frozen=True, slots=True)
class SeriesDetail:
    series: SeriesRow
    points: list[RevisionPoint]
    # What triage taught detection about this series (docs/triage.md, "Sensitivity learnt from triage").
    sensitivity: Sensitivity = field(default_factory=Sensitivity)
    # Its class's upgrades with the series' factor across each; ``rescaled``: the points are in the newest
    # generation's units where a factor is applied (the raw samples are unchanged).
    generations: list[GenerationFactor] = field(default_factory=list)
    rescaled: bool = False


def quick_connection(url: str) -> sqlite3.Connection | None:
    """An sqlite3 connection to the database at ``url`` for the reads here, when the database is an SQLite file
    at the newest schema; None otherwise: open the store as every command does (it creates, migrates or refuses
    the database). The caller closes it."""
    return sqlite_reads.connect(url)


def list_series(
    conn: sa.Connection | sqlite3.Connection,
    *,
    project: str | None = None,
    branch: str | None = None,
    benchmark: str | None = None,
    machine: str | None = None,
    metric: str | None = None,
) -> list[SeriesRow]:
    """Series matching every given filter (``benchmark`` matches a substring), with their revision counts."""
    if isinstance(conn, sqlite3.Connection):
        return sqlite_reads.list_series(
            conn, project=project, branch=branch, benchmark=benchmark, machine=machine, metric=metric
        )
    from perfsheriff.store import queries  # SQLAlchemy's statements: for SQLAlchemy's connection only

    return queries.list_series(
        conn, project=project, branch=branch, benchmark=benchmark, machine=machine, metric=metric
    )


def resolve_series(conn: sa.Connection | sqlite3.Connection, prefix: str, *, field: str = "SERIES") -> SeriesRow:
    """The one series whose id starts with ``prefix`` (``field``: what the errors name it)."""
    if not prefix or len(prefix) > 16:
        raise InputError(f"expected a series id (up to 16 hex digits), got {prefix!r}", where=field).about(field)
    if isinstance(conn, sqlite3.Connection):
        found = sqlite_reads.find_series(conn, prefix.lower())
    else:
        from perfsheriff.store import queries

        found = queries.find_series(conn, prefix.lower())
    if not found:
        raise NotFoundError(f"no series with id {prefix!r}: `perfsheriff series` lists them").about(field)
    if len(found) > 1:
        ids = ", ".join(row.id for row in found[:5])
        raise InputError(f"series id {prefix!r} is ambiguous ({ids}...): give more digits", where=field).about(field)
    return found[0]


def suspect_commits(conn: sa.Connection, alert: alert_store.AlertRow) -> list[tuple[str, str, str]]:
    """(sha, author, subject) of every commit an alert's change may come from, roll-up members included."""
    from perfsheriff.store import alerts as alert_store
    from perfsheriff.store import queries

    branch_id = queries.branch_id_of_series(conn, alert.series_id)
    return alert_store.revisions_between(conn, branch_id, alert.last_good_position, alert.first_bad_position)


def _point(entry: RevisionSamples) -> RevisionPoint | None:
    levels = revision_levels(entry.values)  # plain Python, equal to summarize's figures: `show` loads no numpy
    if levels is None:
        return None
    return RevisionPoint(
        revision=entry.sha,
        position=entry.position,
        author=entry.author,
        subject=entry.subject,
        n_samples=levels.n,
        n_runs=entry.n_runs,
        median=levels.median,
        mad=levels.mad,
        min=levels.min,
        max=levels.max,
        samples=tuple(float(v) for v in entry.values),
    )


def series_detail(conn: sa.Connection | sqlite3.Connection, prefix: str, *, raw: bool = False) -> SeriesDetail:
    """A series and its history along the branch, oldest revision first, with the sensitivity triage taught
    detection about it (as :func:`perfsheriff.service.sheriffing.sensitivity.learnt` reads it).

    Across a recorded upgrade of its machine class the values are in the newest generation's units where the
    factor is applied, unless ``raw``; raises :class:`NeedsStore` for that on an sqlite3 connection."""
    row = resolve_series(conn, prefix)
    generations: list[GenerationFactor] = []
    rescaled = False
    if isinstance(conn, sqlite3.Connection):
        if sqlite_reads.upgraded(conn, row.machine_class):
            raise NeedsStore(row.id)
        history = sqlite_reads.series_history(conn, row.id)
        triaged = sqlite_reads.triaged_step_alerts(conn, COUNTING_STATES, series_ids=[row.id])
    else:
        from perfsheriff.service.generations.factors import rescaled_points, series_factors
        from perfsheriff.store import generations as generation_store
        from perfsheriff.store import queries, triage

        across = None
        if generation_store.upgraded(conn, row.machine_class):
            across = None if raw else rescaled_points(conn, row.id, row.machine_class)
            generations = series_factors(conn, row.id, row.machine_class) if across is None else across[1]
        if across is None:
            history = queries.series_history(conn, row.id)
        else:
            history = queries.history_of(conn, across[0])
            rescaled = any(f.applied for f in generations)
        triaged = triage.triaged_step_alerts(conn, COUNTING_STATES, series_ids=[row.id])
    points = [p for p in map(_point, history) if p is not None]
    return SeriesDetail(row, points, learnt_by_series(triaged).get(row.id, Sensitivity()), generations, rescaled)

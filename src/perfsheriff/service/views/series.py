"""The read model of series, shared by the CLI, the API and the dashboard."""

from __future__ import annotations

from dataclasses import dataclass, field

import sqlalchemy as sa

from perfsheriff.errors import InputError, NotFoundError
from perfsheriff.service.sheriffing import sensitivity
from perfsheriff.store import alerts as alert_store
from perfsheriff.store import queries
from perfsheriff.store.queries import RevisionSamples, SeriesRow, list_series
from perfsheriff.triage.sensitivity import Sensitivity

__all__ = ["RevisionPoint", "SeriesDetail", "SeriesRow", "list_series", "series_detail"]


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


def resolve_series(conn: sa.Connection, prefix: str, *, field: str = "SERIES") -> SeriesRow:
    """The one series whose id starts with ``prefix`` (``field``: what the errors name it)."""
    if not prefix or len(prefix) > 16:
        raise InputError(f"expected a series id (up to 16 hex digits), got {prefix!r}", where=field).about(field)
    found = queries.find_series(conn, prefix.lower())
    if not found:
        raise NotFoundError(f"no series with id {prefix!r}: `perfsheriff series` lists them").about(field)
    if len(found) > 1:
        ids = ", ".join(row.id for row in found[:5])
        raise InputError(f"series id {prefix!r} is ambiguous ({ids}...): give more digits", where=field).about(field)
    return found[0]


def suspect_commits(conn: sa.Connection, alert: alert_store.AlertRow) -> list[tuple[str, str, str]]:
    """(sha, author, subject) of every commit an alert's change may come from, roll-up members included."""
    branch_id = queries.branch_id_of_series(conn, alert.series_id)
    return alert_store.revisions_between(conn, branch_id, alert.last_good_position, alert.first_bad_position)


def _point(entry: RevisionSamples) -> RevisionPoint | None:
    from perfsheriff.stats.summary import NoSamples, summarize  # numpy: for a series' samples, not the list

    summary = summarize(entry.values)
    if isinstance(summary, NoSamples):
        return None
    return RevisionPoint(
        revision=entry.sha,
        position=entry.position,
        author=entry.author,
        subject=entry.subject,
        n_samples=summary.n,
        n_runs=entry.n_runs,
        median=summary.median,
        mad=summary.mad,
        min=summary.min,
        max=summary.max,
        samples=tuple(float(v) for v in entry.values),
    )


def series_detail(conn: sa.Connection, prefix: str) -> SeriesDetail:
    """A series and its history along the branch, oldest revision first."""
    row = resolve_series(conn, prefix)
    points = [p for p in map(_point, queries.series_history(conn, row.id)) if p is not None]
    learnt = sensitivity.learnt(conn, [row.id]).get(row.id, Sensitivity())
    return SeriesDetail(row, points, learnt)

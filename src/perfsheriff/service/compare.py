"""Compare two revisions across every series measured at both (never across configurations)."""

from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa

from perfsheriff.errors import InputError, NotFoundError
from perfsheriff.model import Direction
from perfsheriff.stats.compare import CompareSettings, Comparison, compare
from perfsheriff.store import queries
from perfsheriff.store.queries import SeriesRow


@dataclass(frozen=True, slots=True)
class SeriesComparison:
    series: SeriesRow
    comparison: Comparison


@dataclass(frozen=True, slots=True)
class RevisionComparison:
    base: str
    head: str
    rows: list[SeriesComparison]


def resolve_stored_revision(conn: sa.Connection, rev: str) -> tuple[int, str]:
    """A stored commit by full or abbreviated sha (at least 4 hex digits)."""
    text = rev.strip().lower()
    if len(text) < 4 or any(c not in "0123456789abcdef" for c in text):
        raise InputError(f"expected a commit sha (4 to 40 hex digits), got {rev!r}; pass --repo to use git expressions")
    found = queries.revisions_by_prefix(conn, text)
    if not found:
        raise NotFoundError(f"no stored revision {rev!r}: ingest results for it first")
    if len({sha for _, sha in found}) > 1:
        raise InputError(f"revision {rev!r} is ambiguous: give more digits")
    return found[0]


def compare_revisions(
    conn: sa.Connection, base: str, head: str, settings: CompareSettings | None = None
) -> RevisionComparison:
    """Compare the samples of ``head`` with those of ``base`` for every series that has both."""
    base_id, base_sha = resolve_stored_revision(conn, base)
    head_id, head_sha = resolve_stored_revision(conn, head)
    base_samples = queries.samples_at_revision(conn, base_id)
    head_samples = queries.samples_at_revision(conn, head_id)
    common = base_samples.keys() & head_samples.keys()
    rows = [row for row in queries.list_series(conn) if row.id in common]
    compared = [
        SeriesComparison(row, compare(base_samples[row.id], head_samples[row.id], Direction(row.direction), settings))
        for row in rows
    ]
    return RevisionComparison(base_sha, head_sha, compared)

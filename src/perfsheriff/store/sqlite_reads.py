"""The reads of ``perfsheriff series`` and ``perfsheriff show`` on an SQLite file, through the standard
library's ``sqlite3`` instead of SQLAlchemy.

Importing SQLAlchemy (and building the tables of ``schema.py``) took these two commands longer than all
their other work; they send five short SELECTs. The statements here are the ones SQLAlchemy compiles for
:func:`queries.list_series`, :func:`queries.find_series`, :func:`queries.series_history` and
:func:`triage.triaged_step_alerts` on SQLite, written out, and return the same values:
``tests/integration/test_sqlite_reads.py`` compares the statements with SQLAlchemy's and both readers'
answers on the same databases. Every other read, and every read of PostgreSQL, goes through SQLAlchemy.

:func:`connect` serves only a plain ``sqlite:///`` URL of an existing file whose schema is the newest one;
for anything else it returns None and the caller opens the store as every command does, which creates,
migrates or refuses the database as before.
"""

from __future__ import annotations

import sqlite3
import struct
from collections.abc import Collection, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from perfsheriff.alerts import AlertKind
from perfsheriff.store.schema_version import head_revision
from perfsheriff.store.series_rows import RevisionSamples, SeriesRow

_PREFIX = "sqlite:///"
#: Bound values per statement: far below SQLite's limit (999 before 3.32).
_CHUNK = 500

_SERIES_FIELDS = (
    "SELECT series.id, projects.name AS project, branches.name AS branch, benchmarks.name AS benchmark, "
    "benchmarks.suite, series.metric, series.unit, series.direction, series.machine_class, "
    "configurations.canonical AS configuration \n"
    "FROM series JOIN projects ON projects.id = series.project_id "
    "JOIN branches ON branches.id = series.branch_id JOIN benchmarks ON benchmarks.id = series.benchmark_id "
    "JOIN configurations ON configurations.id = series.configuration_id"
)
_SERIES_ORDER = (
    " ORDER BY projects.name, benchmarks.name, series.metric, series.machine_class, configurations.canonical"
)
_REVISION_COUNTS = (
    "SELECT samples.series_id, count(DISTINCT samples.revision_id) AS count_1 \n"
    "FROM samples \nWHERE samples.series_id IN ({}) GROUP BY samples.series_id"
)
_SERIES_BY_PREFIX = "SELECT series.id \nFROM series \nWHERE (series.id LIKE ? || '%' ESCAPE '/')\n LIMIT ? OFFSET ?"
_SAMPLES = (
    'SELECT samples.position, samples.revision_id, samples."values", samples.part \n'
    "FROM samples \nWHERE samples.series_id = ? ORDER BY samples.position, samples.id"
)
_REVISIONS = (
    "SELECT revisions.id, revisions.sha, revisions.time, revisions.author, revisions.message \n"
    "FROM revisions \nWHERE revisions.id IN ({})"
)
_TRIAGED = (
    "SELECT alerts.series_id, alert_summaries.state, alerts.relative_change, alerts.created_by IS NOT NULL AS anon_1 \n"
    "FROM alerts JOIN alert_summaries ON alert_summaries.id = alerts.summary_id \n"
    "WHERE alerts.kind != ? AND alert_summaries.state IN ({}){} ORDER BY alerts.id"
)


def connect(url: str) -> sqlite3.Connection | None:
    """A connection to the SQLite file of ``url`` when its schema is the newest; else None (see the module).

    Served: ``sqlite:///`` and a path with no query, no %-escape and not ``:memory:``, naming a file that
    exists. The connection waits for a writer as the engine's does (30 s) and only reads.
    """
    path = _plain_path(url)
    if path is None or not Path(path).is_file():
        return None
    try:
        conn = sqlite3.connect(path, timeout=30.0)
    except sqlite3.Error:  # unreadable: the engine says what is wrong, as before
        return None
    try:
        current = _schema_revision(conn)
    except sqlite3.Error:  # not a database, or unreadable
        current = None
    if current != head_revision():
        conn.close()
        return None
    return conn


def _plain_path(url: str) -> str | None:
    if not url.startswith(_PREFIX):
        return None
    path = url.removeprefix(_PREFIX)
    if not path or path == ":memory:" or any(c in path for c in "?%"):
        return None
    return path


def _schema_revision(conn: sqlite3.Connection) -> str | None:
    """The schema revision as :func:`database.current_revision` reads it; None for a blank database."""
    found = conn.execute("SELECT name FROM sqlite_master WHERE type = 'table' AND name = 'alembic_version'")
    if found.fetchone() is None:
        return None
    versions = [str(row[0]) for row in conn.execute("SELECT version_num FROM alembic_version")]
    return ", ".join(sorted(versions)) or None


def list_series(
    conn: sqlite3.Connection,
    *,
    project: str | None = None,
    branch: str | None = None,
    benchmark: str | None = None,
    machine: str | None = None,
    metric: str | None = None,
    ids: Collection[str] | None = None,
) -> list[SeriesRow]:
    """:func:`queries.list_series` (revisions counted, no limit)."""
    if ids is not None and not ids:
        return []  # SQLAlchemy's empty IN matches nothing
    clauses: list[str] = []
    params: list[Any] = []
    for clause, value in (
        ("projects.name = ?", project),
        ("branches.name = ?", branch),
        ("(benchmarks.name LIKE '%' || ? || '%' ESCAPE '/')", _like_escaped(benchmark) if benchmark else None),
        ("series.machine_class = ?", machine),
        ("series.metric = ?", metric),
    ):
        if value:
            clauses.append(clause)
            params.append(value)
    if ids is not None:
        wanted = sorted(ids)
        clauses.append(f"series.id IN ({_marks(len(wanted))})")
        params.extend(wanted)
    where = f" \nWHERE {' AND '.join(clauses)}" if clauses else ""
    cursor = conn.execute(_SERIES_FIELDS + where + _SERIES_ORDER, params)
    names = [column[0] for column in cursor.description]  # the labels of the SELECT: SeriesRow's fields
    rows = [dict(zip(names, row, strict=True)) for row in cursor]
    counts = _revision_counts(conn, [str(row["id"]) for row in rows])
    return [SeriesRow(**row, n_revisions=counts.get(str(row["id"]), 0)) for row in rows]


def _revision_counts(conn: sqlite3.Connection, series_ids: Sequence[str]) -> dict[str, int]:
    found: dict[str, int] = {}
    for start in range(0, len(series_ids), _CHUNK):
        chunk = series_ids[start : start + _CHUNK]
        found.update(
            {
                str(series_id): int(n)
                for series_id, n in conn.execute(_REVISION_COUNTS.format(_marks(len(chunk))), chunk)
            }
        )
    return found


def find_series(conn: sqlite3.Connection, prefix: str) -> list[SeriesRow]:
    """:func:`queries.find_series`: series whose id starts with ``prefix``."""
    ids = [str(row[0]) for row in conn.execute(_SERIES_BY_PREFIX, (_like_escaped(prefix), 20, 0))]
    return list_series(conn, ids=ids) if ids else []


def series_history(conn: sqlite3.Connection, series_id: str) -> list[RevisionSamples]:
    """:func:`queries.series_history`: every revision of the series along its branch, oldest first; the values
    as a tuple of floats, not a numpy array (``show`` does not load numpy)."""
    # One entry per position, in the order of the index: the first row's revision, every row's values, and
    # the runs (a run's first part is part 0), as queries.series_points groups them.
    positions: list[int] = []
    ids: list[int] = []
    blobs: list[list[bytes]] = []
    runs: list[int] = []
    for position, revision_id, blob, part in conn.execute(_SAMPLES, (series_id,)):
        if not positions or positions[-1] != position:
            positions.append(position)
            ids.append(revision_id)
            blobs.append([])
            runs.append(0)
        blobs[-1].append(blob)
        runs[-1] += part == 0
    meta: dict[int, tuple[Any, ...]] = {}
    for start in range(0, len(ids), _CHUNK):
        chunk = ids[start : start + _CHUNK]
        meta.update({row[0]: row for row in conn.execute(_REVISIONS.format(_marks(len(chunk))), chunk)})
    out = []
    for index, revision_id in enumerate(ids):
        _, sha, time, author, message = meta[revision_id]
        joined = b"".join(blobs[index])
        values = struct.unpack(f"<{len(joined) // 8}d", joined)  # little-endian float64, as stored
        subject = message.split("\n", 1)[0]
        out.append(RevisionSamples(sha, positions[index], _utc(time), author, subject, values, runs[index]))
    return out


def upgraded(conn: sqlite3.Connection, machine_class: str) -> bool:
    """Whether an upgrade of the machine class is recorded (``machine_generations``): its series are then read
    rescaled, which the store's reads do. The statement is ``generations.upgraded``'s, word for word."""
    query = "SELECT 1 FROM machine_generations WHERE machine_class = ? LIMIT 1"
    return conn.execute(query, (machine_class,)).fetchone() is not None


def triaged_step_alerts(
    conn: sqlite3.Connection, states: Sequence[str], *, series_ids: Sequence[str] | None = None
) -> list[tuple[str, str, float, bool]]:
    """:func:`triage.triaged_step_alerts`: (series id, summary state, relative change, made by hand)."""
    if not states or (series_ids is not None and not series_ids):
        return []  # SQLAlchemy's empty IN matches nothing
    params: list[Any] = [AlertKind.DRIFT.value, *states]
    of_series = ""
    if series_ids is not None:
        of_series = f" AND alerts.series_id IN ({_marks(len(series_ids))})"
        params.extend(series_ids)
    query = _TRIAGED.format(_marks(len(states)), of_series)
    return [
        (str(series_id), str(state), float(change), bool(handmade))
        for series_id, state, change, handmade in conn.execute(query, params)
    ]


def _marks(n: int) -> str:
    """``n`` placeholders (``n`` > 0) for ``IN (...)``."""
    return ", ".join("?" * n)


def _like_escaped(text: str) -> str:
    """``text`` matched literally by ``LIKE ... ESCAPE '/'``, as SQLAlchemy's ``autoescape`` writes it."""
    return text.replace("/", "//").replace("%", "/%").replace("_", "/_")


def _utc(text: str) -> datetime:
    """A stored moment as ``schema.UtcDateTime`` reads it from SQLite: aware, in UTC."""
    moment = datetime.fromisoformat(text)
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)

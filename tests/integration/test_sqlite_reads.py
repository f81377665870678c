"""The sqlite3 reads of ``perfsheriff series`` and ``show`` (``store/sqlite_reads.py``) send SQLite the statements
SQLAlchemy sends, answer as SQLAlchemy's reads do, and serve only an SQLite file at the newest schema.

One SQLite database holds a month of sheriffing (``support.sheriffing``: three benchmarks on two machine
classes, alerts in decided, open and drift summaries) and more: the same benchmarks on a second branch (series
that tie on every column ``list_series`` orders by but the branch), a benchmark whose name holds LIKE's
wildcards and escape character, a revision measured by two runs, runs of several parts, and a hand-made alert.
"""

from __future__ import annotations

import shutil
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from perfsheriff.gitrepo import GitRepo
from perfsheriff.model import BenchmarkResult, Configuration, ResultSet
from perfsheriff.service.intake import ingest
from perfsheriff.service.views import series as series_service
from perfsheriff.store import database, queries, sqlite_reads
from perfsheriff.store import triage as triage_store
from perfsheriff.store.schema import VALUES_PER_PART
from perfsheriff.store.series_rows import RevisionSamples
from perfsheriff.triage import State
from perfsheriff.triage.sensitivity import COUNTING_STATES
from support.sheriffing import MACHINES, NOW, PROJECT, build_history

WILD = "a_b%c/d"  # LIKE's wildcards and the escape character SQLAlchemy's autoescape uses


def _store(engine: Engine, git: GitRepo, branch: str, machine_index: int, results: ResultSet, key: str) -> None:
    target = ingest.prepare_target(
        engine,
        git,
        revision=branch,
        machine=MACHINES[machine_index],
        configuration=Configuration.of({"os": "any"}),
        branch=branch,
    )
    with engine.begin() as conn:
        ingest.store_result_set(conn, target, results, source="test", content_hash=key, now=NOW)


@pytest.fixture(scope="module")
def url(tmp_path_factory: pytest.TempPathFactory, sqlite_template: Path) -> str:
    folder = tmp_path_factory.mktemp("sqlite-reads")
    shutil.copy(sqlite_template, folder / "perfsheriff.db")
    url = f"sqlite:///{folder / 'perfsheriff.db'}"
    engine = database.create_engine(url)
    history = build_history(engine, folder)
    handmade = history.alert("parse", 3, 4, at=NOW, created_by="ada")  # open, made by hand: counts
    history.summary(handmade, NOW)
    repo = history.repo
    repo.branch("release")
    repo.switch("release")
    repo.commit("release: one more\n\nwith a body", files={"level.txt": "r\n"})
    git = GitRepo(repo.path)
    many = tuple(float(i % 7) for i in range(2 * VALUES_PER_PART + 3))  # three parts
    for machine_index in range(len(MACHINES)):
        results = ResultSet(
            "perfsheriff",
            (BenchmarkResult("parse", "ms", (10.0, 11.0), suite="core"), BenchmarkResult(WILD, "ms", many)),
        )
        _store(engine, git, "release", machine_index, results, f"first {machine_index}")
    again = ResultSet("perfsheriff", (BenchmarkResult("parse", "ms", (12.0, 13.0, 14.0), suite="core"),))
    _store(engine, git, "release", 0, again, "second")  # a second run at the same revision
    engine.dispose()
    return url


@pytest.fixture
def readers(url: str) -> Iterator[tuple[sqlite3.Connection, sa.Connection]]:
    quick = sqlite_reads.connect(url)
    assert quick is not None
    engine = database.create_engine(url)
    with engine.connect() as conn:
        yield quick, conn
    quick.close()
    engine.dispose()


FILTERS: list[dict[str, Any]] = [
    {},
    {"project": PROJECT},
    {"project": "nope"},
    {"branch": "release"},
    {"branch": "main", "machine": "linux"},
    {"benchmark": "ar"},
    {"benchmark": "PARSE"},  # LIKE is case-blind for ASCII, on both paths
    {"benchmark": "%"},
    {"benchmark": "_"},
    {"benchmark": "b%c/"},
    {"benchmark": "/"},
    {"machine": "arm-mac", "metric": "time"},
    {"project": PROJECT, "branch": "release", "benchmark": "a", "machine": "linux", "metric": "time"},
]


def test_the_database_holds_what_the_comparisons_need(readers: tuple[sqlite3.Connection, sa.Connection]) -> None:
    _, conn = readers
    rows = queries.list_series(conn)
    by_order = [(r.project, r.benchmark, r.metric, r.machine_class, r.configuration) for r in rows]
    assert len(set(by_order)) < len(by_order)  # series that only their branch tells apart
    assert any(r.benchmark == WILD for r in rows)
    parts = conn.execute(sa.text("SELECT max(part) FROM samples")).scalar()
    assert parts == 2
    triaged = triage_store.triaged_step_alerts(conn, COUNTING_STATES)
    assert {state for _, state, _, _ in triaged} >= {"acknowledged", "invalid"}
    assert any(handmade for *_, handmade in triaged)


@pytest.mark.parametrize("filters", FILTERS, ids=lambda f: ",".join(f"{k}={v}" for k, v in f.items()) or "all")
def test_list_series_answers_alike(readers: tuple[sqlite3.Connection, sa.Connection], filters: dict[str, Any]) -> None:
    quick, conn = readers
    assert sqlite_reads.list_series(quick, **filters) == queries.list_series(conn, **filters)
    assert series_service.list_series(quick, **filters) == series_service.list_series(conn, **filters)


def test_find_series_answers_alike_for_every_prefix(readers: tuple[sqlite3.Connection, sa.Connection]) -> None:
    quick, conn = readers
    prefixes = {"", "%", "_", "/", "0", "f", *(r.id[:n] for r in queries.list_series(conn) for n in (1, 2, 3, 16))}
    for prefix in sorted(prefixes):
        assert sqlite_reads.find_series(quick, prefix) == queries.find_series(conn, prefix), prefix
    assert sqlite_reads.list_series(quick, ids=[]) == queries.list_series(conn, ids=[]) == []


def _history(entries: list[RevisionSamples]) -> list[tuple[object, ...]]:
    return [
        (e.sha, e.position, e.time, e.author, e.subject, [repr(float(v)) for v in e.values], e.n_runs) for e in entries
    ]


def test_series_history_and_detail_answer_alike(readers: tuple[sqlite3.Connection, sa.Connection]) -> None:
    quick, conn = readers
    for row in queries.list_series(conn):
        assert _history(sqlite_reads.series_history(quick, row.id)) == _history(queries.series_history(conn, row.id))
        assert series_service.series_detail(quick, row.id[:6]) == series_service.series_detail(conn, row.id[:6])
    assert sqlite_reads.series_history(quick, "no such series") == []


def test_triaged_step_alerts_answer_alike(readers: tuple[sqlite3.Connection, sa.Connection]) -> None:
    quick, conn = readers
    ids = [r.id for r in queries.list_series(conn)]
    for states in (COUNTING_STATES, [s.value for s in State], ["invalid"], []):
        for series_ids in (None, ids, ids[:1], []):
            found = sqlite_reads.triaged_step_alerts(quick, states, series_ids=series_ids)
            assert found == triage_store.triaged_step_alerts(conn, states, series_ids=series_ids), (states, series_ids)


def test_only_an_sqlite_file_at_the_newest_schema_is_served(tmp_path: Path, sqlite_template: Path) -> None:
    current = tmp_path / "current.db"
    shutil.copy(sqlite_template, current)
    served = sqlite_reads.connect(f"sqlite:///{current}")
    assert served is not None
    served.close()

    older = tmp_path / "older.db"
    engine = database.create_engine(f"sqlite:///{older}")
    database.upgrade(engine, "0007")
    engine.dispose()
    blank = tmp_path / "blank.db"
    sqlite3.connect(blank).close()
    garbage = tmp_path / "garbage.db"
    garbage.write_bytes(b"not a database, not at all" * 10)
    for url in (
        f"sqlite:///{older}",  # migrated (or refused) by open_store, as before
        f"sqlite:///{blank}",
        f"sqlite:///{garbage}",
        f"sqlite:///{tmp_path / 'missing.db'}",  # created and migrated by open_store
        f"sqlite:///{current}?timeout=5",
        f"sqlite:///{str(current).replace('.', '%2E')}",
        "sqlite://",
        "sqlite:///:memory:",
        "sqlite+pysqlite:///" + str(current),
        "postgresql+psycopg://nobody@127.0.0.1:1/none",
    ):
        assert sqlite_reads.connect(url) is None, url
    assert not (tmp_path / "missing.db").exists()


@pytest.mark.parametrize("filters", FILTERS[:6], ids=lambda f: ",".join(f"{k}={v}" for k, v in f.items()) or "all")
def test_the_statements_are_the_ones_sqlalchemy_sends(
    readers: tuple[sqlite3.Connection, sa.Connection], filters: dict[str, Any]
) -> None:
    """Word for word, as SQLite receives them (bound values written in): the same statement gets the same
    plan, so rows that tie on every ORDER BY column come in the same order."""
    quick, conn = readers
    sent: dict[str, list[str]] = {"quick": [], "sqlalchemy": []}
    quick.set_trace_callback(sent["quick"].append)
    conn.connection.dbapi_connection.set_trace_callback(sent["sqlalchemy"].append)  # type: ignore[union-attr]
    some = queries.list_series(conn, **filters)
    sqlite_reads.list_series(quick, **filters)
    for row in some[:2]:
        series_service.series_detail(conn, row.id[:5])
        series_service.series_detail(quick, row.id[:5])
    assert sent["quick"] == sent["sqlalchemy"]
    # the list (and its counts), 7 per detail (the 7th: was its machine class upgraded)
    assert len(sent["quick"]) == 1 + bool(some) + 7 * len(some[:2])

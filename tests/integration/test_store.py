"""The store on real SQLite and PostgreSQL: migrations, history import, runs and samples."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from perfsheriff.errors import StoreError
from perfsheriff.gitrepo import GitRepo
from perfsheriff.model import BenchmarkResult, Configuration, Direction, Machine, ResultSet
from perfsheriff.service.intake import ingest
from perfsheriff.service.intake.history import import_history
from perfsheriff.service.views import series
from perfsheriff.store import database, queries, records
from perfsheriff.store import schema as t
from support.gitfixtures import Repo, merge_bot_history

NOW = datetime(2026, 1, 1, tzinfo=UTC)


def test_schema_is_at_head_and_matches_the_tables(engine: Engine) -> None:
    assert database.current_revision(engine) == database.head_revision()
    database.check_models(engine)  # raises when schema.py drifted from the migrations
    database.ensure_current(engine)


def test_the_head_read_from_the_migration_files_is_alembics() -> None:
    from alembic.script import ScriptDirectory

    assert database.head_revision() == ScriptDirectory(str(database.MIGRATIONS)).get_current_head()


def test_ensure_current_names_the_fix_for_an_unmigrated_database(tmp_path: Path) -> None:
    empty = database.create_engine(f"sqlite:///{tmp_path / 'new.db'}")
    with pytest.raises(StoreError, match="perfsheriff db upgrade"):
        database.ensure_current(empty)


def test_sqlite_runs_in_wal_mode(tmp_path: Path) -> None:
    engine = database.create_engine(f"sqlite:///{tmp_path / 'wal.db'}")
    with engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1


def _positions(conn: sa.Connection, branch_id: int) -> list[tuple[str, int, bool]]:
    query = (
        sa.select(t.revisions.c.sha, t.branch_revisions.c.position, t.branch_revisions.c.first_parent)
        .join(t.revisions, t.revisions.c.id == t.branch_revisions.c.revision_id)
        .where(t.branch_revisions.c.branch_id == branch_id)
        .order_by(t.branch_revisions.c.position)
    )
    return [(row[0], row[1], row[2]) for row in conn.execute(query)]


def test_history_import_orders_roll_up_members_before_their_merge(engine: Engine, tmp_path: Path) -> None:
    repo, shas = merge_bot_history(tmp_path / "repo")
    with engine.begin() as conn:
        project = records.project_id(conn, "demo")
        imported = import_history(conn, GitRepo(repo.path), project, "main")
        order = _positions(conn, imported.branch_id)
        n_pushes = conn.execute(sa.select(sa.func.count()).select_from(t.pushes)).scalar_one()
    assert imported.new_pushes == n_pushes == 9  # one per first-parent commit
    names = {sha: name for name, sha in shas.items()}
    sequence = [names[sha] for sha, _, _ in order]
    assert sequence.index("s1a") < sequence.index("s1c") < sequence.index("m1") < sequence.index("f1")
    assert {names[sha] for sha, _, first in order if first} == {"root", "c1", "m1", "f1", "f2", "m2", "c2", "m3", "c3"}
    assert [pos for _, pos, _ in order] == list(range(len(order)))
    assert len(order) == len(shas)


def test_history_import_is_incremental(engine: Engine, tmp_path: Path) -> None:
    repo = Repo.init(tmp_path / "repo")
    repo.commits(["one", "two"])
    git = GitRepo(repo.path)
    with engine.begin() as conn:
        project = records.project_id(conn, "demo")
        first = import_history(conn, git, project, "main")
    side, merge = repo.rollup("r1", ["three", "four"])
    with engine.begin() as conn:
        second = import_history(conn, git, project, "main")
        again = import_history(conn, git, project, "main")
        order = [sha for sha, _, _ in _positions(conn, second.branch_id)]
    assert (first.new_pushes, second.new_pushes, again.new_pushes) == (2, 1, 0)
    assert second.new_revisions == 3
    assert order[-3:] == [*side, merge]


def _results(values: dict[str, list[float]]) -> ResultSet:
    return ResultSet("perfsheriff", tuple(BenchmarkResult(name, "ms", tuple(v)) for name, v in values.items()))


def _target(engine: Engine, repo: Repo, revision: str, machine: str = "box-1") -> ingest.Target:
    return ingest.prepare_target(
        engine,
        GitRepo(repo.path),
        revision=revision,
        machine=Machine(machine),
        configuration=Configuration.of({"os": "linux"}),
    )


def test_runs_store_every_repetition_and_read_back_in_branch_order(engine: Engine, tmp_path: Path) -> None:
    repo = Repo.init(tmp_path / "repo")
    shas = repo.commits(["a", "b", "c"])
    for index, sha in enumerate(reversed(shas)):  # ingest out of order on purpose
        target = _target(engine, repo, sha)
        with engine.begin() as conn:
            ingest.store_result_set(
                conn,
                target,
                _results({"parse": [10.0 + index, 11.0, 12.5]}),
                source=f"f{index}",
                content_hash=sha,
                now=NOW,
            )
    with engine.connect() as conn:
        (row,) = series.list_series(conn)
        detail = series.series_detail(conn, row.id[:6])
    assert row.benchmark == "parse"
    assert row.direction == Direction.LOWER_IS_BETTER.value
    assert row.n_revisions == 3
    assert [p.revision for p in detail.points] == shas
    assert [p.samples for p in detail.points] == [(12.0, 11.0, 12.5), (11.0, 11.0, 12.5), (10.0, 11.0, 12.5)]
    assert detail.points[0].median == 12.0


def test_same_content_twice_is_one_run(engine: Engine, tmp_path: Path) -> None:
    repo = Repo.init(tmp_path / "repo")
    sha = repo.commit("a")
    target = _target(engine, repo, sha)
    outcomes = []
    for _ in range(2):
        with engine.begin() as conn:
            outcomes.append(
                ingest.store_result_set(
                    conn, target, _results({"x": [1.0, 2.0]}), source="f", content_hash="h", now=NOW
                )
            )
    assert [o.duplicate for o in outcomes] == [False, True]
    assert outcomes[1].samples == 2
    with engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(t.runs)).scalar_one() == 1
        assert conn.execute(sa.select(sa.func.count()).select_from(t.samples)).scalar_one() == 1


def test_series_keep_machines_and_configurations_apart(engine: Engine, tmp_path: Path) -> None:
    repo = Repo.init(tmp_path / "repo")
    sha = repo.commit("a")
    for machine in ("box-1", "box-2"):
        target = _target(engine, repo, sha, machine)
        with engine.begin() as conn:
            ingest.store_result_set(conn, target, _results({"x": [1.0]}), source="f", content_hash="h", now=NOW)
    with engine.connect() as conn:
        rows = series.list_series(conn)
        assert {r.machine_class for r in rows} == {"box-1", "box-2"}
        assert [r.machine_class for r in series.list_series(conn, machine="box-2")] == ["box-2"]


@pytest.mark.commits
def test_concurrent_writers_create_a_machine_once(engine: Engine) -> None:
    def create(_: int) -> int:
        with engine.begin() as conn:
            return records.machine_id(conn, Machine("shared-box"))

    with ThreadPoolExecutor(4) as pool:
        ids = set(pool.map(create, range(8)))
    assert len(ids) == 1


def test_samples_round_trip_bit_exact(engine: Engine, tmp_path: Path) -> None:
    repo = Repo.init(tmp_path / "repo")
    sha = repo.commit("a")
    values = list(np.random.default_rng(7).lognormal(size=50))
    target = _target(engine, repo, sha)
    with engine.begin() as conn:
        ingest.store_result_set(conn, target, _results({"x": values}), source="f", content_hash="h", now=NOW)
    with engine.connect() as conn:
        (entry,) = queries.series_history(conn, series.list_series(conn)[0].id)
    assert entry.values.tolist() == values


def test_a_run_with_thousands_of_repetitions_is_stored_in_parts(engine: Engine, tmp_path: Path) -> None:
    """An index entry holds at most a few kB on PostgreSQL: long runs are split, and read back whole."""
    repo = Repo.init(tmp_path / "repo")
    sha = repo.commit("a")
    values = [float(v) for v in np.random.default_rng(3).lognormal(size=1000)]
    target = _target(engine, repo, sha)
    with engine.begin() as conn:
        stored = ingest.store_result_set(conn, target, _results({"x": values}), source="f", content_hash="h", now=NOW)
        again = ingest.store_result_set(conn, target, _results({"x": values}), source="f", content_hash="h", now=NOW)
    assert stored.samples == again.samples == 1000
    with engine.connect() as conn:
        series_id = series.list_series(conn)[0].id
        points = queries.series_points(conn, series_id)
        parts = conn.execute(sa.select(sa.func.count()).select_from(t.samples)).scalar_one()
        medians = queries.run_medians(conn, series_id, [int(points.revision_ids[0])])
    assert parts == 4
    assert points.samples(0).tolist() == values
    assert points.runs.tolist() == [1]
    assert medians == {int(points.revision_ids[0]): [float(np.median(values))]}


class _Statements:
    """Counts the SQL statements an engine executes (hot paths must not grow N+1 queries)."""

    def __init__(self, engine: Engine) -> None:
        self.count = 0
        sa.event.listen(engine, "before_cursor_execute", self._seen)

    def _seen(self, *_: object) -> None:
        self.count += 1


def test_hot_paths_use_a_fixed_number_of_statements(engine: Engine, tmp_path: Path) -> None:
    repo = Repo.init(tmp_path / "repo")
    shas = repo.commits(["a", "b", "c"])
    many = {f"bench_{i}": [1.0, 2.0] for i in range(300)}
    targets = [_target(engine, repo, sha) for sha in shas]
    for target in targets[:2]:  # the first files create benchmarks and series, then see them committed
        with engine.begin() as conn:
            ingest.store_result_set(conn, target, _results(many), source="f", content_hash=None, now=NOW)
    statements = _Statements(engine)
    with engine.begin() as conn:  # from then on a file of the same 300 series is a run row and its samples
        ingest.store_result_set(conn, targets[2], _results(many), source="f", content_hash=None, now=NOW)
    assert statements.count <= 2  # PostgreSQL's COPY of the samples bypasses the statement events
    with engine.connect() as conn:
        series_id = series.list_series(conn, benchmark="bench_7")[0].id
        statements.count = 0
        points = queries.series_points(conn, series_id)
    assert statements.count == 1
    assert len(points) == 3

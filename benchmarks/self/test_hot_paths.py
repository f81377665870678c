"""perfsheriff's own hot paths as pytest-benchmark benchmarks, so that perfsheriff can track itself.

``perfsheriff.toml`` at the repository's root runs them on every push with ``perfsheriff track``; they
also run alone: ``.venv/bin/pytest benchmarks/self --benchmark-only``. Each measures one thing users
wait for, at a size where that wait is felt, and checks its answer so a broken commit fails rather
than looking fast:

- parsing a large result file (2,000 benchmarks of 20 samples, pytest-benchmark's JSON);
- storing one revision's results (the same 2,000 results) in SQLite, as ``ingest`` and uploads do;
- detection over many series (100 series of 1,000 points);
- reading one long series (2,000 revisions of 5 samples) from a database, as a graph does;
- a job claim round trip: queue 50 jobs, claim each, as agents do.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy.engine import Engine

from bench_store import fake_history, result_sets, setup
from perfsheriff import formats
from perfsheriff.model import Configuration, Direction, ResultSet, SeriesKey
from perfsheriff.projectfile import BenchmarkSpec
from perfsheriff.service.intake import ingest
from perfsheriff.service.queue import jobs
from perfsheriff.stats.changepoints import detect
from perfsheriff.store import database, queries

NOW = datetime(2026, 1, 1, tzinfo=UTC)
RESULTS = 2_000


def pytest_benchmark_file(results: int, samples: int) -> bytes:
    rng = np.random.default_rng(3)
    entries = [
        {
            "group": None,
            "name": f"test_case[{i}]",
            "fullname": f"tests/test_speed.py::test_case[{i}]",
            "stats": {"data": [float(v) for v in (1e-3 * (1 + 0.01 * rng.standard_normal(samples)))]},
        }
        for i in range(results)
    ]
    return json.dumps({"benchmarks": entries, "datetime": "2026-01-01T00:00:00", "version": "5.1.0"}).encode()


@pytest.fixture(scope="module")
def migrated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A migrated, empty SQLite file, copied for each round (migrating is not what is measured)."""
    path = tmp_path_factory.mktemp("migrated") / "empty.db"
    engine = database.create_engine(f"sqlite:///{path}")
    database.upgrade(engine)
    engine.dispose()
    return path


def fresh(migrated: Path, folder: Path, name: str) -> Engine:
    path = folder / name
    path.unlink(missing_ok=True)
    shutil.copy(migrated, path)
    return database.create_engine(f"sqlite:///{path}")


def test_parse_a_large_result_file(benchmark: Callable[..., ResultSet]) -> None:
    data = pytest_benchmark_file(RESULTS, 20)
    parsed = benchmark(formats.parse, "results.json", data, "pytest-benchmark")
    assert len(parsed.results) == RESULTS


def test_store_one_revisions_results(benchmark: object, migrated: Path, tmp_path: Path) -> None:
    (results,) = result_sets(RESULTS, 20, 1)
    engines: list[Engine] = []

    def prepare() -> tuple[tuple[Engine, ingest.Target], dict[str, object]]:
        engine = fresh(migrated, tmp_path, f"store-{len(engines)}.db")
        engines.append(engine)
        targets, _ = setup(engine, fake_history(1))
        return (engine, targets[0]), {}

    def store(engine: Engine, target: ingest.Target) -> int:
        with engine.begin() as conn:
            return ingest.store_result_set(conn, target, results, source="b", content_hash="b", now=NOW).samples

    stored = benchmark.pedantic(store, setup=prepare, rounds=5)  # type: ignore[attr-defined]
    assert stored == RESULTS * 20
    for engine in engines:
        engine.dispose()


def test_detect_changes_in_many_series(benchmark: Callable[..., list[int]]) -> None:
    rng = np.random.default_rng(5)
    series = 100 * (1 + 0.01 * rng.standard_normal((100, 1_000)))
    series[::2, 600:] *= 1.05  # half of them step up 5 % at point 600

    def detect_all() -> list[int]:
        return [len(detect(values, direction=Direction.LOWER_IS_BETTER).change_points) for values in series]

    found = benchmark(detect_all)
    assert sum(found[::2]) >= 45
    assert sum(found[1::2]) <= 5


@pytest.fixture(scope="module")
def long_series(migrated: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Engine, str]:
    engine = fresh(migrated, tmp_path_factory.mktemp("long"), "long.db")
    targets, project = setup(engine, fake_history(2_000))
    rng = np.random.default_rng(7)
    with engine.begin() as conn:
        for target in targets:
            (results,) = result_sets(1, 5, 1, seed=int(rng.integers(1 << 30)), prefix="long")
            ingest.store_result_set(conn, target, results, source="b", content_hash=target.revision, now=NOW)
    first = targets[0]
    key = SeriesKey(project, "main", "long_00000", "time", first.machine.machine_class, first.configuration)
    return engine, key.id


def test_read_a_long_series(benchmark: Callable[..., queries.SeriesPoints], long_series: tuple[Engine, str]) -> None:
    engine, series_id = long_series

    def read() -> queries.SeriesPoints:
        with engine.connect() as conn:
            return queries.series_points(conn, series_id)

    points = benchmark(read)
    assert len(points) == 2_000
    assert points.values.size == 10_000


def test_claim_round_trip(benchmark: object, migrated: Path, tmp_path: Path) -> None:
    spec = BenchmarkSpec("claimed", "true", format="perfsheriff")
    engines: list[Engine] = []

    def prepare() -> tuple[tuple[Engine], dict[str, object]]:
        engine = fresh(migrated, tmp_path, f"queue-{len(engines)}.db")
        engines.append(engine)
        targets, _ = setup(engine, fake_history(50))
        with engine.begin() as conn:
            for target in targets:
                request = jobs.JobRequest(
                    project_id=target.project_id,
                    branch_id=target.branch_id,
                    revision_id=target.revision_id,
                    spec=spec,
                    config_dir=Path("/nonexistent"),
                    machine_class=target.machine.machine_class,
                    configuration=Configuration.of({"os": "linux"}),
                    reason=jobs.JobReason.ROUTINE,
                )
                jobs.enqueue(conn, request, now=NOW)
        return (engine,), {}

    def claim_all(engine: Engine) -> int:
        claimed = 0
        while jobs.claim(engine, machine="bench-box", lease_s=600, now=NOW) is not None:
            claimed += 1
        return claimed

    claimed = benchmark.pedantic(claim_all, setup=prepare, rounds=5)  # type: ignore[attr-defined]
    assert claimed == 50
    for engine in engines:
        engine.dispose()

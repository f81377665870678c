"""Measure the store: bulk ingestion rate, and reading one long series from a large database.

Targets (issue: foundation): >= 100,000 samples/s ingested into SQLite and PostgreSQL;
one series of 10,000 revisions x 5 samples read in < 20 ms from a database of 10 million samples.

    .venv/bin/python benchmarks/bench_store.py                 # both databases, full size
    .venv/bin/python benchmarks/bench_store.py --quick         # a tenth of the size
    .venv/bin/python benchmarks/bench_store.py --backend sqlite
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from perfsheriff.model import BenchmarkResult, Configuration, Machine, Push, ResultSet, Revision
from perfsheriff.service.intake import ingest
from perfsheriff.store import database, queries, records

NOW = datetime(2026, 1, 1, tzinfo=UTC)
PG_ADMIN = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


def fake_history(n: int) -> list[Revision]:
    """A linear history of ``n`` commits (git is measured by bench_git_import.py)."""
    start = datetime(2020, 1, 1, tzinfo=UTC)
    shas = [uuid.UUID(int=i + 1).hex + "00000000" for i in range(n)]
    return [
        Revision(
            sha, (shas[i - 1],) if i else (), "Ada", "ada@example.org", start + timedelta(minutes=i), f"commit {i}"
        )
        for i, sha in enumerate(shas)
    ]


def setup(engine: Engine, revisions: list[Revision]) -> tuple[list[ingest.Target], str]:
    with engine.begin() as conn:
        project = records.project_id(conn, "bench")
        branch = records.branch_id(conn, project, "main")
        ids = records.store_revisions(conn, project, revisions)
        pushes = [Push(r.sha, revisions[i - 1].sha if i else None, (r.sha,)) for i, r in enumerate(revisions)]
        records.append_pushes(conn, branch, pushes, ids)
        machine = Machine("bench-box")
        config = Configuration.of({"os": "linux"})
        machine_id = records.machine_id(conn, machine)
        config_id = records.configuration_id(conn, config)
    targets = [
        ingest.Target("bench", project, "main", branch, r.sha, ids[r.sha], i, machine, machine_id, config, config_id)
        for i, r in enumerate(revisions)
    ]
    return targets, "bench"


def result_sets(
    n_series: int, n_samples: int, n_revisions: int, seed: int = 1, prefix: str = "bench"
) -> list[ResultSet]:
    rng = np.random.default_rng(seed)
    base = rng.uniform(1, 100, n_series)
    out = []
    for _ in range(n_revisions):
        values = base[:, None] * (1 + 0.01 * rng.standard_normal((n_series, n_samples)))
        out.append(
            ResultSet(
                "perfsheriff",
                tuple(BenchmarkResult(f"{prefix}_{i:05d}", "ms", tuple(values[i])) for i in range(n_series)),
            )
        )
    return out


def ingest_all(engine: Engine, targets: list[ingest.Target], n_series: int, n_samples: int, prefix: str) -> float:
    """Ingest one file of ``n_series`` results per revision; return samples per second."""
    total = 0
    elapsed = 0.0
    batch = 50  # build result sets in batches so their construction is not timed
    for start in range(0, len(targets), batch):
        chunk = targets[start : start + batch]
        sets = result_sets(n_series, n_samples, len(chunk), seed=start, prefix=prefix)
        began = time.perf_counter()
        for target, results in zip(chunk, sets, strict=True):
            with engine.begin() as conn:
                stored = ingest.store_result_set(
                    conn, target, results, source="bench", content_hash=prefix + target.revision, now=NOW
                )
            total += stored.samples
        elapsed += time.perf_counter() - began
    return total / elapsed


def read_timings(engine: Engine, series_id: str, repeats: int = 20) -> list[float]:
    timings = []
    with engine.connect() as conn:
        for _ in range(repeats):
            began = time.perf_counter()
            history = queries.series_points(conn, series_id)
            timings.append((time.perf_counter() - began) * 1000)
    assert len(history), "series is empty"
    return timings


def count_samples(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(sa.text("SELECT COALESCE(SUM(n), 0) FROM samples")).scalar_one())


def run(name: str, engine: Engine, args: argparse.Namespace) -> None:
    database.upgrade(engine)
    targets, _ = setup(engine, fake_history(args.revisions))
    wide = ingest_all(engine, targets[: args.wide_revisions], args.wide_series, args.samples, prefix="wide")
    print(
        f"{name:10s} ingest, files of {args.wide_series} series x {args.samples} samples: {wide:,.0f} samples/s "
        f"({args.wide_series} series x {args.wide_revisions} revisions)"
    )
    long = ingest_all(engine, targets, args.series, args.samples, prefix="long")
    print(
        f"{name:10s} ingest, files of {args.series} series x {args.samples} samples: {long:,.0f} samples/s "
        f"({args.series} series x {args.revisions} revisions)"
    )
    total = count_samples(engine)
    if engine.dialect.name == "postgresql":
        # What autovacuum does after a bulk load: fresh statistics and a visibility map.
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.exec_driver_sql("VACUUM ANALYZE samples")
    with engine.connect() as conn:
        series_id = queries.list_series(conn, benchmark="long_", limit=1)[0].id
    timings = read_timings(engine, series_id)
    print(
        f"{name:10s} read one series of {args.revisions:,} revisions x {args.samples} samples "
        f"from {total:,} samples: median {statistics.median(timings):.1f} ms, max {max(timings):.1f} ms"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--backend", choices=["sqlite", "postgresql", "both"], default="both")
    parser.add_argument("--wide-series", type=int, default=2000, help="series per file in the ingestion test")
    parser.add_argument("--wide-revisions", type=int, default=500)
    parser.add_argument("--series", type=int, default=100, help="series with a long history")
    parser.add_argument("--revisions", type=int, default=10_000)
    parser.add_argument("--samples", type=int, default=5)
    parser.add_argument("--quick", action="store_true", help="a tenth of the revisions")
    args = parser.parse_args()
    if args.quick:
        args.revisions //= 10
        args.wide_revisions //= 10
    if args.backend in ("sqlite", "both"):
        with tempfile.TemporaryDirectory() as folder:
            run("sqlite", database.create_engine(f"sqlite:///{Path(folder) / 'bench.db'}"), args)
    if args.backend in ("postgresql", "both"):
        admin = sa.create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
        name = f"perfsheriff_bench_{uuid.uuid4().hex[:8]}"
        with admin.connect() as conn:
            conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
        try:
            engine = database.create_engine(admin.url.set(database=name).render_as_string(hide_password=False))
            run("postgresql", engine, args)
            engine.dispose()
        finally:
            with admin.connect() as conn:
                conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


if __name__ == "__main__":
    main()

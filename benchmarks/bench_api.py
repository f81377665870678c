"""Measure the HTTP API against a real ``perfsheriff serve`` (uvicorn) process.

Targets (issue: HTTP API): on PostgreSQL, >= 200 run uploads per second of 50 samples each from
8 concurrent agents, none lost and none stored twice; the data of one 10,000-revision series in
p95 < 50 ms; >= 500 job claims per second. SQLite is measured beside it for comparison.

    .venv/bin/python benchmarks/bench_api.py                  # both databases, full size
    .venv/bin/python benchmarks/bench_api.py --quick          # a tenth of the size
    .venv/bin/python benchmarks/bench_api.py --backend postgresql

PostgreSQL: a fresh database is created on the server named by PERFSHERIFF_BENCH_POSTGRES
(default postgresql+psycopg://postgres@127.0.0.1:5432/test) and dropped at the end.
The agents are threads of this process, each with its own httpx client and agent token; the server
is one uvicorn process. Both share the machine with the database, so the figures are a floor.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

import httpx
import numpy as np
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from bench_store import fake_history, setup
from perfsheriff.model import BenchmarkResult, Configuration, Machine, ResultSet
from perfsheriff.projectfile import BenchmarkSpec
from perfsheriff.roles import Role
from perfsheriff.service.access import tokens
from perfsheriff.service.intake import ingest, uploads
from perfsheriff.service.queue import jobs
from perfsheriff.store import database, records

PG_ADMIN = os.environ.get("PERFSHERIFF_BENCH_POSTGRES", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
SERVE = "from perfsheriff.cli.main import main; main()"
MACHINE_CLASS = "bench-class"
NOW = datetime(2026, 1, 1, tzinfo=UTC)
PARTS = ["uploads", "series", "claims"]
T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Bench:
    """The database, the server and what the measurements share."""

    name: str
    engine: Engine
    server: Server
    targets: list[ingest.Target]  # one per revision of the fake history, on machine agent-0
    agent_tokens: list[str]  # one per agent machine agent-0 ... agent-N, all of MACHINE_CLASS
    args: argparse.Namespace


# --- the server -------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass(frozen=True, slots=True)
class Server:
    url: str
    pid: int

    def cpu_seconds(self) -> float:
        """CPU time the server process and its live worker processes (``--workers``) have used so far
        (Linux; NaN elsewhere)."""
        try:
            pids = [self.pid, *_children(self.pid)]
            total = 0
            for pid in pids:
                fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
                total += int(fields[11]) + int(fields[12])
        except OSError:
            return float("nan")
        return total / os.sysconf("SC_CLK_TCK")


def _children(pid: int) -> list[int]:
    found = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        found += [int(child) for child in (task / "children").read_text().split()]
    return found


@contextmanager
def serve(db_url: str, folder: Path) -> Iterator[Server]:
    """``perfsheriff serve`` in a child process on a free port."""
    port = free_port()
    log_path = folder / "server.log"
    command = [sys.executable, "-c", SERVE, "serve", "--port", str(port), "--db", db_url, "--log-level", "warning"]
    command += ["--workers", os.environ.get("PERFSHERIFF_BENCH_WORKERS", "1")]
    with log_path.open("wb") as log:
        process = subprocess.Popen(command, cwd=folder, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"the server did not start:\n{log_path.read_text()}")
            try:
                if httpx.get(f"{url}/health", timeout=1.0).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.1)
        yield Server(url, process.pid)
    finally:
        process.terminate()
        process.wait(10)
        errors = log_path.read_text()
        if "Traceback" in errors:
            print(f"  the server logged errors:\n{errors[-3000:]}")


# --- set-up -----------------------------------------------------------------------------------


def make_tokens(engine: Engine, agents: int) -> list[str]:
    """An agent token (and so a registered machine) per agent, all machines of one class."""
    return [
        tokens.create_token(
            engine, Role.AGENT, now=datetime.now(UTC), machine=Machine(f"agent-{i}", MACHINE_CLASS)
        ).secret
        for i in range(agents)
    ]


def long_series(engine: Engine, targets: list[ingest.Target], samples: int) -> int:
    """One series, ``samples`` per revision at every revision, stored in-process; returns its size."""
    rng = np.random.default_rng(7)
    stored = 0
    for start in range(0, len(targets), 1000):
        with engine.begin() as conn:
            for target in targets[start : start + 1000]:
                values = tuple(float(v) for v in 100 * (1 + 0.01 * rng.standard_normal(samples)))
                results = ResultSet("perfsheriff", (BenchmarkResult("long", "ms", values),))
                stored += ingest.store_result_set(
                    conn, target, results, source="bench", content_hash=f"long-{target.revision}", now=NOW
                ).samples
    if engine.dialect.name == "postgresql":
        # What autovacuum does after a bulk load: fresh statistics and a visibility map.
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.exec_driver_sql("VACUUM ANALYZE")
    return stored


def timed(action: Callable[[], T]) -> tuple[T, float]:
    began = time.perf_counter()
    result = action()
    return result, time.perf_counter() - began


def cpu_note(bench: Bench, began: tuple[float, float], requests: int) -> str:
    """CPU per request of the server process and of this (client) process since ``began``."""
    server = (bench.server.cpu_seconds() - began[0]) / requests * 1000
    client = (time.process_time() - began[1]) / requests * 1000
    return f"CPU per request: server {server:.1f} ms, clients {client:.1f} ms"


def cpu_now(bench: Bench) -> tuple[float, float]:
    return bench.server.cpu_seconds(), time.process_time()


def in_threads(count: int, work: Callable[[int], T]) -> tuple[list[T], float]:
    """Run ``work(i)`` for i in 0..count-1 in threads started together; the results and the wall time."""
    results: list[Any] = [None] * count
    failures: list[BaseException] = []
    gate = threading.Barrier(count + 1)

    def body(i: int) -> None:
        gate.wait()
        try:
            results[i] = work(i)
        except BaseException as exc:
            failures.append(exc)
            raise

    threads = [threading.Thread(target=body, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    gate.wait()
    began = time.perf_counter()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - began
    if failures:
        raise RuntimeError(f"{len(failures)} worker(s) failed") from failures[0]
    return results, elapsed


def client(url: str, token: str) -> httpx.Client:
    return httpx.Client(base_url=url, headers={"Authorization": f"Bearer {token}"}, timeout=60.0)


# --- a) uploads -------------------------------------------------------------------------------


def upload_bodies(bench: Bench, agent: int, first: int = 0) -> list[tuple[str, dict[str, Any]]]:
    """(Idempotency-Key, body) of each upload of one agent: its own revisions, one benchmark, N samples."""
    args = bench.args
    rng = np.random.default_rng(agent + first)
    out = []
    for j in range(args.uploads):
        revision = bench.targets[first + j * args.agents + agent].revision
        values = (50 * (1 + 0.01 * rng.standard_normal(args.samples))).round(6).tolist()
        result = {
            "format": "perfsheriff",
            "version": 1,
            "results": [{"name": "upload", "unit": "ms", "samples": values}],
        }
        body = {
            "project": "bench",
            "revision": revision,
            "machine": f"agent-{agent}",
            "configuration": {"os": "linux"},
            "files": {"result.json": json.dumps(result)},
        }
        out.append((f"bench-{'upload' if first == 0 else 'inproc'}-{agent}-{j}", body))
    return out


def post_all(bench: Bench, agent: int, bodies: list[tuple[str, bytes]]) -> list[int]:
    with client(bench.server.url, bench.agent_tokens[agent]) as http:
        return [
            http.post(
                "/api/v1/runs",
                content=body,
                headers={"Content-Type": "application/json", "Idempotency-Key": key},
            ).status_code
            for key, body in bodies
        ]


def upload_all(bench: Bench, requests: list[uploads.Upload]) -> list[bool]:
    limit, now = 64 * 1024 * 1024, datetime.now(UTC)
    return [uploads.upload(bench.engine, request, limit=limit, now=now).duplicate for request in requests]


def as_upload(key: str, body: dict[str, Any]) -> uploads.Upload:
    return uploads.Upload(
        project=body["project"],
        revision=body["revision"],
        machine=body["machine"],
        files={name: text.encode() for name, text in body["files"].items()},
        configuration=Configuration.of(body["configuration"]),
        idempotency_key=key,
    )


def stored_uploads(engine: Engine, keys: list[str]) -> tuple[int, int, int, int]:
    """Runs stored under these keys (as stored: scoped to project and machine, hashed): their number, distinct
    keys, distinct (revision, machine), samples."""
    selected = {"keys": keys}
    where = "idempotency_key IN :keys"
    with engine.connect() as conn:

        def one(sql: str) -> Any:
            return conn.execute(sa.text(sql).bindparams(sa.bindparam("keys", expanding=True)), selected).one()

        runs, distinct = one(f"SELECT COUNT(*), COUNT(DISTINCT idempotency_key) FROM runs WHERE {where}")
        (places,) = one(f"SELECT COUNT(*) FROM (SELECT DISTINCT revision_id, machine_id FROM runs WHERE {where}) p")
        (samples,) = one(
            f"SELECT COALESCE(SUM(s.n), 0) FROM samples s JOIN runs r ON r.id = s.run_id WHERE r.{where} AND s.part = 0"
        )
    return int(runs), int(distinct), int(places), int(samples)


def check_uploads(bench: Bench, first: int, ok: bool) -> str:
    """Whether exactly the uploads sent (those of :func:`upload_bodies` from ``first``) are stored, once each."""
    total, samples_each = bench.args.agents * bench.args.uploads, bench.args.samples
    sent = [as_upload(*item) for agent in range(bench.args.agents) for item in upload_bodies(bench, agent, first)]
    keys = [key for key in map(uploads.scoped_key, sent) if key is not None]
    runs, distinct, places, samples = stored_uploads(bench.engine, keys)
    exact = ok and runs == distinct == places == total and samples == total * samples_each
    return (
        f"{runs:,} runs ({total:,} expected), {distinct:,} distinct keys, {places:,} distinct revision x machine, "
        f"{samples:,} samples ({total * samples_each:,} expected): {'OK' if exact else 'MISMATCH'}"
    )


def measure_uploads(bench: Bench) -> None:
    args, name = bench.args, bench.name
    total = args.agents * args.uploads
    bodies = [
        [(key, json.dumps(body).encode()) for key, body in upload_bodies(bench, agent)] for agent in range(args.agents)
    ]
    began = cpu_now(bench)
    statuses, elapsed = in_threads(args.agents, lambda agent: post_all(bench, agent, bodies[agent]))
    codes = sorted({code for codes in statuses for code in codes})
    rate = total / elapsed
    print(
        f"{name:10s} uploads over HTTP, {args.agents} agents x {args.uploads} runs x {args.samples} samples: "
        f"{rate:,.0f} uploads/s, {rate * args.samples:,.0f} samples/s ({elapsed:.1f} s; statuses {codes}; "
        f"{cpu_note(bench, began, total)})"
    )
    # Every agent retries its first ten uploads with the same keys: nothing may be added.
    retried, _ = in_threads(args.agents, lambda agent: post_all(bench, agent, bodies[agent][:10]))
    retry_codes = sorted({code for codes in retried for code in codes})
    print(
        f"{name:10s} check: {sum(map(len, retried))} uploads retried with their keys answered {retry_codes}; "
        f"{check_uploads(bench, 0, codes == [201] and retry_codes == [200])}"
    )
    # The same in this process, without HTTP (uploads.upload from 8 threads), on the next revisions.
    requests = [[as_upload(*item) for item in upload_bodies(bench, agent, first=total)] for agent in range(args.agents)]
    duplicates, elapsed = in_threads(args.agents, lambda agent: upload_all(bench, requests[agent]))
    print(
        f"{name:10s} uploads in-process (uploads.upload), {args.agents} threads: {total / elapsed:,.0f} uploads/s "
        f"({elapsed:.1f} s); {check_uploads(bench, total, not any(map(any, duplicates)))}"
    )


# --- b) series data ---------------------------------------------------------------------------


def percentile(values: list[float], q: float) -> float:
    return float(np.percentile(values, q))


def measure_series(bench: Bench, stored: int) -> None:
    args, name = bench.args, bench.name
    with client(bench.server.url, bench.agent_tokens[0]) as http:
        listed = http.get("/api/v1/series", params={"benchmark": "long"}).json()["series"]
        series_id = listed[0]["id"]
        for label, params in (("default, 2000 points", {}), ("all points", {"max_points": 100_000})):
            timings = []
            for i in range(args.requests + 5):
                began = time.perf_counter()
                response = http.get(f"/api/v1/series/{series_id}", params=params)
                if i >= 5:  # the first few warm the caches
                    timings.append((time.perf_counter() - began) * 1000)
                assert response.status_code == 200, response.text
            data = response.json()
            print(
                f"{name:10s} GET /api/v1/series/{{id}}, {data['total_points']:,} revisions x {args.series_samples} "
                f"samples ({stored:,} samples; {label}: {len(data['points']['median']):,} returned), "
                f"{args.requests} requests: p50 {statistics.median(timings):.1f} ms, "
                f"p95 {percentile(timings, 95):.1f} ms, max {max(timings):.1f} ms"
            )


# --- c) job claims ----------------------------------------------------------------------------


def queue_jobs(bench: Bench, machine_class: str, count: int) -> set[int]:
    spec = BenchmarkSpec("claimed", "true", format="perfsheriff")
    ids = set()
    with bench.engine.begin() as conn:
        for target in bench.targets[:count]:
            job_id, new = jobs.enqueue(
                conn,
                jobs.JobRequest(
                    project_id=target.project_id,
                    branch_id=target.branch_id,
                    revision_id=target.revision_id,
                    spec=spec,
                    config_dir=Path("/nonexistent"),
                    machine_class=machine_class,
                    configuration=Configuration.of({"os": "linux"}),
                    reason=jobs.JobReason.ROUTINE,
                ),
                now=datetime.now(UTC),
            )
            assert new, "every job is new"
            ids.add(job_id)
    return ids


def claim_over_http(bench: Bench, agent: int) -> list[int]:
    claimed = []
    with client(bench.server.url, bench.agent_tokens[agent]) as http:
        while True:
            response = http.post("/api/v1/jobs/claim", json={"machine": f"agent-{agent}", "lease_seconds": 600})
            assert response.status_code == 200, response.text
            job = response.json()["job"]
            if job is None:
                return claimed
            claimed.append(int(job["id"]))


def claim_in_process(bench: Bench, machine: str) -> list[int]:
    claimed = []
    while (job := jobs.claim(bench.engine, machine=machine, lease_s=600, now=datetime.now(UTC))) is not None:
        claimed.append(job.id)
    return claimed


def check_claims(bench: Bench, queued: set[int], claimed: list[list[int]]) -> str:
    flat = [job_id for ids in claimed for job_id in ids]
    with bench.engine.connect() as conn:
        states = dict(
            conn.execute(
                sa.text("SELECT state, COUNT(*) FROM jobs WHERE id IN :ids AND attempts = 1 GROUP BY state").bindparams(
                    sa.bindparam("ids", expanding=True)
                ),
                {"ids": sorted(queued)},
            ).all()
        )
    exact = len(flat) == len(set(flat)) == len(queued) and set(flat) == queued and states == {"running": len(queued)}
    return (
        f"{len(flat):,} claims of {len(queued):,} jobs, {len(set(flat)):,} distinct, "
        f"{states.get('running', 0):,} running after one attempt: {'OK' if exact else 'MISMATCH'}"
    )


def measure_claims(bench: Bench) -> None:
    args, name = bench.args, bench.name
    queued = queue_jobs(bench, MACHINE_CLASS, args.jobs)
    began = cpu_now(bench)
    claimed, elapsed = in_threads(args.agents, lambda agent: claim_over_http(bench, agent))
    print(
        f"{name:10s} job claims over HTTP, {args.agents} claimers: {args.jobs / elapsed:,.0f} claims/s "
        f"({args.jobs:,} jobs in {elapsed:.1f} s; {cpu_note(bench, began, args.jobs + args.agents)}); "
        f"{check_claims(bench, queued, claimed)}"
    )
    # The same in this process, without HTTP: another class, so the claimed jobs above are not in the way.
    with bench.engine.begin() as conn:
        for i in range(args.agents):
            records.machine_id(conn, Machine(f"inproc-{i}", "inproc-class"))
    queued = queue_jobs(bench, "inproc-class", args.jobs)
    claimed, elapsed = in_threads(args.agents, lambda i: claim_in_process(bench, f"inproc-{i}"))
    print(
        f"{name:10s} job claims in-process (jobs.claim), {args.agents} threads: {args.jobs / elapsed:,.0f} claims/s "
        f"({args.jobs:,} jobs in {elapsed:.1f} s); {check_claims(bench, queued, claimed)}"
    )


# --- driver -----------------------------------------------------------------------------------


def run(name: str, db_url: str, args: argparse.Namespace) -> None:
    engine = database.create_engine(db_url)
    database.upgrade(engine)
    with tempfile.TemporaryDirectory(prefix="perfsheriff-bench-api-") as folder:
        agent_tokens = make_tokens(engine, args.agents)
        targets, _ = setup(engine, fake_history(args.revisions))
        with engine.begin() as conn:
            machine = Machine("agent-0", MACHINE_CLASS)
            machine_id = records.machine_id(conn, machine)
        targets = [dataclasses.replace(t, machine=machine, machine_id=machine_id) for t in targets]
        stored, took = timed(lambda: long_series(engine, targets, args.series_samples))
        print(
            f"{name:10s} set-up: {args.revisions:,} revisions, one series of {stored:,} samples in {took:.1f} s "
            f"({os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f})"
        )
        with serve(db_url, Path(folder)) as server:
            bench = Bench(name, engine, server, targets, agent_tokens, args)
            if "uploads" in args.measure:
                measure_uploads(bench)
            if "series" in args.measure:
                measure_series(bench, stored)
            if "claims" in args.measure:
                measure_claims(bench)
    engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--backend", choices=["sqlite", "postgresql", "both"], default="both")
    parser.add_argument("--agents", type=int, default=8, help="concurrent agents (and claimers)")
    parser.add_argument("--uploads", type=int, default=250, help="runs each agent uploads")
    parser.add_argument("--samples", type=int, default=50, help="samples per uploaded run")
    parser.add_argument("--revisions", type=int, default=10_000, help="revisions of the long series")
    parser.add_argument("--series-samples", type=int, default=5, help="samples per revision of the long series")
    parser.add_argument("--requests", type=int, default=200, help="requests of the series data endpoint")
    parser.add_argument("--jobs", type=int, default=5000, help="jobs queued, then claimed")
    parser.add_argument(
        "--measure", nargs="+", choices=PARTS, default=PARTS, help="what to measure (default: everything)"
    )
    parser.add_argument("--quick", action="store_true", help="a tenth of the revisions, uploads and jobs")
    args = parser.parse_args()
    if args.quick:
        args.revisions //= 10
        args.uploads //= 10
        args.jobs //= 10
        args.requests //= 4
    if 2 * args.agents * args.uploads > args.revisions or args.jobs > args.revisions:
        parser.error("each upload and each job needs a revision of its own: raise --revisions")
    for backend in ("sqlite", "postgresql"):
        if args.backend in (backend, "both"):
            with tempfile.TemporaryDirectory() as folder, scratch_database(backend, Path(folder)) as url:
                run(backend, url, args)


@contextmanager
def scratch_database(backend: str, folder: Path) -> Iterator[str]:
    """The URL of a new, empty database: a SQLite file in ``folder``, or a PostgreSQL database dropped after."""
    if backend == "sqlite":
        yield f"sqlite:///{folder / 'bench.db'}"
        return
    admin = sa.create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
    name = f"perfsheriff_bench_{uuid.uuid4().hex[:8]}"
    with admin.connect() as conn:
        conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    try:
        yield admin.url.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.dispose()


if __name__ == "__main__":
    main()

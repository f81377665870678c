"""The job queue in the database: priorities, leases, expiry, attempts, exactly-once claims."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from perfsheriff.errors import ConflictError, NotFoundError
from perfsheriff.model import Configuration, Machine
from perfsheriff.projectfile import BenchmarkSpec
from perfsheriff.service.queue import jobs
from perfsheriff.store import records
from perfsheriff.store import schema as t

T0 = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)
SPEC = BenchmarkSpec("work", "python3 bench.py > {output}", format="perfsheriff")


def _queue(engine: Engine, count: int, reason: jobs.JobReason = jobs.JobReason.ROUTINE) -> list[int]:
    ids = []
    with engine.begin() as conn:
        project = records.project_id(conn, "p", "/nowhere")
        branch = records.branch_id(conn, project, "main")
        records.machine_id(conn, Machine("m1", "cls"))
        records.machine_id(conn, Machine("m2", "cls"))
        for i in range(count):
            revision = conn.execute(
                t.revisions.insert()
                .values(
                    project_id=project,
                    sha=f"{i:040x}",
                    parents="",
                    author="a",
                    author_email="a@x",
                    time=T0,
                    message="m",
                )
                .returning(t.revisions.c.id)
            ).scalar_one()
            request = jobs.JobRequest(
                project, branch, int(revision), SPEC, Path("/cfg"), "cls", Configuration(), reason
            )
            ids.append(jobs.enqueue(conn, request, now=T0)[0])
    return ids


def test_priority_then_fifo_and_dedupe(engine: Engine) -> None:
    routine = _queue(engine, 2)
    with engine.begin() as conn:  # ids from the database: sequences outlive a rolled-back test
        project = records.project_id(conn, "p", "/nowhere")
        branch = records.branch_id(conn, project, "main")
        revision = conn.execute(sa.select(t.revisions.c.id).where(t.revisions.c.sha == f"{0:040x}")).scalar_one()
        bisect_request = jobs.JobRequest(
            project, branch, revision, SPEC, Path("/cfg"), "cls", Configuration(), jobs.JobReason.BISECT
        )
        bisect_id, new = jobs.enqueue(conn, bisect_request, now=T0)
        again, new_again = jobs.enqueue(conn, bisect_request, now=T0)
    assert new
    assert not new_again
    assert again == bisect_id
    order = [jobs.claim(engine, machine="m1", now=T0) for _ in range(4)]
    assert [j.id if j else None for j in order] == [*routine, bisect_id, None]  # routine runs first


def test_an_expired_lease_returns_the_job_until_its_last_attempt(engine: Engine) -> None:
    (job_id,) = _queue(engine, 1)
    now = T0
    for attempt in range(1, jobs.DEFAULT_MAX_ATTEMPTS + 1):
        claimed = jobs.claim(engine, machine="m1", lease_s=30, now=now)
        assert claimed is not None
        assert claimed.id == job_id
        assert claimed.attempts == attempt
        assert jobs.claim(engine, machine="m2", lease_s=30, now=now + timedelta(seconds=10)) is None  # still held
        with pytest.raises(ConflictError):
            jobs.renew(engine, job_id, "not-the-lease", now=now)
        now += timedelta(seconds=31)  # the agent died: nobody renews
    assert jobs.claim(engine, machine="m2", now=now) is None
    with engine.connect() as conn:
        job = jobs.get_job(conn, job_id)
    assert job.state is jobs.JobState.FAILED
    assert job.error == "lease expired on the last attempt"


def test_release_does_not_count_and_fail_does(engine: Engine) -> None:
    (job_id,) = _queue(engine, 1)
    first = jobs.claim(engine, machine="m1", now=T0)
    assert first is not None
    assert first.lease is not None
    assert jobs.release(engine, job_id, first.lease, now=T0) is jobs.JobState.QUEUED
    second = jobs.claim(engine, machine="m1", now=T0)
    assert second is not None
    assert second.attempts == 1
    assert second.lease is not None
    with pytest.raises(ConflictError):
        jobs.release(engine, job_id, first.lease, now=T0)  # an old lease is worth nothing
    states = []
    lease = second.lease
    for _ in range(jobs.DEFAULT_MAX_ATTEMPTS):
        states.append(jobs.fail(engine, job_id, lease, "disk full", now=T0))
        again = jobs.claim(engine, machine="m1", now=T0)
        if again is None:
            break
        assert again.lease is not None
        lease = again.lease
    assert states[-1] is jobs.JobState.FAILED
    with pytest.raises(NotFoundError):
        jobs.fail(engine, 999_999, "x", "y", now=T0)


@pytest.mark.commits
def test_concurrent_claims_take_each_job_once(engine: Engine) -> None:
    ids = _queue(engine, 40)
    taken: list[int] = []
    lock = threading.Lock()

    def claimer(machine: str) -> None:
        while (job := jobs.claim(engine, machine=machine, now=datetime.now(UTC))) is not None:
            with lock:
                taken.append(job.id)

    threads = [threading.Thread(target=claimer, args=(f"m{1 + i % 2}",)) for i in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(taken) == sorted(ids)

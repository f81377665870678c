"""The job queue: benchmark runs waiting for an agent of the right machine class.

A job is one benchmark at one revision for a machine class and configuration,
with a number of repetitions and a priority from its reason (a routine run
before a confirmation retrigger before a backfill before a bisection step), and
everything but routine runs draws on its machine class's run budget
(``scheduling.RunBudget``): while that is spent, only routine runs are handed
out and the rest waits in the queue. The queue lives in the database:

- **claim**: one statement takes the best queued job of the agent's class and
  marks it running under a fresh *lease* (an opaque token with an expiry). On
  PostgreSQL the candidate row is picked with ``FOR UPDATE SKIP LOCKED``, so
  concurrent agents never wait for each other nor take the same job; SQLite
  runs the same ``UPDATE ... WHERE id = (SELECT ...)`` under its single writer
  lock, which is equally safe.
- **renew**: the agent extends its lease while the benchmark runs.
- **expiry**: a lease that ran out (the agent died, or lost the network) puts
  the job back in the queue; after ``max_attempts`` claims it is marked failed.
  Expired leases of a class are swept at each claim of that class.
- **complete**: the run that answers a job is stored in the same transaction
  that marks the job done, so a result is never counted twice. Only the
  holder of the job's current lease may complete it (or an admin who says
  so, recorded on the job); any other upload is a conflict and stores nothing.
"""

from __future__ import annotations

import hmac
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from perfsheriff.errors import ConflictError, InputError, NotFoundError
from perfsheriff.model import Configuration, JobReason, JobState, redact_url
from perfsheriff.projectfile import BenchmarkSpec
from perfsheriff.scheduling import BUDGET_WINDOW, budget_for
from perfsheriff.store import jobs as queue
from perfsheriff.store import records
from perfsheriff.store.jobs import counts, machine_class_of, machine_of_class, open_jobs

# The queue's vocabulary is the model's, and its plain reads are the store's: this module adds the rules.
__all__ = [
    "DEFAULT_LEASE_S",
    "DEFAULT_MAX_ATTEMPTS",
    "MAX_LEASE_S",
    "SWEEP_INTERVAL_S",
    "Job",
    "JobReason",
    "JobRequest",
    "JobState",
    "JobTarget",
    "claim",
    "complete",
    "counts",
    "enqueue",
    "fail",
    "get_job",
    "list_jobs",
    "lock_for_completion",
    "machine_class_of",
    "machine_of_class",
    "open_jobs",
    "release",
    "renew",
    "spec_as_json",
]

DEFAULT_LEASE_S = 60.0
MAX_LEASE_S = 3600.0
DEFAULT_MAX_ATTEMPTS = 3
#: Expired leases of a class are swept at most this often (seconds, per process): a lease lasts at least a
#: second, so a job is back in the queue by the first claim after it expired, and a busy queue does not
#: pay for the sweep on every claim.
SWEEP_INTERVAL_S = 1.0


def spec_as_json(spec: BenchmarkSpec, config_dir: Path, repetitions: int | None = None) -> dict[str, Any]:
    """The benchmark as an agent needs it, frozen when the job is queued."""
    return {
        "name": spec.name,
        "command": spec.command,
        "format": spec.format,
        "setup": spec.setup,
        "timeout": spec.timeout,
        "repetitions": repetitions or spec.repetitions,
        "env": dict(spec.env),
        "config_dir": str(config_dir),
    }


@dataclass(frozen=True, slots=True)
class JobRequest:
    """A run to queue, at a revision already imported on the branch."""

    project_id: int
    branch_id: int
    revision_id: int
    spec: BenchmarkSpec
    config_dir: Path
    machine_class: str
    configuration: Configuration
    reason: JobReason
    repetitions: int | None = None
    max_attempts: int = DEFAULT_MAX_ATTEMPTS
    dedupe: bool = True  # False: a further run of the same commit is wanted (a bisection's repetitions)


@dataclass(frozen=True, slots=True)
class Job:
    """A job as stored, with what an agent needs to run it (the contract's job object)."""

    id: int
    project: str
    repository: str
    branch: str
    revision: str
    benchmark: dict[str, Any]
    machine_class: str
    configuration: dict[str, str]
    repetitions: int
    reason: str
    priority: int
    state: JobState
    attempts: int
    max_attempts: int
    lease: str | None
    lease_expires_at: datetime | None
    machine: str | None
    run_id: int | None
    error: str | None
    created_at: datetime
    finished_at: datetime | None

    def as_json(self, *, with_lease: bool = False) -> dict[str, Any]:
        """The job's JSON; ``with_lease`` for the agent that claimed it, who alone sees the lease and the
        repository as configured (it clones it), everyone else sees the repository's URL without credentials."""
        data: dict[str, Any] = {
            "id": self.id,
            "project": self.project,
            "repository": self.repository if with_lease else redact_url(self.repository),
            "branch": self.branch,
            "revision": self.revision,
            "benchmark": self.benchmark,
            "machine_class": self.machine_class,
            "configuration": self.configuration,
            "repetitions": self.repetitions,
            "reason": self.reason,
            "priority": self.priority,
            "state": self.state.value,
            "attempt": self.attempts,
            "max_attempts": self.max_attempts,
            "lease_expires_at": _iso(self.lease_expires_at),
            "machine": self.machine,
            "run_id": self.run_id,
            "error": self.error,
            "created_at": _iso(self.created_at),
            "finished_at": _iso(self.finished_at),
        }
        if with_lease:
            data["lease"] = self.lease
        return data


def enqueue(conn: sa.Connection, request: JobRequest, *, now: datetime) -> tuple[int, bool]:
    """Queue a job; returns its id and whether it is new.

    A job for the same revision, benchmark, class, configuration and reason
    that is still queued or running is returned instead of a second one, so a
    track pass that is repeated does not pile up work.
    """
    configuration_id = records.configuration_id(conn, request.configuration)
    repetitions = request.repetitions or request.spec.repetitions
    if repetitions < 1:
        raise InputError(f"repetitions must be >= 1, got {repetitions}", source="repetitions")
    if request.dedupe:
        existing = queue.find_open_job(
            conn,
            revision_id=request.revision_id,
            benchmark=request.spec.name,
            machine_class=request.machine_class,
            configuration_id=configuration_id,
            reason=request.reason.value,
        )
        if existing is not None:
            return existing, False
    job_id = queue.insert_job(
        conn,
        reason=request.reason,
        now=now,
        project_id=request.project_id,
        branch_id=request.branch_id,
        revision_id=request.revision_id,
        benchmark=request.spec.name,
        spec=spec_as_json(request.spec, request.config_dir, repetitions),
        machine_class=request.machine_class,
        configuration_id=configuration_id,
        repetitions=repetitions,
        max_attempts=request.max_attempts,
    )
    return job_id, True


def claim(
    engine: Engine,
    *,
    machine: str,
    lease_s: float = DEFAULT_LEASE_S,
    now: datetime,
    budgets: Mapping[str, int] | None = None,
) -> Job | None:
    """Take the best queued job for ``machine``'s class under a new lease, or None when there is none.

    ``budgets`` (machine class -> runs a day, ``"*"`` for the rest; the ``run_budgets`` setting): while
    the class's automation has spent its budget, only routine runs are handed out and the rest waits.
    """
    lease_s = _check_lease(lease_s)
    lease = secrets.token_urlsafe(24)
    with engine.begin() as conn:

        def budget_spent(machine_class: str) -> bool:
            budget = budget_for(budgets or {}, machine_class)
            if budget is None:
                return False
            spent = queue.budgeted_runs(conn, machine_class, now - BUDGET_WINDOW)
            return not budget.allows(JobReason.CONFIRM, spent)

        row = queue.claim(
            conn,
            machine=machine,
            lease=lease,
            expires=now + timedelta(seconds=lease_s),
            now=now,
            sweep_every=timedelta(seconds=SWEEP_INTERVAL_S),
            routine_only=budget_spent,
        )
    return None if row is None else _job_from_row(row)


def renew(engine: Engine, job_id: int, lease: str, *, lease_s: float = DEFAULT_LEASE_S, now: datetime) -> datetime:
    """Extend a held lease; a conflict when the lease expired and was swept, or the job is over."""
    lease_s = _check_lease(lease_s)
    expires = now + timedelta(seconds=lease_s)
    with engine.begin() as conn:
        if not queue.renew_lease(conn, job_id, lease, expires):
            raise _lost(conn, job_id)
    return expires


def release(engine: Engine, job_id: int, lease: str, *, now: datetime) -> JobState:
    """Give a job back unfinished (the agent is stopping); the attempt does not count."""
    del now
    with engine.begin() as conn:
        if not queue.release_lease(conn, job_id, lease):
            raise _lost(conn, job_id)
    return JobState.QUEUED


def fail(engine: Engine, job_id: int, lease: str, error: str, *, now: datetime) -> JobState:
    """An infrastructure fault on the agent: queue the job again, or fail it after its last attempt."""
    with engine.begin() as conn:
        held = queue.held_attempts(conn, job_id, lease)
        if held is None:
            raise _lost(conn, job_id)
        attempts, max_attempts = held
        state = JobState.FAILED if attempts >= max_attempts else JobState.QUEUED
        queue.end_attempt(conn, job_id, state, error[:2000], now if state is JobState.FAILED else None)
    return state


@dataclass(frozen=True, slots=True)
class JobTarget:
    """What a run answering a job must match."""

    job_id: int
    revision_id: int
    machine_class: str
    configuration_id: int
    benchmark: str


def lock_for_completion(
    conn: sa.Connection, job_id: int, lease: str | None, *, override_by: str | None = None
) -> JobTarget:
    """Lock a job that a run is about to answer, for the holder of its current lease.

    A job already done, one never claimed, or one whose lease is not ``lease`` (it expired and another
    attempt holds it now) is a conflict, and nothing is stored. ``override_by`` (an admin's name)
    completes a job that is not done whatever its lease; the job's ``error`` records who did it.
    """
    row = queue.lock_job(conn, job_id)
    if row is None:
        raise NotFoundError(f"no job {job_id}").about("job.id")
    if row["state"] == JobState.DONE.value:
        raise ConflictError(f"job {job_id} is already done: another attempt finished it first").about("job.id")
    if override_by is not None:
        queue.set_error(conn, job_id, f"completed by {override_by}, overriding the lease (job was {row['state']})")
    elif row["state"] != JobState.RUNNING.value or row["lease"] is None:
        raise ConflictError(
            f"job {job_id} is {row['state']}, not claimed: only the agent holding its lease may complete it"
        ).about("job.lease")
    elif lease is None or not hmac.compare_digest(str(row["lease"]).encode(), lease.encode()):
        raise ConflictError(
            f"the lease given for job {job_id} is not the one it is held under: "
            "it expired and another attempt holds the job, or it was never this job's"
        ).about("job.lease")
    return JobTarget(
        job_id, int(row["revision_id"]), str(row["machine_class"]), int(row["configuration_id"]), str(row["benchmark"])
    )


def complete(conn: sa.Connection, job_id: int, run_id: int, *, now: datetime) -> None:
    """Mark a locked job done by ``run_id`` (same transaction as the run)."""
    queue.mark_done(conn, job_id, run_id, now=now)


def get_job(conn: sa.Connection, job_id: int) -> Job:
    found = queue.job_rows(conn, [job_id])
    if not found:
        raise NotFoundError(f"no job {job_id}")
    return _job_from_row(found[0])


def list_jobs(
    conn: sa.Connection, *, states: Sequence[JobState] = (), project: str | None = None, limit: int = 100
) -> list[Job]:
    ids = queue.job_ids(conn, states=states, project=project, limit=limit)
    return [_job_from_row(row) for row in queue.job_rows(conn, ids)]


def _job_from_row(x: sa.RowMapping) -> Job:
    return Job(
        id=int(x["id"]),
        project=str(x["project"]),
        repository=str(x["repository"]),
        branch=str(x["branch"]),
        revision=str(x["sha"]),
        benchmark=dict(x["spec"]),
        machine_class=str(x["machine_class"]),
        configuration=_items(x["items"]),
        repetitions=int(x["repetitions"]),
        reason=str(x["reason"]),
        priority=int(x["priority"]),
        state=JobState(x["state"]),
        attempts=int(x["attempts"]),
        max_attempts=int(x["max_attempts"]),
        lease=x["lease"],
        lease_expires_at=x["lease_expires_at"],
        machine=x["machine"],
        run_id=None if x["run_id"] is None else int(x["run_id"]),
        error=x["error"],
        created_at=x["created_at"],
        finished_at=x["finished_at"],
    )


def _items(items: object) -> dict[str, str]:
    if isinstance(items, Mapping):
        return {str(k): str(v) for k, v in items.items()}
    if isinstance(items, list):
        return {str(k): str(v) for k, v in items}
    return {}


def _lost(conn: sa.Connection, job_id: int) -> Exception:
    state = queue.job_state(conn, job_id)
    if state is None:
        return NotFoundError(f"no job {job_id}")
    return ConflictError(f"the lease on job {job_id} is no longer held (the job is {state})")


def _check_lease(lease_s: float) -> float:
    if not 1.0 <= lease_s <= MAX_LEASE_S:
        raise InputError(f"expected a lease between 1 and {MAX_LEASE_S:g} seconds, got {lease_s:g}", source="lease_s")
    return lease_s


def _iso(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat()

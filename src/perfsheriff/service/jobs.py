"""The job queue: benchmark runs waiting for an agent of the right machine class.

A job is one benchmark at one revision for a machine class and configuration,
with a number of repetitions and a priority from its reason (a bisection step
before a backfill before a routine run). The queue lives in the database:

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

import enum
import hmac
import secrets
import threading
import weakref
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from perfsheriff.errors import ConflictError, InputError, NotFoundError
from perfsheriff.model import Configuration, redact_url
from perfsheriff.projectfile import BenchmarkSpec
from perfsheriff.store import records
from perfsheriff.store import schema as t

DEFAULT_LEASE_S = 60.0
MAX_LEASE_S = 3600.0
DEFAULT_MAX_ATTEMPTS = 3
#: Expired leases of a class are swept at most this often (seconds, per process): a lease lasts at least a
#: second, so a job is back in the queue by the first claim after it expired, and a busy queue does not
#: pay for the sweep on every claim.
SWEEP_INTERVAL_S = 1.0

# Per engine: machine name -> (id, class), and machine class -> when its leases were last swept.
# Machines are never renamed, deleted or moved to another class, so their ids can be remembered.
_machines: weakref.WeakKeyDictionary[Engine, dict[str, tuple[int, str]]] = weakref.WeakKeyDictionary()
_swept: weakref.WeakKeyDictionary[Engine, dict[str, datetime]] = weakref.WeakKeyDictionary()
_lock = threading.Lock()


class JobState(enum.StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"


class JobReason(enum.StrEnum):
    """Why a job exists; the order here is the order agents take them in."""

    BISECT = "bisect"
    CONFIRM = "confirm"  # retriggers and backfills that confirm a candidate alert before anyone sees it
    BACKFILL = "backfill"
    ROUTINE = "routine"

    @property
    def priority(self) -> int:
        return {JobReason.BISECT: 30, JobReason.CONFIRM: 25, JobReason.BACKFILL: 20, JobReason.ROUTINE: 10}[self]


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
    existing = (
        None
        if not request.dedupe
        else conn.execute(
            sa.select(t.jobs.c.id).where(
                t.jobs.c.revision_id == request.revision_id,
                t.jobs.c.benchmark == request.spec.name,
                t.jobs.c.machine_class == request.machine_class,
                t.jobs.c.configuration_id == configuration_id,
                t.jobs.c.reason == request.reason.value,
                t.jobs.c.state.in_([JobState.QUEUED.value, JobState.RUNNING.value]),
            )
        ).scalar()
    )
    if existing is not None:
        return int(existing), False
    job_id = conn.execute(
        t.jobs.insert()
        .values(
            project_id=request.project_id,
            branch_id=request.branch_id,
            revision_id=request.revision_id,
            benchmark=request.spec.name,
            spec=spec_as_json(request.spec, request.config_dir, repetitions),
            machine_class=request.machine_class,
            configuration_id=configuration_id,
            repetitions=repetitions,
            reason=request.reason.value,
            priority=request.reason.priority,
            state=JobState.QUEUED.value,
            attempts=0,
            max_attempts=request.max_attempts,
            created_at=now,
        )
        .returning(t.jobs.c.id)
    ).scalar_one()
    return int(job_id), True


def open_jobs(
    conn: sa.Connection,
    revision_ids: Sequence[int],
    *,
    benchmark: str,
    machine_class: str,
    configuration_id: int,
    reason: JobReason,
) -> dict[int, list[int]]:
    """Queued or running jobs of one benchmark, class, configuration and reason, per revision, oldest first."""
    query = (
        sa.select(t.jobs.c.revision_id, t.jobs.c.id)
        .where(
            t.jobs.c.revision_id.in_(list(revision_ids)),
            t.jobs.c.benchmark == benchmark,
            t.jobs.c.machine_class == machine_class,
            t.jobs.c.configuration_id == configuration_id,
            t.jobs.c.reason == reason.value,
            t.jobs.c.state.in_([JobState.QUEUED.value, JobState.RUNNING.value]),
        )
        .order_by(t.jobs.c.id)
    )
    found: dict[int, list[int]] = {}
    for revision_id, job_id in conn.execute(query):
        found.setdefault(int(revision_id), []).append(int(job_id))
    return found


def _expire_leases(conn: sa.Connection, machine_class: str, now: datetime) -> None:
    """Return jobs whose lease ran out to the queue, or fail them after their last attempt."""
    expired = (
        sa.select(t.jobs.c.id)
        .where(
            t.jobs.c.machine_class == machine_class,
            t.jobs.c.state == JobState.RUNNING.value,
            t.jobs.c.lease_expires_at < now,
        )
        .with_for_update(skip_locked=True)
    )
    exhausted = t.jobs.c.attempts >= t.jobs.c.max_attempts
    conn.execute(
        t.jobs.update()
        .where(t.jobs.c.id.in_(expired))
        .values(
            state=sa.case((exhausted, JobState.FAILED.value), else_=JobState.QUEUED.value),
            error=sa.case((exhausted, "lease expired on the last attempt"), else_=t.jobs.c.error),
            finished_at=sa.case((exhausted, now), else_=None),
            lease=None,
            lease_expires_at=None,
        )
    )


def claim(engine: Engine, *, machine: str, lease_s: float = DEFAULT_LEASE_S, now: datetime) -> Job | None:
    """Take the best queued job for ``machine``'s class under a new lease, or None when there is none."""
    lease_s = _check_lease(lease_s)
    lease = secrets.token_urlsafe(24)
    with engine.begin() as conn:
        machine_id, machine_class = _known_machine(engine, conn, machine)
        if _sweep_due(engine, machine_class, now):
            _expire_leases(conn, machine_class, now)
        values = {
            "claim_class": machine_class,
            "new_lease": lease,
            "new_expiry": now + timedelta(seconds=lease_s),
            "claimer_id": machine_id,
            "claimed_now": now,
        }
        if conn.dialect.name == "postgresql":  # one round trip: claim and read in one statement
            row = conn.execute(_CLAIM_AND_READ, values).first()
            return None if row is None else _job_from_row(row._mapping)
        claimed = conn.execute(_CLAIM.returning(t.jobs.c.id), values).scalar()
        if claimed is None:
            return None
        return _job_from_row(conn.execute(_JOB_BY_ID, {"job_id": int(claimed)}).one()._mapping)


def renew(engine: Engine, job_id: int, lease: str, *, lease_s: float = DEFAULT_LEASE_S, now: datetime) -> datetime:
    """Extend a held lease; a conflict when the lease expired and was swept, or the job is over."""
    lease_s = _check_lease(lease_s)
    expires = now + timedelta(seconds=lease_s)
    with engine.begin() as conn:
        done = conn.execute(
            t.jobs.update()
            .where(t.jobs.c.id == job_id, t.jobs.c.lease == lease, t.jobs.c.state == JobState.RUNNING.value)
            .values(lease_expires_at=expires)
        ).rowcount
        if not done:
            raise _lost(conn, job_id)
    return expires


def release(engine: Engine, job_id: int, lease: str, *, now: datetime) -> JobState:
    """Give a job back unfinished (the agent is stopping); the attempt does not count."""
    del now
    with engine.begin() as conn:
        done = conn.execute(
            t.jobs.update()
            .where(t.jobs.c.id == job_id, t.jobs.c.lease == lease, t.jobs.c.state == JobState.RUNNING.value)
            .values(
                state=JobState.QUEUED.value,
                lease=None,
                lease_expires_at=None,
                attempts=sa.func.max(t.jobs.c.attempts - 1, 0)
                if conn.dialect.name == "sqlite"
                else sa.func.greatest(t.jobs.c.attempts - 1, 0),
            )
        ).rowcount
        if not done:
            raise _lost(conn, job_id)
    return JobState.QUEUED


def fail(engine: Engine, job_id: int, lease: str, error: str, *, now: datetime) -> JobState:
    """An infrastructure fault on the agent: queue the job again, or fail it after its last attempt."""
    with engine.begin() as conn:
        row = conn.execute(
            sa.select(t.jobs.c.attempts, t.jobs.c.max_attempts)
            .where(t.jobs.c.id == job_id, t.jobs.c.lease == lease, t.jobs.c.state == JobState.RUNNING.value)
            .with_for_update()
        ).first()
        if row is None:
            raise _lost(conn, job_id)
        state = JobState.FAILED if row.attempts >= row.max_attempts else JobState.QUEUED
        conn.execute(
            t.jobs.update()
            .where(t.jobs.c.id == job_id)
            .values(
                state=state.value,
                lease=None,
                lease_expires_at=None,
                error=error[:2000],
                finished_at=now if state is JobState.FAILED else None,
            )
        )
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
    row = conn.execute(
        sa.select(
            t.jobs.c.state,
            t.jobs.c.lease,
            t.jobs.c.revision_id,
            t.jobs.c.machine_class,
            t.jobs.c.configuration_id,
            t.jobs.c.benchmark,
        )
        .where(t.jobs.c.id == job_id)
        .with_for_update()
    ).first()
    if row is None:
        raise NotFoundError(f"no job {job_id}").about("job.id")
    if row.state == JobState.DONE.value:
        raise ConflictError(f"job {job_id} is already done: another attempt finished it first").about("job.id")
    if override_by is not None:
        conn.execute(
            t.jobs.update()
            .where(t.jobs.c.id == job_id)
            .values(error=f"completed by {override_by}, overriding the lease (job was {row.state})")
        )
    elif row.state != JobState.RUNNING.value or row.lease is None:
        raise ConflictError(
            f"job {job_id} is {row.state}, not claimed: only the agent holding its lease may complete it"
        ).about("job.lease")
    elif lease is None or not hmac.compare_digest(str(row.lease).encode(), lease.encode()):
        raise ConflictError(
            f"the lease given for job {job_id} is not the one it is held under: "
            "it expired and another attempt holds the job, or it was never this job's"
        ).about("job.lease")
    return JobTarget(
        job_id, int(row.revision_id), str(row.machine_class), int(row.configuration_id), str(row.benchmark)
    )


def complete(conn: sa.Connection, job_id: int, run_id: int, *, now: datetime) -> None:
    """Mark a locked job done by ``run_id`` (same transaction as the run)."""
    conn.execute(
        t.jobs.update()
        .where(t.jobs.c.id == job_id)
        .values(state=JobState.DONE.value, run_id=run_id, lease=None, lease_expires_at=None, finished_at=now)
    )


def get_job(conn: sa.Connection, job_id: int) -> Job:
    found = _load(conn, [job_id])
    if not found:
        raise NotFoundError(f"no job {job_id}")
    return found[0]


def list_jobs(
    conn: sa.Connection, *, states: Sequence[JobState] = (), project: str | None = None, limit: int = 100
) -> list[Job]:
    query = sa.select(t.jobs.c.id).order_by(t.jobs.c.id.desc()).limit(limit)
    if states:
        query = query.where(t.jobs.c.state.in_([s.value for s in states]))
    if project is not None:
        query = query.join(t.projects, t.projects.c.id == t.jobs.c.project_id).where(t.projects.c.name == project)
    return _load(conn, [int(i) for i in conn.execute(query).scalars()])


def counts(conn: sa.Connection) -> dict[tuple[str, str], int]:
    """Jobs per (machine class, state), for the metrics endpoint and the overview."""
    rows = conn.execute(
        sa.select(t.jobs.c.machine_class, t.jobs.c.state, sa.func.count()).group_by(
            t.jobs.c.machine_class, t.jobs.c.state
        )
    )
    return {(str(r[0]), str(r[1])): int(r[2]) for r in rows}


def _job_view(jobs: sa.FromClause) -> sa.Select[Any]:
    """A job's row with the names it refers to: project, repository, branch, sha, configuration, machine."""
    p, b, r, c, m = t.projects, t.branches, t.revisions, t.configurations, t.machines
    return (
        sa.select(jobs, p.c.name.label("project"), p.c.repository, b.c.name.label("branch"), r.c.sha, c.c["items"])
        .add_columns(m.c.name.label("machine"))
        .select_from(
            jobs.join(p, p.c.id == jobs.c.project_id)
            .join(b, b.c.id == jobs.c.branch_id)
            .join(r, r.c.id == jobs.c.revision_id)
            .join(c, c.c.id == jobs.c.configuration_id)
            .outerjoin(m, m.c.id == jobs.c.machine_id)
        )
    )


# Statements of the hot path, built once: the claim (the best queued job of a class, under a new
# lease; SKIP LOCKED lets concurrent claimers pass each other) and the read of one job.
_CANDIDATE = (
    sa.select(t.jobs.c.id)
    .where(t.jobs.c.machine_class == sa.bindparam("claim_class"), t.jobs.c.state == JobState.QUEUED.value)
    .order_by(t.jobs.c.priority.desc(), t.jobs.c.id)
    .limit(1)
    .with_for_update(skip_locked=True)
    .scalar_subquery()
)
_CLAIM = (
    t.jobs.update()
    .where(t.jobs.c.id == _CANDIDATE, t.jobs.c.state == JobState.QUEUED.value)
    .values(
        state=JobState.RUNNING.value,
        lease=sa.bindparam("new_lease"),
        lease_expires_at=sa.bindparam("new_expiry"),
        attempts=t.jobs.c.attempts + 1,
        machine_id=sa.bindparam("claimer_id"),
        claimed_at=sa.bindparam("claimed_now"),
    )
)
_CLAIM_AND_READ = _job_view(_CLAIM.returning(*t.jobs.c).cte("claimed"))
_JOB_BY_ID = _job_view(t.jobs).where(t.jobs.c.id == sa.bindparam("job_id"))


def _load(conn: sa.Connection, ids: Sequence[int]) -> list[Job]:
    if not ids:
        return []
    rows = conn.execute(_job_view(t.jobs).where(t.jobs.c.id.in_(list(ids))))
    by_id = {int(row.id): _job_from_row(row._mapping) for row in rows}
    return [by_id[i] for i in ids if i in by_id]


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
        lease_expires_at=_aware(x["lease_expires_at"]),
        machine=x["machine"],
        run_id=None if x["run_id"] is None else int(x["run_id"]),
        error=x["error"],
        created_at=_aware(x["created_at"]) or x["created_at"],
        finished_at=_aware(x["finished_at"]),
    )


def _items(items: object) -> dict[str, str]:
    if isinstance(items, Mapping):
        return {str(k): str(v) for k, v in items.items()}
    if isinstance(items, list):
        return {str(k): str(v) for k, v in items}
    return {}


def machine_class_of(conn: sa.Connection, name: str) -> str | None:
    found = conn.execute(sa.select(t.machines.c.machine_class).where(t.machines.c.name == name)).scalar()
    return None if found is None else str(found)


def machine_of_class(conn: sa.Connection, machine_class: str) -> str | None:
    """Some registered machine of the class (jobs are per class; resolving a target needs a machine)."""
    found = conn.execute(
        sa.select(t.machines.c.name).where(t.machines.c.machine_class == machine_class).order_by(t.machines.c.id)
    ).scalar()
    return None if found is None else str(found)


def _known_machine(engine: Engine, conn: sa.Connection, name: str) -> tuple[int, str]:
    with _lock:
        known = _machines.setdefault(engine, {}).get(name)
    if known is None:
        known = _machine(conn, name)
        with _lock:
            _machines[engine][name] = known
    return known


def _sweep_due(engine: Engine, machine_class: str, now: datetime) -> bool:
    with _lock:
        swept = _swept.setdefault(engine, {})
        last = swept.get(machine_class)
        if last is not None and timedelta(0) <= now - last < timedelta(seconds=SWEEP_INTERVAL_S):
            return False
        swept[machine_class] = now
        return True


def _machine(conn: sa.Connection, name: str) -> tuple[int, str]:
    row = conn.execute(sa.select(t.machines.c.id, t.machines.c.machine_class).where(t.machines.c.name == name)).first()
    if row is None:
        raise NotFoundError(f"no machine {name!r}: machines are registered by `perfsheriff token create --machine`")
    return int(row.id), str(row.machine_class)


def _lost(conn: sa.Connection, job_id: int) -> Exception:
    state = conn.execute(sa.select(t.jobs.c.state).where(t.jobs.c.id == job_id)).scalar()
    if state is None:
        return NotFoundError(f"no job {job_id}")
    return ConflictError(f"the lease on job {job_id} is no longer held (the job is {state})")


def _check_lease(lease_s: float) -> float:
    if not 1.0 <= lease_s <= MAX_LEASE_S:
        raise InputError(f"expected a lease between 1 and {MAX_LEASE_S:g} seconds, got {lease_s:g}", source="lease_s")
    return lease_s


def _aware(value: datetime | None) -> datetime | None:
    if value is None or value.tzinfo is not None:
        return value
    return value.replace(tzinfo=UTC)


def _iso(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat()

"""The job queue's statements: queue, claim under a lease, renew, give back, fail, complete, read.

:mod:`perfsheriff.service.queue.jobs` decides what these mean (states, attempts, who may complete a job); this
module holds the SQL. The claim is one statement: on PostgreSQL the candidate row is picked with
``FOR UPDATE SKIP LOCKED``, so concurrent agents never wait for each other nor take the same job; SQLite
runs the same ``UPDATE ... WHERE id = (SELECT ...)`` under its single writer lock. Expired leases of a
class are swept at a claim of that class at most once per ``sweep_every`` seconds, per engine.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa

from perfsheriff.errors import NotFoundError
from perfsheriff.model import JobReason, JobState
from perfsheriff.store import schema as t
from perfsheriff.store import targets
from perfsheriff.store.caches import PerEngine

_OPEN = [JobState.QUEUED.value, JobState.RUNNING.value]

# Per engine: machine class -> when its leases were last swept.
_swept: PerEngine[dict[str, datetime]] = PerEngine(dict)
_lock = threading.Lock()


def find_open_job(
    conn: sa.Connection, *, revision_id: int, benchmark: str, machine_class: str, configuration_id: int, reason: str
) -> int | None:
    """A queued or running job of this revision, benchmark, class, configuration and reason, if any."""
    found = conn.execute(
        sa.select(t.jobs.c.id).where(
            t.jobs.c.revision_id == revision_id,
            t.jobs.c.benchmark == benchmark,
            t.jobs.c.machine_class == machine_class,
            t.jobs.c.configuration_id == configuration_id,
            t.jobs.c.reason == reason,
            t.jobs.c.state.in_(_OPEN),
        )
    ).scalar()
    return None if found is None else int(found)


def insert_job(conn: sa.Connection, *, reason: JobReason, now: datetime, **columns: Any) -> int:
    """Queue a new job (``columns``: its project, branch, revision, benchmark, spec, class, configuration,
    repetitions and max_attempts); returns its id."""
    job_id = conn.execute(
        t.jobs.insert()
        .values(
            **columns,
            reason=reason.value,
            priority=reason.priority,
            state=JobState.QUEUED.value,
            attempts=0,
            created_at=now,
        )
        .returning(t.jobs.c.id)
    ).scalar_one()
    return int(job_id)


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
            t.jobs.c.state.in_(_OPEN),
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


def claim(
    conn: sa.Connection,
    *,
    machine: str,
    lease: str,
    expires: datetime,
    now: datetime,
    sweep_every: timedelta,
    routine_only: Callable[[str], bool] = lambda machine_class: False,
) -> sa.RowMapping | None:
    """Take the best queued job for ``machine``'s class under ``lease``; the job's row (:func:`job_rows`'
    columns), or None when none is queued. Expired leases of the class are swept first when due.
    ``routine_only(machine_class)`` true (the class's run budget is spent) leaves every other job queued."""
    machine_id, machine_class = _known_machine(conn, machine)
    if _sweep_due(conn.engine, machine_class, now, sweep_every):
        _expire_leases(conn, machine_class, now)
    routine = routine_only(machine_class)
    values = {
        "claim_class": machine_class,
        "new_lease": lease,
        "new_expiry": expires,
        "claimer_id": machine_id,
        "claimed_now": now,
    }
    if conn.dialect.name == "postgresql":  # one round trip: claim and read in one statement
        row = conn.execute(_CLAIM_ROUTINE_AND_READ if routine else _CLAIM_AND_READ, values).first()
        return None if row is None else row._mapping
    claimed = conn.execute((_CLAIM_ROUTINE if routine else _CLAIM).returning(t.jobs.c.id), values).scalar()
    if claimed is None:
        return None
    return conn.execute(_JOB_BY_ID, {"job_id": int(claimed)}).one()._mapping


def _held(job_id: int, lease: str) -> sa.ColumnElement[bool]:
    return sa.and_(t.jobs.c.id == job_id, t.jobs.c.lease == lease, t.jobs.c.state == JobState.RUNNING.value)


def renew_lease(conn: sa.Connection, job_id: int, lease: str, expires: datetime) -> bool:
    """Extend a running job's lease; False when the job is not held under ``lease``."""
    return bool(conn.execute(t.jobs.update().where(_held(job_id, lease)).values(lease_expires_at=expires)).rowcount)


def release_lease(conn: sa.Connection, job_id: int, lease: str) -> bool:
    """Put a job held under ``lease`` back in the queue, its attempt not counted; False when not held."""
    fewer = t.jobs.c.attempts - 1
    attempts = sa.func.max(fewer, 0) if conn.dialect.name == "sqlite" else sa.func.greatest(fewer, 0)
    done = conn.execute(
        t.jobs.update()
        .where(_held(job_id, lease))
        .values(state=JobState.QUEUED.value, lease=None, lease_expires_at=None, attempts=attempts)
    ).rowcount
    return bool(done)


def held_attempts(conn: sa.Connection, job_id: int, lease: str) -> tuple[int, int] | None:
    """Lock a job held under ``lease``: its (attempts, max_attempts), or None when it is not held."""
    row = conn.execute(
        sa.select(t.jobs.c.attempts, t.jobs.c.max_attempts).where(_held(job_id, lease)).with_for_update()
    ).first()
    return None if row is None else (int(row.attempts), int(row.max_attempts))


def end_attempt(conn: sa.Connection, job_id: int, state: JobState, error: str, finished_at: datetime | None) -> None:
    """An attempt that failed: the job goes back to the queue or fails, its lease dropped and the error kept."""
    conn.execute(
        t.jobs.update()
        .where(t.jobs.c.id == job_id)
        .values(state=state.value, lease=None, lease_expires_at=None, error=error, finished_at=finished_at)
    )


def job_state(conn: sa.Connection, job_id: int) -> str | None:
    found = conn.execute(sa.select(t.jobs.c.state).where(t.jobs.c.id == job_id)).scalar()
    return None if found is None else str(found)


def lock_job(conn: sa.Connection, job_id: int) -> sa.RowMapping | None:
    """Lock a job for completion: its state, lease, revision, class, configuration and benchmark."""
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
    return None if row is None else row._mapping


def set_error(conn: sa.Connection, job_id: int, error: str) -> None:
    conn.execute(t.jobs.update().where(t.jobs.c.id == job_id).values(error=error))


def mark_done(conn: sa.Connection, job_id: int, run_id: int, *, now: datetime) -> None:
    """A job answered by ``run_id`` (in the run's transaction)."""
    conn.execute(
        t.jobs.update()
        .where(t.jobs.c.id == job_id)
        .values(state=JobState.DONE.value, run_id=run_id, lease=None, lease_expires_at=None, finished_at=now)
    )


def job_ids(
    conn: sa.Connection, *, states: Sequence[JobState] = (), project: str | None = None, limit: int = 100
) -> list[int]:
    """Ids of jobs in ``states`` (all if empty) of ``project`` (all if None), newest first."""
    query = sa.select(t.jobs.c.id).order_by(t.jobs.c.id.desc()).limit(limit)
    if states:
        query = query.where(t.jobs.c.state.in_([s.value for s in states]))
    if project is not None:
        query = query.join(t.projects, t.projects.c.id == t.jobs.c.project_id).where(t.projects.c.name == project)
    return [int(i) for i in conn.execute(query).scalars()]


def job_rows(conn: sa.Connection, ids: Sequence[int]) -> list[sa.RowMapping]:
    """The jobs of ``ids`` in that order (unknown ids left out), each with the names it refers to:
    ``project``, ``repository``, ``branch``, ``sha``, ``items`` (configuration) and ``machine``."""
    if not ids:
        return []
    rows = conn.execute(_job_view(t.jobs).where(t.jobs.c.id.in_(list(ids))))
    by_id = {int(row.id): row._mapping for row in rows}
    return [by_id[i] for i in ids if i in by_id]


def finished_jobs(conn: sa.Connection, ids: Sequence[int]) -> list[sa.RowMapping]:
    """The jobs of ``ids`` that are over (done or failed): ``id``, ``state``, ``error``, ``run_id``, the revision's
    ``sha`` and, for a job a run answered, the run's ``status`` and ``run_error``."""
    rows = conn.execute(
        sa.select(
            t.jobs.c.id,
            t.jobs.c.state,
            t.jobs.c.error,
            t.jobs.c.run_id,
            t.revisions.c.sha,
            t.runs.c.status,
            t.runs.c.error.label("run_error"),
        )
        .join(t.revisions, t.revisions.c.id == t.jobs.c.revision_id)
        .outerjoin(t.runs, t.runs.c.id == t.jobs.c.run_id)
        .where(t.jobs.c.id.in_(list(ids)), t.jobs.c.state.in_([JobState.DONE.value, JobState.FAILED.value]))
    )
    return [row._mapping for row in rows]


def job_of_run(conn: sa.Connection, run_id: int) -> int | None:
    """The job a run answered, if any."""
    found = conn.execute(sa.select(t.jobs.c.id).where(t.jobs.c.run_id == run_id)).scalar()
    return None if found is None else int(found)


def budgeted_claims(conn: sa.Connection, since: datetime) -> dict[str, list[tuple[datetime, int]]]:
    """Per machine class, the jobs other than routine runs claimed after ``since``: (claim time, runs)."""
    rows = conn.execute(
        sa.select(t.jobs.c.machine_class, t.jobs.c.claimed_at, t.jobs.c.repetitions).where(
            t.jobs.c.reason != JobReason.ROUTINE.value, t.jobs.c.claimed_at > since
        )
    )
    found: dict[str, list[tuple[datetime, int]]] = {}
    for machine_class, claimed_at, repetitions in rows:
        found.setdefault(str(machine_class), []).append((claimed_at, int(repetitions)))
    return found


def budgeted_runs(conn: sa.Connection, machine_class: str, since: datetime) -> int:
    """Runs (repetitions) of jobs other than routine runs of ``machine_class`` claimed after ``since``."""
    spent = conn.execute(
        sa.select(sa.func.coalesce(sa.func.sum(t.jobs.c.repetitions), 0)).where(
            t.jobs.c.machine_class == machine_class,
            t.jobs.c.reason != JobReason.ROUTINE.value,
            t.jobs.c.claimed_at > since,
        )
    ).scalar_one()
    return int(spent)


def queued_by_reason(conn: sa.Connection) -> dict[tuple[str, str], tuple[int, datetime]]:
    """Per (machine class, reason), the queued jobs: how many, and when the oldest was queued."""
    rows = conn.execute(
        sa.select(t.jobs.c.machine_class, t.jobs.c.reason, sa.func.count(), sa.func.min(t.jobs.c.created_at))
        .where(t.jobs.c.state == JobState.QUEUED.value)
        .group_by(t.jobs.c.machine_class, t.jobs.c.reason)
    )
    return {(str(r[0]), str(r[1])): (int(r[2]), r[3]) for r in rows}


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
def _candidate(*only: sa.ColumnElement[bool]) -> sa.ScalarSelect[Any]:
    return (
        sa.select(t.jobs.c.id)
        .where(t.jobs.c.machine_class == sa.bindparam("claim_class"), t.jobs.c.state == JobState.QUEUED.value, *only)
        .order_by(t.jobs.c.priority.desc(), t.jobs.c.id)
        .limit(1)
        .with_for_update(skip_locked=True)
        .scalar_subquery()
    )


def _claim(candidate: sa.ScalarSelect[Any]) -> sa.Update:
    return (
        t.jobs.update()
        .where(t.jobs.c.id == candidate, t.jobs.c.state == JobState.QUEUED.value)
        .values(
            state=JobState.RUNNING.value,
            lease=sa.bindparam("new_lease"),
            lease_expires_at=sa.bindparam("new_expiry"),
            attempts=t.jobs.c.attempts + 1,
            machine_id=sa.bindparam("claimer_id"),
            claimed_at=sa.bindparam("claimed_now"),
        )
    )


_CLAIM = _claim(_candidate())
_CLAIM_ROUTINE = _claim(_candidate(t.jobs.c.reason == JobReason.ROUTINE.value))  # when the run budget is spent
_CLAIM_AND_READ = _job_view(_CLAIM.returning(*t.jobs.c).cte("claimed"))
_CLAIM_ROUTINE_AND_READ = _job_view(_CLAIM_ROUTINE.returning(*t.jobs.c).cte("claimed"))
_JOB_BY_ID = _job_view(t.jobs).where(t.jobs.c.id == sa.bindparam("job_id"))


def machine_class_of(conn: sa.Connection, name: str) -> str | None:
    found = conn.execute(sa.select(t.machines.c.machine_class).where(t.machines.c.name == name)).scalar()
    return None if found is None else str(found)


def machine_of_class(conn: sa.Connection, machine_class: str) -> str | None:
    """Some registered machine of the class (jobs are per class; resolving a target needs a machine)."""
    found = conn.execute(
        sa.select(t.machines.c.name).where(t.machines.c.machine_class == machine_class).order_by(t.machines.c.id)
    ).scalar()
    return None if found is None else str(found)


def _known_machine(conn: sa.Connection, name: str) -> tuple[int, str]:
    found = targets.machine(conn, name)
    if found is None:
        raise NotFoundError(f"no machine {name!r}: machines are registered by `perfsheriff token create --machine`")
    return found


def _sweep_due(engine: sa.Engine, machine_class: str, now: datetime, every: timedelta) -> bool:
    swept = _swept(engine)
    with _lock:
        last = swept.get(machine_class)
        if last is not None and timedelta(0) <= now - last < every:
            return False
        swept[machine_class] = now
        return True

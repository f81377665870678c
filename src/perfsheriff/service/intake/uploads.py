"""Uploads of runs over the API: from CI jobs, and from agents answering jobs.

An upload is stored exactly once. The result files are parsed before the
transaction; in it, everything else is checked (the project, branch, revision,
machine) before anything is written, and then the run, its samples and, for a
job, the job's completion are written together. A retried upload carries the
same ``Idempotency-Key`` and finds the run of its first attempt instead of
adding one; two attempts racing each other meet at the key's unique index, and
the loser returns the winner's run. A key belongs to the project and machine it
was used for (another machine's agent may use the same key for its own run), and
the same key with a different run (revision, configuration, status, files or
job) is an input error rather than a silent duplicate.

Projects, machines and configurations are never renamed or deleted, so their
ids are remembered per engine once seen committed (``store.targets``): an upload
then costs one transaction of a few statements. A revision the store lacks is
read from the project's repository when that is a local clone, with git running
before any transaction opens.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TypeVar

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError

from perfsheriff.errors import InputError, NotFoundError
from perfsheriff.gitrepo import GitRepo
from perfsheriff.model import Configuration, Machine, ResultSet, RunStatus
from perfsheriff.projectfile import is_url
from perfsheriff.service.intake.history import read_new_history, store_new_history
from perfsheriff.service.intake.ingest import ResultFile, Target, insert_run, store_result_set
from perfsheriff.service.queue import jobs
from perfsheriff.store import jobs as queue
from perfsheriff.store import records, targets

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class JobAnswer:
    id: int
    lease: str | None
    override_by: str | None = None  # an admin completing the job whatever its lease: who, for the record


@dataclass(frozen=True, slots=True)
class Upload:
    project: str
    revision: str
    machine: str
    files: Mapping[str, bytes] = field(default_factory=dict)
    branch: str | None = None
    configuration: Configuration = field(default_factory=Configuration)
    format: str | None = None
    tree: bool = False
    source: str | None = None
    environment: Mapping[str, str] = field(default_factory=dict)
    status: RunStatus = RunStatus.OK
    error: str | None = None
    log_tail: str = ""
    job: JobAnswer | None = None
    idempotency_key: str | None = None


@dataclass(frozen=True, slots=True)
class Stored:
    run_id: int
    duplicate: bool
    format: str | None
    series: int
    samples: int
    job_id: int | None


def upload(engine: Engine, request: Upload, *, limit: int, now: datetime) -> Stored:
    """Store one uploaded run (see the module docstring for the guarantees)."""
    size = sum(len(data) for data in request.files.values())
    if size > limit:
        raise InputError(f"{size:,} bytes of results exceed the limit of {limit:,} bytes", where="files").about("files")
    results = _parse(request)
    return _importing_if_needed(engine, lambda: _upload(engine, request, results, now))


def _upload(engine: Engine, request: Upload, results: ResultSet | None, now: datetime) -> Stored:
    try:
        with engine.begin() as conn:
            target = _resolve(conn, request)
            seen = _replay(conn, request, target)
            if seen is not None:
                return seen
            stored = _store(conn, target, request, results, now)
    except IntegrityError:
        if request.idempotency_key is None:
            raise
        with engine.begin() as conn:
            seen = _replay(conn, request, _resolve(conn, request))
        if seen is None:
            raise
        return seen
    targets.remember_configuration(engine, target.configuration, target.configuration_id)
    return stored


def scoped_key(request: Upload) -> str | None:
    """The key as stored: the client's ``Idempotency-Key`` within its project and machine."""
    if request.idempotency_key is None:
        return None
    scope = f"{request.project}\0{request.machine}\0{request.idempotency_key}"
    return "k1:" + hashlib.sha256(scope.encode()).hexdigest()


def _replay(conn: sa.Connection, request: Upload, target: Target) -> Stored | None:
    """The run an earlier attempt with this key stored, if any; an error when it was a different run."""
    key = scoped_key(request)
    seen = None if key is None else _by_key(conn, key)
    if seen is None:
        return None
    run = records.run_identity(conn, seen.run_id)
    same = (
        run["revision_id"] == target.revision_id
        and run["configuration_id"] == target.configuration_id
        and run["status"] == request.status.value
        and seen.job_id == (request.job.id if request.job else None)
        and (request.job is not None or not request.files or run["content_hash"] == _hash(request))
    )
    if not same:
        raise InputError(
            f"this Idempotency-Key was used for another run (run {seen.run_id}): a retry must send the same "
            "upload, and a new upload a new key",
            where="Idempotency-Key",
        ).about("Idempotency-Key")
    return seen


def _parse(request: Upload) -> ResultSet | None:
    if request.status is not RunStatus.OK:
        if request.status is RunStatus.INFRA:
            raise InputError(
                "an infra fault is not a run: report it with POST /api/v1/jobs/{id}/fail", where="status"
            ).about("status")
        return None
    if not request.files:
        raise InputError("an ok run needs at least one result file", where="files").about("files")
    if not request.tree and len(request.files) != 1:
        raise InputError("several files form one result only as a tree: set tree to true", where="files").about("files")
    source = request.source or next(iter(request.files))
    # Text the database cannot hold (NUL, a lone surrogate) is refused by the model, naming the file.
    return ResultFile(source, dict(request.files), request.tree).parse(request.format)


def _store(conn: sa.Connection, target: Target, request: Upload, results: ResultSet | None, now: datetime) -> Stored:
    job_id = None
    source = request.source or (next(iter(request.files)) if request.files else "upload")
    content_hash = _hash(request) if request.files else None
    if request.job is not None:
        answered = jobs.lock_for_completion(
            conn, request.job.id, request.job.lease, override_by=request.job.override_by
        )
        _check_job(conn, answered, target)
        job_id = answered.job_id
        # Like the track loop's own runs: named by benchmark, and a rerun is a retrigger, not a duplicate.
        source, content_hash = f"benchmark {answered.benchmark}", None
    if results is not None:
        stored = store_result_set(
            conn,
            target,
            results,
            source=source,
            content_hash=content_hash,
            now=now,
            environment=request.environment,
            idempotency_key=scoped_key(request),
        )
        run_id, duplicate, fmt, n_series, n_samples = (
            stored.run_id,
            stored.duplicate,
            stored.format,
            stored.series,
            stored.samples,
        )
    else:
        error = (request.error or request.status.value)[:2000] + (f"\n{request.log_tail}" if request.log_tail else "")
        run_id = insert_run(
            conn,
            target,
            request.status,
            now=now,
            source=source,
            environment=request.environment,
            error=error,
            idempotency_key=scoped_key(request),
        )
        duplicate, fmt, n_series, n_samples = False, None, 0, 0
    if job_id is not None:
        jobs.complete(conn, job_id, run_id, now=now)
    return Stored(run_id, duplicate, fmt, n_series, n_samples, job_id)


def _hash(request: Upload) -> str:
    return ResultFile("", dict(request.files), request.tree).content_hash


def _check_job(conn: sa.Connection, job: jobs.JobTarget, target: Target) -> None:
    if job.revision_id != target.revision_id:
        sha = targets.sha_of(conn, job.revision_id)
        raise InputError(f"job {job.job_id} is for revision {sha}, not {target.revision}", source="revision")
    if job.machine_class != target.machine.machine_class:
        raise InputError(
            f"job {job.job_id} is for machine class {job.machine_class!r}, "
            f"machine {target.machine.name!r} is of class {target.machine.machine_class!r}",
            where="machine",
        ).about("machine")
    if job.configuration_id != target.configuration_id:
        raise InputError(f"the configuration differs from job {job.job_id}'s", where="configuration").about(
            "configuration"
        )


def _by_key(conn: sa.Connection, key: str) -> Stored | None:
    found = records.run_by_key(conn, key)
    if found is None:
        return None
    run_id, fmt = found
    n_series, n_samples = records.run_counts(conn, run_id)
    return Stored(run_id, True, fmt, n_series, n_samples, queue.job_of_run(conn, run_id))


def resolve_target(engine: Engine, request: Upload) -> Target:
    """Project, branch, revision, machine and configuration of an upload, all known to the store."""

    def resolve() -> Target:
        with engine.begin() as conn:
            target = _resolve(conn, request)
        targets.remember_configuration(engine, target.configuration, target.configuration_id)
        return target

    return _importing_if_needed(engine, resolve)


@dataclass(frozen=True, slots=True)
class _Missing:
    """Where a revision the store lacks may come from: the branch of a project whose repository is a local clone."""

    repository: Path
    project_id: int
    branch_id: int
    branch: str
    since: str | None  # the branch's stored tip


class _NotImported(NotFoundError):
    def __init__(self, message: str, missing: _Missing) -> None:
        super().__init__(message)
        self.missing = missing


def _importing_if_needed(engine: Engine, attempt: Callable[[], T]) -> T:
    """``attempt``, and once more after importing the branch's new history when it names a revision the store
    lacks that the project's local repository may hold (a CI job that uploads right after a push). git runs
    between the two, in no transaction."""
    try:
        return attempt()
    except _NotImported as unknown:
        missing = unknown.missing
    new = read_new_history(GitRepo(missing.repository), missing.branch, missing.since)
    with engine.begin() as conn:
        store_new_history(conn, missing.project_id, missing.branch_id, new)
    return attempt()


def _resolve(conn: sa.Connection, request: Upload) -> Target:
    """:func:`resolve_target` inside the caller's transaction; runs no git (a revision not stored yet is a
    :class:`_NotImported` when the project's repository is a local path, for the caller to import)."""
    project_id, repository = _project(conn, request.project)
    branch_id, branch = _branch(conn, project_id, request.project, request.branch)
    machine_id, machine_class = _machine(conn, request.machine)
    found = _revision(conn, project_id, branch_id, request.revision)
    if found is None:
        message = f"no revision {request.revision!r} on branch {branch!r} of project {request.project!r}"
        if repository and not is_url(repository) and Path(repository).is_dir():
            since = records.branch_tip(conn, branch_id)
            missing = _Missing(Path(repository), project_id, branch_id, branch, since)
            raise _NotImported(message, missing).about("revision")
        raise NotFoundError(message).about("revision")
    revision_id, sha, position = found
    configuration_id = targets.remembered_configuration(conn.engine, request.configuration)
    if configuration_id is None:
        configuration_id = records.configuration_id(conn, request.configuration)
    return Target(
        project=request.project,
        project_id=project_id,
        branch=branch,
        branch_id=branch_id,
        revision=sha,
        revision_id=revision_id,
        position=position,
        machine=Machine(request.machine, machine_class),
        machine_id=machine_id,
        configuration=request.configuration,
        configuration_id=configuration_id,
    )


def _project(conn: sa.Connection, name: str) -> tuple[int, str]:
    found = targets.project(conn, name)
    if found is None:
        raise NotFoundError(f"no project {name!r}").about("project")
    return found


def _machine(conn: sa.Connection, name: str) -> tuple[int, str]:
    found = targets.machine(conn, name)
    if found is None:
        raise NotFoundError(f"no machine {name!r}: register it with `perfsheriff token create --machine`").about(
            "machine"
        )
    return found


def _branch(conn: sa.Connection, project_id: int, project: str, name: str | None) -> tuple[int, str]:
    names = targets.branches(conn, project_id)
    if name is None:
        if len(names) == 1:
            only = next(iter(names))
            return names[only], only
        if "main" in names:
            return names["main"], "main"
        raise InputError(f"project {project!r} tracks several branches: name one", where="branch").about("branch")
    if name not in names:
        known = ", ".join(sorted(names)) or "none yet"
        raise NotFoundError(f"no branch {name!r} in project {project!r} (known: {known})").about("branch")
    return names[name], name


def _revision(conn: sa.Connection, project_id: int, branch_id: int, revision: str) -> tuple[int, str, int] | None:
    """The revision (full sha, or a unique prefix of at least 7 characters) on the branch."""
    rev = revision.strip().lower()
    if not 7 <= len(rev) <= 40 or any(c not in "0123456789abcdef" for c in rev):
        raise InputError(f"expected a commit sha (7 to 40 hex digits), got {revision!r}", where="revision").about(
            "revision"
        )
    rows = targets.revisions_on_branch(conn, project_id, branch_id, rev)
    if len(rows) > 1:
        raise InputError(f"revision {revision!r} is ambiguous: give more digits", where="revision").about("revision")
    return rows[0] if rows else None

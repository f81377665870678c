"""Ingestion: result files -> one run each, with its samples, written atomically.

A file is read and parsed completely before anything is written; its run and
samples go into the database in one transaction. The same bytes ingested again
for the same revision, machine and configuration are recognised by their
SHA-256 and not stored twice.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from perfsheriff import formats
from perfsheriff.errors import InputError, NotFoundError, PerfsheriffError
from perfsheriff.gitrepo import GitRepo
from perfsheriff.model import Configuration, Machine, ResultSet, RunStatus, SeriesKey
from perfsheriff.resultfiles import read_result_bytes
from perfsheriff.service.intake.history import import_history
from perfsheriff.store import records


@dataclass(frozen=True, slots=True)
class ResultFile:
    """The bytes of one result file, or of every JSON file below a result directory."""

    source: str
    files: dict[str, bytes]
    is_tree: bool

    @property
    def content_hash(self) -> str:
        digest = hashlib.sha256()
        for name in sorted(self.files):
            digest.update(name.encode() + b"\0" + hashlib.sha256(self.files[name]).digest())
        return digest.hexdigest()

    def parse(self, fmt: str | None) -> ResultSet:
        if self.is_tree:
            parsed = formats.parse_tree(self.source, self.files, fmt)
        else:
            parsed = formats.parse(self.source, next(iter(self.files.values())), fmt)
        check_value_range(parsed, self.source)
        return parsed


#: Stored samples are 0 or of a magnitude in this range: far beyond any measurement, and small enough that the
#: statistics over them (a median of two is their sum halved, a change is a ratio of two values) cannot overflow.
MAX_MAGNITUDE = 1e100
MIN_MAGNITUDE = 1e-100


def check_value_range(results: ResultSet, source: str) -> None:
    """Refuse a result whose values are beyond the documented range (``docs/formats.md``)."""
    for result in results.results:
        for value in result.samples:
            if value != 0 and not MIN_MAGNITUDE <= abs(value) <= MAX_MAGNITUDE:
                raise InputError(
                    f"values of {result.name[:60]!r} must be 0 or of a magnitude between {MIN_MAGNITUDE:g} and "
                    f"{MAX_MAGNITUDE:g}, got {value!r}",
                    source=source,
                )


def read_result_file(path: Path, limit: int) -> ResultFile:
    """Read a result file or directory, refusing what is missing, larger than ``limit`` bytes, or not safe to read.

    The rules (regular files only, no symbolic link out of a directory, the
    limit checked before reading and enforced while reading) are
    :mod:`perfsheriff.resultfiles`', shared with ``perfsheriff upload``.
    """
    read = read_result_bytes(path, limit)
    return ResultFile(read.source, dict(read.files), is_tree=read.tree)


@dataclass(frozen=True, slots=True)
class Target:
    """Where a batch of results goes: resolved ids of project, branch, revision, machine, configuration."""

    project: str
    project_id: int
    branch: str
    branch_id: int
    revision: str
    revision_id: int
    position: int  # the revision's place on the branch
    machine: Machine
    machine_id: int
    configuration: Configuration
    configuration_id: int


def prepare_target(
    engine: Engine,
    repo: GitRepo,
    *,
    revision: str,
    machine: Machine,
    configuration: Configuration,
    branch: str | None = None,
    project: str | None = None,
) -> Target:
    """Resolve the revision, import the branch history as needed, and register machine and configuration."""
    branch = branch or repo.current_branch() or "main"
    sha = repo.resolve(revision)
    if branch not in repo.branches():
        raise NotFoundError(f"no branch {branch!r} in {repo.path}: pass --branch")
    if not repo.is_ancestor(sha, branch):
        raise NotFoundError(f"revision {revision!r} ({sha[:12]}) is not on branch {branch!r}: pass --branch")
    name = project or repo.path.name
    with engine.begin() as conn:
        project_id = records.project_id(conn, name, str(repo.path))
        branch_id = import_history(conn, repo, project_id, branch).branch_id
        revision_id = records.revision_ids(conn, project_id, [sha])[sha]
        position = records.branch_position(conn, branch_id, revision_id)
        assert position is not None, "an ancestor of the branch tip is on the branch after import"
        return Target(
            project=name,
            project_id=project_id,
            branch=branch,
            branch_id=branch_id,
            revision=sha,
            revision_id=revision_id,
            position=position,
            machine=machine,
            machine_id=records.machine_id(conn, machine),
            configuration=configuration,
            configuration_id=records.configuration_id(conn, configuration),
        )


@dataclass(frozen=True, slots=True)
class Ingested:
    source: str
    run_id: int
    format: str
    series: int
    samples: int
    duplicate: bool


def store_result_set(
    conn: sa.Connection,
    target: Target,
    results: ResultSet,
    *,
    source: str,
    content_hash: str | None,
    now: datetime,
    environment: Mapping[str, str] | None = None,
    idempotency_key: str | None = None,
) -> Ingested:
    """Write one run with its samples; a run with the same content hash is returned as a duplicate.

    ``environment`` (CPU, kernel, Python of the machine) joins what the result file says of itself;
    ``idempotency_key`` is an upload's key, unique among runs.
    """
    check_value_range(results, source)
    existing = (
        None
        if content_hash is None
        else records.find_run(
            conn,
            revision=target.revision_id,
            machine=target.machine_id,
            configuration=target.configuration_id,
            content_hash=content_hash,
        )
    )
    if existing is not None:
        n_series, n_samples = records.run_counts(conn, existing)
        return Ingested(source, existing, results.format, n_series, n_samples, duplicate=True)
    bench_ids = records.benchmark_ids(conn, target.project_id, {r.name: r.suite for r in results.results})
    per_series: dict[str, tuple[float, ...]] = {}
    series_rows = []
    for result in results.results:
        key = SeriesKey(
            target.project,
            target.branch,
            result.name,
            result.metric,
            target.machine.machine_class,
            target.configuration,
        )
        per_series[key.id] = result.samples
        series_rows.append(
            records.series_row(
                key,
                project=target.project_id,
                branch=target.branch_id,
                benchmark=bench_ids[result.name],
                configuration=target.configuration_id,
                unit=result.unit,
                direction=result.better.value,
            )
        )
    records.ensure_series(conn, series_rows)
    run_id = insert_run(
        conn,
        target,
        RunStatus.OK,
        now=now,
        fmt=results.format,
        source=source,
        content_hash=content_hash,
        environment={**dict(results.context), **(environment or {})},
        idempotency_key=idempotency_key,
    )
    n_samples = records.insert_samples(conn, run_id, target.revision_id, target.position, per_series)
    return Ingested(source, run_id, results.format, len(per_series), n_samples, duplicate=False)


def insert_run(
    conn: sa.Connection,
    target: Target,
    status: RunStatus,
    *,
    now: datetime,
    source: str,
    fmt: str | None = None,
    content_hash: str | None = None,
    environment: Mapping[str, str] | None = None,
    error: str | None = None,
    idempotency_key: str | None = None,
) -> int:
    """A run row at ``target``'s revision, machine and configuration (samples, if any, come after)."""
    return records.insert_run(
        conn,
        project=target.project_id,
        branch=target.branch_id,
        revision=target.revision_id,
        machine=target.machine_id,
        configuration=target.configuration_id,
        status=status,
        created_at=now,
        fmt=fmt,
        source=source,
        content_hash=content_hash,
        environment=environment,
        error=error,
        idempotency_key=idempotency_key,
    )


@dataclass(frozen=True, slots=True)
class BatchOutcome:
    ingested: list[Ingested]
    errors: list[PerfsheriffError]


def ingest_files(
    engine: Engine,
    target: Target,
    paths: Sequence[Path],
    *,
    fmt: str | None,
    limit: int,
    now: datetime,
    on_file: Callable[[str], None] | None = None,
) -> BatchOutcome:
    """Ingest each file in its own transaction; a bad file is reported and leaves nothing behind."""
    outcome = BatchOutcome([], [])
    for path in paths:
        try:
            result_file = read_result_file(path, limit)
            results = result_file.parse(fmt)
            with engine.begin() as conn:
                stored = store_result_set(
                    conn, target, results, source=result_file.source, content_hash=result_file.content_hash, now=now
                )
            outcome.ingested.append(stored)
        except InputError as exc:
            outcome.errors.append(exc if exc.source else exc.located(str(path)))
        if on_file is not None:
            on_file(str(path))
    return outcome

"""A run asked for by hand (a sheriff over HTTP): one benchmark of the server's project at one revision, queued.

The job is resolved as its answer will be stored: the project, branch,
revision and configuration must be known (a revision not stored yet is
imported from a local repository, as for an upload), and a machine of the
class must be registered, since an agent of that class will run it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy.engine import Engine

from perfsheriff.errors import NotFoundError
from perfsheriff.model import Configuration
from perfsheriff.projectfile import ProjectFile
from perfsheriff.service.intake import uploads
from perfsheriff.service.intake.ingest import Target
from perfsheriff.service.queue import jobs


@dataclass(frozen=True, slots=True)
class RunRequest:
    """Which benchmark to run where; ``repetitions`` None: the benchmark's own."""

    project: str
    revision: str
    benchmark: str
    machine_class: str
    branch: str | None = None
    configuration: Configuration = field(default_factory=Configuration)
    repetitions: int | None = None
    reason: jobs.JobReason = jobs.JobReason.ROUTINE


def queue_run(
    engine: Engine, project_file: ProjectFile | None, request: RunRequest, *, now: datetime
) -> tuple[jobs.Job, bool]:
    """Queue the run; returns its job and whether it is new (the same job queued or running is returned)."""
    if project_file is None or project_file.project.name != request.project:
        raise NotFoundError(
            f"the server has no configuration for project {request.project!r}: start it with --config"
        ).about("project")
    spec = project_file.benchmark(request.benchmark)
    target = job_target(engine, request)
    with engine.begin() as conn:
        job_id, new = jobs.enqueue(
            conn,
            jobs.JobRequest(
                project_id=target.project_id,
                branch_id=target.branch_id,
                revision_id=target.revision_id,
                spec=spec,
                config_dir=project_file.config_dir,
                machine_class=request.machine_class,
                configuration=target.configuration,
                reason=request.reason,
                repetitions=request.repetitions,
            ),
            now=now,
        )
        return jobs.get_job(conn, job_id), new


def job_target(engine: Engine, request: RunRequest) -> Target:
    """Where the job's run will be stored, resolved as an upload's target by a machine of its class."""
    with engine.connect() as conn:
        machine = jobs.machine_of_class(conn, request.machine_class)
    if machine is None:
        raise NotFoundError(f"no machine of class {request.machine_class!r} is registered").about("machine_class")
    place = uploads.Upload(
        project=request.project,
        revision=request.revision,
        machine=machine,
        branch=request.branch,
        configuration=request.configuration,
    )
    return uploads.resolve_target(engine, place)

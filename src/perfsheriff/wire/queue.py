"""The answers of the API's writes and of the job queue: uploads, jobs, leases, tokens; health."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from perfsheriff.wire.values import Answer, Timestamp

JobState = Literal["queued", "running", "done", "failed"]
Role = Literal["read", "agent", "sheriff", "admin"]


class UploadResult(Answer):
    """What the server stored for an uploaded run; ``duplicate`` when it already had it."""

    run_id: int
    duplicate: bool
    format: str | None
    series: int
    samples: int
    job_id: int | None


class JobBenchmark(Answer):
    """The benchmark of a job as the server's project configuration defined it when the job was queued."""

    name: str
    command: str
    format: str | None
    setup: str | None
    timeout: float
    repetitions: int
    env: dict[str, str]
    config_dir: str


class Job(Answer):
    id: int
    project: str
    repository: str = Field(description="its URL without credentials (as configured, for the agent that claimed it)")
    branch: str
    revision: str
    benchmark: JobBenchmark
    machine_class: str
    configuration: dict[str, str]
    repetitions: int
    reason: Literal["bisect", "confirm", "backfill", "routine", "baseline"]
    priority: int
    state: JobState
    attempt: int
    max_attempts: int
    lease_expires_at: Timestamp | None
    machine: str | None
    run_id: int | None
    error: str | None
    created_at: Timestamp
    finished_at: Timestamp | None


class ClaimedJob(Job):
    """A job as the agent that claimed it sees it: with its lease."""

    lease_expires_at: Timestamp
    lease: str


class Claim(Answer):
    job: ClaimedJob | None = Field(description="null: no job is queued for the machine's class")


class JobCreated(Answer):
    job: Job
    new: bool = Field(description="false: the same job was queued or running already")


class JobList(Answer):
    jobs: list[Job]


class LeaseRenewed(Answer):
    lease_expires_at: Timestamp


class JobStateAnswer(Answer):
    state: JobState


class Token(Answer):
    id: int
    name: str
    role: Role
    machine: str | None
    created_at: Timestamp
    expires_at: Timestamp | None
    revoked_at: Timestamp | None


class TokenCreated(Token):
    token: str = Field(description="the secret, shown this once")


class TokenList(Answer):
    tokens: list[Token]


class Health(Answer):
    status: Literal["ok", "unavailable"]
    database: Literal["ok", "unreachable"]
    version: str


class QueuedReason(Answer):
    """The queued jobs of one reason on a machine class."""

    reason: Literal["routine", "confirm", "backfill", "bisect", "baseline"]
    jobs: int
    oldest: Timestamp = Field(description="when the oldest of them was queued")
    why: str | None = Field(description="why they wait (the class's run budget is spent), or null")


class ClassBudget(Answer):
    """One machine class against its run budget (``docs/configuration.md``, *One machine-time budget*)."""

    machine_class: str
    runs_per_day: int | None = Field(description="the budget of runs a day for automation; null: no limit")
    spent: int = Field(description="runs automation (everything but routine runs) claimed in the last 24 hours")
    frees_at: Timestamp | None = Field(description="when budgeted work may be claimed again (now if not spent)")
    held_back: int = Field(description="queued jobs waiting for the budget")
    queued: list[QueuedReason] = Field(description="queued jobs by reason, in the order agents take them")


class BudgetStatus(Answer):
    """The answer of ``GET /api/v1/status``."""

    classes: list[ClassBudget]

"""The JSON bodies the API accepts: uploads, the job queue, tokens, triage."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, StringConstraints, model_validator

from perfsheriff.wire.values import (
    Configuration,
    ErrorText,
    Id,
    Lease,
    LeaseSeconds,
    Name,
    RevisionName,
    Sha,
    Strict,
)


class JobRef(Strict):
    id: Id
    lease: Lease | None = Field(default=None, description="the lease the job was claimed under")
    override: bool = Field(
        default=False, description="an admin completes the job whatever its lease (recorded on the job)"
    )

    @model_validator(mode="after")
    def _lease_or_override(self) -> JobRef:
        if self.lease is None and not self.override:
            raise ValueError("job.lease is required (or override, for an admin)")
        return self


class RunUpload(Strict):
    """One run: its result files, or the failure of a benchmark."""

    project: Name
    revision: RevisionName
    machine: Name
    branch: Name | None = None
    configuration: Configuration = Field(default_factory=dict)
    format: Name | None = Field(default=None, description="a result format name; null: detect it")
    files: dict[Annotated[str, StringConstraints(min_length=1, max_length=500)], str] = Field(
        default_factory=dict, description="file name -> file text; several files only with tree"
    )
    tree: bool = Field(default=False, description="files are the JSON files of one result directory (criterion)")
    source: Annotated[str, StringConstraints(max_length=500)] | None = None
    environment: dict[Name, Annotated[str, StringConstraints(max_length=2000)]] = Field(default_factory=dict)
    status: Literal["ok", "failed", "timeout"] = "ok"
    error: ErrorText | None = None
    log_tail: Annotated[str, StringConstraints(max_length=100_000)] = ""
    job: JobRef | None = None


class ClaimRequest(Strict):
    machine: Name
    lease_seconds: LeaseSeconds = 60.0


class RenewRequest(Strict):
    lease: Lease
    lease_seconds: LeaseSeconds = 60.0


class ReleaseRequest(Strict):
    lease: Lease


class FailRequest(Strict):
    lease: Lease
    error: ErrorText = "infrastructure fault"


class JobCreate(Strict):
    project: Name
    revision: RevisionName
    benchmark: Name
    machine_class: Name
    branch: Name | None = None
    configuration: Configuration = Field(default_factory=dict)
    repetitions: int | None = Field(default=None, ge=1, le=1000)
    reason: Literal["bisect", "backfill", "routine"] = "routine"


class TokenCreate(Strict):
    role: Literal["read", "agent", "sheriff", "admin"]
    name: Annotated[str, StringConstraints(max_length=200)] = ""
    machine: Name | None = None
    machine_class: Name | None = None
    expires_in_days: float | None = Field(default=None, gt=0, le=3650)


StateName = Annotated[str, StringConstraints(min_length=1, max_length=20, strip_whitespace=True)]


class TransitionBody(Strict):
    state: StateName
    note: ErrorText = ""
    owner: Annotated[str, StringConstraints(max_length=200, strip_whitespace=True)] | None = Field(
        default=None, description='who looks after it; "" clears'
    )
    bug_url: Annotated[str, StringConstraints(max_length=2000, strip_whitespace=True)] | None = Field(
        default=None, description='an http(s) URL; "" clears'
    )
    from_state: StateName | None = Field(default=None, description="the state you saw; 409 if it changed meanwhile")


class NoteBody(Strict):
    text: Annotated[str, StringConstraints(min_length=1, max_length=10_000)]


class ReassignBody(Strict):
    summary_id: Id
    note: ErrorText = ""


class AlertCreate(Strict):
    """A sheriff's hand-made alert: a change on one series that the detector did not report."""

    series_id: Annotated[str, StringConstraints(min_length=1, max_length=16, pattern="^[0-9a-fA-F]+$")] = Field(
        description="the series (GET /api/v1/series), or a unique prefix of its id"
    )
    revision: Sha = Field(description="the first revision of the new level: a measured revision of the series")
    previous: Sha | None = Field(
        default=None, description="the last revision of the old level (default: the measured one before revision)"
    )
    kind: Literal["regression", "improvement"] | None = Field(
        default=None, description="what you saw; null: what the data shows (a mismatch is a 422)"
    )
    note: ErrorText = ""

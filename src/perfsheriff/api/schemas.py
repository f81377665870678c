"""Request bodies of the API (responses are plain JSON objects built by the routes), and the
checks every request parameter gets.

Bodies are strict: unknown fields are refused, so that a typo in a CI script
is a 422 that names the field rather than data silently missing. No text may
hold a NUL character, which PostgreSQL cannot store: a 422 that names the field,
rather than an error of the database.
"""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import Path, Request
from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator, model_validator

from perfsheriff.api.errors import ApiError
from perfsheriff.model import MAX_ID

# Ids are 64-bit and branch positions 32-bit in the database: a larger number is refused here, as a 422,
# rather than by the database driver (SQLite) or the server (PostgreSQL), which would make it a 500.
IdPath = Annotated[int, Path(ge=1, le=MAX_ID)]

Name = Annotated[str, StringConstraints(min_length=1, max_length=200, strip_whitespace=True)]
Lease = Annotated[str, StringConstraints(min_length=1, max_length=64)]
LeaseSeconds = Annotated[float, Field(ge=1, le=3600)]


def _has_nul(value: object) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(_has_nul(k) or _has_nul(v) for k, v in value.items())
    if isinstance(value, list | tuple):
        return any(_has_nul(v) for v in value)
    return False  # numbers, booleans, None; a nested model checked its own fields


async def refuse_nul_parameters(request: Request) -> None:
    """A router dependency: no path or query parameter may hold a NUL character."""
    for name, value in (*request.path_params.items(), *request.query_params.multi_items()):
        if _has_nul(value):
            raise ApiError(422, f"{name}: must not contain NUL characters", field=name)


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")

    @field_validator("*", mode="after")
    @classmethod
    def _no_nul(cls, value: object) -> object:
        if _has_nul(value):
            raise ValueError("must not contain NUL characters")
        return value


class JobRef(Strict):
    id: int = Field(ge=1, le=MAX_ID)
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
    revision: Annotated[str, StringConstraints(min_length=1, max_length=100, strip_whitespace=True)]
    machine: Name
    branch: Name | None = None
    configuration: dict[Name, Annotated[str, StringConstraints(max_length=200)]] = Field(default_factory=dict)
    format: Name | None = Field(default=None, description="a result format name; null: detect it")
    files: dict[Annotated[str, StringConstraints(min_length=1, max_length=500)], str] = Field(
        default_factory=dict, description="file name -> file text; several files only with tree"
    )
    tree: bool = Field(default=False, description="files are the JSON files of one result directory (criterion)")
    source: Annotated[str, StringConstraints(max_length=500)] | None = None
    environment: dict[Name, Annotated[str, StringConstraints(max_length=2000)]] = Field(default_factory=dict)
    status: Literal["ok", "failed", "timeout"] = "ok"
    error: Annotated[str, StringConstraints(max_length=10_000)] | None = None
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
    error: Annotated[str, StringConstraints(max_length=10_000)] = "infrastructure fault"


class JobCreate(Strict):
    project: Name
    revision: Annotated[str, StringConstraints(min_length=1, max_length=100, strip_whitespace=True)]
    benchmark: Name
    machine_class: Name
    branch: Name | None = None
    configuration: dict[Name, Annotated[str, StringConstraints(max_length=200)]] = Field(default_factory=dict)
    repetitions: int | None = Field(default=None, ge=1, le=1000)
    reason: Literal["bisect", "backfill", "routine"] = "routine"


class TokenCreate(Strict):
    role: Literal["read", "agent", "sheriff", "admin"]
    name: Annotated[str, StringConstraints(max_length=200)] = ""
    machine: Name | None = None
    machine_class: Name | None = None
    expires_in_days: float | None = Field(default=None, gt=0, le=3650)


Sha = Annotated[str, StringConstraints(min_length=4, max_length=40, pattern="^[0-9a-fA-F]+$", strip_whitespace=True)]


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
    note: Annotated[str, StringConstraints(max_length=10_000)] = ""

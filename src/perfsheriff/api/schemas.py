"""Request bodies of the API (responses are plain JSON objects built by the routes).

Bodies are strict: unknown fields are refused, so that a typo in a CI script
is a 422 that names the field rather than data silently missing.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

Name = Annotated[str, StringConstraints(min_length=1, max_length=200, strip_whitespace=True)]
Lease = Annotated[str, StringConstraints(min_length=1, max_length=64)]
LeaseSeconds = Annotated[float, Field(ge=1, le=3600)]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class JobRef(Strict):
    id: int = Field(ge=1)
    lease: Lease


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

"""Writes: run uploads (CI and agents), the job queue, tokens."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

from fastapi import Depends, Header, Query, Request, Response

from perfsheriff.api.auth import check_machine, require, require_one_of
from perfsheriff.api.errors import ApiError
from perfsheriff.api.limits import LARGE_BODY
from perfsheriff.api.schemas import IdPath, api_router
from perfsheriff.model import Configuration, Machine, RunStatus
from perfsheriff.roles import Role
from perfsheriff.service.access import tokens
from perfsheriff.service.access.tokens import TokenInfo
from perfsheriff.service.intake import uploads
from perfsheriff.service.queue import jobs, requested_runs
from perfsheriff.wire import (
    Claim,
    ClaimRequest,
    FailRequest,
    JobCreate,
    JobCreated,
    JobList,
    JobRef,
    JobStateAnswer,
    LeaseRenewed,
    ReleaseRequest,
    RenewRequest,
    RunUpload,
    TokenCreate,
    TokenCreated,
    TokenList,
    UploadResult,
)
from perfsheriff.wire import Token as TokenAnswer

router = api_router()

Uploader = Annotated[TokenInfo, Depends(require_one_of(Role.AGENT, Role.ADMIN))]
Sheriff = Annotated[TokenInfo | None, Depends(require(Role.SHERIFF))]
Admin = Annotated[TokenInfo | None, Depends(require(Role.ADMIN))]
Reader = Annotated[TokenInfo | None, Depends(require(Role.READ))]


def _now() -> datetime:
    return datetime.now(UTC)


@router.post(
    "/runs",
    status_code=201,
    response_model=UploadResult,
    summary="Upload one run",
    dependencies=[LARGE_BODY],
    responses={200: {"description": "already stored (same Idempotency-Key or same bytes)"}},
)
def upload_run(
    body: RunUpload,
    request: Request,
    response: Response,
    token: Uploader,
    idempotency_key: Annotated[str | None, Header(alias="Idempotency-Key", min_length=1, max_length=200)] = None,
) -> UploadResult:
    """Store a run's result files (or its failure) at a revision, machine and configuration.

    A retried upload with the same ``Idempotency-Key`` returns the first run and adds nothing.
    With ``job``, the run answers that job and completes it in the same transaction.
    """
    check_machine(token, body.machine)
    if body.job is not None and body.job.override and token.role is not Role.ADMIN:
        raise ApiError(403, "only an admin may complete a job overriding its lease", field="job.override")
    stored = uploads.upload(
        request.app.state.engine,
        uploads.Upload(
            project=body.project,
            revision=body.revision,
            machine=body.machine,
            files={name: text.encode() for name, text in body.files.items()},
            branch=body.branch,
            configuration=Configuration.of(body.configuration),
            format=body.format,
            tree=body.tree,
            source=body.source,
            environment=body.environment,
            status=RunStatus(body.status),
            error=body.error,
            log_tail=body.log_tail,
            job=_job_answer(body.job, token),
            idempotency_key=idempotency_key,
        ),
        limit=request.app.state.settings.max_request_bytes,
        now=_now(),
    )
    request.app.state.metrics.uploads.labels("duplicate" if stored.duplicate else "stored").inc()
    if stored.duplicate:
        response.status_code = 200
    return UploadResult.model_validate(stored, from_attributes=True)


def _job_answer(job: JobRef | None, token: TokenInfo) -> uploads.JobAnswer | None:
    if job is None:
        return None
    who = f"admin {token.name!r}" if token.name else f"admin token {token.id}"
    return uploads.JobAnswer(job.id, job.lease, override_by=who if job.override else None)


@router.post(
    "/jobs/claim",
    response_model=Claim,
    summary="Claim the next job for a machine",
    responses={200: {"description": '`{"job": {...}}` with its lease, or `{"job": null}` when none is queued'}},
)
def claim_job(body: ClaimRequest, request: Request, token: Uploader) -> Response:
    """The hot path of every agent: the answer (a :class:`~perfsheriff.wire.Claim`) is written as JSON directly."""
    check_machine(token, body.machine)
    settings = request.app.state.settings
    job = jobs.claim(
        request.app.state.engine,
        machine=body.machine,
        lease_s=body.lease_seconds,
        now=_now(),
        budgets=settings.run_budgets,
    )
    request.app.state.metrics.claims.labels("job" if job else "empty").inc()
    body_json = {"job": None if job is None else job.as_json(with_lease=True)}
    return Response(json.dumps(body_json, separators=(",", ":")), media_type="application/json")


def _own_job(request: Request, token: TokenInfo, job_id: int) -> None:
    """An agent acts only on jobs its machine holds or could hold."""
    if token.role is not Role.AGENT:
        return
    with request.app.state.engine.connect() as conn:
        job = jobs.get_job(conn, job_id)
        machine_class = jobs.machine_class_of(conn, token.machine or "")
    if job.machine_class != machine_class:
        raise ApiError(403, f"job {job_id} is for machine class {job.machine_class!r}, not this agent's")


@router.post("/jobs/{job_id}/renew", response_model=LeaseRenewed, summary="Extend the lease on a claimed job")
def renew_job(job_id: IdPath, body: RenewRequest, request: Request, token: Uploader) -> Any:
    _own_job(request, token, job_id)
    expires = jobs.renew(request.app.state.engine, job_id, body.lease, lease_s=body.lease_seconds, now=_now())
    return {"lease_expires_at": expires.isoformat()}


@router.post("/jobs/{job_id}/release", response_model=JobStateAnswer, summary="Give a claimed job back to the queue")
def release_job(job_id: IdPath, body: ReleaseRequest, request: Request, token: Uploader) -> Any:
    _own_job(request, token, job_id)
    state = jobs.release(request.app.state.engine, job_id, body.lease, now=_now())
    return {"state": state.value}


@router.post(
    "/jobs/{job_id}/fail", response_model=JobStateAnswer, summary="Report an infrastructure fault on a claimed job"
)
def fail_job(job_id: IdPath, body: FailRequest, request: Request, token: Uploader) -> Any:
    _own_job(request, token, job_id)
    state = jobs.fail(request.app.state.engine, job_id, body.lease, body.error, now=_now())
    return {"state": state.value}


@router.post("/jobs", status_code=201, response_model=JobCreated, summary="Queue a benchmark run")
def create_job(body: JobCreate, request: Request, _token: Sheriff) -> Any:
    """Queue a run of a benchmark of the server's project configuration (``serve --config``)."""
    asked = requested_runs.RunRequest(
        project=body.project,
        revision=body.revision,
        benchmark=body.benchmark,
        machine_class=body.machine_class,
        branch=body.branch,
        configuration=Configuration.of(body.configuration),
        repetitions=body.repetitions,
        reason=jobs.JobReason(body.reason),
    )
    job, new = requested_runs.queue_run(request.app.state.engine, request.app.state.project_file, asked, now=_now())
    return {"job": job.as_json(), "new": new}


@router.get("/jobs", response_model=JobList, summary="List jobs")
def list_jobs(
    request: Request,
    _token: Reader,
    state: Annotated[list[jobs.JobState] | None, Query()] = None,
    project: str | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> Any:
    with request.app.state.engine.connect() as conn:
        found = jobs.list_jobs(conn, states=state or (), project=project, limit=limit)
    return {"jobs": [job.as_json() for job in found]}


def _token_json(info: tokens.TokenInfo) -> dict[str, Any]:
    return {
        "id": info.id,
        "name": info.name,
        "role": info.role.value,
        "machine": info.machine,
        "created_at": info.created_at.isoformat(),
        "expires_at": info.expires_at.isoformat() if info.expires_at else None,
        "revoked_at": info.revoked_at.isoformat() if info.revoked_at else None,
    }


@router.post("/tokens", status_code=201, response_model=TokenCreated, summary="Create a token (shown once)")
def create_token(body: TokenCreate, request: Request, _token: Admin) -> Any:
    now = _now()
    machine = Machine(body.machine, body.machine_class or "") if body.machine else None
    expires = now + timedelta(days=body.expires_in_days) if body.expires_in_days else None
    created = tokens.create_token(
        request.app.state.engine, Role(body.role), now=now, name=body.name, machine=machine, expires_at=expires
    )
    return {"token": created.secret, **_token_json(created.info)}


@router.get("/tokens", response_model=TokenList, summary="List tokens (never their secrets)")
def list_tokens(request: Request, _token: Admin) -> Any:
    return {"tokens": [_token_json(info) for info in tokens.list_tokens(request.app.state.engine)]}


@router.delete("/tokens/{token_id}", response_model=TokenAnswer, summary="Revoke a token")
def revoke_token(token_id: IdPath, request: Request, _token: Admin) -> Any:
    revoked = tokens.revoke_token(request.app.state.engine, token_id, _now())
    request.app.state.token_cache.clear()  # refused from the next request on, here
    return _token_json(revoked)

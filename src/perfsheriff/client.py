"""A typed client of perfsheriff's HTTP API, for benchmark agents, ``perfsheriff upload`` and ``compare --server``.

Agent-side code: it imports the model and errors, the wire's models that the
server answers with (:mod:`perfsheriff.wire`), and ``projectfile`` for a job's
benchmark; never the store, services or API, so a benchmark machine needs no
database driver. Its errors extend the tree drawn in
:mod:`perfsheriff.errors`::

    PerfsheriffError
    ├── ApiError              the server answered 4xx: the request is wrong and retrying will not help
    └── ServerUnavailable     no answer, or a 5xx/429: try again later with the same idempotency key

The split is what callers act on: an agent keeps a result whose upload met
:class:`ServerUnavailable` in its spool, and drops (or sets aside) one that
met :class:`ApiError`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from types import TracebackType
from typing import Any, Self, TypeVar

import httpx
from pydantic import BaseModel, ValidationError

from perfsheriff import __version__, wire
from perfsheriff.errors import InputError, PerfsheriffError
from perfsheriff.model import Configuration, RunStatus
from perfsheriff.projectfile import BenchmarkSpec
from perfsheriff.wire import ErrorEnvelope, Health, UploadResult

API = "/api/v1"
#: Statuses after which the same request may succeed later: the server's own faults and "slow down".
_RETRYABLE_4XX = frozenset({408, 429})
_UPLOAD_STATUSES = frozenset({RunStatus.OK, RunStatus.FAILED, RunStatus.TIMEOUT})

M = TypeVar("M", bound=BaseModel)


class ApiError(PerfsheriffError):
    """The server refused a request with a 4xx error envelope (``code`` such as ``not_found``, ``conflict``)."""

    def __init__(self, status: int, code: str, message: str, field: str | None = None) -> None:
        self.status = status
        self.code = code
        self.message = message
        self.field = field
        super().__init__(f"{message} (HTTP {status} {code})")


class ServerUnavailable(PerfsheriffError):
    """The server could not be reached or failed (5xx); the request may be retried unchanged."""


@dataclass(frozen=True, slots=True)
class JobRef:
    """A claimed job as an upload names it: its id and the lease that proves the claim."""

    id: int
    lease: str

    @property
    def idempotency_key(self) -> str:
        """The key of this attempt's result: a retried or spooled upload of it is a no-op on the server."""
        return f"job-{self.id}-{self.lease}"


def benchmark_spec(benchmark: wire.JobBenchmark, repetitions: int | None = None) -> BenchmarkSpec:
    """The runner's spec of a job's benchmark; ``repetitions`` (the job's) overrides its own. Raises ConfigError."""
    return BenchmarkSpec(
        name=benchmark.name,
        command=benchmark.command,
        format=benchmark.format,
        setup=benchmark.setup,
        timeout=benchmark.timeout,
        repetitions=benchmark.repetitions if repetitions is None else repetitions,
        env=tuple(sorted(benchmark.env.items())),
    )


@dataclass(frozen=True, slots=True)
class Job:
    """A job claimed from the queue: measure ``benchmark`` at ``revision`` of ``repository``."""

    id: int
    lease: str
    lease_expires_at: datetime
    attempt: int
    max_attempts: int
    reason: str
    priority: int
    project: str
    repository: str
    branch: str
    revision: str
    machine_class: str
    configuration: Configuration
    repetitions: int
    benchmark: wire.JobBenchmark

    @property
    def ref(self) -> JobRef:
        return JobRef(self.id, self.lease)

    def spec(self) -> BenchmarkSpec:
        """The runner's spec of the job's benchmark, with the job's repetitions. Raises ConfigError."""
        return benchmark_spec(self.benchmark, self.repetitions)

    @classmethod
    def of(cls, claimed: wire.ClaimedJob) -> Job:
        """The job of a claim's answer."""
        return cls(
            id=claimed.id,
            lease=claimed.lease,
            lease_expires_at=claimed.lease_expires_at,
            attempt=claimed.attempt,
            max_attempts=claimed.max_attempts,
            reason=claimed.reason,
            priority=claimed.priority,
            project=claimed.project,
            repository=claimed.repository,
            branch=claimed.branch,
            revision=claimed.revision,
            machine_class=claimed.machine_class,
            configuration=Configuration.of(claimed.configuration),
            repetitions=claimed.repetitions,
            benchmark=claimed.benchmark,
        )


@dataclass(frozen=True, slots=True)
class RunUpload:
    """The body of ``POST /api/v1/runs``: one run's results (or why there are none) at one revision.

    ``files`` maps names to file text; several files with ``tree=True`` are a
    result directory (Criterion). ``ok`` needs files; ``failed`` and
    ``timeout`` carry ``error`` and ``log_tail`` instead. ``infra`` is never
    uploaded: a machine fault is reported with :meth:`Client.fail`.
    """

    project: str
    revision: str
    machine: str
    branch: str | None = None
    configuration: Configuration = field(default_factory=Configuration)
    format: str | None = None
    files: tuple[tuple[str, str], ...] = ()
    tree: bool = False
    source: str | None = None
    environment: tuple[tuple[str, str], ...] = ()
    status: RunStatus = RunStatus.OK
    error: str | None = None
    log_tail: str = ""
    job: JobRef | None = None

    def __post_init__(self) -> None:
        if not self.project.strip():
            raise InputError("project must not be empty")
        if not self.revision.strip():
            raise InputError("revision must not be empty")
        if not self.machine.strip():
            raise InputError("machine must not be empty")
        if self.status not in _UPLOAD_STATUSES:
            raise InputError(f"a run with status {self.status!r} is not uploaded; report it with fail")
        if self.status is RunStatus.OK and not self.files:
            raise InputError("an ok run needs at least one result file")

    def payload(self) -> dict[str, Any]:
        """The JSON body, in the contract's field names."""
        return {
            "project": self.project,
            "branch": self.branch,
            "revision": self.revision,
            "machine": self.machine,
            "configuration": self.configuration.as_dict(),
            "format": self.format,
            "files": dict(self.files),
            "tree": self.tree,
            "source": self.source,
            "environment": dict(self.environment),
            "status": self.status.value,
            "error": self.error,
            "log_tail": self.log_tail,
            "job": None if self.job is None else {"id": self.job.id, "lease": self.job.lease},
        }

    @classmethod
    def from_payload(cls, data: object) -> RunUpload:
        """Rebuild an upload from :meth:`payload`'s output (an agent's spool); raises InputError if it is not one."""
        try:
            body = wire.RunUpload.model_validate(data)
        except ValidationError as err:
            raise InputError(_first_problem(err, "the upload")) from None
        if body.job is not None and body.job.lease is None:
            raise InputError("the upload: 'job' has no lease")
        return cls(
            project=body.project,
            branch=body.branch,
            revision=body.revision,
            machine=body.machine,
            configuration=Configuration.of(body.configuration),
            format=body.format,
            files=tuple(body.files.items()),
            tree=body.tree,
            source=body.source,
            environment=tuple(body.environment.items()),
            status=RunStatus(body.status),
            error=body.error,
            log_tail=body.log_tail,
            job=None if body.job is None else JobRef(body.job.id, body.job.lease or ""),
        )


class Client:
    """Talks to one perfsheriff server; every call is one HTTP request (retrying is the caller's choice).

    ``server`` is the base URL (``http://host:8321``, a path prefix is kept);
    ``token`` is sent as a bearer token (``None`` for public reads);
    ``timeout`` bounds each phase of a request (connect, read, write) in seconds.
    """

    def __init__(
        self,
        server: str,
        token: str | None,
        timeout: float = 30.0,
        *,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        if not server.startswith(("http://", "https://")):
            raise InputError(f"expected an http:// or https:// URL, got {server!r}", where="--server")
        self.server = server.rstrip("/")
        headers = {"User-Agent": f"perfsheriff/{__version__}", "Accept": "application/json"}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        self._http = httpx.Client(base_url=self.server, headers=headers, timeout=timeout, transport=transport)

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self.close()

    def health(self) -> Health:
        """The server's health; a server whose database is down answers 503, raised as ServerUnavailable."""
        return self._call("GET", "/health", Health)

    def projects(self) -> list[str]:
        """The names of the server's projects."""
        return [project.name for project in self._call("GET", f"{API}/projects", wire.ProjectList).projects]

    def upload_run(self, upload: RunUpload, *, idempotency_key: str) -> UploadResult:
        """Store one run; the same ``idempotency_key`` again returns the first run with ``duplicate=True``."""
        if not 1 <= len(idempotency_key) <= 200 or not idempotency_key.isprintable():
            raise InputError(f"an idempotency key has 1 to 200 printable characters, got {idempotency_key!r}")
        headers = {"Idempotency-Key": idempotency_key}
        return self._call("POST", f"{API}/runs", UploadResult, json=upload.payload(), headers=headers)

    def compare(self, base: str, head: str, fail_on: str | None = None) -> wire.Comparison:
        """Compare two revisions as the server names them (a sha, its prefix, a branch, a tag, ``~N``).

        With ``fail_on``, the server judges the merge-gate rules; a server that
        ignored them would pass every gate, so that is an ApiError.
        """
        params = {"base": base, "head": head} | ({"fail_on": fail_on} if fail_on is not None else {})
        answer = self._call("GET", f"{API}/compare", wire.Comparison, params=params)
        if fail_on is not None and not answer.rules:
            raise ApiError(200, "unexpected_response", f"{self.server} ignored fail_on: it predates merge gates")
        _check_firings(answer)
        return answer

    def claim(self, machine: str, lease_seconds: int) -> Job | None:
        """The next queued job for ``machine``'s class, leased for ``lease_seconds``; ``None`` when there is none."""
        body = {"machine": machine, "lease_seconds": lease_seconds}
        claimed = self._call("POST", f"{API}/jobs/claim", wire.Claim, json=body).job
        return None if claimed is None else Job.of(claimed)

    def renew(self, job_id: int, lease: str, lease_seconds: int) -> datetime:
        """Extend a held lease; returns its new expiry. A lease no longer held is an ApiError 409."""
        body = {"lease": lease, "lease_seconds": lease_seconds}
        return self._call("POST", f"{API}/jobs/{job_id}/renew", wire.LeaseRenewed, json=body).lease_expires_at

    def release(self, job_id: int, lease: str) -> str:
        """Give a job back to the queue without counting an attempt; returns its state (``queued``)."""
        return self._call("POST", f"{API}/jobs/{job_id}/release", wire.JobStateAnswer, json={"lease": lease}).state

    def fail(self, job_id: int, lease: str, error: str) -> str:
        """Report an infrastructure fault; returns ``queued`` (retried elsewhere) or ``failed`` (attempts used up)."""
        body = {"lease": lease, "error": error}
        return self._call("POST", f"{API}/jobs/{job_id}/fail", wire.JobStateAnswer, json=body).state

    def _call(
        self,
        method: str,
        path: str,
        answer: type[M],
        *,
        json: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
        params: Mapping[str, str] | None = None,
    ) -> M:
        """Send one request and read its answer as the wire's ``answer`` model, or raise ApiError / ServerUnavailable.

        An answer that is not the contract's shape (a proxy's page, another
        version of the API) is an ApiError: sending it again would not help.
        """
        what = f"{method} {path}"
        try:
            response = self._http.request(method, path, json=json, headers=headers, params=params)
        except httpx.TransportError as err:
            reason = str(err) or type(err).__name__
            raise ServerUnavailable(f"cannot reach {self.server} ({what}): {reason}") from None
        status = response.status_code
        if status >= 500 or status in _RETRYABLE_4XX:
            code, message, _ = _envelope(response)
            raise ServerUnavailable(f"{self.server} answered {status} {code} to {what}: {message}")
        if status >= 400:
            raise ApiError(status, *_envelope(response))
        try:
            return answer.model_validate_json(response.content)
        except ValidationError as err:
            raise ApiError(status, "unexpected_response", _first_problem(err, f"the answer to {what}")) from None


def _check_firings(answer: wire.Comparison) -> None:
    """Each rule that fired is one of the answer's rules, on one of its series or suites: what is shown relies on it."""
    series = {row.series for row in answer.series}
    for fired in answer.fired:
        on = fired.series in series if fired.suite is None else 0 <= fired.suite < len(answer.suites)
        if fired.rule not in answer.rules or not on:
            problem = (
                f"the answer to GET {API}/compare: a firing of {fired.rule!r} names a rule, series or suite it lacks"
            )
            raise ApiError(200, "unexpected_response", problem)


def _envelope(response: httpx.Response) -> tuple[str, str, str | None]:
    """Code, message and field of an error answer; a proxy's HTML page still gives a one-line message."""
    try:
        error = ErrorEnvelope.model_validate_json(response.content).error
    except ValidationError:
        text = response.text.strip()
        first_line = text.splitlines()[0][:200] if text else ""
        return response.reason_phrase.lower().replace(" ", "_") or "error", first_line or response.reason_phrase, None
    return error.code, error.message, error.field


def _first_problem(err: ValidationError, what: str) -> str:
    """One line naming the first field of a JSON document that is missing, mistyped or out of range."""
    first = err.errors(include_url=False)[0]
    where = ".".join(str(part) for part in first["loc"])
    if first["type"] == "json_invalid":
        return f"{what} is not JSON"
    if not where and first["type"] in {"model_type", "model_attributes_type", "dict_type"}:
        return f"{what} is not a JSON object"
    return f"{what}: {where!r}: {first['msg']}" if where else f"{what}: {first['msg']}"

"""A typed client of perfsheriff's HTTP API, for benchmark agents and ``perfsheriff upload``.

Agent-side code: it imports the model and errors (and ``projectfile`` for a
job's benchmark), never the store, services or API, so a benchmark machine
needs no database driver. Its errors extend the tree drawn in
:mod:`perfsheriff.errors`::

    PerfsheriffError
    ├── ApiError              the server answered 4xx: the request is wrong and retrying will not help
    └── ServerUnavailable     no answer, or a 5xx/429: try again later with the same idempotency key

The split is what callers act on: an agent keeps a result whose upload met
:class:`ServerUnavailable` in its spool, and drops (or sets aside) one that
met :class:`ApiError`.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from types import TracebackType
from typing import Any, Self, TypeVar

import httpx

from perfsheriff import __version__
from perfsheriff.errors import InputError, PerfsheriffError
from perfsheriff.model import Configuration, RunStatus
from perfsheriff.projectfile import BenchmarkSpec
from perfsheriff.resultfiles import read_result_bytes

API = "/api/v1"
#: Statuses after which the same request may succeed later: the server's own faults and "slow down".
_RETRYABLE_4XX = frozenset({408, 429})
_UPLOAD_STATUSES = frozenset({RunStatus.OK, RunStatus.FAILED, RunStatus.TIMEOUT})

T = TypeVar("T")


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


class _Malformed(Exception):
    """A JSON document lacks a field or has one of the wrong type (internal; callers re-raise it typed)."""


@dataclass(frozen=True, slots=True)
class Health:
    status: str
    database: str
    version: str


@dataclass(frozen=True, slots=True)
class UploadResult:
    """What the server stored for an uploaded run; ``duplicate`` when it already had it."""

    run_id: int
    duplicate: bool
    format: str | None
    series: int
    samples: int
    job_id: int | None


@dataclass(frozen=True, slots=True)
class JobRef:
    """A claimed job as an upload names it: its id and the lease that proves the claim."""

    id: int
    lease: str

    @property
    def idempotency_key(self) -> str:
        """The key of this attempt's result: a retried or spooled upload of it is a no-op on the server."""
        return f"job-{self.id}-{self.lease}"


@dataclass(frozen=True, slots=True)
class JobBenchmark:
    """The benchmark of a job as the server's project configuration defines it."""

    name: str
    command: str
    format: str | None
    setup: str | None
    timeout: float
    repetitions: int
    env: tuple[tuple[str, str], ...]
    config_dir: str

    def spec(self, repetitions: int | None = None) -> BenchmarkSpec:
        """The runner's spec; ``repetitions`` (the job's) overrides the benchmark's own. Raises ConfigError."""
        return BenchmarkSpec(
            name=self.name,
            command=self.command,
            format=self.format,
            setup=self.setup,
            timeout=self.timeout,
            repetitions=self.repetitions if repetitions is None else repetitions,
            env=self.env,
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
    benchmark: JobBenchmark

    @property
    def ref(self) -> JobRef:
        return JobRef(self.id, self.lease)


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
            body = _Fields(data, "the upload")
            job = body.optional_object("job")
            status = body.string("status")
            if status not in {s.value for s in _UPLOAD_STATUSES}:
                raise _Malformed(f"the upload's 'status' is not one of ok, failed, timeout: {status!r}")
            return cls(
                project=body.string("project"),
                branch=body.optional_string("branch"),
                revision=body.string("revision"),
                machine=body.string("machine"),
                configuration=Configuration.of(body.strings("configuration")),
                format=body.optional_string("format"),
                files=tuple(body.strings("files").items()),
                tree=body.boolean("tree"),
                source=body.optional_string("source"),
                environment=tuple(body.strings("environment").items()),
                status=RunStatus(status),
                error=body.optional_string("error"),
                log_tail=body.string("log_tail"),
                job=None if job is None else JobRef(job.integer("id"), job.string("lease")),
            )
        except _Malformed as err:
            raise InputError(str(err)) from None


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
        return self._call("GET", "/health", _health)

    def projects(self) -> list[str]:
        """The names of the server's projects."""
        return self._call("GET", f"{API}/projects", lambda f: [p.string("name") for p in f.objects("projects")])

    def upload_run(self, upload: RunUpload, *, idempotency_key: str) -> UploadResult:
        """Store one run; the same ``idempotency_key`` again returns the first run with ``duplicate=True``."""
        if not 1 <= len(idempotency_key) <= 200 or not idempotency_key.isprintable():
            raise InputError(f"an idempotency key has 1 to 200 printable characters, got {idempotency_key!r}")
        headers = {"Idempotency-Key": idempotency_key}
        return self._call("POST", f"{API}/runs", _upload_result, json=upload.payload(), headers=headers)

    def claim(self, machine: str, lease_seconds: int) -> Job | None:
        """The next queued job for ``machine``'s class, leased for ``lease_seconds``; ``None`` when there is none."""
        body = {"machine": machine, "lease_seconds": lease_seconds}
        return self._call("POST", f"{API}/jobs/claim", lambda f: _job(f.optional_object("job")), json=body)

    def renew(self, job_id: int, lease: str, lease_seconds: int) -> datetime:
        """Extend a held lease; returns its new expiry. A lease no longer held is an ApiError 409."""
        body = {"lease": lease, "lease_seconds": lease_seconds}
        return self._call("POST", f"{API}/jobs/{job_id}/renew", lambda f: f.timestamp("lease_expires_at"), json=body)

    def release(self, job_id: int, lease: str) -> str:
        """Give a job back to the queue without counting an attempt; returns its state (``queued``)."""
        return self._call("POST", f"{API}/jobs/{job_id}/release", _state, json={"lease": lease})

    def fail(self, job_id: int, lease: str, error: str) -> str:
        """Report an infrastructure fault; returns ``queued`` (retried elsewhere) or ``failed`` (attempts used up)."""
        return self._call("POST", f"{API}/jobs/{job_id}/fail", _state, json={"lease": lease, "error": error})

    def _call(
        self,
        method: str,
        path: str,
        build: Callable[[_Fields], T],
        *,
        json: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> T:
        """Send one request and read its answer with ``build``, or raise ApiError / ServerUnavailable.

        An answer that is not the contract's shape (a proxy's page, another
        version of the API) is an ApiError: sending it again would not help.
        """
        what = f"{method} {path}"
        try:
            response = self._http.request(method, path, json=json, headers=headers)
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
            data = response.json()
        except ValueError:
            raise ApiError(status, "unexpected_response", f"the answer to {what} is not JSON") from None
        try:
            return build(_Fields(data, f"the answer to {what}"))
        except _Malformed as err:
            raise ApiError(status, "unexpected_response", str(err)) from None


def _envelope(response: httpx.Response) -> tuple[str, str, str | None]:
    """Code, message and field of an error answer; a proxy's HTML page still gives a one-line message."""
    try:
        error = response.json()["error"]
        return str(error["code"]), str(error["message"]), None if error.get("field") is None else str(error["field"])
    except (ValueError, KeyError, TypeError):
        text = response.text.strip()
        first_line = text.splitlines()[0][:200] if text else ""
        return response.reason_phrase.lower().replace(" ", "_") or "error", first_line or response.reason_phrase, None


def _health(fields: _Fields) -> Health:
    return Health(fields.string("status"), fields.string("database"), fields.string("version"))


def _state(fields: _Fields) -> str:
    return fields.string("state")


def _upload_result(fields: _Fields) -> UploadResult:
    return UploadResult(
        run_id=fields.integer("run_id"),
        duplicate=fields.boolean("duplicate"),
        format=fields.optional_string("format"),
        series=fields.integer("series"),
        samples=fields.integer("samples"),
        job_id=fields.optional_integer("job_id"),
    )


def _job(fields: _Fields | None) -> Job | None:
    if fields is None:
        return None
    bench = fields.object("benchmark")
    timeout = bench.number("timeout")
    return Job(
        id=fields.integer("id"),
        lease=fields.string("lease"),
        lease_expires_at=fields.timestamp("lease_expires_at"),
        attempt=fields.integer("attempt"),
        max_attempts=fields.integer("max_attempts"),
        reason=fields.string("reason"),
        priority=fields.integer("priority"),
        project=fields.string("project"),
        repository=fields.string("repository"),
        branch=fields.string("branch"),
        revision=fields.string("revision"),
        machine_class=fields.string("machine_class"),
        configuration=Configuration.of(fields.strings("configuration")),
        repetitions=fields.integer("repetitions"),
        benchmark=JobBenchmark(
            name=bench.string("name"),
            command=bench.string("command"),
            format=bench.optional_string("format"),
            setup=bench.optional_string("setup"),
            timeout=timeout,
            repetitions=bench.integer("repetitions"),
            env=tuple(sorted(bench.strings("env").items())),
            config_dir=bench.string("config_dir"),
        ),
    )


class _Fields:
    """Typed reads of one JSON object; a missing or mistyped field raises _Malformed naming it."""

    def __init__(self, data: object, what: str) -> None:
        if not isinstance(data, dict):
            raise _Malformed(f"{what} is not a JSON object")
        self.data: dict[str, object] = data
        self.what = what

    def _get(self, key: str, kinds: tuple[type, ...], expected: str, *, optional: bool = False) -> object:
        value = self.data.get(key)
        if value is None and optional:
            return None
        if (isinstance(value, bool) and bool not in kinds) or not isinstance(value, kinds):
            raise _Malformed(f"{self.what}: {key!r} should be {expected}, got {json.dumps(value)[:80]}")
        return value

    def string(self, key: str) -> str:
        return str(self._get(key, (str,), "a string"))

    def optional_string(self, key: str) -> str | None:
        value = self._get(key, (str,), "a string or null", optional=True)
        return None if value is None else str(value)

    def integer(self, key: str) -> int:
        value = self._get(key, (int,), "an integer")
        assert isinstance(value, int)
        return value

    def optional_integer(self, key: str) -> int | None:
        value = self._get(key, (int,), "an integer or null", optional=True)
        return value if isinstance(value, int) else None

    def number(self, key: str) -> float:
        value = self._get(key, (int, float), "a number")
        assert isinstance(value, (int, float))
        return float(value)

    def boolean(self, key: str) -> bool:
        return bool(self._get(key, (bool,), "true or false"))

    def timestamp(self, key: str) -> datetime:
        text = self.string(key)
        try:
            return datetime.fromisoformat(text)
        except ValueError:
            raise _Malformed(f"{self.what}: {key!r} should be an ISO 8601 time, got {text!r}") from None

    def strings(self, key: str) -> dict[str, str]:
        """An object of string values; a missing or null one is empty."""
        value = self._get(key, (dict,), "an object of strings", optional=True) or {}
        assert isinstance(value, dict)
        if not all(isinstance(k, str) and isinstance(v, str) for k, v in value.items()):
            raise _Malformed(f"{self.what}: {key!r} should hold only string values")
        return dict(value)

    def objects(self, key: str) -> list[_Fields]:
        items = self._get(key, (list,), "a list of objects")
        assert isinstance(items, list)
        return [_Fields(item, f"{self.what}, {key!r}[{i}]") for i, item in enumerate(items)]

    def object(self, key: str) -> _Fields:
        return _Fields(self._get(key, (dict,), "an object"), f"{self.what}, {key!r}")

    def optional_object(self, key: str) -> _Fields | None:
        value = self._get(key, (dict,), "an object or null", optional=True)
        return None if value is None else _Fields(value, f"{self.what}, {key!r}")


# -- result files for `perfsheriff upload` ---------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ResultFiles:
    """The text of one result file, or of every ``*.json`` below a result directory (``tree``)."""

    source: str
    files: tuple[tuple[str, str], ...]
    tree: bool


#: The largest result (file, or directory of files) ``upload`` reads: the server's default request limit.
MAX_UPLOAD_BYTES = 64 * 1024 * 1024


def read_result_path(path: Path, limit: int = MAX_UPLOAD_BYTES) -> ResultFiles:
    """Read a result file, or a directory's ``*.json`` files (keys relative to it), as UTF-8 text.

    Under the same rules as local ingestion (:mod:`perfsheriff.resultfiles`:
    regular files only, no symbolic link out of a directory, at most
    ``limit`` bytes, checked before reading and enforced while reading).
    """
    read = read_result_bytes(path, limit, limit_name="--max-bytes")
    files = tuple((name, _text(name, data, path, read.tree)) for name, data in read.files)
    return ResultFiles(read.source, files, read.tree)


def _text(name: str, data: bytes, path: Path, tree: bool) -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as err:
        source = str(path / name) if tree else str(path)
        raise InputError(f"not UTF-8 text (byte {err.start})", source=source) from None


def upload_key(
    *,
    project: str,
    branch: str | None,
    revision: str,
    machine: str,
    configuration: Configuration,
    files: tuple[tuple[str, str], ...],
) -> str:
    """The idempotency key of an upload: SHA-256 of where the results go and of each file's name and bytes.

    Re-running a CI step with the same files for the same target is then a
    no-op on the server, while any change to the files or the target is a new run.
    """
    digest = hashlib.sha256()
    target = [project, branch, revision, machine, [list(item) for item in configuration.items]]
    digest.update(json.dumps(target, ensure_ascii=False).encode())
    for name, text in sorted(files):
        digest.update(b"\0" + name.encode() + b"\0" + hashlib.sha256(text.encode()).digest())
    return f"upload-{digest.hexdigest()}"

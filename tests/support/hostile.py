"""A fixed list of malformed and hostile HTTP requests for the probe suite (test_api_fuzz.py).

Every route of the API and the dashboard gets hostile path and query values (numbers beyond 64 bits,
NUL, invalid UTF-8, very long text), hostile bodies (not JSON, deep nesting, wrong types, unknown
fields, text no database stores), hostile headers, and hostile result files in uploads. The list is
the same on every run, so that two servers given it in the same order can be compared answer by answer.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field

HUGE = str(2**63)
LONG = "x" * 5000


@dataclass(frozen=True, slots=True)
class Probe:
    method: str
    path: str
    role: str | None = None  # which token: None, "read", "agent", "sheriff", "admin"
    body: bytes | None = None
    headers: dict[str, str] = field(default_factory=dict)

    @property
    def label(self) -> str:
        shown = (self.body or b"")[:60]
        return f"{self.role or 'anonymous'} {self.method} {self.path[:80]} {shown!r}"


def _json(value: object) -> bytes:
    return json.dumps(value).encode()  # lone surrogates as \\ud800 escapes, as a hostile client sends them


ID_VALUES = ["0", "-1", HUGE, str(2**70), "abc", "1e3", "1.5", "%00", "%ED%A0%80", LONG, "99999"]
TEXT_VALUES = ["%00", "a%00b", "%ED%A0%80", "%FF%FE", LONG, "%E2%80%AE", "..%2F..%2Fetc", "'%20OR%201=1--", "*"]
INT_VALUES = ["-1", "0", HUGE, str(2**31), "abc", "1e309", "nan", ""]

ID_ROUTES = [
    ("GET", "/api/v1/alerts/{}", "read"),
    ("GET", "/api/v1/summaries/{}", "read"),
    ("POST", "/api/v1/summaries/{}/transition", "sheriff"),
    ("POST", "/api/v1/summaries/{}/notes", "sheriff"),
    ("POST", "/api/v1/alerts/{}/reassign", "sheriff"),
    ("POST", "/api/v1/jobs/{}/renew", "agent"),
    ("POST", "/api/v1/jobs/{}/release", "agent"),
    ("POST", "/api/v1/jobs/{}/fail", "agent"),
    ("DELETE", "/api/v1/tokens/{}", "admin"),
    ("GET", "/summaries/{}", None),
    ("POST", "/summaries/{}/note", None),
]
TEXT_ROUTES = [
    ("GET", "/api/v1/series/{}", "read"),
    ("GET", "/api/v1/projects/{}/revisions", "read"),
    ("GET", "/series/{}", None),
    ("GET", "/series/{}/data", None),
    ("GET", "/revision/{}", None),
]
QUERY_TEXT = [
    ("/api/v1/series", ["project", "branch", "benchmark", "machine_class", "metric"]),
    ("/api/v1/alerts", ["benchmark", "kind"]),
    ("/api/v1/summaries", ["queue", "state", "project", "branch", "benchmark", "machine"]),
    ("/api/v1/jobs", ["state", "project"]),
    ("/api/v1/compare", ["base", "head"]),
    ("/summaries", ["queue", "state", "branch", "benchmark", "machine"]),
    ("/compare", ["base", "head"]),
    ("/graph", ["series"]),
    ("/login", ["next"]),
]
QUERY_INT = [
    ("/api/v1/series", ["limit"]),
    ("/api/v1/series/0123456789abcdef", ["max_points", "start", "end"]),
    ("/api/v1/projects/bench-project/revisions", ["limit", "before"]),
    ("/api/v1/alerts", ["limit"]),
    ("/api/v1/summaries", ["limit"]),
    ("/api/v1/jobs", ["limit"]),
    ("/series/0123456789abcdef/data", ["max_points", "start", "end"]),
]
BODY_ROUTES = [
    ("/api/v1/runs", "admin"),
    ("/api/v1/jobs", "sheriff"),
    ("/api/v1/jobs/claim", "agent"),
    ("/api/v1/jobs/1/renew", "agent"),
    ("/api/v1/jobs/1/fail", "agent"),
    ("/api/v1/tokens", "admin"),
    ("/api/v1/summaries/1/transition", "sheriff"),
    ("/api/v1/summaries/1/notes", "sheriff"),
    ("/api/v1/alerts/1/reassign", "sheriff"),
]
BAD_BODIES: list[bytes] = [
    b"",
    b"{",
    b"null",
    b"[]",
    b'"text"',
    b"1e999",
    b"[" * 50_000 + b"]" * 50_000,
    b'{"a":' * 5000 + b"1" + b"}" * 5000,
    b"\xff\xfe\x00",
    _json({"unknown": 1}),
    _json({"machine": "box\x00", "lease": "a\x00", "text": "a\x00", "project": "a\x00"}),
    _json({"machine": "box\ud800", "lease": "\ud800", "text": "\ud800", "role": "\ud800"}),
    _json({"machine": ["box"], "lease": {}, "text": 1, "role": None, "state": 5}),
    _json({"machine": LONG, "lease": LONG, "text": "t" * 20_000, "name": LONG, "state": LONG}),
    _json({"summary_id": 2**70, "lease": "x", "lease_seconds": 1e308, "expires_in_days": -1, "role": "admin"}),
    _json({"summary_id": 0, "lease_seconds": float("nan"), "role": "root", "state": "fixed", "note": "n"}),
]


def _upload(revision: str, **fields: object) -> dict[str, object]:
    return {"project": "bench-project", "revision": revision, "machine": "box"} | fields


def _result(**entry: object) -> str:
    base: dict[str, object] = {"name": "work", "unit": "ms", "samples": [1.0, 2.0]}
    return json.dumps({"format": "perfsheriff", "version": 1, "results": [base | entry]})


def hostile_uploads(revision: str) -> Iterator[dict[str, object]]:
    """Run uploads whose result files or fields are hostile."""
    files = [
        _result(name="n\x00ul"),
        _result(name="lone\ud800"),
        _result(name="".join(chr(0x4E00 + (i * 7919) % 20000) for i in range(3000))),
        _result(metric="m" * 300),
        _result(unit="u" * 300),
        _result(suite="s" * 5000),
        _result(samples=[1e308, 1e308, 1e308]),
        _result(samples=[-1e308, 1e308]),
        _result(samples=[5e-324, 1e-320]),
        _result(samples=[]),
        _result(samples=["1", None]),
        _result(samples=[2**1100]),
        _result(name=""),
        _result(name="<script>alert(1)</script>[/]`](x)"),
        '{"format": "perfsheriff", "version": 1, "results": [{"name": "w", "unit": "ms", "samples": [NaN]}]}',
        '{"format": "perfsheriff", "version": 99, "results": []}',
        '{"format": "perfsheriff"',
        "[" * 10_000 + "]" * 10_000,
        '{"benchmarks": [{"name": "x", "stats": {"data": [1e400]}}]}',
        "BenchmarkX 10 1e309 ns/op\n",
        "\x00" * 100,
        "name,value\n" + "a,1\n" * 1000,
    ]
    for text in files:
        yield _upload(revision, files={"r.json": text})
    yield _upload(revision, files={f"f{i}.json": _result() for i in range(3)})
    yield _upload(revision, files={"../../etc/passwd": _result()}, tree=True)
    yield _upload(revision, configuration={f"k{i}": "v" * 20 for i in range(5000)}, status="failed")
    yield _upload(revision, configuration={"k\x00": "v"}, status="failed")
    yield _upload(revision, configuration={"k=": "v"}, status="failed")
    yield _upload(revision, environment={"e": "v" * 3000}, status="failed")
    yield _upload(revision, status="infra")
    yield _upload(revision, status="failed", error="e\ud800")
    yield _upload(revision, status="failed", log_tail="\x1b[31m" * 1000)
    yield _upload(revision, status="failed", job={"id": 2**70, "lease": "x"})
    yield _upload(revision, status="failed", job={"id": 1})
    yield _upload(revision, status="failed", job={"id": 1, "lease": "x", "override": True})
    yield _upload(revision, format="no-such-format", files={"r.json": _result()})
    yield _upload("0" * 40, files={"r.json": _result()})
    yield _upload("HEAD~1000000", files={"r.json": _result()})
    yield _upload("--upload-pack=touch /tmp/pwned", files={"r.json": _result()})
    yield _upload(revision, branch="-x", files={"r.json": _result()})
    yield _upload(revision, branch="main\x00", files={"r.json": _result()})
    yield _upload(revision, machine="elsewhere", files={"r.json": _result()})
    yield {"project": "no-such-project", "revision": revision, "machine": "box", "status": "failed"}


def probes(revision: str) -> Iterator[Probe]:
    """The hostile requests, in a fixed order."""
    for method, template, role in ID_ROUTES:
        for value in ID_VALUES:
            body = b"" if method in {"GET", "DELETE"} else _json({"lease": "x", "state": "fixed"})
            if template.startswith("/summaries"):
                yield Probe(
                    method,
                    template.format(value),
                    None,
                    b"text=x&csrf=y" if method == "POST" else None,
                    {"Content-Type": "application/x-www-form-urlencoded"} if method == "POST" else {},
                )
            else:
                yield Probe(method, template.format(value), role, body or None, {"Content-Type": "application/json"})
    for method, template, role in TEXT_ROUTES:
        for value in TEXT_VALUES:
            yield Probe(method, template.format(value), role)
    for path, names in QUERY_TEXT:
        for name in names:
            for value in TEXT_VALUES:
                yield Probe("GET", f"{path}?{name}={value}", "read" if path.startswith("/api") else None)
    for path, names in QUERY_INT:
        for name in names:
            for value in INT_VALUES:
                yield Probe("GET", f"{path}?{name}={value}", "read" if path.startswith("/api") else None)
    for path, role in BODY_ROUTES:
        for body in BAD_BODIES:
            yield Probe("POST", path, role, body, {"Content-Type": "application/json"})
        yield Probe("POST", path, role, b"{}", {"Content-Type": "text/plain"})
        yield Probe("POST", path, None, b"{}", {"Content-Type": "application/json"})
        yield Probe("POST", path, "read", b"{}", {"Content-Type": "application/json"})
    for upload in hostile_uploads(revision):
        yield Probe("POST", "/api/v1/runs", "admin", _json(upload), {"Content-Type": "application/json"})
        yield Probe("POST", "/api/v1/runs", "agent", _json(upload), {"Content-Type": "application/json"})
    yield from _headers(revision)
    yield from _forms()
    yield from _scenario(revision)


def _scenario(revision: str) -> Iterator[Probe]:
    """Requests that need state: a job claimed and answered with a guessed lease, a reused idempotency key."""
    as_json = {"Content-Type": "application/json"}
    job = {"project": "bench-project", "revision": revision, "benchmark": "work", "machine_class": "test-class"}
    yield Probe("POST", "/api/v1/jobs", "sheriff", _json(job), as_json)
    yield Probe("POST", "/api/v1/jobs/claim", "agent", _json({"machine": "box"}), as_json)
    failed = _upload(revision, status="failed")
    yield Probe("POST", "/api/v1/runs", "agent", _json(failed | {"job": {"id": 1, "lease": "guessed"}}), as_json)
    yield Probe("POST", "/api/v1/runs", "agent", _json(failed | {"job": {"id": 1, "override": True}}), as_json)
    yield Probe("POST", "/api/v1/runs", "admin", _json(failed | {"job": {"id": 1, "override": True}}), as_json)
    yield Probe("POST", "/api/v1/runs", "admin", _json(failed | {"job": {"id": 1, "override": True}}), as_json)
    key = as_json | {"Idempotency-Key": "reused"}
    yield Probe("POST", "/api/v1/runs", "agent", _json(failed | {"error": "first"}), key)
    yield Probe("POST", "/api/v1/runs", "agent", _json(failed | {"error": "first"}), key)
    yield Probe("POST", "/api/v1/runs", "agent", _json(failed | {"status": "timeout"}), key)
    yield Probe("GET", "/docs")
    yield Probe("GET", "/api/v1/jobs?state=done", "read")


def _headers(revision: str) -> Iterator[Probe]:
    body = _json(_upload(revision, status="failed"))
    for authorization in ["Bearer", "Bearer  x", "Basic YTpi", "Bearer psf_" + "a" * 5000, "bearer psf_x y", "Token x"]:
        yield Probe("GET", "/api/v1/projects", None, None, {"Authorization": authorization})
        yield Probe(
            "POST", "/api/v1/runs", None, body, {"Authorization": authorization, "Content-Type": "application/json"}
        )
    for key in ["", "k k", "k" * 201, "k" * 200, "same-key"]:
        yield Probe("POST", "/api/v1/runs", "agent", body, {"Idempotency-Key": key, "Content-Type": "application/json"})
    for media in ["application/json; charset=latin-1", "application/json-patch+json", "multipart/form-data", ""]:
        yield Probe("POST", "/api/v1/jobs/claim", "agent", _json({"machine": "box"}), {"Content-Type": media})
    yield Probe("POST", "/api/v1/jobs/claim", "agent", b"x" * 300_000, {"Content-Type": "application/json"})
    yield Probe("PUT", "/api/v1/runs", "admin", b"{}", {"Content-Type": "application/json"})
    yield Probe("PATCH", "/api/v1/tokens", "admin", b"{}", {"Content-Type": "application/json"})
    yield Probe("OPTIONS", "/api/v1/runs")
    yield Probe("GET", "/metrics")
    yield Probe("GET", "/health")
    yield Probe("GET", "/openapi.json")
    yield Probe("GET", "/static/../../etc/passwd")
    yield Probe("GET", "/static/%2e%2e/%2e%2e/etc/passwd")


def _forms() -> Iterator[Probe]:
    form = {"Content-Type": "application/x-www-form-urlencoded"}
    bodies = [
        b"token=a%00b&csrf=x",
        b"&".join(b"f%d=x" % i for i in range(60)),
        b"token=" + b"%ED%A0%80" + b"&csrf=x",
        b"token=x&csrf=" + b"c" * 10_000,
        b"%%%&&&===",
        b"\xff\xfe",
        b"text=" + b"x" * 20_000 + b"&csrf=x",
        b"next=//evil.example&token=x&csrf=x",
    ]
    for path in ["/login", "/logout", "/summaries/1/state", "/summaries/1/note", "/summaries/1/assign"]:
        for body in bodies:
            yield Probe("POST", path, None, body, form)
        yield Probe("POST", path, None, b"{}", {"Content-Type": "application/json"})

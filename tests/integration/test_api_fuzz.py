"""Fuzzing the HTTP API from its OpenAPI description (schemathesis) against a real server.

Every operation gets valid and invalid input (schemathesis's examples, coverage and
fuzzing phases, positive and negative cases) with an admin token, so that requests reach
past authentication; no answer may be a 5xx. Only that check runs: the API's 4xx answers
carry the one JSON error shape (tested in test_api.py) that the OpenAPI description does
not spell out, so schemathesis's schema-conformance checks would report every 4xx.

On PostgreSQL too: it refuses NUL characters in text and integers beyond 64 bits, which
SQLite stores or compares without complaint.

The OpenAPI description is the application's own, taken when the tests are collected (the
one the server serves at /openapi.json; loading it from the server through a fixture,
``schemathesis.pytest.from_fixture``, does not run under pytest 9). The requests go to a real
server, one per database for the whole module.
"""

from __future__ import annotations

import atexit
import json
import shutil
import tempfile
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error

from perfsheriff.config import Settings
from perfsheriff.server import create_app
from perfsheriff.store import database
from support.benchrepo import build_project
from support.databases import PostgresDatabases
from support.hostile import Probe, probes
from support.liveserver import LiveServer, start_server

EXAMPLES_PER_OPERATION = 50

# The project the servers track, built once (its commits are the same on every run). The fuzzer draws
# names and revisions from it half of the time, so that requests get past "no such project" and reach
# the deeper code: result parsing, revision lookup, the job queue.
_FOLDER = Path(tempfile.mkdtemp(prefix="perfsheriff-fuzz-"))
atexit.register(shutil.rmtree, _FOLDER, ignore_errors=True)
PROJECT = build_project(_FOLDER / "project")


def perfsheriff_json(name: str, samples: list[float]) -> str:
    return json.dumps(
        {"format": "perfsheriff", "version": 1, "results": [{"name": name, "unit": "ms", "samples": samples}]}
    )


DICTIONARIES = {
    "project": ["bench-project"],
    "branch": ["main"],
    "machine": ["box"],
    "machine_class": ["test-class"],
    "benchmark": ["work"],
    "revision": [*PROJECT.tips, PROJECT.tips[3][:7], *PROJECT.side],
    "result": [
        perfsheriff_json("work", [1.0, 2.0, 3.0]),
        perfsheriff_json("nul\x00name", [1.0]),  # written as JSON escapes: valid text, unstorable names
        perfsheriff_json("lone\ud800surrogate", [1.0]),
        perfsheriff_json("work", [1e308, 1e-308]),
        perfsheriff_json("work", []),
        '{"format": "perfsheriff", "version": 1, "results": [{"name": "w", "unit": "ms", "samples": [NaN]}]}',
    ],
}
BINDINGS = {
    "project": "project",
    "branch": "branch",
    "machine": "machine",
    "machine_class": "machine_class",
    "benchmark": "benchmark",
    "revision": "revision",
    "base": "revision",
    "head": "revision",
    "body.project": "project",
    "body.branch": "branch",
    "body.machine": "machine",
    "body.machine_class": "machine_class",
    "body.benchmark": "benchmark",
    "body.revision": "revision",
    "body.files.result": "result",
}


def openapi_description() -> schemathesis.BaseSchema:
    engine = database.create_engine("sqlite://")  # never connected: the description needs no database
    description = create_app(engine, Settings()).openapi()
    engine.dispose()
    config = schemathesis.Config.from_dict(
        {
            "generation": {"max-examples": EXAMPLES_PER_OPERATION},
            "phases": {"stateful": {"enabled": False}},
            "dictionaries": {name: {"values": values} for name, values in DICTIONARIES.items()},
            "parameters": {key: {"dictionary": name, "probability": 0.5} for key, name in BINDINGS.items()},
        }
    )
    return schemathesis.openapi.from_dict(description, config=config)


schema = openapi_description()


@dataclass
class Admin:
    """An admin token, made again when the fuzzer revokes it (DELETE /api/v1/tokens/{id} with its id)."""

    server: LiveServer
    secret: str = ""

    def headers(self) -> dict[str, str]:
        if not self.secret:
            self.secret = self.server.token("admin")
        return {"Authorization": f"Bearer {self.secret}"}

    def after(self, case: schemathesis.Case, status: int) -> None:
        if case.method == "DELETE" and status == 200:
            with self.server.client(self.secret) as http:
                if http.get("/api/v1/tokens").status_code == 401:
                    self.secret = ""


@pytest.fixture(scope="module", params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def live(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, sqlite_template: Path
) -> Iterator[LiveServer]:
    """A server with a project (its history imported) and an agent machine ``box``, for the whole module."""
    folder = tmp_path_factory.mktemp(f"fuzz-{request.param}")
    databases: PostgresDatabases | None = None
    if request.param == "sqlite":
        shutil.copy(sqlite_template, folder / "perfsheriff.db")
        url = f"sqlite:///{folder / 'perfsheriff.db'}"
    else:
        databases = request.getfixturevalue("postgres_databases")
        url = databases.clone()
    server = start_server(url, folder, config=PROJECT.config)
    server.token("agent", machine="box", machine_class="test-class")
    yield server
    server.stop()
    if databases is not None:
        databases.drop(url)
    assert "Traceback" not in server.log.read_text(), server.log.read_text()


@pytest.fixture(scope="module")
def admin(live: LiveServer) -> Admin:
    return Admin(live)


@schema.parametrize()
@settings(
    max_examples=EXAMPLES_PER_OPERATION,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
def test_no_operation_answers_with_a_server_error(case: schemathesis.Case, live: LiveServer, admin: Admin) -> None:
    response = case.call_and_validate(base_url=live.url, headers=admin.headers(), checks=[not_a_server_error])
    admin.after(case, response.status_code)


def test_values_the_database_cannot_hold_are_refused_with_a_422(live: LiveServer, admin: Admin) -> None:
    """Input that reached the database and was a 500 before (found by the fuzzer, or beside it): numbers
    beyond the database's integers (both databases), NUL characters (PostgreSQL), a lone surrogate
    from a JSON escape in a result file (both)."""
    huge = 2**70
    upload = {"project": "bench-project", "revision": PROJECT.tips[0], "machine": "box"}
    cases = [
        ("DELETE", f"/api/v1/tokens/{huge}", None),
        ("GET", f"/api/v1/alerts/{huge}", None),
        ("POST", f"/api/v1/jobs/{huge}/renew", {"lease": "x"}),
        ("GET", f"/api/v1/projects/bench-project/revisions?before={huge}", None),
        ("POST", "/api/v1/runs", {**upload, "status": "failed", "job": {"id": huge, "lease": "x"}}),
        ("GET", "/api/v1/series?benchmark=a%00b", None),
        ("GET", "/api/v1/projects/a%00b/revisions", None),
        ("GET", "/api/v1/series/ab%00", None),
        ("POST", "/api/v1/jobs/claim", {"machine": "box\x00"}),
        ("POST", "/api/v1/runs", {**upload, "status": "failed", "error": "a\x00b"}),
        ("POST", "/api/v1/runs", {**upload, "files": {"r.json": perfsheriff_json("a\x00b", [1.0])}}),
        ("POST", "/api/v1/runs", {**upload, "files": {"r.json": perfsheriff_json("a\ud800b", [1.0])}}),
    ]
    with live.client() as http:
        for method, path, body in cases:
            response = http.request(method, path, json=body, headers=admin.headers())
            assert response.status_code == 422, (method, path, response.text)
            assert response.json()["error"]["code"] == "invalid"


def long_name(chars: int) -> str:
    """A name that does not compress (PostgreSQL compresses a repetitive one below its index limit)."""
    return "".join(chr(0x4E00 + (i * 7919) % 20000) for i in range(chars))


def raw_json(body: object) -> bytes:
    """JSON as a client may send it: lone surrogates written as escapes (httpx would refuse to encode them)."""
    return json.dumps(body).encode()


def test_what_the_databases_would_refuse_is_a_clear_4xx_on_both(live: LiveServer, admin: Admin) -> None:
    """Causes of a 500 (most on PostgreSQL only, so the backends disagreed): each is now the same 422 on
    both, refused before the database sees it."""
    upload = {"project": "bench-project", "revision": PROJECT.tips[0], "machine": "box"}
    result = {"format": "perfsheriff", "version": 1}

    def with_result(**fields: object) -> dict[str, object]:
        entry = {"name": "w", "unit": "ms", "samples": [1.0]} | fields
        return {**upload, "files": {"r.json": json.dumps(result | {"results": [entry]})}}

    api = [
        {**upload, "status": "failed", "error": "a\ud800b"},
        {**upload, "configuration": {"k": "a\ud800"}, "status": "failed"},
        with_result(metric="m" * 300),
        with_result(name=long_name(3000)),
        with_result(unit="u" * 300),
        {**upload, "configuration": {f"k{i}": "v" * 20 for i in range(5000)}, "status": "failed"},
    ]
    form = {"Content-Type": "application/x-www-form-urlencoded"}
    dashboard = [
        ("GET", "/summaries/9223372036854775808", None),
        ("POST", "/summaries/9223372036854775808/note", "text=x&csrf=y"),
        ("POST", "/login", "&".join(f"f{i}=x" for i in range(60))),
        ("GET", "/summaries?benchmark=a%00b", None),
        ("GET", "/summaries?state=a%00b", None),
        ("GET", "/revision/ab%00cd", None),
        ("GET", "/compare?base=ab%00cd&head=abcd", None),
        ("GET", "/series/abcd/data?start=9223372036854775808", None),
        ("POST", "/login", "token=a%00b&csrf=x"),
    ]
    with live.client() as http:
        for body in api:
            headers = admin.headers() | {"Content-Type": "application/json"}
            answer = http.post("/api/v1/runs", content=raw_json(body), headers=headers)
            assert answer.status_code == 422, (str(body)[:200], answer.text)
            assert answer.json()["error"]["code"] == "invalid"
        for method, path, content in dashboard:
            answer = http.request(method, path, content=content, headers=form if content else None)
            assert answer.status_code == 422, (method, path, answer.text)
            assert answer.json()["error"]["code"] == "invalid"


@pytest.mark.parametrize("values", [[1e308, 1e308], [1e101, 1.0], [1e101], [5e-324, 1.0]])
def test_values_beyond_the_documented_range_are_refused(live: LiveServer, admin: Admin, values: list[float]) -> None:
    """1e308 is finite, but a median of two such values (their sum halved) overflowed to infinity."""
    body = {"project": "bench-project", "revision": PROJECT.tips[2], "machine": "box"}
    body["files"] = {"r.json": perfsheriff_json("range", values)}  # type: ignore[assignment]
    with live.client() as http:
        answer = http.post("/api/v1/runs", json=body, headers=admin.headers())
        assert answer.status_code == 422, answer.text
        assert "magnitude between 1e-100 and 1e+100" in answer.json()["error"]["message"]
        at_the_ends = dict(body, files={"r.json": perfsheriff_json("range", [1e100, 1e-100, 0.0])})
        assert http.post("/api/v1/runs", json=at_the_ends, headers=admin.headers()).status_code in {200, 201}


def answer_probes(server: LiveServer) -> list[int]:
    """Send every probe in order with the token of its role; the statuses in the same order."""
    secrets = {
        "read": server.token("read"),
        "sheriff": server.token("sheriff"),
        "agent": server.token("agent", machine="box", machine_class="test-class"),
        "admin": server.token("admin"),
    }
    statuses = []
    with server.client() as http:
        for probe in probes(PROJECT.tips[0]):
            headers = dict(probe.headers)
            if probe.role is not None:
                headers["Authorization"] = f"Bearer {secrets[probe.role]}"
            for attempt in range(2):  # a connection the server closed after a previous answer is tried again
                try:
                    answer = http.request(probe.method, probe.path, content=probe.body, headers=headers)
                except httpx.TransportError:
                    if attempt:
                        statuses.append(-1)
                    continue
                statuses.append(answer.status_code)
                break
    return statuses


@pytest.mark.postgres
def test_hostile_requests_get_no_500_and_the_same_answer_on_both_databases(
    tmp_path: Path, sqlite_template: Path, postgres_databases: PostgresDatabases
) -> None:
    """Hundreds of malformed and hostile requests (tests/integration/hostile.py) against a server on SQLite
    and one on PostgreSQL, in the same order: no answer is a 5xx, and both servers answer each alike."""
    shutil.copy(sqlite_template, tmp_path / "perfsheriff.db")
    answers: dict[str, list[int]] = {}
    logs: list[str] = []
    postgres = postgres_databases.clone("perfsheriff_probe")
    try:
        for name, url in (("sqlite", f"sqlite:///{tmp_path / 'perfsheriff.db'}"), ("postgresql", postgres)):
            folder = tmp_path / name
            folder.mkdir()
            server = start_server(url, folder, config=PROJECT.config)
            try:
                answers[name] = answer_probes(server)
            finally:
                server.stop()
            logs.append(server.log.read_text())
    finally:
        postgres_databases.drop(postgres)
    sent: list[Probe] = list(probes(PROJECT.tips[0]))
    assert len(sent) >= 500
    errors = [(p.label, a) for p, a in zip(sent, answers["sqlite"], strict=True) if a >= 500 or a < 0]
    errors += [(p.label, a) for p, a in zip(sent, answers["postgresql"], strict=True) if a >= 500 or a < 0]
    assert not errors, errors[:20]
    differ = [(p.label, a, b) for p, a, b in zip(sent, answers["sqlite"], answers["postgresql"], strict=True) if a != b]
    assert not differ, differ[:20]
    assert not any("Traceback" in log for log in logs), logs
    print(f"{len(sent)} probes per database; statuses: {dict(sorted(Counter(answers['sqlite']).items()))}")

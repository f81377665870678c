"""Body limits and authentication before the body: what an anonymous or unauthorised request can cost."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from support.benchrepo import BenchProject
from support.liveserver import LiveServer, start_server

LIMIT = 32 * 1024 * 1024
MIB = 1024 * 1024


@pytest.fixture
def server(engine_url: str, tmp_path: Path, project: BenchProject) -> Iterator[LiveServer]:
    live = start_server(engine_url, tmp_path, config=project.config, env={"PERFSHERIFF_MAX_REQUEST_BYTES": str(LIMIT)})
    yield live
    live.stop()


def many_objects(total: int) -> Iterator[bytes]:
    """``{"x":[{},{},...]}`` of about ``total`` bytes, in 1 MiB chunks: each 3 bytes become a dict when parsed."""
    yield b'{"x":['
    chunk = b"{}," * (MIB // 3)
    for _ in range(total // len(chunk)):
        yield chunk
    yield b"{}]}"


@pytest.mark.parametrize(("path", "role"), [("/api/v1/runs", None), ("/api/v1/tokens", None), ("/api/v1/runs", "read")])
def test_an_unauthorised_body_is_never_read(server: LiveServer, path: str, role: str | None) -> None:
    headers = {"Content-Type": "application/json"}
    if role is not None:
        headers["Authorization"] = f"Bearer {server.token(role)}"
    before = server.peak_rss_bytes()
    status = server.send_chunked("POST", path, many_objects(30 * MIB), headers)
    grown = server.peak_rss_bytes() - before
    assert status == (401 if role is None else 403)
    assert grown < 2 * LIMIT, f"the server grew by {grown / MIB:.0f} MiB"


def test_an_upload_of_millions_of_empty_objects_is_refused_before_it_is_parsed(
    server: LiveServer, project: BenchProject
) -> None:
    agent = server.token("agent", machine="box", machine_class="test-class")
    headers = {"Content-Type": "application/json", "Authorization": f"Bearer {agent}"}
    before = server.peak_rss_bytes()
    status = server.send_chunked("POST", "/api/v1/runs", many_objects(20 * MIB), headers)
    grown = server.peak_rss_bytes() - before
    assert status == 422
    assert grown < 2 * LIMIT, f"the server grew by {grown / MIB:.0f} MiB"
    results = [{"name": f"b{i}", "unit": "ms", "samples": [1.0]} for i in range(12_000)]  # 24,000 brackets
    text = json.dumps({"format": "perfsheriff", "version": 1, "results": results})
    body = {"project": "bench-project", "revision": project.tips[0], "machine": "box", "files": {"r.json": text}}
    with server.client(agent) as http:
        answer = http.post("/api/v1/runs", json=body)
        assert answer.status_code == 201, answer.text  # brackets inside a file's text are text


def test_small_writes_have_a_small_limit_also_when_chunked(server: LiveServer) -> None:
    agent = server.token("agent", machine="box", machine_class="test-class")
    headers = {"Content-Type": "application/json", "Authorization": f"Bearer {agent}"}
    status = server.send_chunked("POST", "/api/v1/jobs/claim", many_objects(2 * MIB), headers)
    assert status == 413
    with server.client(agent) as http:
        declared = http.post("/api/v1/jobs/claim", content=b" " * (MIB), headers={"Content-Type": "application/json"})
        assert declared.status_code == 413
        assert declared.json()["error"]["code"] == "too_large"
        assert http.post("/api/v1/jobs/claim", json={"machine": "box"}).status_code == 200


def test_a_dashboard_form_has_a_small_limit(server: LiveServer) -> None:
    with server.client() as http:
        form = http.post(
            "/login", content=b"token=" + b"x" * MIB, headers={"Content-Type": "application/x-www-form-urlencoded"}
        )
        assert form.status_code == 413

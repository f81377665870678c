"""The HTTP API against a real server process (uvicorn) on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from perfsheriff.service.access import tokens
from perfsheriff.store import schema as t
from support.benchrepo import BenchProject
from support.liveserver import LiveServer, start_server
from support.uploads import upload_body


@pytest.fixture
def server(engine_url: str, tmp_path: Path, project: BenchProject) -> Iterator[LiveServer]:
    live = start_server(engine_url, tmp_path, config=project.config, env={"PERFSHERIFF_MAX_REQUEST_BYTES": "200000"})
    yield live
    live.stop()


def test_health_metrics_and_openapi(server: LiveServer) -> None:
    with server.client() as http:
        assert http.get("/health").json()["status"] == "ok"
        metrics = http.get("/metrics")
        assert metrics.status_code == 200
        assert "perfsheriff_http_requests_total" in metrics.text
        spec = http.get("/openapi.json").json()
        assert "/api/v1/runs" in spec["paths"]
        assert http.get("/docs").status_code == 404  # Swagger UI loads from a CDN: only when asked for


def test_swagger_ui_when_asked_for_comes_from_a_pinned_release(
    engine_url: str, tmp_path: Path, project: BenchProject
) -> None:
    live = start_server(engine_url, tmp_path, env={"PERFSHERIFF_API_DOCS": "true"})
    try:
        with live.client() as http:
            page = http.get("/docs")
            assert page.status_code == 200
            assert "swagger-ui-dist@5.17.14/swagger-ui-bundle.js" in page.text
            assert "swagger-ui-dist@5/" not in page.text
    finally:
        live.stop()


def test_tokens_and_roles(server: LiveServer, project: BenchProject) -> None:
    agent = server.token("agent", machine="box", machine_class="test-class")
    other = server.token("agent", machine="elsewhere")
    reader = server.token("read")
    body = upload_body(project, project.tips[0], [1.0, 2.0, 3.0])
    with server.client() as http:
        missing = http.post("/api/v1/runs", json=body)
        assert missing.status_code == 401
        assert missing.json()["error"]["code"] == "unauthorized"
        forged = http.post("/api/v1/runs", json=body, headers={"Authorization": "Bearer psf_forged"})
        assert forged.status_code == 401
        wrong_scheme = http.post("/api/v1/runs", json=body, headers={"Authorization": "Basic abc"})
        assert wrong_scheme.status_code == 401
    with server.client(reader) as http:
        denied = http.post("/api/v1/runs", json=body)
        assert denied.status_code == 403
        assert "agent or admin" in denied.json()["error"]["message"]
        assert http.get("/api/v1/tokens").status_code == 403
    with server.client(other) as http:
        foreign = http.post("/api/v1/runs", json=body)
        assert foreign.status_code == 403
        assert foreign.json()["error"]["field"] == "machine"
    with server.client(agent) as http:
        assert http.post("/api/v1/runs", json=body).status_code == 201


def test_revoked_and_expired_tokens_are_refused(server: LiveServer) -> None:
    admin = server.token("admin")
    with server.client(admin) as http:
        made = http.post("/api/v1/tokens", json={"role": "read", "name": "ci"})
        assert made.status_code == 201
        secret, token_id = made.json()["token"], made.json()["id"]
        assert all("token" not in t for t in http.get("/api/v1/tokens").json()["tokens"])
        assert http.delete(f"/api/v1/tokens/{token_id}").status_code == 200
    with server.client(secret) as http:
        assert http.get("/api/v1/projects").status_code == 401


def test_upload_is_idempotent_and_exact(server: LiveServer, project: BenchProject) -> None:
    agent = server.token("agent", machine="box", machine_class="test-class")
    body = upload_body(project, project.tips[1], [10.0, 11.0, 12.0])
    with server.client(agent) as http:
        first = http.post("/api/v1/runs", json=body, headers={"Idempotency-Key": "upload-1"})
        assert first.status_code == 201, first.text
        again = http.post("/api/v1/runs", json=body, headers={"Idempotency-Key": "upload-1"})
        assert again.status_code == 200
        assert again.json()["duplicate"] is True
        assert again.json()["run_id"] == first.json()["run_id"]
        assert first.json()["samples"] == 3
        series = http.get("/api/v1/series", params={"project": "bench-project"}).json()["series"]
        assert [s["benchmark"] for s in series] == ["work"]
        data = http.get(f"/api/v1/series/{series[0]['id']}").json()
        assert data["points"]["median"] == [11.0]
        assert data["points"]["revision"] == [project.tips[1]]


def test_an_idempotency_key_belongs_to_its_machine(server: LiveServer, project: BenchProject) -> None:
    box = server.token("agent", machine="box", machine_class="test-class")
    other = server.token("agent", machine="box-2", machine_class="test-class")
    key = {"Idempotency-Key": "job-7-attempt-1"}
    mine = upload_body(project, project.tips[1], [10.0, 11.0])
    theirs = dict(upload_body(project, project.tips[1], [20.0, 21.0]), machine="box-2")
    with server.client(box) as http:
        first = http.post("/api/v1/runs", json=mine, headers=key)
        assert first.status_code == 201, first.text
    with server.client(other) as http:
        second = http.post("/api/v1/runs", json=theirs, headers=key)
        assert second.status_code == 201, second.text  # another machine's run, not box's duplicate
        assert second.json()["run_id"] != first.json()["run_id"]
    with server.client(box) as http:
        again = http.post("/api/v1/runs", json=mine, headers=key)
        assert (again.status_code, again.json()["run_id"]) == (200, first.json()["run_id"])
        changed = http.post("/api/v1/runs", json=upload_body(project, project.tips[1], [99.0]), headers=key)
        assert changed.status_code == 422, changed.text
        assert changed.json()["error"]["field"] == "Idempotency-Key"
        elsewhere = http.post("/api/v1/runs", json=upload_body(project, project.tips[2], [10.0, 11.0]), headers=key)
        assert elsewhere.status_code == 422
        (series,) = http.get("/api/v1/series", params={"project": "bench-project"}).json()["series"]
        points = http.get(f"/api/v1/series/{series['id']}").json()["points"]  # one class: both machines' runs
        assert (points["n"], points["min"], points["max"]) == ([4], [10.0], [21.0])


def test_bad_input_gets_a_clear_4xx(server: LiveServer, project: BenchProject) -> None:
    agent = server.token("agent", machine="box", machine_class="test-class")
    good = upload_body(project, project.tips[0], [1.0])
    with server.client(agent) as http:
        malformed = http.post("/api/v1/runs", content=b"{not json", headers={"Content-Type": "application/json"})
        assert malformed.status_code == 400
        assert "not valid JSON" in malformed.json()["error"]["message"]
        wrong_type = http.post("/api/v1/runs", content=b"x", headers={"Content-Type": "text/plain"})
        assert wrong_type.status_code == 415
        huge = dict(good, files={"result.json": "x" * 300_000})
        too_big = http.post("/api/v1/runs", json=huge)
        assert too_big.status_code == 413
        assert "limit" in too_big.json()["error"]["message"]
        unknown_rev = http.post("/api/v1/runs", json=dict(good, revision="0" * 40))
        assert unknown_rev.status_code == 404
        assert unknown_rev.json()["error"]["field"] == "revision"
        unknown_project = http.post("/api/v1/runs", json=dict(good, project="nope"))
        assert unknown_project.status_code == 404
        bad_file = http.post("/api/v1/runs", json=dict(good, files={"r.json": "{}"}, format="perfsheriff"))
        assert bad_file.status_code == 422
        assert "r.json" in bad_file.json()["error"]["message"]
        extra_field = http.post("/api/v1/runs", json=dict(good, colour="blue"))
        assert extra_field.status_code == 422
        assert extra_field.json()["error"]["field"] == "colour"
        assert http.get("/api/v1/series/ffff").status_code == 404
        assert http.get("/api/v1/nothing-here").status_code == 404
    # Nothing of the refused uploads was stored.
    with server.client() as http:
        assert http.get("/api/v1/series").json()["series"] == []


def test_job_queue_over_http(server: LiveServer, project: BenchProject) -> None:
    sheriff = server.token("sheriff")
    agent = server.token("agent", machine="box", machine_class="test-class")
    with server.client(sheriff) as http:
        for reason, tip in (("bisect", project.tips[2]), ("routine", project.tips[3])):
            made = http.post(
                "/api/v1/jobs",
                json={
                    "project": "bench-project",
                    "revision": tip,
                    "benchmark": "work",
                    "machine_class": "test-class",
                    "reason": reason,
                },
            )
            assert made.status_code == 201, made.text
    with server.client(agent) as http:
        job = http.post("/api/v1/jobs/claim", json={"machine": "box"}).json()["job"]
        assert job["reason"] == "routine"  # routine runs of new pushes before bisection steps
        assert job["revision"] == project.tips[3]
        assert job["benchmark"]["command"].endswith("> {output}")
        renewed = http.post(f"/api/v1/jobs/{job['id']}/renew", json={"lease": job["lease"], "lease_seconds": 120})
        assert renewed.status_code == 200
        stale = http.post(f"/api/v1/jobs/{job['id']}/renew", json={"lease": "not-the-lease"})
        assert stale.status_code == 409
        body = upload_body(project, job["revision"], [5.0, 6.0], job={"id": job["id"], "lease": job["lease"]})
        done = http.post("/api/v1/runs", json=body, headers={"Idempotency-Key": f"job-{job['id']}"})
        assert done.status_code == 201
        assert done.json()["job_id"] == job["id"]
        late = http.post("/api/v1/runs", json=body, headers={"Idempotency-Key": "another-attempt"})
        assert late.status_code == 409
        second = http.post("/api/v1/jobs/claim", json={"machine": "box"}).json()["job"]
        assert second["reason"] == "bisect"
        released = http.post(f"/api/v1/jobs/{second['id']}/release", json={"lease": second["lease"]})
        assert released.json()["state"] == "queued"
        again = http.post("/api/v1/jobs/claim", json={"machine": "box"}).json()["job"]
        assert again["id"] == second["id"]
        assert again["attempt"] == 1  # a release does not count as an attempt
        failed = http.post(f"/api/v1/jobs/{again['id']}/fail", json={"lease": again["lease"], "error": "disk full"})
        assert failed.json()["state"] == "queued"
        assert http.post("/api/v1/jobs/claim", json={"machine": "box"}).json()["job"]["attempt"] == 2
        listed = http.get("/api/v1/jobs", params={"state": "done"}).json()["jobs"]
        assert [j["id"] for j in listed] == [job["id"]]
        assert http.post("/api/v1/jobs/claim", json={"machine": "elsewhere"}).status_code == 403


def test_only_the_lease_holder_completes_a_job(server: LiveServer, project: BenchProject, engine: Engine) -> None:
    sheriff, admin = server.token("sheriff"), server.token("admin")
    agent = server.token("agent", machine="box", machine_class="test-class")
    job_body = {"project": "bench-project", "benchmark": "work", "machine_class": "test-class"}
    with server.client(sheriff) as http:
        for tip in project.tips[4:6]:
            assert http.post("/api/v1/jobs", json={**job_body, "revision": tip}).status_code == 201
    with server.client(agent) as http:
        queued = http.get("/api/v1/jobs", params={"state": "queued"}).json()["jobs"]
        never = max(queued, key=lambda j: j["id"])  # claims take the oldest first: this one stays queued
        body = upload_body(project, never["revision"], [1.0], job={"id": never["id"], "lease": "guessed"})
        unclaimed = http.post("/api/v1/runs", json=body)
        assert unclaimed.status_code == 409, unclaimed.text
        assert "not claimed" in unclaimed.json()["error"]["message"]
        job = http.post("/api/v1/jobs/claim", json={"machine": "box"}).json()["job"]
        wrong = upload_body(project, job["revision"], [2.0], job={"id": job["id"], "lease": "not-the-lease"})
        refused = http.post("/api/v1/runs", json=wrong)
        assert refused.status_code == 409, refused.text
        assert refused.json()["error"]["field"] == "job.lease"
        override = dict(wrong, job={"id": job["id"], "override": True})
        assert http.post("/api/v1/runs", json=override).status_code == 403  # an agent may not override
        with engine.connect() as conn:
            assert conn.execute(sa.select(sa.func.count()).select_from(t.runs)).scalar() == 0
        right = upload_body(project, job["revision"], [3.0], job={"id": job["id"], "lease": job["lease"]})
        assert http.post("/api/v1/runs", json=right).status_code == 201
    with server.client(admin) as http:
        forced = upload_body(project, never["revision"], [4.0], job={"id": never["id"], "override": True})
        assert http.post("/api/v1/runs", json=forced).status_code == 201
        (done,) = [
            j for j in http.get("/api/v1/jobs", params={"state": "done"}).json()["jobs"] if j["id"] == never["id"]
        ]
        assert "overriding the lease" in done["error"]
    with engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(t.runs)).scalar() == 2


def test_compare_endpoint(server: LiveServer, project: BenchProject) -> None:
    agent = server.token("agent", machine="box", machine_class="test-class")
    with server.client(agent) as http:
        for tip, level in ((project.tips[0], 100.0), (project.tips[1], 130.0)):
            values = [level * (1 + 0.001 * i) for i in range(10)]
            assert http.post("/api/v1/runs", json=upload_body(project, tip, values)).status_code == 201
        result = http.get("/api/v1/compare", params={"base": project.tips[0], "head": project.tips[1]})
    assert result.status_code == 200, result.text
    row = result.json()["series"][0]
    assert row["verdict"] == "regression"
    assert row["ratio"] == pytest.approx(1.3, rel=0.01)
    assert (result.json()["rules"], result.json()["fired"]) == ([], [])
    with httpx.Client(base_url=server.url) as http:
        unknown = http.get("/api/v1/compare", params={"base": "zz", "head": "yy"})  # short names are names too
        assert unknown.status_code == 404
        assert "no branch, tag or stored revision named 'zz'" in unknown.json()["error"]["message"]
        assert http.get("/api/v1/compare", params={"base": "x" * 256, "head": "yy"}).status_code == 422
        tips = {"base": project.tips[0], "head": project.tips[1]}
        gated = http.get("/api/v1/compare", params={**tips, "fail_on": "regression>20%"}).json()
        assert gated["rules"] == ["regression>20%"]
        assert [(f["rule"], f["series"]) for f in gated["fired"]] == [("regression>20%", row["series"])]
        wrong = http.get("/api/v1/compare", params={**tips, "fail_on": "regression<5%"})
        assert wrong.status_code == 422
        assert wrong.json()["error"]["field"] == "fail_on"
        untagged = http.get("/api/v1/compare", params={**tips, "fail_on": "real-world:suite>2%"})
        assert untagged.status_code == 422
        assert "no compared benchmark has tags" in untagged.json()["error"]["message"]


def test_compare_endpoint_summarises_each_tag(server: LiveServer, project: BenchProject, engine: Engine) -> None:
    agent = server.token("agent", machine="box", machine_class="test-class")
    with server.client(agent) as http:
        for tip, level in ((project.tips[0], 100.0), (project.tips[1], 130.0)):
            values = [level * (1 + 0.001 * i) for i in range(10)]
            assert http.post("/api/v1/runs", json=upload_body(project, tip, values)).status_code == 201
    with engine.begin() as conn:  # as tracking the project stores its [[benchmarks]] tags
        conn.execute(t.benchmarks.update().values(tags=["real-world", "compile"]))
    tips = {"base": project.tips[0], "head": project.tips[1]}
    with httpx.Client(base_url=server.url) as http:
        result = http.get("/api/v1/compare", params={**tips, "fail_on": "real-world:suite>20%,compile:regression"})
        unknown = http.get("/api/v1/compare", params={**tips, "fail_on": "micro:suite>2%"})
    assert result.status_code == 200, result.text
    answer = result.json()
    (suite,) = answer["suites"]
    assert answer["series"][0]["tags"] == ["compile", "real-world"]
    assert [(s["tag"], s["series"], s["verdict"]) for s in answer["tag_suites"]] == [
        ("compile", 1, "regression"),
        ("real-world", 1, "regression"),
    ]
    assert {k: v for k, v in answer["tag_suites"][1].items() if k != "tag"} == suite
    (fired,) = answer["fired"]  # compile:regression means >100 %
    assert fired == {
        "rule": "real-world:suite>20%",
        "kind": "suite",
        "change": pytest.approx(0.3, rel=0.02),
        "tag_suite": 1,
        "tag": "real-world",
    }
    assert unknown.status_code == 422
    assert unknown.json()["error"]["message"].endswith("known tags: compile, real-world")


def test_expired_tokens_and_unknown_machines(server: LiveServer, project: BenchProject, engine: Engine) -> None:
    admin = server.token("admin")
    short_lived = server.token("read")
    with engine.begin() as conn:  # as if its lifetime had run out
        conn.execute(
            t.tokens.update()
            .where(t.tokens.c.hash == tokens.digest(short_lived))
            .values(expires_at=datetime.now(UTC) - timedelta(minutes=1))
        )
    with server.client(short_lived) as http:
        expired = http.get("/api/v1/projects")
        assert expired.status_code == 401
        assert "expired" in expired.json()["error"]["message"]
    with server.client(admin) as http:
        unknown = http.post("/api/v1/runs", json=dict(upload_body(project, project.tips[0], [1.0]), machine="ghost"))
        assert unknown.status_code == 404
        assert unknown.json()["error"]["field"] == "machine"


def test_reading_can_require_a_token(engine_url: str, tmp_path: Path, project: BenchProject) -> None:
    live = start_server(engine_url, tmp_path, config=project.config, env={"PERFSHERIFF_PUBLIC_READ": "false"})
    try:
        reader = live.token("read")
        with live.client() as http:
            assert http.get("/api/v1/projects").status_code == 401
            assert http.get("/health").status_code == 200
            metrics = http.get("/metrics")
            assert metrics.status_code == 401
            assert "perfsheriff_jobs" not in metrics.text
        with live.client(reader) as http:
            assert "perfsheriff_http_requests_total" in http.get("/metrics").text
            projects = http.get("/api/v1/projects").json()["projects"]
            assert [p["name"] for p in projects] == ["bench-project"]
    finally:
        live.stop()


def test_several_worker_processes_share_the_queue(engine_url: str, tmp_path: Path, project: BenchProject) -> None:
    live = start_server(engine_url, tmp_path, config=project.config, extra_args=("--workers", "2"))
    try:
        sheriff = live.token("sheriff")
        agent = live.token("agent", machine="box", machine_class="test-class")
        with live.client(sheriff) as http:
            for tip in project.tips[:6]:
                job = {"project": "bench-project", "revision": tip, "benchmark": "work", "machine_class": "test-class"}
                assert http.post("/api/v1/jobs", json=job).status_code == 201
        claimed = []
        with live.client(agent) as http:
            while (job := http.post("/api/v1/jobs/claim", json={"machine": "box"}).json()["job"]) is not None:
                claimed.append(job["revision"])
        assert sorted(claimed) == sorted(project.tips[:6])
    finally:
        live.stop()

"""Faults: the server dies in the middle of uploads; retried uploads land exactly once."""

from __future__ import annotations

import threading

import httpx
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from perfsheriff.store import schema as t
from support.benchrepo import BenchProject
from support.liveserver import LiveServer
from support.uploads import upload_body


def test_server_killed_during_uploads_then_retries_land_exactly_once(
    server: LiveServer, project: BenchProject, engine: Engine
) -> None:
    agent = server.token("agent", machine="box", machine_class="test-class")
    uploads = [
        (f"ci-{i}", upload_body(project, project.tips[i % len(project.tips)], [float(i), float(i) + 1, float(i) + 2]))
        for i in range(150)
    ]
    sent: list[str] = []
    started = threading.Event()

    def send_all() -> None:
        with server.client(agent) as http:
            for key, body in uploads:
                try:
                    http.post("/api/v1/runs", json=body, headers={"Idempotency-Key": key})
                except httpx.HTTPError:
                    return  # the server is gone: the client will retry everything later
                sent.append(key)
                started.set()

    sender = threading.Thread(target=send_all)
    sender.start()
    assert started.wait(30)
    server.kill()
    sender.join(30)
    assert 0 < len(sent) < len(uploads), "the server must die in the middle of the uploads"
    server.start()  # same database, same port
    statuses = []
    with server.client(agent) as http:
        for key, body in uploads:  # a client that cannot know what landed retries every upload
            statuses.append(http.post("/api/v1/runs", json=body, headers={"Idempotency-Key": key}).status_code)
    assert set(statuses) <= {200, 201}
    assert statuses.count(200) >= len(sent)  # what had landed before the crash is recognised
    with engine.connect() as conn:
        runs = conn.execute(sa.select(sa.func.count()).select_from(t.runs)).scalar_one()
        keys = conn.execute(sa.select(sa.func.count(sa.distinct(t.runs.c.idempotency_key)))).scalar_one()
        samples = conn.execute(sa.select(sa.func.sum(t.samples.c.n)).where(t.samples.c.part == 0)).scalar_one()
    assert runs == keys == len(uploads)
    assert samples == 3 * len(uploads)

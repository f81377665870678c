"""Triage over HTTP against a real server process, on SQLite and PostgreSQL.

Runs are uploaded through the API as CI would, detection runs over them and
groups its alert into a summary, and sheriffs triage it with their tokens.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime

import httpx
from benchrepo import BASE_LEVEL, SLOW_LEVEL, BenchProject
from liveserver import LiveServer
from sqlalchemy.engine import Engine

from perfsheriff.service import tokens
from perfsheriff.service.detection import DetectionPolicy, detect_stored
from perfsheriff.store import database


def upload_history(server: LiveServer, project: BenchProject) -> None:
    """One run per push tip: the level of ``bench.py`` before the roll-up, the slower one from it on."""
    agent = server.token("agent", machine="box", machine_class="test-class")
    with server.client(agent) as http:
        for index, tip in enumerate(project.tips):
            level = SLOW_LEVEL if index >= project.tips.index(project.rollup) else BASE_LEVEL
            samples = [level * (1 + 0.002 * ((index + k) % 5 - 2)) for k in range(5)]
            result = {"name": "work", "unit": "ms", "samples": samples}
            text = json.dumps({"format": "perfsheriff", "version": 1, "results": [result]})
            body = {"project": "bench-project", "revision": tip, "machine": "box", "files": {"r.json": text}}
            answer = http.post("/api/v1/runs", json=body)
            assert answer.status_code == 201, answer.text


def sheriff_token(server: LiveServer, name: str) -> str:
    engine = database.create_engine(server.db_url)
    try:
        return tokens.create_token(engine, tokens.Role.SHERIFF, now=datetime.now(UTC), name=name).secret
    finally:
        engine.dispose()


def error_of(answer: httpx.Response) -> dict[str, object]:
    body = answer.json()
    assert set(body) == {"error"}, body
    error: dict[str, object] = body["error"]
    assert error["status"] == answer.status_code
    return error


def test_a_sheriff_triages_a_summary_over_http(server: LiveServer, project: BenchProject, engine: Engine) -> None:
    upload_history(server, project)
    found = detect_stored(engine, DetectionPolicy(drift=None), now=datetime.now(UTC))
    (alert_id,) = found.new_alert_ids
    reader, sheriff = server.token("read"), sheriff_token(server, "EU sheriffs")

    with server.client(reader) as http:
        code = http.get("/api/v1/summaries", params={"queue": "code"}).json()["summaries"]
        (summary,) = code
        assert [a["id"] for a in summary["alerts"]] == [alert_id]
        assert (summary["last_good"], summary["first_bad"]) == (project.last_good, project.rollup)
        assert http.get("/api/v1/summaries", params={"queue": "perf"}).json()["summaries"] == []
        assert http.get("/api/v1/summaries", params={"benchmark": "nothing-like-it"}).json()["summaries"] == []
        sid = summary["id"]
        detail = http.get(f"/api/v1/summaries/{sid}").json()
        assert detail["notes"][0]["text"].startswith("created by detection")
        denied = http.post(f"/api/v1/summaries/{sid}/transition", json={"state": "investigating"})
        assert denied.status_code == 403
        assert "sheriff" in str(error_of(denied)["message"])
        assert http.post(f"/api/v1/summaries/{sid}/notes", json={"text": "hi"}).status_code == 403
        assert http.post(f"/api/v1/alerts/{alert_id}/reassign", json={"summary_id": sid}).status_code == 403
        bad_queue = http.get("/api/v1/summaries", params={"queue": "sheriffs"})
        assert bad_queue.status_code == 422
        assert error_of(bad_queue)["field"] == "query.queue"
        assert error_of(http.get("/api/v1/summaries/999999"))["code"] == "not_found"
    with server.client() as http:
        assert http.post(f"/api/v1/summaries/{sid}/transition", json={"state": "investigating"}).status_code == 401

    with server.client(sheriff) as http:
        moved = http.post(
            f"/api/v1/summaries/{sid}/transition",
            json={"state": "investigating", "note": "retriggering the roll-up", "owner": "ada"},
        )
        assert moved.status_code == 200, moved.text
        after = moved.json()
        assert (after["state"], after["owner"]) == ("investigating", "ada")
        transition, owner = after["notes"][-2:]
        assert (transition["who"], transition["from_state"], transition["to_state"]) == (
            "EU sheriffs",
            "untriaged",
            "investigating",
        )
        assert transition["text"] == "retriggering the roll-up"
        assert owner["text"] == "owner set to ada"

        forbidden = http.post(f"/api/v1/summaries/{sid}/transition", json={"state": "fixed"})
        assert forbidden.status_code == 422
        error = error_of(forbidden)
        assert error["field"] == "state"
        assert "from investigating it may go to acknowledged, downstream, invalid, reassigned, wontfix" in str(
            error["message"]
        )
        stale = http.post(
            f"/api/v1/summaries/{sid}/transition", json={"state": "acknowledged", "from_state": "untriaged"}
        )
        assert stale.status_code == 409
        assert "someone changed it meanwhile" in str(error_of(stale)["message"])
        unknown = http.post(f"/api/v1/summaries/{sid}/transition", json={"state": "fine"})
        assert unknown.status_code == 422
        assert "unknown state 'fine'" in str(error_of(unknown)["message"])
        extra = http.post(f"/api/v1/summaries/{sid}/transition", json={"state": "invalid", "because": "x"})
        assert extra.status_code == 422
        assert error_of(extra)["field"] == "because"
        missing = http.post("/api/v1/summaries/999999/transition", json={"state": "invalid"})
        assert missing.status_code == 404

        noted = http.post(f"/api/v1/summaries/{sid}/notes", json={"text": "handing over to the US shift"})
        assert noted.status_code == 201
        assert http.post(f"/api/v1/summaries/{sid}/notes", json={"text": ""}).status_code == 422
        assert http.post("/api/v1/summaries/999999/notes", json={"text": "x"}).status_code == 404
        same = http.post(f"/api/v1/alerts/{alert_id}/reassign", json={"summary_id": sid, "note": "x"})
        assert same.status_code == 422
        assert "already" in str(error_of(same)["message"])
        assert http.post("/api/v1/alerts/999999/reassign", json={"summary_id": sid}).status_code == 404

        done = http.post(
            f"/api/v1/summaries/{sid}/transition",
            json={"state": "acknowledged", "from_state": "investigating", "bug_url": "https://bugs.example.org/7"},
        ).json()
    assert done["state"] == "acknowledged"
    assert done["bug_url"] == "https://bugs.example.org/7"
    kinds = ["data", "transition", "comment", "comment", "transition", "comment", "comment"]
    assert [n["kind"] for n in done["notes"]] == kinds
    assert "is now more sensitive" in done["notes"][-1]["text"]  # the acknowledged alert taught its series
    with server.client(reader) as http:
        assert http.get("/api/v1/summaries", params={"queue": "code"}).json()["summaries"] == []
        listed = http.get("/api/v1/summaries", params={"state": "acknowledged"}).json()["summaries"]
        assert [s["id"] for s in listed] == [sid]

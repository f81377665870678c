"""Triage over HTTP against a real server process, on SQLite and PostgreSQL.

Runs are uploaded through the API as CI would, detection runs over them and
groups its alert into a summary, and sheriffs triage it with their tokens.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime

import httpx
import pytest
from sqlalchemy.engine import Engine

from perfsheriff.roles import Role
from perfsheriff.service.access import tokens
from perfsheriff.service.analysis.detection import DetectionPolicy, detect_stored
from perfsheriff.store import database
from support.benchrepo import BASE_LEVEL, SLOW_LEVEL, BenchProject
from support.liveserver import LiveServer


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
        return tokens.create_token(engine, Role.SHERIFF, now=datetime.now(UTC), name=name).secret
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


def test_a_sheriff_makes_an_alert_by_hand_over_http(server: LiveServer, project: BenchProject) -> None:
    """No detection ran: the roll-up's step is an alert only once a sheriff makes it, measured from the data."""
    upload_history(server, project)
    reader, sheriff = server.token("read"), sheriff_token(server, "EU sheriffs")
    with server.client(reader) as http:
        (series,) = http.get("/api/v1/series").json()["series"]
        body = {"series_id": series["id"][:8], "revision": project.rollup[:10], "note": "steps up at the roll-up"}
        assert error_of(http.post("/api/v1/alerts", json=body))["status"] == 403  # reading is not triaging
    with server.client() as http:
        assert error_of(http.post("/api/v1/alerts", json=body))["status"] == 401

    with server.client(sheriff) as http:

        def refused(fields: dict[str, object], status: int, field: str, words: str) -> None:
            answer = http.post("/api/v1/alerts", json={**body, **fields})
            error = error_of(answer)
            assert (error["status"], error["field"]) == (status, field), (fields, error)
            assert words in str(error["message"]), (fields, error)

        refused({"kind": "improvement"}, 422, "kind", "the data shows a regression at")  # nothing is stored
        made = http.post("/api/v1/alerts", json=body)
        assert made.status_code == 201, made.text
        alert, summary = made.json()["alert"], made.json()["summary"]
        assert (alert["kind"], alert["created_by"], alert["confirmation"]) == ("regression", "EU sheriffs", None)
        assert (alert["last_good"], alert["first_bad"]) == (project.last_good, project.rollup)
        assert alert["relative_change"] == pytest.approx(0.30, abs=0.01)
        assert [(a["id"], a["created_by"]) for a in summary["alerts"]] == [(alert["id"], "EU sheriffs")]
        note = summary["notes"][0]
        assert (note["who"], note["kind"]) == ("EU sheriffs", "data")
        assert note["text"].endswith("+30.0%): steps up at the roll-up")
        assert "is now more sensitive" in summary["notes"][-1]["text"]

        refused({}, 409, "revision", f"alert {alert['id']} (regression +30.0%")  # the same change again
        refused({"series_id": "ffffffffffffffff"}, 404, "series_id", "no series with id")
        refused({"series_id": "not hex"}, 422, "series_id", "pattern")
        refused({"revision": "deadbeef"}, 404, "revision", "no commit 'deadbeef' on branch 'main'")
        refused({"revision": "xyz!"}, 422, "revision", "pattern")
        refused({"revision": project.culprit}, 422, "revision", "has no data in series")  # a roll-up member
        refused({"revision": project.tips[0]}, 422, "revision", "has no data before")
        refused({"revision": project.tips[-1], "previous": project.tips[-1]}, 422, "previous", "does not come before")
        refused({"revision": project.tips[-1]}, 422, "revision", "the data shows no change at")
        refused({"kind": "faster"}, 422, "kind", "regression")
        refused({"because": "x"}, 422, "because", "Extra inputs")
        refused({"note": "a\x00b"}, 422, "note", "NUL")
        too_large = http.post("/api/v1/alerts", json={**body, "note": "x" * 300_000})
        assert error_of(too_large)["status"] == 413
    with server.client(reader) as http:
        listed = http.get("/api/v1/alerts").json()["alerts"]
        assert [(a["id"], a["created_by"]) for a in listed] == [(alert["id"], "EU sheriffs")]
        graph = http.get(f"/api/v1/series/{series['id']}").json()
        assert [a["created_by"] for a in graph["alerts"]] == ["EU sheriffs"]

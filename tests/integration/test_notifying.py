"""Telling the culprit's author from the track loop: real tracking, a local stand-in for GitHub and a webhook.

The project's roll-up member "slow down work" regresses ``work`` by 30 %; the
track loop measures, detects, bisects, records the culprit, and its hook tells
the author through ``[notify]``: a comment on the pull request on the fake
GitHub, and a webhook that answers 500. Only the transport is faked.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from perfsheriff import projectfile
from perfsheriff.service.sheriffing import notifying, summaries
from perfsheriff.store import schema as t
from support.benchrepo import BenchProject, build_project
from support.fakeservers import FakeService, Reply
from support.tracking import make_tracker

TOKEN = "ghp_n0tify-s3cret-token"
NOW = datetime(2024, 3, 1, 12, 0, tzinfo=UTC)


@pytest.fixture
def services() -> Iterator[FakeService]:
    with FakeService() as service:
        yield service


def notify_config(url: str, *, retries: int = 1) -> str:
    return f"""
[notify]
base_url = "https://perf.example.org"
min_confidence = 0.5
retries = {retries}

[notify.github]
owner = "ghc"
repo = "ghc"
api_url = "{url}"

[[notify.webhooks]]
name = "chat"
url = "{url}/hook"
"""


def logged(engine: Engine) -> dict[str, tuple[int, str, int, str | None]]:
    """channel -> (summary, outcome, attempts, reason) of the notification log."""
    n = t.notifications
    query = sa.select(n.c.channel, n.c.summary_id, n.c.outcome, n.c.attempts, n.c.reason).order_by(n.c.id)
    with engine.connect() as conn:
        return {str(c): (int(s), str(o), int(a), r) for c, s, o, a, r in conn.execute(query)}


def tracked(engine: Engine, tmp_path: Path, services: FakeService) -> BenchProject:
    project = build_project(tmp_path, extra_config=notify_config(services.url))
    assert project.culprit is not None
    services.on("GET", f"/repos/ghc/ghc/commits/{project.culprit}/pulls", Reply(200, [{"number": 7, "merged_at": "x"}]))
    services.on("POST", "/repos/ghc/ghc/issues/7/comments", Reply(201, {"id": 1}))
    services.on("POST", "/hook", Reply(500, {"error": "chat is down"}))
    return project


def test_the_author_is_told_once_per_summary_and_a_failing_channel_is_recorded(
    engine: Engine,
    tmp_path: Path,
    services: FakeService,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    monkeypatch.setenv("PERFSHERIFF_GITHUB_TOKEN", TOKEN)
    caplog.set_level(logging.DEBUG)
    project = tracked(engine, tmp_path, services)
    assert project.culprit is not None

    first = make_tracker(engine, project.config, tmp_path / "work").run()
    second = make_tracker(engine, project.config, tmp_path / "work").run()
    assert len(first.bisections) == 1
    assert second.bisections == {}

    comments = services.calls("POST", "/repos/ghc/ghc/issues/7/comments")
    assert len(comments) == 1
    body = comments[0].body["body"]
    assert f"Commit `{project.culprit[:12]}` (slow down work) by Ada Lovelace is the likely cause" in body
    assert "[work](https://perf.example.org/series/" in body
    assert f"perfsheriff compare --base {project.side[0]} --head {project.culprit}" in body
    assert comments[0].headers["authorization"] == f"Bearer {TOKEN}"
    assert services.unexpected == []

    log = logged(engine)
    summary_id = log["github"][0]
    assert log["github"] == (summary_id, "sent", 1, None)
    chat = log["chat"]
    assert chat[:3] == (summary_id, "failed", 2)
    assert chat[3] is not None
    assert chat[3].startswith("chat: posting to the webhook answered 500")
    with engine.connect() as conn:  # the failure is visible on the summary, where sheriffs look
        shown = {d["channel"]: d for d in summaries.summary_detail(conn, summary_id)["notifications"]}
    assert (shown["github"]["outcome"], shown["chat"]["outcome"], shown["chat"]["reason"]) == (
        "sent",
        "failed",
        chat[3],
    )

    # The second pass tried the failed webhook again (and only it): its attempts add up.
    assert len(services.calls("POST", "/hook")) == 2
    assert logged(engine)["chat"][1:3] == ("failed", 2)

    # Later, the hook runs again for the summary (another alert's culprit, a sheriff's re-bisection):
    # GitHub was told and is not told again; the failed webhook is tried again.
    tracker = make_tracker(engine, project.config, tmp_path / "work")
    results = notifying.notify_culprit(engine, summary_id, tracker.project_file, now=NOW + timedelta(hours=1))
    assert {(r.channel, r.outcome.value) for r in results} == {("github", "duplicate"), ("chat", "failed")}
    assert len(services.calls("POST", "/repos/ghc/ghc/issues/7/comments")) == 1
    assert len(services.calls("POST", "/hook")) == 3
    assert logged(engine)["chat"][1:3] == ("failed", 3)
    assert TOKEN not in caplog.text


def test_a_dead_channel_is_given_up_and_a_missing_secret_is_a_recorded_failure(
    engine: Engine, tmp_path: Path, services: FakeService, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("PERFSHERIFF_GITHUB_TOKEN", raising=False)
    project = tracked(engine, tmp_path, services)
    make_tracker(engine, project.config, tmp_path / "work").run()
    log = logged(engine)
    summary_id = log["github"][0]
    assert log["github"] == (
        summary_id,
        "failed",
        0,
        "github: the environment variable PERFSHERIFF_GITHUB_TOKEN is not set",
    )
    assert services.calls("GET", f"/repos/ghc/ghc/commits/{project.culprit}/pulls") == []

    config = projectfile.load(project.config)
    for hour in range(1, 6):
        notifying.notify_culprit(engine, summary_id, config, now=NOW + timedelta(hours=hour), environ={})
    # retries = 1: after GIVE_UP_AFTER failed attempts the webhook is left alone, its failure kept
    assert len(services.calls("POST", "/hook")) == notifying.GIVE_UP_AFTER
    assert logged(engine)["chat"][1:3] == ("failed", notifying.GIVE_UP_AFTER)

    # once the token is there, the author is told after all
    results = notifying.notify_culprit(
        engine, summary_id, config, now=NOW + timedelta(hours=7), environ={"PERFSHERIFF_GITHUB_TOKEN": TOKEN}
    )
    assert {(r.channel, r.outcome.value) for r in results} == {("github", "sent"), ("chat", "duplicate")}
    assert len(services.calls("POST", "/repos/ghc/ghc/issues/7/comments")) == 1
    assert logged(engine)["github"][1] == "sent"


def test_a_summary_below_the_confidence_threshold_is_not_told(
    engine: Engine, tmp_path: Path, services: FakeService, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PERFSHERIFF_GITHUB_TOKEN", TOKEN)
    project = build_project(
        tmp_path, extra_config=notify_config(services.url).replace("min_confidence = 0.5", "min_confidence = 1.0")
    )
    make_tracker(engine, project.config, tmp_path / "work").run()
    assert services.requests == []
    assert logged(engine) == {}

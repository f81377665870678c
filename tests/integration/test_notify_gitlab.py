"""The GitLab sender against a local server standing in for the GitLab API."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from perfsheriff.notify import DeliveryError, GitLabChannel, Outcome, RetryPolicy, dispatch
from support.fakeservers import FakeService, Reply, culprit_message

TOKEN = "glpat-s3cr3t-token-value"
SHA = "c" * 40
PROJECT = "/api/v4/projects/perf%2Fdemo"
LOOKUP = f"{PROJECT}/repository/commits/{SHA}/merge_requests"


@pytest.fixture
def gitlab() -> Iterator[FakeService]:
    with FakeService() as service:
        yield service


def channel(service: FakeService) -> GitLabChannel:
    return GitLabChannel(token=TOKEN, project="perf/demo", base_url=service.url + "/")


def test_a_commit_from_a_merge_request_gets_a_note_in_the_merge_requests_project(gitlab: FakeService) -> None:
    requests = [{"iid": 4, "project_id": 11, "state": "closed"}, {"iid": 9, "project_id": 12, "state": "merged"}]
    gitlab.on("GET", LOOKUP, Reply(200, requests))
    gitlab.on("POST", "/api/v4/projects/12/merge_requests/9/notes", Reply(201, {"id": 5}))
    message = culprit_message()
    channel(gitlab).send(message)
    lookup, note = gitlab.requests
    assert lookup.headers["authorization"] == note.headers["authorization"] == f"Bearer {TOKEN}"
    assert note.body == {"body": message.markdown}
    assert gitlab.unexpected == []


def test_a_commit_without_a_merge_request_gets_a_commit_comment(gitlab: FakeService) -> None:
    gitlab.on("GET", LOOKUP, Reply(200, []))
    gitlab.on("POST", f"{PROJECT}/repository/commits/{SHA}/comments", Reply(201, {"note": "..."}))
    message = culprit_message()
    channel(gitlab).send(message)
    assert gitlab.requests[-1].body == {"note": message.markdown}
    assert gitlab.unexpected == []


def test_a_failing_gitlab_is_reported_without_its_token(gitlab: FakeService, caplog: pytest.LogCaptureFixture) -> None:
    gitlab.on("GET", LOOKUP, Reply(503, {"message": f"token {TOKEN} is fine, we are not"}))
    caplog.set_level(logging.DEBUG)
    report = dispatch(
        culprit_message(),
        [channel(gitlab)],
        now=datetime(2024, 5, 1, tzinfo=UTC),
        retry=RetryPolicy(attempts=2),
        sleep=lambda _: None,
    )
    (result,) = report.results
    assert (result.outcome, result.attempts) == (Outcome.FAILED, 2)
    assert "503" in result.reason
    assert TOKEN not in result.reason
    assert not any(TOKEN in record.getMessage() for record in caplog.records)


def test_a_merge_request_without_a_project_is_a_permanent_failure(gitlab: FakeService) -> None:
    gitlab.on("GET", LOOKUP, Reply(200, [{"iid": 9}]))
    with pytest.raises(DeliveryError, match="no project id") as caught:
        channel(gitlab).send(culprit_message())
    assert not caught.value.retryable

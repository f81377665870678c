"""The GitHub sender against a local server standing in for the GitHub API."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from perfsheriff.errors import ConfigError
from perfsheriff.notify import DeliveryError, GitHubChannel, Outcome, RetryPolicy, dispatch
from support.fakeservers import FakeService, Reply, culprit_message

TOKEN = "ghp_s3cr3t-token-value"
SHA = "c" * 40
PULLS = f"/repos/ghc/ghc/commits/{SHA}/pulls"
COMMIT_COMMENTS = f"/repos/ghc/ghc/commits/{SHA}/comments"
NOW = datetime(2024, 5, 1, tzinfo=UTC)


@pytest.fixture
def github() -> Iterator[FakeService]:
    with FakeService() as service:
        yield service


def channel(service: FakeService, timeout: float = 5.0) -> GitHubChannel:
    return GitHubChannel(token=TOKEN, owner="ghc", repo="ghc", base_url=service.url, timeout=timeout)


def test_a_commit_from_a_pull_request_gets_a_comment_on_the_merged_pull_request(github: FakeService) -> None:
    github.on("GET", PULLS, Reply(200, [{"number": 3, "merged_at": None}, {"number": 7, "merged_at": "2024-05-01"}]))
    github.on("POST", "/repos/ghc/ghc/issues/7/comments", Reply(201, {"id": 1}))
    message = culprit_message()
    channel(github).send(message)
    lookup, comment = github.requests
    assert lookup.method == "GET"
    assert lookup.headers["authorization"] == f"Bearer {TOKEN}"
    assert lookup.headers["accept"] == "application/vnd.github+json"
    assert comment.headers["authorization"] == f"Bearer {TOKEN}"
    assert comment.body == {"body": message.markdown}
    assert (
        "| [parse](https://perf.example/series/3fa2) | linux | python=3.12 | +18.0% regression | 99% |"
        in (comment.body["body"])
    )
    assert github.unexpected == []


def test_a_commit_without_a_pull_request_gets_a_commit_comment(github: FakeService) -> None:
    github.on("GET", PULLS, Reply(200, []))
    github.on("POST", COMMIT_COMMENTS, Reply(201, {"id": 1}))
    channel(github).send(culprit_message())
    assert [r.path for r in github.requests] == [PULLS, COMMIT_COMMENTS]
    assert github.unexpected == []


def test_a_500_is_retried_with_backoff_then_reported_failed_and_the_token_stays_secret(
    github: FakeService, caplog: pytest.LogCaptureFixture
) -> None:
    github.on("GET", PULLS, Reply(500, {"message": f"internal error near {TOKEN}"}))
    pauses: list[float] = []
    caplog.set_level(logging.DEBUG)
    report = dispatch(
        culprit_message(),
        [channel(github)],
        now=NOW,
        retry=RetryPolicy(attempts=3, first_delay=1.5, factor=2.0),
        sleep=pauses.append,
    )
    (result,) = report.results
    assert result.outcome is Outcome.FAILED
    assert result.attempts == 3
    assert pauses == [1.5, 3.0]
    assert len(github.calls("GET", PULLS)) == 3
    assert all(r.headers["authorization"] == f"Bearer {TOKEN}" for r in github.requests)
    assert "500" in result.reason
    assert "internal error near ***" in result.reason
    assert report.sent_keys == ()
    messages = [record.getMessage() for record in caplog.records]
    assert any("500" in m for m in messages)
    assert not any(TOKEN in m for m in messages)
    assert TOKEN not in result.reason
    assert TOKEN not in repr(channel(github))


def test_a_server_that_recovers_is_retried_until_it_succeeds(github: FakeService) -> None:
    github.on("GET", PULLS, Reply(502), Reply(200, []))
    github.on("POST", COMMIT_COMMENTS, Reply(201, {"id": 1}))
    report = dispatch(culprit_message(), [channel(github)], now=NOW, sleep=lambda _: None)
    assert [(r.outcome, r.attempts) for r in report.results] == [(Outcome.SENT, 2)]
    assert report.sent_keys == ("summary-42:github",)


def test_bad_credentials_are_not_retried(github: FakeService) -> None:
    github.on("GET", PULLS, Reply(401, {"message": "Bad credentials"}))
    with pytest.raises(DeliveryError) as caught:
        channel(github).send(culprit_message())
    assert not caught.value.retryable
    assert (
        str(caught.value)
        == f"github: looking up the pull requests of {SHA[:12]} answered 401 Unauthorized: Bad credentials"
    )


def test_a_second_dispatch_of_the_same_summary_sends_nothing(github: FakeService) -> None:
    github.on("GET", PULLS, Reply(200, []))
    github.on("POST", COMMIT_COMMENTS, Reply(201, {"id": 1}))
    first = dispatch(culprit_message(), [channel(github)], now=NOW)
    second = dispatch(
        culprit_message(), [channel(github)], now=NOW, already_sent=first.sent_keys, buckets=first.buckets
    )
    assert [r.outcome for r in second.results] == [Outcome.DUPLICATE]
    assert len(github.calls("POST", COMMIT_COMMENTS)) == 1


def test_a_hung_server_times_out_and_an_absent_one_is_unreachable(github: FakeService) -> None:
    github.on("GET", PULLS, Reply(200, [], delay=1.0))
    with pytest.raises(DeliveryError, match="timed out") as caught:
        channel(github, timeout=0.2).send(culprit_message())
    assert caught.value.retryable
    with FakeService() as gone:
        url = gone.url  # nothing listens there any more
    absent = GitHubChannel(token=TOKEN, owner="ghc", repo="ghc", base_url=url)
    with pytest.raises(DeliveryError, match="ConnectError") as caught:
        absent.send(culprit_message())
    assert caught.value.retryable
    assert TOKEN not in str(caught.value)


def test_an_answer_of_the_wrong_shape_is_a_permanent_failure(github: FakeService) -> None:
    github.on("GET", PULLS, Reply(200, {"pulls": []}))
    with pytest.raises(DeliveryError, match="unexpected shape") as caught:
        channel(github).send(culprit_message())
    assert not caught.value.retryable


def test_configuration_mistakes_are_caught_when_the_channel_is_made() -> None:
    with pytest.raises(ConfigError, match="token"):
        GitHubChannel(token=" ", owner="ghc", repo="ghc")
    with pytest.raises(ConfigError, match="base_url"):
        GitHubChannel(token=TOKEN, owner="ghc", repo="ghc", base_url="api.github.com")

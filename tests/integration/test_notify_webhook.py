"""The generic webhook sender against a local server standing in for a Slack or Matrix hook."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest

from perfsheriff.notify import DeliveryError, WebhookChannel
from support.fakeservers import FakeService, Reply, culprit_message

HOOK = "/services/T000/B000/XXXXhooksecret"
TOKEN = "hook-bearer-token"


@pytest.fixture
def hook() -> Iterator[FakeService]:
    with FakeService() as service:
        yield service


def test_the_hook_gets_text_for_chat_and_structured_fields(hook: FakeService) -> None:
    hook.on("POST", HOOK, Reply(200, None))
    message = culprit_message()
    WebhookChannel(url=hook.url + HOOK, token=TOKEN).send(message)
    (request,) = hook.requests
    assert request.headers["authorization"] == f"Bearer {TOKEN}"
    assert request.headers["content-type"] == "application/json"
    body = request.body
    assert body["text"] == message.text
    assert "parse on linux, python=3.12: +18.0% regression" in body["text"]
    assert body["summary_id"] == 42
    assert body["culprit"]["sha"] == "c" * 40
    assert [c["benchmark"] for c in body["changes"]] == ["parse", "render"]
    assert body["graph_url"] == "https://perf.example/summaries/42"
    assert body["reproduce"][0] == f"perfsheriff compare --base {'b' * 40} --head {'c' * 40}"


def test_without_a_token_no_authorization_is_sent(hook: FakeService) -> None:
    hook.on("POST", HOOK, Reply(204))
    WebhookChannel(url=hook.url + HOOK).send(culprit_message())
    assert "authorization" not in hook.requests[0].headers


def test_the_secret_in_the_hook_url_reaches_no_log_and_no_error(
    hook: FakeService, caplog: pytest.LogCaptureFixture
) -> None:
    hook.on("POST", HOOK, Reply(200, None), Reply(404, {"error": f"no hook at {HOOK}"}))
    caplog.set_level(logging.DEBUG)
    channel = WebhookChannel(url=hook.url + HOOK, token=TOKEN)
    channel.send(culprit_message())
    with pytest.raises(DeliveryError) as caught:
        channel.send(culprit_message())
    assert str(caught.value) == "webhook: posting to the webhook answered 404 Not Found: no hook at ***"
    assert not caught.value.retryable
    requests_logged = [r.getMessage() for r in caplog.records if r.name == "httpx"]
    assert len(requests_logged) == 2  # httpx logs each request: its URL is redacted
    assert all("***" in line for line in requests_logged)
    for record in caplog.records:
        assert "hooksecret" not in record.getMessage()
        assert TOKEN not in record.getMessage()
    assert "hooksecret" not in repr(channel)

"""Dispatch: de-duplication, the token bucket, retries with backoff, and failures as results."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from perfsheriff.errors import ConfigError
from perfsheriff.notify import (
    Change,
    CulpritCommit,
    DeliveryError,
    Evidence,
    Message,
    Outcome,
    RateLimit,
    RetryPolicy,
    TokenBucket,
    compose,
    dedup_key,
    dispatch,
)

T0 = datetime(2024, 5, 1, tzinfo=UTC)


def message(summary_id: int = 42) -> Message:
    culprit = CulpritCommit("c" * 40, "Ada", "ada@example.org", "subject", 0.9)
    change = Change("parse", "x86", "", "regression", 0.1, 0.9)
    return compose(Evidence(summary_id, "p", "main", culprit, "a" * 40, "d" * 40, (change,)), base_url="http://p")


@dataclass
class ScriptedChannel:
    """A stand-in for an external service: each send pops the next outcome (None: delivered)."""

    name: str
    script: list[DeliveryError | None] = field(default_factory=list)
    delivered: list[Message] = field(default_factory=list)
    attempts: int = 0

    def send(self, message: Message) -> None:
        self.attempts += 1
        outcome = self.script.pop(0) if self.script else None
        if outcome is not None:
            raise outcome
        self.delivered.append(message)


def flaky(times: int) -> list[DeliveryError | None]:
    return [DeliveryError("chat: answered 503", retryable=True) for _ in range(times)]


def test_every_channel_gets_the_message_once_and_a_second_pass_sends_nothing() -> None:
    chat, mail = ScriptedChannel("chat"), ScriptedChannel("mail")
    first = dispatch(message(), [chat, mail], now=T0)
    assert [(r.channel, r.outcome, r.attempts) for r in first.results] == [
        ("chat", Outcome.SENT, 1),
        ("mail", Outcome.SENT, 1),
    ]
    assert first.sent_keys == ("summary-42:chat", "summary-42:mail")
    second = dispatch(message(), [chat, mail], now=T0, already_sent=first.sent_keys, buckets=first.buckets)
    assert [r.outcome for r in second.results] == [Outcome.DUPLICATE, Outcome.DUPLICATE]
    assert (len(chat.delivered), len(mail.delivered)) == (1, 1)
    assert dispatch(message(43), [chat], now=T0, already_sent=first.sent_keys).sent_keys == ("summary-43:chat",)


def test_retryable_failures_back_off_exponentially_up_to_the_cap() -> None:
    chat = ScriptedChannel("chat", flaky(3))
    pauses: list[float] = []
    policy = RetryPolicy(attempts=5, first_delay=1.0, factor=3.0, max_delay=5.0)
    (result,) = dispatch(message(), [chat], now=T0, retry=policy, sleep=pauses.append).results
    assert (result.outcome, result.attempts) == (Outcome.SENT, 4)
    assert pauses == [1.0, 3.0, 5.0]
    assert policy.delays() == (1.0, 3.0, 5.0, 5.0)


def test_a_failing_channel_is_a_result_and_the_next_channel_still_gets_its_message() -> None:
    broken = ScriptedChannel("broken", [DeliveryError("broken: answered 404 Not Found", retryable=False)])
    dead = ScriptedChannel("dead", flaky(10))
    fine = ScriptedChannel("fine")
    pauses: list[float] = []
    report = dispatch(message(), [broken, dead, fine], now=T0, retry=RetryPolicy(attempts=3), sleep=pauses.append)
    assert [(r.outcome, r.attempts, r.reason) for r in report.results] == [
        (Outcome.FAILED, 1, "broken: answered 404 Not Found"),  # permanent: not retried
        (Outcome.FAILED, 3, "chat: answered 503"),
        (Outcome.SENT, 1, ""),
    ]
    assert len(pauses) == 2
    assert report.sent_keys == (dedup_key(42, "fine"),)


def test_the_rate_limit_postpones_without_failing_and_refills_with_time() -> None:
    chat = ScriptedChannel("chat")
    limit = RateLimit(burst=2, per_hour=6.0)  # one token every 10 minutes
    buckets = None
    outcomes = []
    for summary_id in range(3):
        report = dispatch(message(summary_id), [chat], now=T0, buckets=buckets, limit=limit)
        buckets = report.buckets
        outcomes.append(report.results[0].outcome)
    assert outcomes == [Outcome.SENT, Outcome.SENT, Outcome.RATE_LIMITED]
    later = dispatch(message(2), [chat], now=T0 + timedelta(minutes=10), buckets=buckets, limit=limit)
    assert later.results[0].outcome is Outcome.SENT
    assert chat.attempts == 3


def test_channel_names_must_be_unique() -> None:
    with pytest.raises(ConfigError):
        dispatch(message(), [ScriptedChannel("chat"), ScriptedChannel("chat")], now=T0)


@pytest.mark.parametrize(
    "make",
    [
        lambda: RetryPolicy(attempts=0),
        lambda: RetryPolicy(factor=0.5),
        lambda: RetryPolicy(first_delay=-1),
        lambda: RateLimit(burst=0),
        lambda: RateLimit(per_hour=0),
        lambda: RateLimit(per_hour=float("nan")),
    ],
)
def test_bad_policies(make: object) -> None:
    with pytest.raises(ConfigError):
        make()  # type: ignore[operator]


def test_a_clock_that_goes_backwards_refills_nothing() -> None:
    bucket = TokenBucket(RateLimit(burst=3, per_hour=60.0), tokens=0.5, updated=T0)
    assert bucket.refilled(T0 - timedelta(hours=1)) == bucket
    assert bucket.take(T0 - timedelta(hours=1)) is None


def _times(offsets: list[int]) -> Iterator[datetime]:
    clock = T0
    for seconds in offsets:
        clock += timedelta(seconds=seconds)
        yield clock


@given(st.integers(1, 5), st.floats(1.0, 100.0), st.lists(st.integers(0, 600), max_size=60))
def test_the_bucket_never_lets_more_through_than_burst_plus_refill(
    burst: int, per_hour: float, gaps: list[int]
) -> None:
    limit = RateLimit(burst=burst, per_hour=per_hour)
    bucket = TokenBucket.full(limit, T0)
    sent = 0
    end = T0
    for now in _times(gaps):
        end = now
        taken = bucket.take(now)
        if taken is not None:
            bucket, sent = taken, sent + 1
        else:
            bucket = bucket.refilled(now)
    elapsed_hours = (end - T0).total_seconds() / 3600
    assert sent <= burst + elapsed_hours * per_hour + 1e-9
    assert 0.0 <= bucket.tokens <= burst

"""Send one message to every configured channel: once, within a rate limit, with retries, never raising.

- **Once**: each (summary, channel) has a key; the caller passes the keys it
  already sent (stored with the summary) and stores the new ones.
- **Rate limit**: a token bucket per channel (``burst`` messages at once,
  refilled at ``per_hour``), pure: the caller passes the buckets and the time,
  and keeps the buckets returned. A channel out of tokens is skipped, not
  failed: its key stays unsent, so the next pass tries again.
- **Retries**: a retryable failure (5xx, 429, timeout, lost connection) is
  tried again after exponentially growing pauses (``sleep`` is injectable).
  A request whose answer was lost may have been delivered, so a retry can
  duplicate a comment: at-least-once beats a lost notification.
- **Isolation**: every delivery failure is a result (``failed`` with its
  reason), never an exception, so a dead channel blocks neither the others
  nor detection and triage.
"""

from __future__ import annotations

import enum
import logging
import math
import time
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime

from perfsheriff.errors import ConfigError
from perfsheriff.notify.channel import Channel, DeliveryError
from perfsheriff.notify.compose import Message

logger = logging.getLogger(__name__)


def dedup_key(summary_id: int, channel: str) -> str:
    """The key under which a summary's notification through ``channel`` is recorded as sent."""
    return f"summary-{summary_id}:{channel}"


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """``attempts`` tries in all; the pause before try n+1 is ``first_delay * factor**(n-1)``, at most ``max_delay``."""

    attempts: int = 4
    first_delay: float = 2.0
    factor: float = 2.0
    max_delay: float = 60.0

    def __post_init__(self) -> None:
        if self.attempts < 1 or self.first_delay < 0 or self.factor < 1 or self.max_delay < 0:
            raise ConfigError("retries need attempts >= 1, delays >= 0 and a factor >= 1")

    def delays(self) -> tuple[float, ...]:
        """The pauses between consecutive attempts (one fewer than the attempts)."""
        return tuple(min(self.first_delay * self.factor**i, self.max_delay) for i in range(self.attempts - 1))


@dataclass(frozen=True, slots=True)
class RateLimit:
    """At most ``burst`` messages at once per channel, and ``per_hour`` on average."""

    burst: int = 10
    per_hour: float = 30.0

    def __post_init__(self) -> None:
        if self.burst < 1 or not (math.isfinite(self.per_hour) and self.per_hour > 0):
            raise ConfigError("a rate limit needs burst >= 1 and per_hour > 0")


@dataclass(frozen=True, slots=True)
class TokenBucket:
    """A channel's allowance: ``tokens`` left at time ``updated``. Taking one returns a new bucket."""

    limit: RateLimit
    tokens: float
    updated: datetime

    @classmethod
    def full(cls, limit: RateLimit, now: datetime) -> TokenBucket:
        return cls(limit, float(limit.burst), now)

    def refilled(self, now: datetime) -> TokenBucket:
        """The bucket at ``now``; a clock that went backwards refills nothing."""
        elapsed = max(0.0, (now - self.updated).total_seconds())
        tokens = min(float(self.limit.burst), self.tokens + elapsed * self.limit.per_hour / 3600.0)
        return replace(self, tokens=tokens, updated=max(now, self.updated))

    def take(self, now: datetime) -> TokenBucket | None:
        """The bucket after sending one message at ``now``, or ``None`` when it is empty."""
        bucket = self.refilled(now)
        return replace(bucket, tokens=bucket.tokens - 1.0) if bucket.tokens >= 1.0 else None


class Outcome(enum.StrEnum):
    SENT = "sent"
    FAILED = "failed"
    DUPLICATE = "duplicate"  # sent before: nothing done
    RATE_LIMITED = "rate-limited"  # not tried now; try again on a later pass


@dataclass(frozen=True, slots=True)
class ChannelResult:
    """What happened on one channel; ``reason`` says why it failed (never with a secret in it)."""

    channel: str
    key: str
    outcome: Outcome
    attempts: int = 0
    reason: str = ""


@dataclass(frozen=True, slots=True)
class Dispatch:
    """Per-channel results, in the channels' order, and the buckets to keep for the next call."""

    results: tuple[ChannelResult, ...]
    buckets: Mapping[str, TokenBucket]

    @property
    def sent_keys(self) -> tuple[str, ...]:
        """Keys to record as sent (only those sent by this call)."""
        return tuple(r.key for r in self.results if r.outcome is Outcome.SENT)


def dispatch(
    message: Message,
    channels: Sequence[Channel],
    *,
    now: datetime,
    already_sent: Collection[str] = frozenset(),
    buckets: Mapping[str, TokenBucket] | None = None,
    limit: RateLimit | None = None,
    retry: RetryPolicy | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> Dispatch:
    """Send ``message`` through each channel not yet sent for its summary; see the module docstring."""
    names = [c.name for c in channels]
    if len(set(names)) != len(names):
        raise ConfigError("notification channels need unique names")
    limit, retry = limit or RateLimit(), retry or RetryPolicy()
    kept = dict(buckets or {})
    results = []
    for channel in channels:
        key = dedup_key(message.summary_id, channel.name)
        if key in already_sent:
            results.append(ChannelResult(channel.name, key, Outcome.DUPLICATE))
            continue
        bucket = kept.get(channel.name) or TokenBucket.full(limit, now)
        taken = bucket.take(now)
        if taken is None:
            kept[channel.name] = bucket.refilled(now)
            results.append(ChannelResult(channel.name, key, Outcome.RATE_LIMITED, reason="rate limit reached"))
            logger.info("notify: summary %s via %s postponed: rate limit reached", message.summary_id, channel.name)
            continue
        kept[channel.name] = taken
        results.append(_deliver(message, channel, key, retry, sleep))
    return Dispatch(tuple(results), kept)


def _deliver(
    message: Message, channel: Channel, key: str, retry: RetryPolicy, sleep: Callable[[float], None]
) -> ChannelResult:
    """Try ``channel`` until it succeeds, fails for good, or the attempts run out."""
    pauses = retry.delays()
    for attempt in range(1, retry.attempts + 1):
        try:
            channel.send(message)
        except DeliveryError as err:
            if not err.retryable or attempt == retry.attempts:
                logger.warning("notify: summary %s via %s failed: %s", message.summary_id, channel.name, err)
                return ChannelResult(channel.name, key, Outcome.FAILED, attempt, str(err))
            logger.info("notify: %s (attempt %d of %d, retrying)", err, attempt, retry.attempts)
            sleep(pauses[attempt - 1])
        else:
            logger.info("notify: summary %s sent via %s", message.summary_id, channel.name)
            return ChannelResult(channel.name, key, Outcome.SENT, attempt)
    raise AssertionError("unreachable: the last attempt returns")  # pragma: no cover

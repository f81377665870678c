"""Telling a culprit's author: messages composed from the evidence, and the channels that carry them.

:func:`compose` builds a :class:`Message` (pure); the senders (GitHub, GitLab,
a generic webhook, e-mail) deliver it once each; :func:`dispatch` sends to
every configured channel with de-duplication, a rate limit and retries, and
reports per channel instead of raising. See ``docs/triage.md``.
"""

from perfsheriff.notify.channel import Channel, DeliveryError
from perfsheriff.notify.compose import Change, CulpritCommit, Evidence, Message, compose, reproduce_commands
from perfsheriff.notify.dispatch import (
    ChannelResult,
    Dispatch,
    Outcome,
    RateLimit,
    RetryPolicy,
    TokenBucket,
    dedup_key,
    dispatch,
)
from perfsheriff.notify.github import GitHubChannel
from perfsheriff.notify.gitlab import GitLabChannel
from perfsheriff.notify.mail import EmailChannel
from perfsheriff.notify.webhook import WebhookChannel

__all__ = [
    "Change",
    "Channel",
    "ChannelResult",
    "CulpritCommit",
    "DeliveryError",
    "Dispatch",
    "EmailChannel",
    "Evidence",
    "GitHubChannel",
    "GitLabChannel",
    "Message",
    "Outcome",
    "RateLimit",
    "RetryPolicy",
    "TokenBucket",
    "WebhookChannel",
    "compose",
    "dedup_key",
    "dispatch",
    "reproduce_commands",
]

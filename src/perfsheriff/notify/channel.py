"""What every sender is: a named channel that delivers a :class:`Message` once, or says why it could not.

A sender makes one attempt; :func:`perfsheriff.notify.dispatch.dispatch`
retries, rate-limits and de-duplicates. Every failure a sender can meet
(refused connection, timeout, an error status, an answer it cannot read)
becomes a :class:`DeliveryError`, whose text never holds a token or a secret
URL, and which says whether trying again may help.
"""

from __future__ import annotations

from typing import Protocol

from perfsheriff.errors import PerfsheriffError
from perfsheriff.notify.compose import Message


class DeliveryError(PerfsheriffError):
    """A message was not delivered. ``retryable``: the failure may pass (5xx, 429, timeout, lost connection).

    ``status`` is the HTTP status the service answered, when it answered one.
    """

    def __init__(self, message: str, *, retryable: bool, status: int | None = None) -> None:
        super().__init__(message)
        self.retryable = retryable
        self.status = status


class Channel(Protocol):
    """A configured notification target: ``name`` is unique among the channels of a project."""

    @property
    def name(self) -> str: ...

    def send(self, message: Message) -> None:
        """Deliver ``message`` once, or raise :class:`DeliveryError`."""
        ...


def redact(text: str, secrets: tuple[str, ...]) -> str:
    """``text`` with every secret replaced by ``***`` (secrets shorter than 4 characters are not secrets)."""
    for secret in secrets:
        if len(secret) >= 4:
            text = text.replace(secret, "***")
    return text

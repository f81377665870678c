"""One call to a service's HTTP API, shared by the GitHub, GitLab and webhook senders.

Failures become :class:`~perfsheriff.notify.channel.DeliveryError` with a text
that names the operation, never the URL (a Slack or Matrix hook carries its
secret in the path) nor a token. httpx logs every request's URL at INFO level;
while a sender works, a filter on httpx's logger redacts the sender's secrets
from those lines. Redirects are not followed: an API that redirects a POST is
misconfigured, and following it would send the token elsewhere.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

import httpx

from perfsheriff import __version__
from perfsheriff.errors import ConfigError
from perfsheriff.notify.channel import DeliveryError, redact

#: Seconds to wait for a connection, and for each read; a hung service fails, it does not block.
DEFAULT_TIMEOUT = 10.0
# Statuses worth another try later: timeouts, rate limits, server trouble.
_RETRYABLE = frozenset({408, 425, 429})
_DETAIL_CHARS = 200


def check_base_url(url: str, what: str) -> str:
    """``url`` without a trailing slash, if it is an http(s) URL."""
    if not url.startswith(("http://", "https://")):
        raise ConfigError(f"{what} must be an http(s) URL")
    return url.rstrip("/")


def make_client(headers: Mapping[str, str], timeout: float, base_url: str = "") -> httpx.Client:
    """A client for one delivery; closing it after the send leaves no socket behind."""
    return httpx.Client(
        base_url=base_url,
        headers={"User-Agent": f"perfsheriff/{__version__}", **headers},
        timeout=timeout,
        follow_redirects=False,
    )


class _Redactor(logging.Filter):
    def __init__(self, secrets: tuple[str, ...]) -> None:
        super().__init__()
        self.secrets = secrets

    def filter(self, record: logging.LogRecord) -> bool:
        text = record.getMessage()
        clean = redact(text, self.secrets)
        if clean != text:
            record.msg, record.args = clean, None
        return True


@contextmanager
def redacted_logs(secrets: tuple[str, ...]) -> Iterator[None]:
    """Keep ``secrets`` out of httpx's request log lines for the duration of a send."""
    logger = logging.getLogger("httpx")
    redactor = _Redactor(secrets)
    logger.addFilter(redactor)
    try:
        yield
    finally:
        logger.removeFilter(redactor)


def call(
    client: httpx.Client,
    method: str,
    url: str,
    *,
    channel: str,
    what: str,
    secrets: tuple[str, ...],
    payload: Mapping[str, Any] | None = None,
) -> Any:
    """Send one request and return its JSON answer (``None`` when empty); any failure is a DeliveryError.

    ``what`` names the operation in error texts ("looking up the pull requests
    of 1a2b3c4d5e6f"); the URL never appears in them.
    """
    try:
        response = client.request(method, url, json=payload)
    except httpx.TimeoutException:
        raise DeliveryError(f"{channel}: {what} timed out", retryable=True) from None
    except httpx.RequestError as err:
        raise DeliveryError(f"{channel}: {what} failed: {type(err).__name__}", retryable=True) from None
    status = response.status_code
    if status >= 300:
        retryable = status in _RETRYABLE or status >= 500
        text = f"{channel}: {what} answered {status} {response.reason_phrase}{_detail(response)}"
        raise DeliveryError(redact(text, secrets), retryable=retryable, status=status)
    if not response.content:
        return None
    try:
        return response.json()
    except ValueError:
        raise DeliveryError(f"{channel}: {what} answered with something that is not JSON", retryable=False) from None


def _detail(response: httpx.Response) -> str:
    """The service's own explanation (GitHub and GitLab put it in ``message``), cut short."""
    try:
        body = response.json()
    except ValueError:
        return ""
    detail = body.get("message") or body.get("error") if isinstance(body, dict) else None
    if not isinstance(detail, str) or not detail.strip():
        return ""
    return f": {' '.join(detail.split())[:_DETAIL_CHARS]}"

"""A generic webhook: one JSON POST that Slack and Matrix incoming hooks accept, with structured fields besides.

``text`` is what Slack's incoming webhooks and Matrix hookshot's generic
webhooks display (plain text: both turn the URLs in it into links); the other
fields (``summary_id``, ``culprit``, ``changes``, ``graph_url``, ``reproduce``...)
are for hooks that render the message themselves, and ``markdown`` for those
that render Markdown. The hook URL is treated as a secret, since Slack's and
Matrix's carry their credential in the path: errors say "the webhook", never
the URL. An optional token is sent as ``Authorization: Bearer``.
"""

from __future__ import annotations

from perfsheriff.notify.compose import Message
from perfsheriff.notify.restapi import DEFAULT_TIMEOUT, call, check_base_url, make_client, redacted_logs


class WebhookChannel:
    """POSTs each message as JSON to ``url``."""

    def __init__(
        self, *, url: str, token: str | None = None, name: str = "webhook", timeout: float = DEFAULT_TIMEOUT
    ) -> None:
        check_base_url(url, f"{name}: url")
        self._name = name
        self._url = url
        self._token = token or None
        self._timeout = timeout

    @property
    def name(self) -> str:
        return self._name

    def __repr__(self) -> str:
        return f"WebhookChannel(name={self._name!r})"

    def send(self, message: Message) -> None:
        headers = {"Authorization": f"Bearer {self._token}"} if self._token else {}
        secrets = (self._url, *_path_secrets(self._url), *((self._token,) if self._token else ()))
        payload = {**message.fields, "text": message.text, "markdown": message.markdown, "subject": message.subject}
        with redacted_logs(secrets), make_client(headers, self._timeout) as client:
            call(
                client,
                "POST",
                self._url,
                channel=self._name,
                what="posting to the webhook",
                secrets=secrets,
                payload=payload,
            )


def _path_secrets(url: str) -> tuple[str, ...]:
    """The URL's path and query: where hook services keep their credentials (redacted however the host is spelt)."""
    rest = url.split("://", 1)[-1]
    _, slash, path = rest.partition("/")
    if not slash:
        return ()
    return (f"/{path}",) if len(path) >= 4 else ()

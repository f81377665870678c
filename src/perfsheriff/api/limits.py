"""Request guards that run before a body is parsed: its size and its media type.

A body larger than ``max_request_bytes`` is refused with 413 as soon as its
declared length (or, for a chunked body, the bytes received so far) passes the
limit, so that a huge upload costs the server neither memory nor time. A write
under ``/api/`` must be JSON (415 otherwise).
"""

from __future__ import annotations

import json

from fastapi import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from perfsheriff.api.errors import error_body

_WRITES = frozenset({"POST", "PUT", "PATCH"})


class _TooLarge(HTTPException):
    """Raised while the body is read; FastAPI passes HTTPExceptions through to the JSON error handler."""


async def _reply(send: Send, status: int, message: str) -> None:
    body = json.dumps(error_body(status, message)).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())],
        }
    )
    await send({"type": "http.response.body", "body": body})


class RequestGuard:
    """ASGI middleware enforcing the body limit and JSON media type of API writes."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] not in _WRITES:
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        declared = headers.get("content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_bytes:
            await _reply(send, 413, f"the body is {int(declared):,} bytes; the limit is {self.max_bytes:,} bytes")
            return
        media = headers.get("content-type", "").split(";")[0].strip().lower()
        if scope["path"].startswith("/api/") and media != "application/json":
            shown = media or "none"
            await _reply(send, 415, f"expected Content-Type application/json, got {shown}")
            return
        received = 0
        started = False

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    raise _TooLarge(413, f"the body is larger than the limit of {self.max_bytes:,} bytes")
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, limited_receive, tracking_send)
        except _TooLarge:
            if not started:
                await _reply(send, 413, f"the body is larger than the limit of {self.max_bytes:,} bytes")

"""Request guards that run before a body is parsed: who is asking, the body's size and its media type.

Each route has a body limit: ``max_request_bytes`` for run uploads (the routes
that depend on :data:`LARGE_BODY`), :data:`SMALL_BODY_BYTES` for every other
write (a job claim, a note, a dashboard form). A body larger than its route's limit is
refused with 413 as soon as its declared length (or, for a chunked body, the
bytes received so far) passes the limit, so that a huge body costs the server
neither memory nor time. A write under ``/api/`` must be JSON (415 otherwise).

Routes of :class:`GuardedRoute` authenticate and authorise (their
:class:`~perfsheriff.api.auth.Guard` dependencies) and check their body limit
*before* FastAPI reads and parses the body: an anonymous request, or one whose
token lacks the role, is answered 401 or 403 without its body being read.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Coroutine, Iterator
from typing import Any

from fastapi import Depends, HTTPException, Request, Response
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from perfsheriff.api.auth import Guard
from perfsheriff.api.errors import ApiError, error_body

_WRITES = frozenset({"POST", "PUT", "PATCH"})
#: The body limit of every write but run uploads: the largest of them (a 10,000-character note, written as
#: JSON escapes of six bytes each) fits many times over, and parsing it cannot allocate much.
SMALL_BODY_BYTES = 256 * 1024
_LIMIT_KEY = "perfsheriff.body_limit"


#: JSON objects and arrays a large body may hold outside its strings. An upload carries its result files as
#: strings and has a handful of objects around them; parsing millions of empty ones (``[{},{},...]``) would
#: allocate some 25 times the body's size, so such a body is refused before it is parsed.
MAX_JSON_CONTAINERS = 10_000
_JSON_STRING = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"', re.DOTALL)


def containers_outside_strings(body: bytes) -> int:
    """How many ``{`` and ``[`` of a JSON text open an object or array (those inside strings do not count).

    Counted without copying the body: most bodies hold fewer brackets in all than the limit, and only
    larger counts look for the strings.
    """
    total = body.count(b"{") + body.count(b"[")
    if total <= MAX_JSON_CONTAINERS:
        return total
    for string in _JSON_STRING.finditer(body):
        start, end = string.span()
        total -= body.count(b"{", start, end) + body.count(b"[", start, end)
    return total


def _large_body() -> None:
    """A marker dependency: this route's body may be as large as the ``max_request_bytes`` setting."""


LARGE_BODY = Depends(_large_body)


def _dependencies(dependant: Dependant) -> Iterator[Dependant]:
    for sub in dependant.dependencies:
        yield sub
        yield from _dependencies(sub)


class GuardedRoute(APIRoute):
    """A route that checks who is asking and its body limit before the body is read."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()
        found = list(_dependencies(self.dependant))
        guards = [d.call for d in found if isinstance(d.call, Guard)]
        large = any(d.call is _large_body for d in found)

        async def guarded(request: Request) -> Response:
            settings_limit = int(request.app.state.settings.max_request_bytes)
            limit = settings_limit if large else min(SMALL_BODY_BYTES, settings_limit)
            request.scope[_LIMIT_KEY] = limit
            for guard in guards:
                await guard(request)
            declared = request.headers.get("content-length", "")
            if declared.isdigit() and int(declared) > limit:
                raise ApiError(413, f"the body is {int(declared):,} bytes; the limit is {limit:,} bytes")
            if large and containers_outside_strings(await request.body()) > MAX_JSON_CONTAINERS:
                raise ApiError(
                    422, f"the body holds more than {MAX_JSON_CONTAINERS:,} JSON objects and arrays outside its strings"
                )
            return await handler(request)

        return guarded


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
                limit = scope.get(_LIMIT_KEY, min(SMALL_BODY_BYTES, self.max_bytes))
                if received > limit:
                    raise _TooLarge(413, f"the body is larger than the limit of {limit:,} bytes")
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, limited_receive, tracking_send)
        except _TooLarge as error:
            if not started:
                await _reply(send, 413, str(error.detail))

"""Who is asking: bearer tokens and roles, as FastAPI dependencies.

``require(Role.SHERIFF)`` in a route's dependencies admits a token of that
role or a higher one. Reading admits everyone when the server's
``public_read`` setting is on. A missing, unknown, revoked or expired token is
a 401 (the four look alike, so that a probe learns nothing); a valid token
without the role is a 403.

A token found valid is remembered for ``TOKEN_CACHE_S`` seconds, so that an
agent's stream of uploads and claims does not pay a database lookup each
time: a revocation by ``DELETE /api/v1/tokens/{id}`` takes effect at once in
this server, one by ``perfsheriff token revoke`` within those seconds. The
dependencies are coroutines that reach the database (in a worker thread) only
on a cache miss.
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime

from fastapi import Request
from starlette.concurrency import run_in_threadpool

from perfsheriff.api.errors import ApiError
from perfsheriff.roles import Role
from perfsheriff.service.access.tokens import TokenInfo, authenticate

_CHALLENGE = {"WWW-Authenticate": "Bearer"}
TOKEN_CACHE_S = 2.0
_CACHE_SIZE = 4096


class TokenCache:
    """Valid tokens seen in the last ``TOKEN_CACHE_S`` seconds, by the SHA-256 of their secret."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._entries: dict[str, tuple[TokenInfo, float]] = {}
        self._lock = threading.Lock()
        self._clock = clock

    def get(self, key: str) -> TokenInfo | None:
        with self._lock:
            entry = self._entries.get(key)
        if entry is None or self._clock() > entry[1]:
            return None
        return entry[0] if entry[0].active(datetime.now(UTC)) else None

    def put(self, key: str, token: TokenInfo) -> None:
        with self._lock:
            if len(self._entries) >= _CACHE_SIZE:
                self._entries.clear()
            self._entries[key] = (token, self._clock() + TOKEN_CACHE_S)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()


async def current_token(request: Request) -> TokenInfo | None:
    """The request's token, None when it brings none; a 401 when it brings a bad one."""
    header = request.headers.get("authorization")
    if header is None:
        return None
    scheme, _, secret = header.partition(" ")
    secret = secret.strip()
    if scheme.lower() != "bearer" or not secret:
        raise ApiError(401, "expected an Authorization header of the form 'Bearer <token>'", headers=_CHALLENGE)
    cache: TokenCache = request.app.state.token_cache
    key = hashlib.sha256(secret.encode()).hexdigest()
    token = cache.get(key)
    if token is None:

        def lookup() -> TokenInfo | None:
            with request.app.state.engine.connect() as conn:
                return authenticate(conn, secret, datetime.now(UTC))

        token = await run_in_threadpool(lookup)
        if token is not None:
            cache.put(key, token)
    if token is None:
        raise ApiError(401, "the token is unknown, revoked or expired", headers=_CHALLENGE)
    return token


class Guard:
    """A route's authentication and authorisation, as a FastAPI dependency.

    Routes built by :class:`perfsheriff.api.limits.GuardedRoute` run their guards before the body is
    read, so that an anonymous or unauthorised request costs the server no body at all; the answer is
    kept on the request, so that the dependency FastAPI runs afterwards does not check twice.
    """

    def __init__(self, roles: tuple[Role, ...], *, exact: bool) -> None:
        self.roles = roles
        self.exact = exact  # exactly these roles (uploads, claims), else ``roles[0]`` or above
        self.names = " or ".join(r.value for r in roles)

    async def __call__(self, request: Request) -> TokenInfo | None:
        checked: dict[int, TokenInfo | None] = request.scope.setdefault("perfsheriff.guards", {})
        if id(self) not in checked:
            checked[id(self)] = await self._check(request)
        return checked[id(self)]

    async def _check(self, request: Request) -> TokenInfo | None:
        token = await current_token(request)
        if token is None:
            if not self.exact and self.roles[0] is Role.READ and request.app.state.settings.public_read:
                return None
            raise ApiError(401, f"this needs a token with the {self.names} role", headers=_CHALLENGE)
        allowed = token.role in self.roles if self.exact else token.role.allows(self.roles[0])
        if not allowed:
            raise ApiError(403, f"this needs the {self.names} role; the token has the {token.role.value} role")
        return token


def require(role: Role) -> Guard:
    """A dependency admitting tokens of ``role`` or above (and anyone for reading, if public)."""
    return Guard((role,), exact=False)


def require_one_of(*roles: Role) -> Guard:
    """A dependency admitting exactly these roles: uploads and job claims are for agents and admins."""
    return Guard(roles, exact=True)


def check_machine(token: TokenInfo | None, machine: str) -> None:
    """An agent token acts only for its own machine."""
    if token is not None and token.role is Role.AGENT and token.machine != machine:
        raise ApiError(403, f"this agent token belongs to machine {token.machine!r}, not {machine!r}", field="machine")

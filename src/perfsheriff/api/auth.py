"""Who is asking: bearer tokens and roles, as FastAPI dependencies.

``require(Role.SHERIFF)`` in a route's dependencies admits a token of that
role or a higher one. Reading admits everyone when the server's
``public_read`` setting is on. A missing, unknown, revoked or expired token is
a 401 (the four look alike, so that a probe learns nothing); a valid token
without the role is a 403.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

from fastapi import Request

from perfsheriff.api.errors import ApiError
from perfsheriff.service.tokens import Role, TokenInfo, authenticate

_CHALLENGE = {"WWW-Authenticate": "Bearer"}


def current_token(request: Request) -> TokenInfo | None:
    """The request's token, None when it brings none; a 401 when it brings a bad one."""
    header = request.headers.get("authorization")
    if header is None:
        return None
    scheme, _, secret = header.partition(" ")
    if scheme.lower() != "bearer" or not secret.strip():
        raise ApiError(401, "expected an Authorization header of the form 'Bearer <token>'", headers=_CHALLENGE)
    with request.app.state.engine.connect() as conn:
        token = authenticate(conn, secret.strip(), datetime.now(UTC))
    if token is None:
        raise ApiError(401, "the token is unknown, revoked or expired", headers=_CHALLENGE)
    return token


def require(role: Role) -> Callable[[Request], TokenInfo | None]:
    """A dependency admitting tokens of ``role`` or above (and anyone for reading, if public)."""

    def dependency(request: Request) -> TokenInfo | None:
        token = current_token(request)
        if token is None:
            if role is Role.READ and request.app.state.settings.public_read:
                return None
            raise ApiError(401, f"this needs a token with the {role.value} role", headers=_CHALLENGE)
        if not token.role.allows(role):
            raise ApiError(403, f"this needs the {role.value} role; the token has the {token.role.value} role")
        return token

    return dependency


def require_one_of(*roles: Role) -> Callable[[Request], TokenInfo]:
    """A dependency admitting exactly these roles: uploads and job claims are for agents and admins."""
    names = " or ".join(r.value for r in roles)

    def dependency(request: Request) -> TokenInfo:
        token = current_token(request)
        if token is None:
            raise ApiError(401, f"this needs a token with the {names} role", headers=_CHALLENGE)
        if token.role not in roles:
            raise ApiError(403, f"this needs the {names} role; the token has the {token.role.value} role")
        return token

    return dependency


def check_machine(token: TokenInfo | None, machine: str) -> None:
    """An agent token acts only for its own machine."""
    if token is not None and token.role is Role.AGENT and token.machine != machine:
        raise ApiError(403, f"this agent token belongs to machine {token.machine!r}, not {machine!r}", field="machine")

"""Who is looking at the dashboard, and forms that only the dashboard itself can submit.

A sheriff logs in by pasting an API token; it is kept in an ``HttpOnly``,
``SameSite=Strict`` cookie (scripts cannot read it, other sites cannot send
it). Every form carries a CSRF token bound to that cookie: for a logged-in
user it is a SHA-256 of the session token (a forged page cannot compute it
without the token, which it cannot read); before login, a random value
double-submitted in its own cookie and in the form. Both are compared in
constant time on the server.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import UTC, datetime

from fastapi import Request, Response

from perfsheriff.service.tokens import Role, TokenInfo, authenticate

SESSION_COOKIE = "psf_session"
CSRF_COOKIE = "psf_csrf"
CSRF_FIELD = "csrf"


def session_secret(request: Request) -> str | None:
    value = request.cookies.get(SESSION_COOKIE)
    return value if value else None


def current_user(request: Request) -> TokenInfo | None:
    """The token behind the session cookie, when it is still valid."""
    secret = session_secret(request)
    if secret is None:
        return None
    with request.app.state.engine.connect() as conn:
        return authenticate(conn, secret, datetime.now(UTC))


def may_read(request: Request, user: TokenInfo | None) -> bool:
    return user is not None or bool(request.app.state.settings.public_read)


def is_sheriff(user: TokenInfo | None) -> bool:
    return user is not None and user.role.allows(Role.SHERIFF)


def who(user: TokenInfo) -> str:
    """How the journal names a dashboard user: the token's label, else its id."""
    return user.name or f"token-{user.id}"


def csrf_token(request: Request) -> str:
    """The value forms must carry: bound to the session when there is one, else to the CSRF cookie."""
    secret = session_secret(request)
    if secret is not None:
        return hashlib.sha256(f"perfsheriff-csrf:{secret}".encode()).hexdigest()
    given = request.cookies.get(CSRF_COOKIE) or getattr(request.state, "new_csrf", None)
    if given is None:
        given = secrets.token_hex(32)
        request.state.new_csrf = given
    return str(given)


def csrf_valid(request: Request, submitted: str | None) -> bool:
    """Whether a submitted form's CSRF value matches what this browser was given."""
    if not submitted:
        return False
    secret = session_secret(request)
    if secret is not None:
        expected = hashlib.sha256(f"perfsheriff-csrf:{secret}".encode()).hexdigest()
    else:
        expected = request.cookies.get(CSRF_COOKIE) or ""
    return bool(expected) and hmac.compare_digest(expected, submitted)


def finish(request: Request, response: Response) -> Response:
    """Set the double-submit cookie if this response handed out a new one."""
    new = getattr(request.state, "new_csrf", None)
    if new is not None:
        response.set_cookie(CSRF_COOKIE, new, httponly=True, samesite="strict", path="/")
    return response


def log_in(response: Response, secret: str) -> None:
    response.set_cookie(SESSION_COOKIE, secret, httponly=True, samesite="strict", path="/")


def log_out(response: Response) -> None:
    response.delete_cookie(SESSION_COOKIE, path="/", httponly=True, samesite="strict")

"""Who is looking at the dashboard, and forms that only the dashboard itself can submit.

A sheriff logs in by pasting an API token. The token itself never becomes the
cookie: the server starts a session bound to it (``perfsheriff.service.access.tokens``)
and the browser keeps only the session's random secret, in an ``HttpOnly``,
``SameSite=Strict`` cookie (scripts cannot read it, other sites cannot send it),
``Secure`` when the page was served over HTTPS (directly, or behind a proxy whose
``X-Forwarded-Proto`` uvicorn trusts). Logging out revokes the session on the
server, so a copy of the cookie is worth nothing afterwards; revoking the token
ends its sessions too. Every form carries a CSRF token bound to that cookie: for
a logged-in user it is a SHA-256 of the session secret (a forged page cannot
compute it without the secret, which it cannot read); before login, a random
value double-submitted in its own cookie and in the form. Both are compared in
constant time on the server.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import UTC, datetime

from fastapi import Request, Response

from perfsheriff.roles import Role
from perfsheriff.service.access.tokens import TokenInfo, end_session, session_user, start_session

SESSION_COOKIE = "psf_session"
CSRF_COOKIE = "psf_csrf"
CSRF_FIELD = "csrf"


def session_secret(request: Request) -> str | None:
    value = request.cookies.get(SESSION_COOKIE)
    return value if value else None


def current_user(request: Request) -> TokenInfo | None:
    """The token behind the session cookie, when the session and its token are still valid."""
    secret = session_secret(request)
    if secret is None:
        return None
    with request.app.state.engine.connect() as conn:
        return session_user(conn, secret, datetime.now(UTC))


def _secure(request: Request) -> bool:
    """Whether the page was served over HTTPS (uvicorn sets the scheme from a trusted proxy's header)."""
    return request.url.scheme == "https"


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
        response.set_cookie(CSRF_COOKIE, new, httponly=True, samesite="strict", path="/", secure=_secure(request))
    return response


def log_in(request: Request, response: Response, user: TokenInfo) -> None:
    """Start a server-side session for ``user`` and hand the browser its secret."""
    secret = start_session(request.app.state.engine, user, now=datetime.now(UTC))
    response.set_cookie(SESSION_COOKIE, secret, httponly=True, samesite="strict", path="/", secure=_secure(request))


def log_out(request: Request, response: Response) -> None:
    """Revoke the session on the server and drop its cookie."""
    secret = session_secret(request)
    if secret is not None:
        end_session(request.app.state.engine, secret, now=datetime.now(UTC))
    response.delete_cookie(SESSION_COOKIE, path="/", httponly=True, samesite="strict", secure=_secure(request))

"""API tokens: created once and shown once, stored as a SHA-256, checked in constant time.

A token is ``psf_`` followed by 43 URL-safe characters (256 random bits).
Because the secret has full entropy, a plain SHA-256 protects it as well as a
slow password hash would, and it lets a request find its token with one index
lookup. The stored digest is then compared with ``hmac.compare_digest``.

Roles are ordered: ``read`` < ``agent`` < ``sheriff`` < ``admin``; each may do
what the lower ones may. An ``agent`` token is bound to one machine: it may
upload results and claim jobs only for that machine.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from perfsheriff.errors import InputError, NotFoundError
from perfsheriff.model import Machine
from perfsheriff.roles import Role
from perfsheriff.store import records
from perfsheriff.store import tokens as stored

PREFIX = "psf_"


@dataclass(frozen=True, slots=True)
class TokenInfo:
    id: int
    name: str
    role: Role
    machine: str | None
    created_at: datetime
    expires_at: datetime | None
    revoked_at: datetime | None

    def active(self, now: datetime) -> bool:
        return self.revoked_at is None and (self.expires_at is None or self.expires_at > now)


@dataclass(frozen=True, slots=True)
class NewToken:
    info: TokenInfo
    secret: str  # shown once, never stored


def digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def create_token(
    engine: Engine,
    role: Role,
    *,
    now: datetime,
    name: str = "",
    machine: Machine | None = None,
    expires_at: datetime | None = None,
) -> NewToken:
    """Create a token; an ``agent`` token needs a machine, which is registered if new."""
    if role is Role.AGENT and machine is None:
        raise InputError("an agent token is bound to one machine: pass --machine NAME", source="--machine")
    if role is not Role.AGENT and machine is not None:
        raise InputError(f"only agent tokens are bound to a machine, not {role.value} tokens", source="--machine")
    if expires_at is not None and expires_at <= now:
        raise InputError("the expiry must lie in the future", source="--expires")
    secret = PREFIX + secrets.token_urlsafe(32)
    with engine.begin() as conn:
        machine_id = records.machine_id(conn, machine) if machine is not None else None
        token_id = stored.insert_token(
            conn,
            name=name,
            role=role.value,
            machine_id=machine_id,
            digest=digest(secret),
            now=now,
            expires_at=expires_at,
        )
    info = TokenInfo(token_id, name, role, machine.name if machine else None, now, expires_at, None)
    return NewToken(info, secret)


def _info(m: sa.RowMapping) -> TokenInfo:
    return TokenInfo(
        int(m["id"]),
        str(m["name"]),
        Role(m["role"]),
        m["machine"],
        m["created_at"],
        m["expires_at"],
        m["revoked_at"],
    )


def authenticate(conn: sa.Connection, secret: str, now: datetime) -> TokenInfo | None:
    """The active token whose secret this is, else None (unknown, revoked or expired look alike)."""
    if not secret.startswith(PREFIX) or len(secret) > 200:
        return None
    wanted = digest(secret)
    row = stored.token_by_digest(conn, wanted)
    if row is None or not hmac.compare_digest(str(row["hash"]), wanted):
        return None
    info = _info(row)
    return info if info.active(now) else None


def list_tokens(engine: Engine) -> list[TokenInfo]:
    with engine.connect() as conn:
        return [_info(row) for row in stored.all_tokens(conn)]


def revoke_token(engine: Engine, token_id: int, now: datetime) -> TokenInfo:
    with engine.begin() as conn:
        stored.revoke_token(conn, token_id, now)
        row = stored.token_by_id(conn, token_id)
    if row is None:
        raise NotFoundError(f"no token {token_id}: `perfsheriff token list` shows them")
    return _info(row)


# -- dashboard sessions ------------------------------------------------------------------------------------------

#: How long a dashboard login lasts (a session ends sooner when its token is revoked or expires).
SESSION_DAYS = 7
SESSION_PREFIX = "pss_"


def start_session(engine: Engine, token: TokenInfo, *, now: datetime) -> str:
    """A new session for ``token``: its secret (for the browser's cookie), of which only a SHA-256 is kept."""
    secret = SESSION_PREFIX + secrets.token_urlsafe(32)
    expires = now + timedelta(days=SESSION_DAYS)
    if token.expires_at is not None:
        expires = min(expires, token.expires_at)
    with engine.begin() as conn:
        stored.insert_session(conn, token_id=token.id, digest=digest(secret), now=now, expires_at=expires)
    return secret


def session_user(conn: sa.Connection, secret: str, now: datetime) -> TokenInfo | None:
    """The token behind an active session, else None (unknown, ended, expired, or its token no longer active)."""
    if not secret.startswith(SESSION_PREFIX) or len(secret) > 200:
        return None
    wanted = digest(secret)
    row = stored.session_by_digest(conn, wanted)
    if row is None or not hmac.compare_digest(str(row["session_hash"]), wanted):
        return None
    if row["session_expires"] <= now:
        return None
    info = _info(row)
    return info if info.active(now) else None


def end_session(engine: Engine, secret: str, *, now: datetime) -> None:
    """Revoke a session (logging out): its cookie is worth nothing from now on, whoever holds it."""
    with engine.begin() as conn:
        stored.revoke_session(conn, digest(secret), now)

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

import enum
import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from perfsheriff.errors import InputError, NotFoundError
from perfsheriff.model import Machine
from perfsheriff.store import records
from perfsheriff.store import schema as t

PREFIX = "psf_"


class Role(enum.StrEnum):
    READ = "read"
    AGENT = "agent"
    SHERIFF = "sheriff"
    ADMIN = "admin"

    @property
    def rank(self) -> int:
        return list(Role).index(self)

    def allows(self, needed: Role) -> bool:
        return self.rank >= needed.rank


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
        return self.revoked_at is None and (self.expires_at is None or _aware(self.expires_at) > now)


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
        token_id = conn.execute(
            t.tokens.insert()
            .values(
                name=name,
                role=role.value,
                machine_id=machine_id,
                hash=digest(secret),
                created_at=now,
                expires_at=expires_at,
            )
            .returning(t.tokens.c.id)
        ).scalar_one()
    info = TokenInfo(token_id, name, role, machine.name if machine else None, now, expires_at, None)
    return NewToken(info, secret)


def _select() -> sa.Select[tuple[object, ...]]:
    return sa.select(
        t.tokens.c.id,
        t.tokens.c.name,
        t.tokens.c.role,
        t.machines.c.name.label("machine"),
        t.tokens.c.created_at,
        t.tokens.c.expires_at,
        t.tokens.c.revoked_at,
        t.tokens.c.hash,
    ).select_from(t.tokens.outerjoin(t.machines, t.machines.c.id == t.tokens.c.machine_id))


def _info(row: sa.Row[tuple[object, ...]]) -> TokenInfo:
    m = row._mapping
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
    row = conn.execute(_select().where(t.tokens.c.hash == wanted)).first()
    if row is None or not hmac.compare_digest(str(row._mapping["hash"]), wanted):
        return None
    info = _info(row)
    return info if info.active(now) else None


def list_tokens(engine: Engine) -> list[TokenInfo]:
    with engine.connect() as conn:
        return [_info(row) for row in conn.execute(_select().order_by(t.tokens.c.id))]


def revoke_token(engine: Engine, token_id: int, now: datetime) -> TokenInfo:
    with engine.begin() as conn:
        conn.execute(
            t.tokens.update().where(t.tokens.c.id == token_id, t.tokens.c.revoked_at.is_(None)).values(revoked_at=now)
        )
        row = conn.execute(_select().where(t.tokens.c.id == token_id)).first()
    if row is None:
        raise NotFoundError(f"no token {token_id}: `perfsheriff token list` shows them")
    return _info(row)


def _aware(value: datetime) -> datetime:
    """SQLite returns naive datetimes for timezone-aware columns; they were written in UTC."""
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


# -- dashboard sessions ------------------------------------------------------------------------------------------

#: How long a dashboard login lasts (a session ends sooner when its token is revoked or expires).
SESSION_DAYS = 7
SESSION_PREFIX = "pss_"


def start_session(engine: Engine, token: TokenInfo, *, now: datetime) -> str:
    """A new session for ``token``: its secret (for the browser's cookie), of which only a SHA-256 is kept."""
    secret = SESSION_PREFIX + secrets.token_urlsafe(32)
    expires = now + timedelta(days=SESSION_DAYS)
    if token.expires_at is not None:
        expires = min(expires, _aware(token.expires_at))
    with engine.begin() as conn:
        conn.execute(
            t.sessions.insert().values(token_id=token.id, hash=digest(secret), created_at=now, expires_at=expires)
        )
    return secret


def session_user(conn: sa.Connection, secret: str, now: datetime) -> TokenInfo | None:
    """The token behind an active session, else None (unknown, ended, expired, or its token no longer active)."""
    if not secret.startswith(SESSION_PREFIX) or len(secret) > 200:
        return None
    wanted = digest(secret)
    row = conn.execute(
        _select()
        .add_columns(t.sessions.c.hash.label("session_hash"), t.sessions.c.expires_at.label("session_expires"))
        .join(t.sessions, t.sessions.c.token_id == t.tokens.c.id)
        .where(t.sessions.c.hash == wanted, t.sessions.c.revoked_at.is_(None))
    ).first()
    if row is None or not hmac.compare_digest(str(row._mapping["session_hash"]), wanted):
        return None
    if _aware(row._mapping["session_expires"]) <= now:
        return None
    info = _info(row)
    return info if info.active(now) else None


def end_session(engine: Engine, secret: str, *, now: datetime) -> None:
    """Revoke a session (logging out): its cookie is worth nothing from now on, whoever holds it."""
    with engine.begin() as conn:
        conn.execute(
            t.sessions.update()
            .where(t.sessions.c.hash == digest(secret), t.sessions.c.revoked_at.is_(None))
            .values(revoked_at=now)
        )

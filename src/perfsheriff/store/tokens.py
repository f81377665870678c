"""API tokens and dashboard sessions as stored: only SHA-256 digests of their secrets, never the secrets.

:mod:`perfsheriff.service.access.tokens` makes the secrets, checks them in constant time and decides what a role
may do; this module finds, adds and revokes the rows. A token's row comes with its machine's name.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa

from perfsheriff.store import schema as t


def _select() -> sa.Select[Any]:
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


def _one(conn: sa.Connection, query: sa.Select[Any]) -> sa.RowMapping | None:
    row = conn.execute(query).first()
    return None if row is None else row._mapping


def insert_token(
    conn: sa.Connection,
    *,
    name: str,
    role: str,
    machine_id: int | None,
    digest: str,
    now: datetime,
    expires_at: datetime | None,
) -> int:
    """Store a new token by the digest of its secret; returns its id."""
    return int(
        conn.execute(
            t.tokens.insert()
            .values(name=name, role=role, machine_id=machine_id, hash=digest, created_at=now, expires_at=expires_at)
            .returning(t.tokens.c.id)
        ).scalar_one()
    )


def token_by_digest(conn: sa.Connection, digest: str) -> sa.RowMapping | None:
    """The token row (id, name, role, machine, created_at, expires_at, revoked_at, hash) of this digest."""
    return _one(conn, _select().where(t.tokens.c.hash == digest))


def token_by_id(conn: sa.Connection, token_id: int) -> sa.RowMapping | None:
    return _one(conn, _select().where(t.tokens.c.id == token_id))


def all_tokens(conn: sa.Connection) -> list[sa.RowMapping]:
    return [row._mapping for row in conn.execute(_select().order_by(t.tokens.c.id))]


def revoke_token(conn: sa.Connection, token_id: int, now: datetime) -> None:
    """Revoke a token now, unless it was revoked before (its first revocation stays)."""
    conn.execute(
        t.tokens.update().where(t.tokens.c.id == token_id, t.tokens.c.revoked_at.is_(None)).values(revoked_at=now)
    )


def insert_session(conn: sa.Connection, *, token_id: int, digest: str, now: datetime, expires_at: datetime) -> None:
    conn.execute(t.sessions.insert().values(token_id=token_id, hash=digest, created_at=now, expires_at=expires_at))


def session_by_digest(conn: sa.Connection, digest: str) -> sa.RowMapping | None:
    """The token row of a session not revoked, with the session's ``session_hash`` and ``session_expires``."""
    return _one(
        conn,
        _select()
        .add_columns(t.sessions.c.hash.label("session_hash"), t.sessions.c.expires_at.label("session_expires"))
        .join(t.sessions, t.sessions.c.token_id == t.tokens.c.id)
        .where(t.sessions.c.hash == digest, t.sessions.c.revoked_at.is_(None)),
    )


def revoke_session(conn: sa.Connection, digest: str, now: datetime) -> None:
    conn.execute(
        t.sessions.update().where(t.sessions.c.hash == digest, t.sessions.c.revoked_at.is_(None)).values(revoked_at=now)
    )

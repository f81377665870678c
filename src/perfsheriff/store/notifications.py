"""The notification log: what was sent to a culprit's author, once per summary and channel.

A row per de-duplication key (``perfsheriff.notify.dispatch.dedup_key``: a
summary and a channel). The key is unique, so a second attempt for the same
key updates its row: a failure that later succeeds ends ``sent``, and a
message already ``sent`` is never sent again (:func:`sent_keys`). A failure
stays visible with its reason beside the summary.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

import sqlalchemy as sa

from perfsheriff.store import schema as t

Outcome = Literal["sent", "failed", "suppressed"]


def sent_keys(conn: sa.Connection, summary_id: int) -> set[str]:
    """The keys of the summary's messages that went out: these must not be sent again."""
    n = t.notifications
    query = sa.select(n.c.key).where(n.c.summary_id == summary_id, n.c.outcome == "sent")
    return {str(key) for key in conn.execute(query).scalars()}


def record(  # noqa: PLR0917 - the signature the notification wiring is written against
    conn: sa.Connection,
    summary_id: int,
    channel: str,
    key: str,
    outcome: Outcome,
    attempts: int,
    reason: str | None,
    now: datetime,
) -> None:
    """Record the outcome of sending ``key``: a new row, or the update of the key's earlier attempt.

    A ``sent`` row is never downgraded: a late failure report of a message
    already delivered keeps it ``sent``. The insert runs in a savepoint, so
    two writers recording the same key at once meet at its unique index and
    the loser updates instead.
    """
    if outcome not in ("sent", "failed", "suppressed"):
        raise ValueError(f"unknown notification outcome {outcome!r}")
    n = t.notifications
    values = {"outcome": outcome, "attempts": attempts, "reason": reason, "created_at": now}
    row = {"summary_id": summary_id, "channel": channel, "key": key, **values}
    try:
        with conn.begin_nested():
            conn.execute(sa.insert(n).values(**row))
        return
    except sa.exc.IntegrityError:
        pass
    updated = conn.execute(sa.update(n).where(n.c.key == key, n.c.outcome != "sent").values(**values))
    if updated.rowcount == 0 and conn.execute(sa.select(n.c.id).where(n.c.key == key)).first() is None:
        raise LookupError(f"no summary {summary_id}: cannot record a notification for it")


def deliveries(conn: sa.Connection, summary_id: int) -> list[tuple[str, str, int, str | None, datetime]]:
    """(channel, outcome, attempts, reason, when) of each of the summary's deliveries, by channel."""
    n = t.notifications
    query = (
        sa.select(n.c.channel, n.c.outcome, n.c.attempts, n.c.reason, n.c.created_at)
        .where(n.c.summary_id == summary_id)
        .order_by(n.c.channel)
    )
    return [(str(c), str(o), int(a), r, w) for c, o, a, r, w in conn.execute(query)]


def pending(conn: sa.Connection, project_id: int) -> list[int]:
    """Summaries of the project with a delivery that failed or was postponed: to try again."""
    n, s = t.notifications, t.alert_summaries
    query = (
        sa.select(n.c.summary_id)
        .distinct()
        .join(s, s.c.id == n.c.summary_id)
        .where(s.c.project_id == project_id, n.c.outcome.in_(["failed", "suppressed"]))
        .order_by(n.c.summary_id)
    )
    return [int(sid) for sid in conn.execute(query).scalars()]


def attempts(conn: sa.Connection, summary_id: int) -> dict[str, tuple[str, int]]:
    """key -> (outcome, attempts so far) of the summary's notification log."""
    n = t.notifications
    query = sa.select(n.c.key, n.c.outcome, n.c.attempts).where(n.c.summary_id == summary_id)
    return {str(key): (str(outcome), int(tries)) for key, outcome, tries in conn.execute(query)}


def deliveries_since(conn: sa.Connection, project_id: int, start: datetime) -> list[tuple[str, datetime]]:
    """(channel, when) of the project's deliveries made (sent or failed) since ``start``, oldest first."""
    n, s = t.notifications, t.alert_summaries
    query = (
        sa.select(n.c.channel, n.c.created_at)
        .join(s, s.c.id == n.c.summary_id)
        .where(s.c.project_id == project_id, n.c.outcome.in_(["sent", "failed"]), n.c.created_at >= start)
        .order_by(n.c.created_at, n.c.id)
    )
    return [(str(channel), moment) for channel, moment in conn.execute(query)]

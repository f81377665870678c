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

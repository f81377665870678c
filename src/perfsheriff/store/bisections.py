"""Bisections: one row per alert, written as the search goes and read back as :class:`~perfsheriff.alerts.Bisection`."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from perfsheriff.alerts import Bisection, BisectionProbe, BisectionState
from perfsheriff.store import schema as t


def save(conn: sa.Connection, bisection: Bisection, *, now: datetime) -> None:
    """Store ``bisection`` as its alert's bisection, replacing what was there (a new bisection starts afresh)."""
    b = t.bisections
    values: dict[str, Any] = {
        "good": bisection.good,
        "bad": bisection.bad,
        "state": bisection.state.value,
        "range_size": bisection.range_size,
        "runs_spent": bisection.runs_spent,
        "culprits": list(bisection.culprits),
        "confidence": bisection.confidence,
        "reason": bisection.reason,
        "probes": [
            {"commit": p.commit, "verdict": p.verdict, "n_samples": p.n_samples, "reason": p.reason}
            for p in bisection.probes
        ],
        "reused_from_alert_id": bisection.reused_from,
        "updated_at": now,
    }
    done = conn.execute(sa.update(b).where(b.c.alert_id == bisection.alert_id).values(**values)).rowcount
    if not done:
        conn.execute(sa.insert(b).values(alert_id=bisection.alert_id, started_at=now, **values))


def load(
    conn: sa.Connection, *, alert_ids: Sequence[int] | None = None, state: BisectionState | None = None
) -> dict[int, Bisection]:
    """Alert id -> its bisection, for the alerts of ``alert_ids`` (all when None) that have one, in ``state``."""
    b = t.bisections
    query = sa.select(b).order_by(b.c.alert_id)
    if alert_ids is not None:
        query = query.where(b.c.alert_id.in_(list(alert_ids)))
    if state is not None:
        query = query.where(b.c.state == state.value)
    return {int(row.alert_id): _bisection(row) for row in conn.execute(query)}


def _bisection(row: sa.Row[Any]) -> Bisection:
    probes = tuple(
        BisectionProbe(str(p["commit"]), str(p["verdict"]), int(p["n_samples"]), str(p["reason"])) for p in row.probes
    )
    return Bisection(
        int(row.alert_id),
        row.good,
        row.bad,
        BisectionState(row.state),
        int(row.range_size),
        int(row.runs_spent),
        tuple(str(s) for s in row.culprits),
        row.confidence,
        row.reason,
        probes,
        None if row.reused_from_alert_id is None else int(row.reused_from_alert_id),
    )

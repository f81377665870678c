"""Health and gauges of the running service, for /health and /metrics."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlalchemy.exc import SQLAlchemyError

from perfsheriff.errors import StoreError
from perfsheriff.service import jobs
from perfsheriff.store import schema as t


def database_ok(engine: Engine) -> bool:
    try:
        with engine.connect() as conn:
            conn.execute(sa.select(1))
    except (SQLAlchemyError, StoreError):
        return False
    return True


def gauges(engine: Engine) -> dict[str, dict[tuple[str, ...], float]]:
    """Current counts: jobs per class and state, runs per status, alerts per kind."""
    with engine.connect() as conn:
        runs = conn.execute(sa.select(t.runs.c.status, sa.func.count()).group_by(t.runs.c.status)).all()
        alerts = conn.execute(sa.select(t.alerts.c.kind, sa.func.count()).group_by(t.alerts.c.kind)).all()
        job_counts = jobs.counts(conn)
    return {
        "jobs": {key: float(n) for key, n in job_counts.items()},
        "runs": {(str(status),): float(n) for status, n in runs},
        "alerts": {(str(kind),): float(n) for kind, n in alerts},
    }

"""Health and gauges of the running service, for /health and /metrics."""

from __future__ import annotations

from sqlalchemy.engine import Engine

from perfsheriff.store import alerts, database, jobs, runsinfo


def database_ok(engine: Engine) -> bool:
    return database.reachable(engine)


def gauges(engine: Engine) -> dict[str, dict[tuple[str, ...], float]]:
    """Current counts: jobs per class and state, runs per status, alerts per kind."""
    with engine.connect() as conn:
        runs = runsinfo.status_counts(conn)
        kinds = alerts.kind_counts(conn)
        job_counts = jobs.counts(conn)
    return {
        "jobs": {key: float(n) for key, n in job_counts.items()},
        "runs": {(status,): float(n) for status, n in runs.items()},
        "alerts": {(kind,): float(n) for kind, n in kinds.items()},
    }

"""How well the sheriffing works, per project, suite, benchmark and machine class over a period.

Reads the alerts of the period as :class:`~perfsheriff.triage.metrics.AlertOutcome` values
(``store.sheriffing_stats``) and lets the pure rules of :mod:`perfsheriff.triage.metrics` count; the CLI,
the API and the dashboard show the same JSON-ready answer.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import Connection

from perfsheriff.errors import NotFoundError
from perfsheriff.service.sheriffing.triage import SYSTEM
from perfsheriff.store import sheriffing_stats as store
from perfsheriff.triage import metrics

#: The notification outcomes reported (``store.notifications.Outcome``).
OUTCOMES = ("sent", "failed", "suppressed")


def sheriffing_stats(
    conn: Connection, *, since: str = "30d", until: str | None = None, project: str | None = None, now: datetime
) -> dict[str, Any]:
    """The figures of each project (or of ``project``) over [since, until); bad input is an InputError, an
    unknown project a NotFoundError."""
    start, end = metrics.period(since, until, now)
    if project is not None and not store.project_exists(conn, project):
        raise NotFoundError(f"no project named {project!r}")
    outcomes = store.alert_outcomes(conn, start, end, system=SYSTEM, project=project)
    sent = store.notification_outcomes(conn, start, end, project=project)
    names = sorted({o.project for o in outcomes} | {name for name, _, _ in sent} | ({project} if project else set()))
    projects = [_project(name, [o for o in outcomes if o.project == name], sent) for name in names]
    return {"since": start.isoformat(), "until": end.isoformat(), "projects": projects}


def _project(name: str, outcomes: list[metrics.AlertOutcome], sent: Iterable[tuple[str, str, int]]) -> dict[str, Any]:
    counts = dict.fromkeys(OUTCOMES, 0)
    counts |= {outcome: n for project, outcome, n in sent if project == name}
    return {
        "project": name,
        "overall": dataclasses.asdict(metrics.figures(outcomes)),
        "by_suite": _named(metrics.breakdown(outcomes, lambda o: o.suite)),
        "by_benchmark": _named(metrics.breakdown(outcomes, lambda o: o.benchmark)),
        "by_machine_class": _named(metrics.breakdown(outcomes, lambda o: o.machine_class)),
        "notifications": counts,
        "noisiest": [{"benchmark": b, "invalid": n} for b, n in metrics.noisiest(outcomes)],
    }


def _named(groups: dict[str, metrics.Figures]) -> list[dict[str, Any]]:
    return [{"name": name, **dataclasses.asdict(found)} for name, found in groups.items()]

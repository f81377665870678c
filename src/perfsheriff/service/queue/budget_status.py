"""What the machine-time budget did today, per machine class: what automation spent, what waits and why.

Read by ``perfsheriff status``, ``GET /api/v1/status`` and the dashboard's overview. The budget itself is a
setting (``run_budgets``) and its rule is :class:`perfsheriff.scheduling.RunBudget`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime

import sqlalchemy as sa

from perfsheriff.model import JobReason
from perfsheriff.scheduling import BUDGET_WINDOW, BUDGETED, budget_for
from perfsheriff.store import jobs as queue


@dataclass(frozen=True, slots=True)
class Waiting:
    """The queued jobs of one reason on a class: how many, since when, and why they wait (or ``""``)."""

    reason: JobReason
    jobs: int
    oldest: datetime
    why: str = ""


@dataclass(frozen=True, slots=True)
class ClassBudget:
    """One machine class: its budget (runs a day, None for no limit), the runs automation claimed in the last
    day, when budgeted work may be claimed again, and its queue by reason (routine runs first)."""

    machine_class: str
    runs_per_day: int | None
    spent: int
    frees_at: datetime | None
    queued: list[Waiting] = field(default_factory=list)

    @property
    def held_back(self) -> int:
        """Queued jobs waiting for the budget."""
        return sum(w.jobs for w in self.queued if w.why)


def budget_status(conn: sa.Connection, budgets: Mapping[str, int], *, now: datetime) -> list[ClassBudget]:
    """Every machine class with a budget, queued work or budgeted claims in the last day, by name."""
    claims = queue.budgeted_claims(conn, now - BUDGET_WINDOW)
    queued = queue.queued_by_reason(conn)
    classes = set(claims) | {c for c, _ in queued} | {c for c in budgets if c != "*"}
    found = []
    for machine_class in sorted(classes):
        budget = budget_for(budgets, machine_class)
        spent = sum(runs for _, runs in claims.get(machine_class, []))
        frees = None if budget is None else budget.frees_at(claims.get(machine_class, []), now)
        spent_out = budget is not None and frees is not None and frees > now
        waiting = []
        for reason in JobReason:  # priority order
            if (machine_class, reason.value) not in queued:
                continue
            count, oldest = queued[(machine_class, reason.value)]
            why = ""
            if spent_out and reason in BUDGETED and budget is not None and frees is not None:
                why = f"the budget of {budget.runs_per_day} runs a day is spent until {frees:%Y-%m-%d %H:%M} UTC"
            waiting.append(Waiting(reason, count, oldest, why))
        found.append(ClassBudget(machine_class, None if budget is None else budget.runs_per_day, spent, frees, waiting))
    return found


def as_json(status: list[ClassBudget]) -> list[dict[str, object]]:
    return [
        {
            "machine_class": c.machine_class,
            "runs_per_day": c.runs_per_day,
            "spent": c.spent,
            "frees_at": None if c.frees_at is None else c.frees_at.isoformat(),
            "held_back": c.held_back,
            "queued": [
                {"reason": w.reason.value, "jobs": w.jobs, "oldest": w.oldest.isoformat(), "why": w.why or None}
                for w in c.queued
            ],
        }
        for c in status
    ]

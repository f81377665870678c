"""``perfsheriff status``: the machine-time budget per machine class: what automation spent, what waits, why."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import typer
from rich.table import Table

from perfsheriff.cli.context import DbOption, JsonOption, console, open_store, plain, print_table, settings, user_errors
from perfsheriff.service.queue import budget_status


def status(db: DbOption = None, as_json: JsonOption = False) -> None:
    """The machine-time budget per machine class: runs automation took today, what is queued, what waits and why.

    Per class: the runs automation (all but routine runs) claimed in the last 24 hours, the jobs queued by
    reason (routine runs first), and which of them wait for the budget, until when. Budgets are the
    run_budgets setting (PERFSHERIFF_RUN_BUDGETS); without one a class has no limit.
    """
    with user_errors(), open_store(db) as engine, engine.connect() as conn:
        budgets = settings(db).run_budgets
        found = budget_status.budget_status(conn, budgets, now=datetime.now(UTC))
    if as_json:
        console.print_json(json.dumps(budget_status.as_json(found)))
        return
    if not found:
        console.print("no queued jobs, no budgets set, and no automation runs in the last day", highlight=False)
        return
    table = Table(title="Machine time: runs automation took in the last day, and the queue")
    for column, justify in (("machine class", "left"), ("budget/day", "right"), ("spent", "right")):
        table.add_column(column, justify=justify, overflow="fold")  # type: ignore[arg-type]
    table.add_column("queued (routine first)", overflow="fold")
    table.add_column("waiting for the budget", overflow="fold")
    for entry in found:
        queued = ", ".join(f"{w.reason.value} {w.jobs}" for w in entry.queued) or "none"
        held = next((w.why for w in entry.queued if w.why), "")
        table.add_row(
            plain(entry.machine_class),
            "no limit" if entry.runs_per_day is None else str(entry.runs_per_day),
            str(entry.spent),
            queued,
            f"{entry.held_back} jobs: {held}" if held else "-",
        )
    print_table(table)


def register(app: typer.Typer) -> None:
    app.command()(status)

"""``perfsheriff stats``: how well the sheriffing works, per project, suite, benchmark and machine class."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Annotated, Any

import typer
from rich.table import Table

from perfsheriff.cli.context import DbOption, JsonOption, console, open_store, plain, print_table, user_errors
from perfsheriff.service.sheriffing import stats as stats_service

_COLUMNS = (
    "alerts",
    "regr/impr/drift",
    "not repr.",
    "valid",
    "invalid",
    "precision",
    "median h to triage",
    "median h to culprit",
    "runs",
)


def stats(
    since: Annotated[str, typer.Option(help="Start of the period: days before now (30d) or a date (2026-01-01).")] = (
        "30d"
    ),
    until: Annotated[str | None, typer.Option(help="End of the period (default: now), as --since takes it.")] = None,
    project: Annotated[str | None, typer.Option(help="Only this project.")] = None,
    db: DbOption = None,
    as_json: JsonOption = False,
) -> None:
    """How well the sheriffing works: alerts, triage outcomes, precision, delays, runs and notifications.

    Per project, and per suite, benchmark and machine class, for the alerts raised in the period.
    """
    with user_errors(), open_store(db) as engine, engine.connect() as conn:
        found = stats_service.sheriffing_stats(conn, since=since, until=until, project=project, now=datetime.now(UTC))
    if as_json:
        console.print_json(json.dumps(found))
        return
    console.print(f"from {found['since']} to {found['until']}", highlight=False)
    if not found["projects"]:
        console.print("no alerts and no notifications in this period", highlight=False)
    for entry in found["projects"]:
        print_project(entry)


def print_project(entry: dict[str, Any]) -> None:
    """One table per breakdown, the project's total first; then notifications and the noisiest benchmarks."""
    name = plain(entry["project"])
    rows = [{"name": "all", **entry["overall"]}]
    print_figures(f"{name}: alerts and their triage", "project", rows)
    for key, label in (("by_suite", "suite"), ("by_benchmark", "benchmark"), ("by_machine_class", "machine class")):
        if entry[key]:
            print_figures(f"{name} by {label}", label, entry[key])
    states = ", ".join(f"{state} {n}" for state, n in entry["overall"]["states"].items()) or "none"
    notes = entry["notifications"]
    console.print(f"states: {states}", highlight=False)
    console.print(f"notifications: {notes['sent']} sent, {notes['failed']} failed", highlight=False)
    if entry["noisiest"]:
        noisy = ", ".join(f"{plain(n['benchmark'])} ({n['invalid']})" for n in entry["noisiest"])
        console.print(f"most invalid alerts: {noisy}", highlight=False)


def print_figures(title: str, label: str, rows: list[dict[str, Any]]) -> None:
    table = Table(title=title)
    table.add_column(label, overflow="fold")
    for column in _COLUMNS:
        table.add_column(column, justify="right")
    for row in rows:
        kinds = "/".join(str(row["kinds"].get(k, 0)) for k in ("regression", "improvement", "drift"))
        table.add_row(
            plain(row["name"]),
            str(row["alerts"]),
            kinds,
            str(row["not_reproduced"]),
            str(row["valid"]),
            str(row["invalid"]),
            _number(row["precision"], "{:.0%}"),
            _number(row["median_hours_to_triage"], "{:.1f}"),
            _number(row["median_hours_to_culprit"], "{:.1f}"),
            str(row["confirmation_runs"] + row["bisection_runs"]),
        )
    print_table(table)


def _number(value: float | None, shape: str) -> str:
    return "-" if value is None else shape.format(value)


def register(app: typer.Typer) -> None:
    app.command()(stats)

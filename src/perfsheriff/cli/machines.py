"""``perfsheriff machine``: a machine class's generations (upgrades), their baseline runs and each series' factor."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from perfsheriff import projectfile
from perfsheriff.cli.context import DbOption, JsonOption, console, open_store, plain, print_table, user_errors
from perfsheriff.errors import InputError
from perfsheriff.service.generations import upgrades
from perfsheriff.service.generations.factors import series_factors
from perfsheriff.store import generations as generation_store
from perfsheriff.store import queries
from perfsheriff.triage.metrics import parse_moment

app = typer.Typer(
    help="Machine classes across upgrades: record a new generation, its baseline runs, and each series' factor.",
    no_args_is_help=True,
)


@app.command("upgrade")
def upgrade(
    machine_class: Annotated[str, typer.Argument(metavar="CLASS", help="The machine class that was upgraded.")],
    from_label: Annotated[
        str | None, typer.Option("--from", help="Label of the class's current generation (named at the first upgrade).")
    ] = None,
    to_label: Annotated[str | None, typer.Option("--to", help="Label of the new generation.")] = None,
    baseline_revisions: Annotated[
        int,
        typer.Option(
            "--baseline-revisions",
            help=f"Revisions of the old generation to measure again on the new one (at least "
            f"{upgrades.MIN_BASELINE_REVISIONS}).",
        ),
    ] = upgrades.DEFAULT_BASELINE_REVISIONS,
    at: Annotated[
        str | None,
        typer.Option(
            "--at",
            metavar="TIME",
            help="When the new generation starts (ISO date or time, UTC unless it says). Default: the class's "
            "first run on a new setup since the current generation, else now.",
        ),
    ] = None,
    undo: Annotated[
        bool, typer.Option("--undo", help="Remove the newest generation and its baseline jobs not yet taken.")
    ] = False,
    config: Annotated[
        Path, typer.Option("--config", help="The perfsheriff.toml whose benchmarks the baseline jobs run.")
    ] = Path(projectfile.DEFAULT_FILE_NAME),
    db: DbOption = None,
) -> None:
    """Record that a machine class was upgraded, and queue baseline runs of old revisions on the new generation.

    Runs of the class recorded at or after the boundary belong to the new generation. The baseline jobs (reason
    baseline, the lowest priority, within the class's run budget) measure --baseline-revisions revisions the old
    generation measured, spread over its recent history, for every benchmark of the class; each series' factor
    new/old then comes from them (perfsheriff machine generations).
    """
    now = datetime.now(UTC)
    with user_errors():
        if undo:
            if from_label is not None or to_label is not None or at is not None:
                raise InputError("--undo takes only the machine class", where="--undo")
            with open_store(db) as engine:
                undone = upgrades.undo_upgrade(engine, machine_class)
            console.print(
                f"removed generation {plain(undone.label)} of {plain(undone.machine_class)} (back to "
                f"{plain(undone.previous_label)}); {undone.jobs_removed} queued baseline jobs removed",
                highlight=False,
            )
            return
        if from_label is None or to_label is None:
            raise InputError("an upgrade needs --from OLD and --to NEW (or --undo)", where="--from/--to")
        moment = None if at is None else parse_moment(at, now, where="--at")
        upgrades.check_baseline_revisions(baseline_revisions)  # before the project file is read
        project_file = projectfile.load(config)
        with open_store(db) as engine:
            done = upgrades.record_upgrade(
                engine,
                project_file,
                machine_class,
                from_label=from_label,
                to_label=to_label,
                baseline_revisions=baseline_revisions,
                at=moment,
                now=now,
            )
    console.print(
        f"{plain(done.machine_class)}: generation {done.ordinal} {plain(done.label)} (after "
        f"{plain(done.previous_label)}) starts at {done.starts_at:%Y-%m-%d %H:%M:%S} UTC "
        f"({plain(done.boundary_from)}); "
        f"{done.jobs_queued} baseline jobs queued over {done.revisions_chosen} revisions",
        highlight=False,
    )
    if done.revisions_chosen < done.baseline_revisions:
        console.print(
            f"note: the old generation measured only {done.revisions_chosen} revisions per branch of the "
            f"{done.baseline_revisions} asked; factors may stay too uncertain",
            highlight=False,
        )
    if done.skipped:
        console.print(f"not queued (no such benchmark in {config}): {plain(', '.join(done.skipped))}", highlight=False)


@app.command("generations")
def generations(
    machine_class: Annotated[
        str | None, typer.Argument(metavar="[CLASS]", help="Only this machine class.", show_default=False)
    ] = None,
    db: DbOption = None,
    as_json: JsonOption = False,
) -> None:
    """List machine generations and, per series, the factor new/old with its interval or why there is none yet.

    Also lists the changes of hardware or system (CPU model, CPU count, architecture, OS) the class's runs
    recorded that no generation covers yet, each with the command that would record it.
    """
    with user_errors(), open_store(db) as engine, engine.connect() as conn:
        rows = generation_store.generations(conn, machine_class)
        if machine_class is not None and not rows and not generation_store.class_known(conn, machine_class):
            raise InputError(f"no machine of class {machine_class!r} is registered and no series was measured on it")
        classes = sorted({str(r["machine_class"]) for r in rows})
        found = []
        for name in classes:
            for series in queries.list_series(conn, machine=name, count_revisions=False):
                for factor in series_factors(conn, series.id, name):
                    found.append((series, factor))
        unrecorded = upgrades.unrecorded(conn, machine_class)
    if as_json:
        data = {
            "generations": [
                {
                    "machine_class": r["machine_class"],
                    "ordinal": r["ordinal"],
                    "label": r["label"],
                    "previous": r["previous_label"],
                    "starts_at": r["starts_at"].isoformat(),
                    "baseline_revisions": r["baseline_revisions"],
                    "created_at": r["created_at"].isoformat(),
                }
                for r in rows
            ],
            "series": [{"series": s.id, "benchmark": s.benchmark, "metric": s.metric, **f.as_json()} for s, f in found],
            "unrecorded": [
                {
                    "machine_class": name,
                    "machine": change.machine,
                    "kind": change.kind,
                    "at": change.at.isoformat(),
                    "changed": {key: {"from": old, "to": new} for key, old, new in change.changed},
                    "also_changed": {key: {"from": old, "to": new} for key, old, new in change.also},
                    "command": command,
                }
                for name, change, command in unrecorded
            ],
        }
        console.print_json(json.dumps(data))
        return
    _print_unrecorded(unrecorded)
    if not rows:
        console.print("no machine upgrades recorded (perfsheriff machine upgrade CLASS --from OLD --to NEW)")
        return
    table = Table(title="Machine generations")
    for column in ("machine class", "generation", "after", "starts at (UTC)", "baseline asked"):
        table.add_column(column, overflow="fold")
    for r in rows:
        table.add_row(
            plain(r["machine_class"]),
            f"{r['ordinal']} {plain(r['label'])}",
            plain(r["previous_label"]),
            f"{r['starts_at']:%Y-%m-%d %H:%M:%S}",
            str(r["baseline_revisions"]),
        )
    print_table(table)
    if not found:
        return
    factors = Table(title="Factor new/old per series")
    for column in ("series", "benchmark", "generation", "factor"):
        factors.add_column(column, overflow="fold")
    for series, factor in found:
        factors.add_row(
            series.id, plain(f"{series.benchmark} {series.metric}"), plain(factor.label), plain(factor.describe())
        )
    print_table(factors)


def _print_unrecorded(unrecorded: list[tuple[str, upgrades.SetupChange, str]]) -> None:
    """The setup changes no recorded generation covers, each with the command that would record it."""
    for name, change, command in unrecorded:
        console.print(f"not recorded as a generation of {plain(name)}: {plain(change.describe())}", highlight=False)
        console.print(f"  record it: {plain(command)}", highlight=False, soft_wrap=True)


def register(parent: typer.Typer) -> None:
    parent.add_typer(app, name="machine")

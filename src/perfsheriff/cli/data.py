"""Commands that put results in and read series out: ``ingest``, ``series``, ``show``."""

from __future__ import annotations

import contextlib
import dataclasses
import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from perfsheriff.cli.context import (
    DbOption,
    JsonOption,
    console,
    database_url,
    err_console,
    open_store,
    plain,
    print_table,
    settings,
    user_errors,
)
from perfsheriff.model import Configuration, Machine, format_value
from perfsheriff.service.views import series as series_service

if TYPE_CHECKING:
    import sqlite3

    import sqlalchemy as sa

    from perfsheriff.service.intake import ingest as ingest_service

ConfigOption = Annotated[
    list[str] | None, typer.Option("--config", "-c", help="Configuration key=value (repeatable): platform, backend...")
]


def ingest(
    files: Annotated[list[Path], typer.Argument(help="Result files (or Criterion result directories).")],
    repo: Annotated[Path, typer.Option(help="The git repository the results belong to.")],
    revision: Annotated[str, typer.Option(help="Revision measured: any git expression (HEAD~3, a short sha, a tag).")],
    machine: Annotated[str, typer.Option(help="Name of the machine the benchmarks ran on.")],
    config: ConfigOption = None,
    branch: Annotated[
        str | None, typer.Option(help="Branch whose history orders the results (default: checked out).")
    ] = None,
    project: Annotated[str | None, typer.Option(help="Project name (default: the repository folder's name).")] = None,
    fmt: Annotated[
        str | None, typer.Option("--format", help="Result format; detected from the content by default.")
    ] = None,
    db: DbOption = None,
    as_json: JsonOption = False,
) -> None:
    """Store the results of one revision on one machine: one run per file."""
    from rich.progress import Progress

    from perfsheriff.gitrepo import GitRepo
    from perfsheriff.service.intake import ingest as ingest_service  # parsers and git: not for `series`, `show`

    with user_errors():
        limit = settings(db).max_result_bytes
        target_machine = Machine(machine)
        configuration = Configuration.parse(config or [])
        git = GitRepo(repo)
        with open_store(db) as engine, Progress(console=err_console, transient=True, disable=as_json) as progress:
            target = ingest_service.prepare_target(
                engine,
                git,
                revision=revision,
                machine=target_machine,
                configuration=configuration,
                branch=branch,
                project=project,
            )
            task = progress.add_task("ingesting", total=len(files))
            outcome = ingest_service.ingest_files(
                engine,
                target,
                files,
                fmt=fmt,
                limit=limit,
                now=datetime.now(UTC),
                on_file=lambda _: progress.advance(task),
            )
    if as_json:
        console.print_json(json.dumps([dataclasses.asdict(item) for item in outcome.ingested]))
    else:
        _print_ingested(target, outcome.ingested)
    for error in outcome.errors:
        err_console.print(f"[bold red]error:[/] {plain(error)}", highlight=False, soft_wrap=True)
    if outcome.errors:
        raise typer.Exit(1)


def _print_ingested(target: ingest_service.Target, items: list[ingest_service.Ingested]) -> None:
    if not items:
        return
    table = Table(title=plain(f"{target.project} {target.branch} @ {target.revision[:12]} on {target.machine.name}"))
    for column in ("file", "format", "series", "samples", "stored"):
        table.add_column(column)
    for item in items:
        stored = "already stored" if item.duplicate else f"run {item.run_id}"
        table.add_row(plain(item.source), item.format, str(item.series), str(item.samples), stored)
    print_table(table)


def series(
    project: Annotated[str | None, typer.Option(help="Only this project.")] = None,
    branch: Annotated[str | None, typer.Option(help="Only this branch.")] = None,
    benchmark: Annotated[str | None, typer.Option(help="Only benchmarks whose name contains this.")] = None,
    machine: Annotated[str | None, typer.Option(help="Only this machine class.")] = None,
    metric: Annotated[str | None, typer.Option(help="Only this metric.")] = None,
    db: DbOption = None,
    as_json: JsonOption = False,
) -> None:
    """List the stored series."""
    with user_errors(), _reading(db) as conn:
        rows = series_service.list_series(
            conn, project=project, branch=branch, benchmark=benchmark, machine=machine, metric=metric
        )
    if as_json:
        payload = [{**dataclasses.asdict(row), "machine": row.machine_class} for row in rows]
        console.print_json(json.dumps(payload))
        return
    print_series_table(rows)


def print_series_table(rows: list[series_service.SeriesRow]) -> None:
    table = Table(title=f"{len(rows)} series")
    table.add_column("id", no_wrap=True)
    for column in ("benchmark", "metric", "unit", "machine", "configuration", "branch"):
        table.add_column(column, overflow="fold")
    table.add_column("revisions", justify="right")
    for row in rows:
        table.add_row(
            row.id,
            *(plain(text) for text in (row.benchmark, row.metric, row.unit, row.machine_class, row.configuration)),
            plain(row.branch),
            str(row.n_revisions),
        )
    print_table(table)


def show(
    series_id: Annotated[str, typer.Argument(metavar="SERIES", help="Series id, or a unique prefix of it.")],
    db: DbOption = None,
    as_json: JsonOption = False,
    raw: Annotated[
        bool, typer.Option("--raw", help="Values as measured, not rescaled across a machine upgrade.")
    ] = False,
) -> None:
    """Show one series along its branch: per revision, samples, median and spread.

    Across a recorded upgrade of its machine class (perfsheriff machine upgrade) the old generation's values are
    shown in the newest generation's units once the series' factor is known; --raw shows them as measured.
    """
    with user_errors():
        try:
            with _reading(db) as conn:
                detail = series_service.series_detail(conn, series_id, raw=raw)
        except series_service.NeedsStore:
            with open_store(db) as engine, engine.connect() as store_conn:
                detail = series_service.series_detail(store_conn, series_id, raw=raw)
    row = detail.series
    if as_json:
        payload = {
            **dataclasses.asdict(row),
            "machine": row.machine_class,
            "points": [dataclasses.asdict(p) for p in detail.points],
            "sensitivity": {**dataclasses.asdict(detail.sensitivity), "rule": detail.sensitivity.describe()},
            "rescaled": detail.rescaled,
            "generations": [g.as_json() for g in detail.generations],
        }
        console.print_json(json.dumps(payload))
        return
    print_series_detail(detail)


def print_series_detail(detail: series_service.SeriesDetail) -> None:
    row = detail.series
    direction = row.direction.replace("_", " ")
    table = Table(title=plain(f"{row.benchmark} ({row.metric}, {direction}) on {row.machine_class} [{row.id}]"))
    table.add_column("revision", no_wrap=True)
    table.add_column("author", no_wrap=True, max_width=16, overflow="ellipsis")
    table.add_column("subject", no_wrap=True, max_width=36, overflow="ellipsis")
    for column in ("n", "median", "±MAD", "min", "max"):
        table.add_column(column, justify="right", no_wrap=True)
    for p in detail.points:
        table.add_row(
            p.revision[:10],
            plain(p.author),
            plain(p.subject),
            str(p.n_samples),
            format_value(p.median, row.unit),
            format_value(p.mad, row.unit),
            format_value(p.min, row.unit),
            format_value(p.max, row.unit),
        )
    print_table(table)
    for generation in detail.generations:
        where = "not yet" if generation.boundary is None else f"from position {generation.boundary}"
        console.print(
            plain(
                f"machine upgrade of {row.machine_class} to {generation.label} ({where}): factor "
                f"{generation.describe()}"
            ),
            highlight=False,
        )
    if detail.rescaled:
        console.print("values before an upgrade are rescaled by its factor; --raw shows them as measured")
    learnt = detail.sensitivity
    if learnt.invalid or learnt.valid:
        console.print(f"alerts when a change exceeds {learnt.describe()}", highlight=False)


@contextlib.contextmanager
def _reading(db: str | None) -> Iterator[sa.Connection | sqlite3.Connection]:
    """A connection for ``series`` and ``show``: sqlite3's on an SQLite file at the newest schema, which spares
    them loading SQLAlchemy (series_service.quick_connection); else the store's, opened as for every command."""
    quick = series_service.quick_connection(database_url(db))
    if quick is not None:
        with contextlib.closing(quick):
            yield quick
        return
    with open_store(db) as engine, engine.connect() as conn:
        yield conn


def register(app: typer.Typer) -> None:
    app.command()(ingest)
    app.command()(series)
    app.command()(show)

"""Commands that analyse stored results: ``detect``, ``alerts``, ``compare``."""

from __future__ import annotations

import dataclasses
import json
import os
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, TextIO

import typer
from rich.progress import Progress
from rich.table import Table

from perfsheriff import projectfile
from perfsheriff.alerts import AlertKind
from perfsheriff.cli import compare_report
from perfsheriff.cli import triage as triage_cli
from perfsheriff.cli.context import (
    DbOption,
    JsonOption,
    TimeoutOption,
    TokenFileOption,
    TokenOption,
    console,
    err_console,
    open_store,
    plain,
    print_table,
    unmarked,
    user_errors,
)
from perfsheriff.errors import InputError
from perfsheriff.gitrepo import GitRepo
from perfsheriff.model import format_value
from perfsheriff.service.analysis import compare as compare_service
from perfsheriff.service.analysis import detect_jsonl
from perfsheriff.service.analysis.detection import detect_stored, drift_reference, policy_from_thresholds
from perfsheriff.service.views.alert_json import alert_json
from perfsheriff.stats import gate
from perfsheriff.stats.changepoints import DetectionSettings
from perfsheriff.store import alerts as alert_store
from perfsheriff.wire import Comparison

#: Exit status of ``compare`` when a ``--fail-on`` rule fires (1 stays for usage errors).
GATE_FAILED = 3


def detect(
    input_path: Annotated[
        str | None, typer.Option("--input", help="Read series from this JSON-lines file ('-' for stdin) instead.")
    ] = None,
    jsonl: Annotated[bool, typer.Option("--jsonl", help="With --input: print one JSON object per series.")] = False,
    benchmark: Annotated[str | None, typer.Option(help="Only benchmarks whose name contains this.")] = None,
    machine: Annotated[str | None, typer.Option(help="Only this machine class.")] = None,
    min_change: Annotated[
        float | None, typer.Option(help="Smallest relative change that alerts (0.02 = 2%); default 0.01.")
    ] = None,
    min_confidence: Annotated[float | None, typer.Option(help="Smallest confidence that alerts (0..1).")] = None,
    config: Annotated[
        Path | None, typer.Option("--config", help="Take [thresholds] (global, per benchmark, per series) from here.")
    ] = None,
    since: Annotated[
        str | None,
        typer.Option(help="Measure drift since this revision (a sha; a tag with --repo) or date (2025-01-31)."),
    ] = None,
    repo: Annotated[Path | None, typer.Option(help="Resolve --since with git in this repository.")] = None,
    db: DbOption = None,
    as_json: JsonOption = False,
) -> None:
    """Find regressions, improvements and drift; store new alerts (a second run adds nothing)."""
    with user_errors():
        loaded = projectfile.load(config) if config else None
        thresholds = loaded.thresholds if loaded else projectfile.Thresholds()
        options = projectfile.Thresholds(min_change, min_confidence)
        policy = policy_from_thresholds(thresholds)  # the file's thresholds, then the options over them
        policy = dataclasses.replace(policy, default=policy_from_thresholds(options, policy.default).default)
        if loaded:
            policy = dataclasses.replace(policy, release_tags=loaded.project.release_tags)
        settings = policy.default
        if input_path is not None:
            _detect_file(input_path, settings, jsonl=jsonl or as_json)
            return
        if jsonl:
            raise InputError("--jsonl goes with --input FILE", where="--jsonl")
        with open_store(db) as engine, Progress(console=err_console, transient=True, disable=as_json) as progress:
            task = progress.add_task("detecting", total=None)
            filters = {"benchmark": benchmark, "machine": machine}
            if since is not None:
                with engine.connect() as conn:
                    positions = drift_reference(conn, since, GitRepo(repo) if repo else None)
                policy = dataclasses.replace(policy, drift_since=positions)
            report = detect_stored(
                engine,
                policy,
                now=datetime.now(UTC),
                filters=filters,
                on_series=lambda _: progress.advance(task),
            )
            with engine.connect() as conn:
                new = alert_store.list_alerts(conn, ids=report.new_alert_ids) if report.new_alert_ids else []
    if as_json:
        console.print_json(json.dumps([alert_json(a) for a in new]))
        return
    console.print(
        f"{report.series} series analysed, {len(new)} new alerts ({report.insufficient} with too little data)"
    )
    for held in report.held_back:  # changes at a machine upgrade's boundary (perfsheriff machine generations)
        console.print(f"no alert: {unmarked(held)}", markup=False, highlight=False, soft_wrap=True)
    if new:
        print_alerts(new)


def _lines(path: str) -> Iterator[str]:
    """The file's lines, bytes that are not UTF-8 kept as surrogates so that only their line is refused."""
    if path == "-":
        for raw in sys.stdin.buffer:
            yield raw.decode("utf-8", errors="surrogateescape")
        return
    file = Path(path)
    if not file.is_file():
        raise InputError("no such file", source=path)
    with file.open(encoding="utf-8", errors="surrogateescape") as handle:
        yield from handle


def _detect_file(path: str, settings: DetectionSettings, *, jsonl: bool) -> None:
    failures = 0
    out: TextIO = sys.stdout
    for item in detect_jsonl.detect_lines(_lines(path), settings):
        if isinstance(item, InputError):
            failures += 1
            err_console.print(f"[bold red]error:[/] {plain(item.located(path))}", highlight=False, soft_wrap=True)
            continue
        if jsonl:
            out.write(json.dumps(item) + "\n")
        else:
            line = f"{item['id']}: {item['verdict']}, change points {item['change_points']}"
            console.print(plain(line), highlight=False)
    if failures:
        raise typer.Exit(1)


def print_alerts(alerts: list[alert_store.AlertRow]) -> None:
    table = Table(title=f"{len(alerts)} alerts")
    columns = ("id", "kind", "benchmark", "machine", "config", "change", "confidence", "suspect range")
    for column in columns:
        table.add_column(column, justify="right" if column in {"id", "change", "confidence"} else "left")
    table.add_column("status", min_width=len("not-reproduced"))  # confirming and confirmed must not both read "confir…"
    for a in alerts:
        colour = "red" if a.details.get("is_regression") or a.kind is AlertKind.REGRESSION else "green"
        table.add_row(
            str(a.id),
            f"[{colour}]{a.kind}[/]",
            plain(a.benchmark),
            plain(a.machine_class),
            plain(a.configuration),
            f"[{colour}]{a.relative_change:+.1%}[/]",
            f"{a.confidence:.4f}",
            f"{a.last_good[:10]}..{a.first_bad[:10]} ({a.first_bad_position - a.last_good_position} commits)",
            # confirming: measured again before it reaches a summary; a hand-made alert names its maker
            a.confirmation or plain(f"created by {a.created_by}" if a.created_by else ""),
        )
    print_table(table)


def alerts(
    benchmark: Annotated[str | None, typer.Option(help="Only benchmarks whose name contains this.")] = None,
    kind: Annotated[str | None, typer.Option(help="regression, improvement or drift.")] = None,
    queue: Annotated[
        str | None, typer.Option(help="code or perf: that sheriffs' queue of summaries instead, most severe first.")
    ] = None,
    machine: Annotated[str | None, typer.Option(help="Only alerts (or summaries) on this machine class.")] = None,
    db: DbOption = None,
    as_json: JsonOption = False,
) -> None:
    """List stored alerts, or (--queue) the alert summaries a sheriff should look at."""
    if queue is not None:
        triage_cli.print_queue(db, queue, as_json=as_json, benchmark=benchmark, machine=machine)
        return
    with user_errors(), open_store(db) as engine, engine.connect() as conn:
        found = alert_store.list_alerts(conn, benchmark=benchmark, kind=kind, machine=machine)
    if as_json:
        console.print_json(json.dumps([alert_json(a) for a in found]))
    else:
        print_alerts(found)


ServerCompareOption = Annotated[
    str | None,
    typer.Option(
        "--server",
        envvar="PERFSHERIFF_SERVER",
        help="Compare the results stored on this server (its base URL) instead of a local database; the server "
        "reads revision names (sha prefix, branch, tag, ~N). An explicit --db wins over PERFSHERIFF_SERVER.",
        show_default=False,
    ),
]


def compare(
    ctx: typer.Context,
    base: Annotated[str, typer.Option(help="The baseline revision (sha, or any git expression with --repo).")],
    head: Annotated[str, typer.Option(help="The revision to judge.")],
    repo: Annotated[Path | None, typer.Option(help="Resolve --base/--head with git in this repository.")] = None,
    fail_on: Annotated[
        str | None,
        typer.Option(
            "--fail-on",
            help="Merge gate: exit 3 when a rule fires, e.g. 'regression>100%' (rules: regression>N%, "
            "improvement>N%, suite>N%; several comma-separated; a kind alone means >100%; TAG:KIND>N% looks only "
            "at the benchmarks tagged TAG, e.g. 'real-world:suite>2%'). See docs/comparison.md.",
        ),
    ] = None,
    markdown: Annotated[bool, typer.Option("--markdown", help="Print a Markdown table for a PR comment.")] = False,
    server: ServerCompareOption = None,
    token: TokenOption = None,
    token_file: TokenFileOption = None,
    timeout: TimeoutOption = 30.0,
    db: DbOption = None,
    as_json: JsonOption = False,
) -> None:
    """Compare two revisions on every series measured at both: ratio, interval, verdict, weighted suite summary
    (overall and per benchmark tag).

    With --server, the server compares the results uploaded to it (and judges --fail-on) and this shows its
    answer exactly as a local comparison.

    Exit status: 0 when no --fail-on rule fires, 3 when one does (named on stderr), 1 for a usage error.
    """
    with user_errors():
        if markdown and as_json:
            raise InputError("choose one of --json and --markdown", where="--markdown")
        rules = gate.parse_rules(fail_on, where="--fail-on") if fail_on is not None else ()
        if repo is not None:
            git = GitRepo(repo)
            base, head = git.resolve(base), git.resolve(head)
        if _on_server(ctx, server, db):
            from perfsheriff.cli import remote  # the agent's modules and the client only for a server

            assert server is not None
            result = remote.fetch_comparison(server, token, token_file, timeout, base, head, fail_on)
        else:
            with open_store(db) as engine, engine.connect() as conn:
                found = compare_service.compare_revisions(conn, base, head, rules=rules)
            result = Comparison.model_validate(found.as_json())
        _show_comparison(result, as_json=as_json, markdown=markdown)


def _on_server(ctx: typer.Context, server: str | None, db: str | None) -> bool:
    """Whether to ask the server: an option on the command line wins over the environment, and two places
    to read from, both given the same way, are refused rather than one picked silently."""
    if server is None:
        return False
    source = ctx.get_parameter_source("server")
    from_environment = source is not None and source.name == "ENVIRONMENT"  # Typer has its own copy of click
    if db is not None:
        if not from_environment:
            raise InputError("choose one of --server and --db", where="--server")
        return False
    if from_environment and os.environ.get("PERFSHERIFF_DATABASE_URL"):
        raise InputError("PERFSHERIFF_SERVER and PERFSHERIFF_DATABASE_URL are both set: choose with --server or --db")
    return True


def _show_comparison(result: Comparison, *, as_json: bool, markdown: bool) -> None:
    """The comparison as JSON, Markdown or a table; exit 3 naming each rule that fired."""
    if as_json:
        console.print_json(result.model_dump_json())
    elif markdown:
        typer.echo(compare_report.markdown(result), nl=False)
    else:
        _print_comparison(result)
    if result.fired:
        for line in compare_report.firing_lines(result):
            err_console.print(unmarked(line), markup=False, highlight=False, soft_wrap=True)
        raise typer.Exit(GATE_FAILED)


def _print_comparison(result: Comparison) -> None:
    places = {(r.machine_class, r.configuration) for r in result.series}
    where = ""
    if len(places) == 1:
        machine, configuration = next(iter(places))
        where = f" on {plain(machine)} ({plain(configuration)})" if configuration else f" on {plain(machine)}"
    table = Table(title=f"{plain(result.head[:10])} against {plain(result.base[:10])}{where}")
    table.add_column("benchmark", overflow="fold")
    if not where:
        table.add_column("machine, config", overflow="fold")
    for column in ("base", "head", "change"):
        table.add_column(column, justify="right", no_wrap=True)
    table.add_column("95% interval", no_wrap=True)
    table.add_column("verdict", overflow="fold")
    for c in result.series:
        verdict = c.verdict.replace("_", " ") + (f" (~{c.runs_needed} more runs)" if c.runs_needed else "")
        place = [] if where else [plain(f"{c.machine_class}, {c.configuration}")]
        table.add_row(
            plain(c.benchmark),
            *place,
            format_value(c.median_base, c.unit) if c.median_base is not None else "-",
            format_value(c.median_head, c.unit) if c.median_head is not None else "-",
            compare_report.percent(c.relative_change),
            compare_report.interval(c.ci_low, c.ci_high),
            verdict,
        )
    print_table(table)
    for group in [*result.suites, *result.tag_suites]:
        console.print(unmarked(compare_report.suite_line(group)), markup=False, highlight=False, soft_wrap=True)
    for line in compare_report.generation_lines(result):
        console.print(unmarked(line), markup=False, highlight=False, soft_wrap=True)


def register(app: typer.Typer) -> None:
    app.command()(detect)
    app.command()(alerts)
    app.command()(compare)

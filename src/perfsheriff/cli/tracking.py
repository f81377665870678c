"""Commands that run benchmarks: ``init``, ``track``, ``bisect``."""

from __future__ import annotations

import contextlib
import dataclasses
import json
import socket
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn, TimeElapsedColumn
from rich.table import Table

from perfsheriff import discovery, projectfile
from perfsheriff.bisect import BisectSettings, RunRequest
from perfsheriff.cli.analysis import print_alerts
from perfsheriff.cli.context import (
    DbOption,
    JsonOption,
    console,
    err_console,
    open_store,
    plain,
    print_table,
    settings,
    user_errors,
)
from perfsheriff.errors import ConfigError, InputError
from perfsheriff.model import Direction
from perfsheriff.runner import Runner, reap_groups
from perfsheriff.runner.workdir import exclusive
from perfsheriff.service.tracking.bisection import BisectJob, BisectReport, run_bisection
from perfsheriff.service.tracking.execute import Measured, QueueExecutor
from perfsheriff.service.tracking.track import Tracker, TrackEvents, TrackReport, choose_machine, open_repository
from perfsheriff.store import alerts as alert_store

ConfigOption = Annotated[Path, typer.Option("--config", help="The perfsheriff.toml to use.")]
MachineOption = Annotated[str | None, typer.Option(help="Which configured machine this is (default: the first).")]
WorkdirOption = Annotated[
    Path,
    typer.Option(help="Where worktrees, outputs and mirrors of URL repositories live; one track or bisect at a time."),
]


def init(
    path: Annotated[Path, typer.Argument(help="File to write.")] = Path(projectfile.DEFAULT_FILE_NAME),
    force: Annotated[bool, typer.Option(help="Overwrite an existing file.")] = False,
    scan: Annotated[
        bool,
        typer.Option(help="Look in the file's folder for the project's benchmarks (asv, pytest-benchmark, ...)."),
    ] = True,
) -> None:
    """Write a perfsheriff.toml with the benchmarks found in the project, or a commented example to start from."""
    from perfsheriff.projectfile.example import example_other_sections

    with user_errors():
        if path.exists() and not force:
            raise InputError("the file exists already; pass --force to overwrite it", source=str(path))
        found = discovery.discover(path.absolute().parent) if scan else None
        if found is not None and found.proposals:
            text = discovery.as_config(found, rest=example_other_sections())
            projectfile.loads(text, source=str(path), config_dir=path.absolute().parent)  # what we write must load
        else:
            text = projectfile.example_config()
        path.write_text(text)
    if found is not None:
        _explain(found)
    what = "check the [[benchmarks]] entries" if found and found.ready else "edit [project] and [[benchmarks]]"
    console.print(f"wrote {path}: {what}, then run `perfsheriff track --once`", markup=False, highlight=False)


def _explain(found: discovery.Discovery) -> None:
    """What init found (one row per proposed entry), what it left for a person to finish, and what it skipped."""
    if not found.proposals:
        console.print(
            f"found no benchmarks in {found.scanned} files (asv, pytest-benchmark, pyperf, go test -bench, "
            "Criterion, Google Benchmark, hyperfine): the file holds a commented example",
            markup=False,
        )
    else:
        table = Table("benchmark", "tool", "found in", "state", title="benchmarks found")
        for proposal in found.proposals:
            where = ", ".join(proposal.evidence[:3]) + (" ..." if len(proposal.evidence) > 3 else "")
            state = "ready" if proposal.ready else "commented out: " + proposal.todo
            table.add_row(*(plain(text) for text in (proposal.name, proposal.tool, where, state)))
        print_table(table)
    for note in found.notes:
        err_console.print(f"note: {note}", markup=False, highlight=False)


QueueOption = Annotated[
    bool,
    typer.Option(
        "--queue",
        help="Queue the runs as jobs for `perfsheriff agent`s of the machine's class instead of running them here.",
    ),
]
WaitOption = Annotated[str, typer.Option(help="With --queue: how long to wait for agents to answer, like 6h.")]


@contextlib.contextmanager
def tracker(
    config: Path,
    machine: str | None,
    db: str | None,
    workdir: Path,
    backfill: int = 20,
    *,
    queue: bool = False,
    wait: str = "6h",
) -> Iterator[Tracker]:
    """The tracker of ``track`` and ``bisect``, holding ``workdir`` (one at a time) cleaned of a killed predecessor's
    benchmarks."""
    project_file = projectfile.load(config)
    spec = choose_machine(project_file, machine, socket.gethostname())
    timeout_s = projectfile.parse_duration(wait)
    workroot = workdir.absolute()
    groups = workroot / "runner" / "groups"
    with exclusive(workroot):
        for pgid in reap_groups(groups):
            err_console.print(f"killed process group {pgid}, left running by a previous track or bisect")
        repo = open_repository(project_file, workroot)
        runner = (
            None
            if queue
            else Runner(
                repo,
                workroot / "runner",
                project_file.config_dir,
                spec.name,
                infra_retries=project_file.budgets.infra_retries,
                groups=groups,
            )
        )
        with open_store(db) as engine:
            executor = (
                QueueExecutor(
                    engine,
                    project_file.config_dir,
                    timeout_s=timeout_s,
                    budgets=settings(db).run_budgets,
                    on_wait=_say_held_back,
                )
                if queue
                else None
            )
            yield Tracker(engine, project_file, repo, runner, spec, backfill=backfill, executor=executor)


def _say_held_back(why: str) -> None:
    """A queued pass waiting for the run budget says so (and again when the budget frees up)."""
    text = f"waiting: {why} (see `perfsheriff status`)" if why else "the run budget frees up: jobs are handed out again"
    err_console.print(text, highlight=False, markup=False)


def _progress() -> Progress:
    # Transient: an error's one line must not follow a last frame of the bar.
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=err_console,
        transient=True,
    )


def track(
    config: ConfigOption = Path(projectfile.DEFAULT_FILE_NAME),
    once: Annotated[bool, typer.Option("--once", help="One pass, then exit (the default without --every).")] = False,
    every: Annotated[str | None, typer.Option(help="Repeat: a duration between passes, like 1h or 30m.")] = None,
    machine: MachineOption = None,
    backfill: Annotated[int, typer.Option(help="On a first pass, measure only the newest N scheduled commits.")] = 20,
    workdir: WorkdirOption = Path(".perfsheriff"),
    queue: QueueOption = False,
    wait: WaitOption = "6h",
    db: DbOption = None,
) -> None:
    """Measure new commits of the tracked branches, detect changes, confirm them by measuring again, and bisect."""
    with user_errors():
        pause = projectfile.parse_duration(every) if every else None
        if once and pause:
            raise InputError("--once and --every exclude each other", where="--every")
        with tracker(config, machine, db, workdir, backfill, queue=queue, wait=wait) as t:
            while True:
                track_pass(t)
                if pause is None:
                    break
                console.print(f"next pass in {every}")
                time.sleep(pause)


def track_pass(t: Tracker) -> TrackReport:
    with _progress() as progress:
        task = progress.add_task("measuring", total=0)
        bisect_task = progress.add_task("bisecting", total=None, visible=False)

        def ran(sha: str, spec: projectfile.BenchmarkSpec, outcome: object) -> None:
            progress.update(task, advance=1, description=f"measuring {spec.name} @ {sha[:10]}")

        def bisect_step(alert_id: int, commit: str, repetitions: int) -> None:
            progress.update(
                bisect_task, visible=True, advance=1, description=f"bisecting alert {alert_id} @ {commit[:10]}"
            )

        events = TrackEvents(planned=lambda n: progress.update(task, total=n), ran=ran, bisect_step=bisect_step)
        report = t.run(events)
    console.print(f"{report.runs_ok} runs ok, {report.runs_failed} failed, {len(report.new_alert_ids)} new alerts")
    if report.new_alert_ids:
        with t.engine.connect() as conn:
            print_alerts(alert_store.list_alerts(conn, ids=report.new_alert_ids))
    for confirmed in report.confirmations.values():
        console.print(confirmed.line(), markup=False, highlight=False)
    for alert_id, bisected in report.bisections.items():
        console.print(f"\n[bold]alert {alert_id}[/]")
        print_bisection(bisected)
    for follower, representative in report.reused.items():
        console.print(f"alert {follower}: same culprit as alert {representative} (bisected once, reused)")
    return report


def print_bisection(report: BisectReport) -> None:
    outcome = report.outcome
    confidence = f"{outcome.confidence:.3f}" if outcome.confidence is not None else "-"
    console.print(
        f"{outcome.kind.value}: {len(report.culprits)} commit(s) out of {report.range_size}, "
        f"confidence {confidence}, {outcome.runs_spent} runs spent"
    )
    for revision in report.culprits:
        console.print(
            f"  [bold]{revision.sha[:12]}[/]  {plain(revision.author)} <{plain(revision.author_email)}>  "
            f"{plain(revision.subject)}"
        )
    if outcome.kind.value in ("undecided", "not_reproduced"):
        console.print(f"  {plain(outcome.reason)}")
    table = Table(title="probes", show_edge=False)
    for column in ("commit", "verdict", "samples", "why"):
        table.add_column(column)
    for probe in outcome.probes:
        table.add_row(probe.commit[:10], probe.verdict.value, str(probe.n_samples), plain(probe.reason))
    if outcome.probes:
        print_table(table)


def _report_json(report: BisectReport) -> str:
    outcome = report.outcome
    payload = {
        "kind": outcome.kind.value,
        "culprit": report.culprits[0].sha if report.culprits else None,
        "culprits": [
            {"sha": r.sha, "author": r.author, "email": r.author_email, "subject": r.subject} for r in report.culprits
        ],
        "confidence": outcome.confidence,
        "runs_spent": outcome.runs_spent,
        "range_size": report.range_size,
        "series": report.series_id,
        "reason": outcome.reason,
        "probes": [{**dataclasses.asdict(p), "verdict": p.verdict.value} for p in outcome.probes],
    }
    return json.dumps(payload)


def bisect(
    alert: Annotated[int | None, typer.Argument(help="A stored alert to bisect (see `perfsheriff alerts`).")] = None,
    good: Annotated[str | None, typer.Option(help="Last good revision (any git expression).")] = None,
    bad: Annotated[str | None, typer.Option(help="First bad revision (any git expression).")] = None,
    benchmark: Annotated[str | None, typer.Option(help="The configured benchmark to run.")] = None,
    result: Annotated[
        str | None, typer.Option(help="Which result of its output to follow (default: its name).")
    ] = None,
    metric: Annotated[
        str | None, typer.Option(help="The metric of that result (default: time, or the only one the output has).")
    ] = None,
    higher_is_better: Annotated[bool, typer.Option(help="The result's direction, for a range given by hand.")] = False,
    config: ConfigOption = Path(projectfile.DEFAULT_FILE_NAME),
    machine: MachineOption = None,
    workdir: WorkdirOption = Path(".perfsheriff"),
    queue: QueueOption = False,
    wait: WaitOption = "6h",
    db: DbOption = None,
    as_json: JsonOption = False,
) -> None:
    """Find the commit that changed a benchmark: a stored ALERT, or --good/--bad/--benchmark by hand."""
    with (
        user_errors(),
        tracker(config, machine, db, workdir, queue=queue, wait=wait) as t,
        _progress() as progress,
    ):
        task = progress.add_task("bisecting", total=None)
        events = TrackEvents(
            bisect_step=lambda _a, c, r: progress.update(task, advance=r, description=f"running {c[:10]}")
        )
        if alert is not None:
            if good or bad:
                raise InputError("give an ALERT or --good/--bad, not both", where="--good/--bad")
            report = t.bisect_alert(alert, benchmark, events)
        else:
            if not (good and bad and benchmark):
                raise InputError(
                    "a range by hand needs --good, --bad and --benchmark", where="--good/--bad/--benchmark"
                )
            report = _bisect_range(t, good, bad, benchmark, result, metric, higher_is_better, progress, task)
    if as_json:
        print(_report_json(report))
    else:
        print_bisection(report)


def _bisect_range(
    t: Tracker,
    good: str,
    bad: str,
    benchmark: str,
    result: str | None,
    metric: str | None,
    higher_is_better: bool,
    progress: Progress,
    task: TaskID,
) -> BisectReport:
    spec = t.project_file.benchmark(benchmark)
    good_sha, bad_sha = t.repo.resolve(good), t.repo.resolve(bad)
    branch = t.project_file.project.branches[0]
    if not t.repo.is_ancestor(bad_sha, branch):
        raise ConfigError(f"{bad} is not on the tracked branch {branch!r}", where="--bad")
    target = t.target(branch)
    direction = Direction.HIGHER_IS_BETTER if higher_is_better else Direction.LOWER_IS_BETTER
    job = BisectJob(
        good_sha, bad_sha, spec, result or spec.name, metric or "time", direction,
        follow_output=result is None and metric is None,
    )  # fmt: skip
    settings = BisectSettings(max_runs=t.project_file.budgets.runs_per_alert)

    def step(request: RunRequest, measured: list[Measured]) -> None:
        progress.update(task, advance=len(measured))

    return run_bisection(t.engine, t.repo, t.executor_for(TrackEvents()), target, job, settings=settings, on_step=step)


def register(app: typer.Typer) -> None:
    app.command()(init)
    app.command()(track)
    app.command()(bisect)

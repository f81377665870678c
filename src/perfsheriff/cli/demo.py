"""``perfsheriff demo``: a throwaway project tracked end to end on the embedded SQLite default."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.panel import Panel

from perfsheriff.cli.context import console, open_store, user_errors
from perfsheriff.cli.demo_project import Demo, prepare_demo
from perfsheriff.cli.tracking import track_pass, tracker
from perfsheriff.service.sheriffing import summaries
from perfsheriff.service.tracking.track import Tracker, TrackReport
from perfsheriff.store import alerts as alert_store
from perfsheriff.triage.confirmation import Outcome


def demo(
    workdir: Annotated[
        Path, typer.Option(help="Folder for the demo's repository, configuration, work files and database (replaced).")
    ] = Path(".perfsheriff/demo"),
) -> None:
    """Track a small project with roll-ups: measure every push, detect and confirm changes, bisect to the culprits."""
    with user_errors():
        workdir = workdir.absolute()
        laid_out = prepare_demo(workdir)
        config = laid_out.config
        db = f"sqlite:///{workdir / 'perfsheriff.db'}"
        console.print(
            Panel.fit(
                f"repository  {workdir / 'textkit'} (about 40 commits, most landed in roll-ups)\n"
                f"config      {config}\n"
                f"database    {db}",
                title="perfsheriff demo: tracking textkit",
            )
        )
        with tracker(config, None, db, workdir / "work", backfill=1000) as t:
            report = track_pass(t)
            _land_while_busy(laid_out, t, report)
            with t.engine.connect() as conn:
                alerts = {a.id: a for a in alert_store.list_alerts(conn, ids=report.new_alert_ids)}
    console.print("\n[bold]For the sheriff[/]")
    _confirmations(report)
    _unbisected(report, alerts)
    for alert_id, bisected in report.bisections.items():
        alert = alerts[alert_id]
        outcome = bisected.outcome
        line = f"alert {alert_id}: {alert.benchmark} {alert.kind} {alert.relative_change:+.1%} on {alert.machine_class}"
        confirmation = report.confirmations.get(alert_id)
        if confirmation is not None:
            line += f", {confirmation.outcome.value} by {confirmation.runs} runs"
        if bisected.culprits:
            culprit = bisected.culprits[0]
            confidence = f"{outcome.confidence:.2f}" if outcome.confidence is not None else "-"
            line += (
                f" -> culprit {culprit.sha[:10]} by {culprit.author} <{culprit.author_email}>: {culprit.subject!r}"
                f" (confidence {confidence}, {outcome.runs_spent} runs, {bisected.range_size} suspects)"
            )
        else:
            line += f" -> {outcome.kind.value}: {outcome.reason}"
        console.print(line, highlight=False)
    with open_store(db) as engine, engine.connect() as conn:
        waiting = summaries.queue(conn, "perf")  # data in (culprit named), a decision due; most severe first
    regressions = [s for s in waiting if any(a["kind"] == "regression" for a in s["alerts"])]
    chosen = regressions or waiting
    _next_steps(_program(), db, config, workdir, int(chosen[0]["id"]) if chosen else None)


def _land_while_busy(laid_out: Demo, t: Tracker, report: TrackReport) -> None:
    """The newest pushes land one at a time, a pass each, as CI measures them, while a neighbour's job keeps
    the machine busy; ``report`` takes in every pass."""
    for number, sha in enumerate(laid_out.landing, start=1):
        laid_out.land(sha)
        laid_out.slow_next_run()  # the push's own run; retriggers come later, on a quiet machine
        console.print(
            f"\n[bold]push {number} of {len(laid_out.landing)} lands[/] ({sha[:10]}); the machine is busy with "
            "a neighbour's job",
            highlight=False,
        )
        report.absorb(track_pass(t))


def _next_steps(prog: str, db: str, config: Path, workdir: Path, summary_id: int | None) -> None:
    """What a sheriff does next, as commands that run as printed: look, decide, publish."""
    console.print("\n[bold]Next[/]")
    lines = [
        "  look at it in the dashboard (graphs, the summary, the compare view):",
        f"    {prog} serve --db {db} --config {config}",
        "    then open http://127.0.0.1:8321/",
    ]
    if summary_id is not None:
        lines += [
            "  decide on the regression's summary, waiting in the perf sheriffs' queue (its journal keeps the note):",
            f"    {prog} triage {summary_id} --db {db}",
            f'    {prog} triage {summary_id} --state acknowledged --note "real: see the culprit" --db {db}',
        ]
    lines += [
        "  publish a static report (HTML, graphs included):",
        f"    {prog} report --out {workdir / 'report'} --db {db}",
    ]
    console.print("\n".join(lines), soft_wrap=True, highlight=False, markup=False)


def _confirmations(report: TrackReport) -> None:
    """``confirmation: 3 candidates measured again in 21 runs: 2 confirmed, 1 not reproduced (nobody told)``."""
    outcomes = [c.outcome.value for c in report.confirmations.values()]
    if not outcomes:
        return
    runs = sum(c.runs for c in report.confirmations.values())
    counts = ", ".join(f"{outcomes.count(o)} {o.replace('-', ' ')}" for o in sorted(set(outcomes)))
    closed = " (nobody told)" if Outcome.NOT_REPRODUCED in outcomes else ""
    line = f"confirmation: {len(outcomes)} candidates measured again in {runs} runs: {counts}{closed}"
    console.print(line, highlight=False)


def _unbisected(report: TrackReport, alerts: dict[int, alert_store.AlertRow]) -> None:
    """Candidates closed by confirmation (not reproduced), or published without a bisection."""
    for alert_id, confirmation in report.confirmations.items():
        alert = alerts.get(alert_id)
        if alert_id in report.bisections or alert is None:
            continue
        told = "nobody told" if confirmation.outcome is Outcome.NOT_REPRODUCED else "published"
        line = f"alert {alert_id}: {alert.benchmark} {alert.kind} {alert.relative_change:+.1%} candidate -> "
        console.print(f"{line}{confirmation.outcome.value} after {confirmation.runs} runs ({told})", highlight=False)


def _program() -> str:
    """How the user can call perfsheriff again: the script they ran, relative to here when it is near."""
    script = Path(sys.argv[0])
    if script.name != "perfsheriff" or not script.is_file():
        return "perfsheriff"
    try:
        return str(script.absolute().relative_to(Path.cwd()))
    except ValueError:
        return str(script)


def register(app: typer.Typer) -> None:
    app.command()(demo)

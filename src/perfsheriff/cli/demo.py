"""``perfsheriff demo``: the whole path on a throwaway project, with the embedded SQLite default."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.panel import Panel
from sqlalchemy.engine import Engine

from perfsheriff.cli.analysis import print_alerts
from perfsheriff.cli.context import console, user_errors
from perfsheriff.cli.data import print_series_detail, print_series_table
from perfsheriff.service import demo as demo_service
from perfsheriff.service import series as series_service
from perfsheriff.store import alerts as alert_store
from perfsheriff.store import database


def demo(
    workdir: Annotated[
        Path, typer.Option(help="Folder for the demo's repository, result files and database (replaced).")
    ] = Path(".perfsheriff/demo"),
) -> None:
    """Build a small project with roll-ups, ingest a result file per push, and show the series."""
    with user_errors():
        with console.status("building the demo repository and ingesting results..."):
            outcome = demo_service.run_demo(workdir.resolve(), _engine)
        engine = _engine(outcome.database_url)
        with engine.connect() as conn:
            rows = series_service.list_series(conn)
            parse = next(row for row in rows if row.benchmark == "parse")
            detail = series_service.series_detail(conn, parse.id)
            alerts = alert_store.list_alerts(conn, ids=outcome.alert_ids)
            suspects = {a.id: series_service.suspect_commits(conn, a) for a in alerts}
        engine.dispose()
    console.print(
        Panel.fit(
            f"repository  {outcome.repository}\n"
            f"history     {outcome.commits} commits in {outcome.pushes} pushes (roll-ups included)\n"
            f"results     {outcome.files} files, {outcome.samples} samples\n"
            f"database    {outcome.database_url}",
            title="perfsheriff demo",
        )
    )
    print_series_table(rows)
    print_series_detail(detail)
    print_alerts(alerts)
    for alert in alerts:
        commits = suspects[alert.id]
        console.print(
            f"\n[bold]{alert.kind} of {alert.relative_change:+.1%} in {alert.benchmark}[/]: "
            f"somewhere in these {len(commits)} commits, which CI measured only at {alert.first_bad[:10]}:"
        )
        for sha, author, subject in commits:
            console.print(f"  {sha[:10]}  {author:<16} {subject}", highlight=False)
    db = outcome.database_url
    console.print(
        f"\nExplore it:  perfsheriff series --db {db}\n             perfsheriff show {parse.id} --db {db}"
        f"\n             perfsheriff alerts --db {db}"
    )


def _engine(url: str) -> Engine:
    engine = database.create_engine(url)
    database.upgrade(engine)
    return engine

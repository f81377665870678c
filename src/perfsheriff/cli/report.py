"""``perfsheriff report``: a static report (HTML or Markdown, graphs as SVG), optionally committed to git."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer

from perfsheriff.cli.context import DbOption, console, open_store, user_errors
from perfsheriff.gitrepo import GitRepo
from perfsheriff.report.build import ReportFormat, write_report


def report(
    out: Annotated[Path, typer.Option("--out", help="The folder to write the report into (created if missing).")],
    fmt: Annotated[ReportFormat, typer.Option("--format", help="html or markdown.")] = ReportFormat.HTML,
    git_commit: Annotated[
        bool, typer.Option("--git-commit", help="Commit the folder in its git repository (initialised if none).")
    ] = False,
    max_graphs: Annotated[int, typer.Option(help="At most this many series get a graph (alerted ones first).")] = 100,
    db: DbOption = None,
) -> None:
    """Write a static report: the alert list, summaries, and a graph (SVG) and table row per series."""
    now = datetime.now(UTC)
    with user_errors(), open_store(db) as engine:
        written = write_report(engine, out, fmt, now=now, max_graphs=max_graphs)
        console.print(f"wrote {written.index} and {len(written.graphs)} graphs", highlight=False)
        if git_commit:
            sha = GitRepo.commit_folder(out, f"perfsheriff report {now:%Y-%m-%d %H:%M} UTC")
            console.print(f"committed {sha[:12]}" if sha else "nothing changed: no commit", highlight=False)


def register(app: typer.Typer) -> None:
    app.command()(report)

"""The ``perfsheriff`` command line: thin commands that call the service layer."""

from __future__ import annotations

import typer

from perfsheriff.cli import data, db, remote, report, review, server, tracking, triage

app = typer.Typer(
    name="perfsheriff",
    help="Keeps watch over a software project's performance: collects benchmark results, "
    "detects regressions and drift, bisects culprits.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
app.add_typer(db.app, name="db")
data.register(app)
tracking.register(app)
remote.register(app)
server.register(app)
triage.register(app)
report.register(app)
review.register(app)


def main() -> None:
    app()

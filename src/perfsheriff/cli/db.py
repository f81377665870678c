"""``perfsheriff db``: schema migrations."""

from __future__ import annotations

from pathlib import Path

import typer

from perfsheriff.cli.context import DbOption, console, settings, user_errors
from perfsheriff.store import database

app = typer.Typer(help="Database schema: create and migrate.", no_args_is_help=True)


@app.command()
def upgrade(db: DbOption = None) -> None:
    """Apply all migrations to the database (creates it when new)."""
    with user_errors():
        engine = database.create_engine(settings(db).resolved_database_url(Path.cwd()))
        database.upgrade(engine)
        url = engine.url.render_as_string(hide_password=True)
        console.print(f"database at schema {database.current_revision(engine)}: {url}")


def register(parent: typer.Typer) -> None:
    parent.add_typer(app, name="db")

"""What every command shares: settings, the store, and turning user errors into one line."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated

import typer
from pydantic import ValidationError
from rich import markup
from rich.console import Console
from sqlalchemy.engine import Engine

from perfsheriff.config import Settings, load_settings
from perfsheriff.errors import ConfigError, PerfsheriffError
from perfsheriff.store import database

DbOption = Annotated[
    str | None,
    typer.Option("--db", help="Database URL (default: PERFSHERIFF_DATABASE_URL, else .perfsheriff/perfsheriff.db)."),
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON for scripts instead of a table.")]

console = Console()
err_console = Console(stderr=True)


def printable(text: str) -> str:
    """User-supplied text made safe to print with Rich: no markup, nothing the terminal cannot encode."""
    return markup.escape(text.encode("utf-8", errors="backslashreplace").decode("utf-8"))


@contextlib.contextmanager
def user_errors() -> Iterator[None]:
    """Print a PerfsheriffError as one line on stderr and exit 1: never a traceback for a user mistake."""
    try:
        yield
    except PerfsheriffError as exc:
        err_console.print(f"[bold red]error:[/] {printable(str(exc))}", highlight=False, markup=True, soft_wrap=True)
        raise typer.Exit(1) from None


def settings(db: str | None) -> Settings:
    try:
        return load_settings(database_url=db)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = "PERFSHERIFF_" + "_".join(str(p) for p in first["loc"]).upper()
        raise ConfigError(first["msg"], where=where) from None


@contextlib.contextmanager
def open_store(db: str | None) -> Iterator[Engine]:
    """Open the database for one command; a local SQLite file is created and migrated on first use."""
    engine = database.create_engine(settings(db).resolved_database_url(Path.cwd()))
    try:
        if engine.dialect.name == "sqlite":
            database.upgrade(engine)
        database.ensure_current(engine)
        yield engine
    finally:
        engine.dispose()

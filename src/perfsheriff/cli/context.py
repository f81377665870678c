"""What every command shares: settings, the store, and turning user errors into one line."""

from __future__ import annotations

import contextlib
import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from perfsheriff import database_location
from perfsheriff.errors import ConfigError, PerfsheriffError

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine

    from perfsheriff.config import Settings

DbOption = Annotated[
    str | None,
    typer.Option("--db", help="Database URL (default: PERFSHERIFF_DATABASE_URL, else .perfsheriff/perfsheriff.db)."),
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON for scripts instead of a table.")]
# A server's credentials and patience, for the commands that talk to one (remote.py, compare --server).
TokenOption = Annotated[
    str | None,
    typer.Option(
        envvar="PERFSHERIFF_TOKEN",
        help="An API token (perfsheriff token create). On a shared machine use --token-file: a command line "
        "and an environment can be read by other processes.",
        show_default=False,
    ),
]
TokenFileOption = Annotated[
    Path | None,
    typer.Option(
        "--token-file",
        envvar="PERFSHERIFF_TOKEN_FILE",
        help="A file holding the API token, readable by its owner only (chmod 600).",
        show_default=False,
    ),
]
TimeoutOption = Annotated[float, typer.Option("--timeout", help="Seconds each request to the server may take.")]

console = Console()
err_console = Console(stderr=True)
# Terminal control characters (C0 but tab and newline, DEL, C1): an escape sequence in a commit subject, an
# author's name or a note must not reach the terminal, where it could recolour, retitle or rewrite the screen.
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def plain(text: object) -> str:
    """Untrusted text made safe to print: control characters shown as U+FFFD, Rich markup escaped.

    Commit subjects, authors, notes, benchmark names and error messages come from other people: ``[/]`` or
    ``[red]`` in them is text, never markup, and an escape sequence is never sent to the terminal.
    """
    return escape(unmarked(text))


def unmarked(text: object) -> str:
    """Untrusted text for a print with ``markup=False``: control characters shown as U+FFFD.

    A lone surrogate (from a JSON escape) cannot be encoded for the terminal: it is shown as its escape.
    """
    text = str(text).encode("utf-8", errors="backslashreplace").decode("utf-8")
    return _CONTROL.sub("\ufffd", text)


@contextlib.contextmanager
def user_errors() -> Iterator[None]:
    """Print a PerfsheriffError as one line on stderr and exit 1: never a traceback for a user mistake."""
    try:
        yield
    except PerfsheriffError as exc:
        err_console.print(f"[bold red]error:[/] {plain(exc)}", highlight=False, markup=True, soft_wrap=True)
        raise typer.Exit(1) from None


def settings(db: str | None) -> Settings:
    from pydantic import ValidationError  # pydantic-settings: not for the commands that need only the database
    from pydantic_settings import SettingsError

    from perfsheriff.config import load_settings

    try:
        return load_settings(database_url=db)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = "PERFSHERIFF_" + "_".join(str(p) for p in first["loc"]).upper()
        raise ConfigError(first["msg"], where=where) from None
    except SettingsError as exc:  # a value that is not even JSON where JSON is expected (run_budgets)
        field = str(exc).split('field "', 1)[-1].split('"', 1)[0]
        where = f"PERFSHERIFF_{field.upper()}"
        raise ConfigError('expected JSON, such as {"linux-perf": 200, "*": 1000}', where=where) from None


def database_url(db: str | None) -> str:
    """The database's URL: ``--db``, else the settings'; they are built (and checked) only when the environment
    sets another setting (:mod:`perfsheriff.database_location` says why)."""
    url = database_location.database_url(db, Path.cwd(), os.environ)
    return url if url is not None else settings(db).resolved_database_url(Path.cwd())


@contextlib.contextmanager
def open_store(db: str | None) -> Iterator[Engine]:
    """Open the database for one command; a local SQLite file is created and migrated on first use.

    An SQLite file already at the newest schema costs one query here, not a run of Alembic: the check
    runs before every command.
    """
    from perfsheriff.store import database  # commands that open no store do not load SQLAlchemy

    engine = database.create_engine(database_url(db))
    try:
        if engine.dialect.name == "sqlite":
            database.upgrade_if_behind(engine)
        database.ensure_current(engine)
        yield engine
    finally:
        engine.dispose()


def print_table(table: Table) -> None:
    """``table`` as a table where it fits the terminal; else one block per row, ``column: value`` per line.

    A table squeezed into 80 columns cuts every cell to "regress…" and "confide…"; a CI log or a narrow
    terminal gets the same facts, whole, as a list. ``--json`` stays the interface for scripts.
    """
    natural = console.measure(table, options=console.options.update(max_width=100_000)).maximum
    if natural <= console.width:
        console.print(table)
        return
    if table.title:
        console.print(table.title)
    headers = [str(column.header) for column in table.columns]
    cells = [list(column.cells) for column in table.columns]
    for row in range(table.row_count):
        values = [cells[i][row] for i in range(len(headers))]
        console.print(f"- {headers[0]} {values[0]}", highlight=False)
        for header, value in zip(headers[1:], values[1:], strict=True):
            if str(value).strip():
                console.print(f"    {header}: ", end="", highlight=False)
                console.print(value, highlight=False)

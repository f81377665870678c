"""``perfsheriff serve`` and ``perfsheriff token``: the HTTP service and who may use it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from perfsheriff import projectfile
from perfsheriff.cli.context import DbOption, JsonOption, console, open_store, print_table, settings, user_errors
from perfsheriff.errors import InputError
from perfsheriff.model import Machine
from perfsheriff.roles import Role
from perfsheriff.service.access import tokens
from perfsheriff.service.intake.projects import register_project
from perfsheriff.service.tracking.track import open_repository

token_app = typer.Typer(help="API tokens: create, list, revoke.", no_args_is_help=True)


def serve(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8321,
    config: Annotated[
        Path | None,
        typer.Option("--config", help="A perfsheriff.toml: registers its project and lets sheriffs queue its jobs."),
    ] = None,
    workdir: Annotated[Path, typer.Option(help="Where mirrors of URL repositories live.")] = Path(".perfsheriff"),
    db: DbOption = None,
    log_level: Annotated[str, typer.Option(help="uvicorn's log level.")] = "info",
    workers: Annotated[
        int, typer.Option(min=1, max=64, help="Server processes; more than one needs a machine with cores to spare.")
    ] = 1,
) -> None:
    """Serve the HTTP API (JSON under /api/v1, OpenAPI at /openapi.json, /health, /metrics) and the dashboard."""
    # Imported here: the web stack is not loaded by every other command.
    from perfsheriff import server

    with user_errors(), open_store(db) as engine:
        project_file = projectfile.load(config) if config is not None else None
        if project_file is not None:
            register_project(engine, project_file, open_repository(project_file, workdir.absolute()))
        console.print(
            f"perfsheriff serving on http://{host}:{port} (API description at /openapi.json)", highlight=False
        )
        where = config.absolute() if config is not None else None
        server.run(
            engine,
            settings(db),
            project_file,
            config=where,
            host=host,
            port=port,
            workers=workers,
            log_level=log_level,
        )


def _parse_days(text: str | None) -> float | None:
    if text is None:
        return None
    value = text.strip().lower().removesuffix("d")
    try:
        days = float(value)
    except ValueError:
        raise InputError(f"expected a number of days like 30d, got {text!r}", where="--expires") from None
    if days <= 0:
        raise InputError(f"expected a positive number of days, got {text!r}", where="--expires")
    return days


@token_app.command("create")
def token_create(
    role: Annotated[Role, typer.Option(help="What the token may do.")],
    machine: Annotated[
        str | None, typer.Option(help="The machine an agent token acts for (registered if new).")
    ] = None,
    machine_class: Annotated[
        str | None, typer.Option(help="The machine's class (machines of a class share series); default: its name.")
    ] = None,
    name: Annotated[str, typer.Option(help="A label to recognise the token by.")] = "",
    expires: Annotated[str | None, typer.Option(help="Lifetime in days, e.g. 30d (default: no expiry).")] = None,
    db: DbOption = None,
    as_json: JsonOption = False,
) -> None:
    """Create a token and print it once: only its hash is stored."""
    with user_errors(), open_store(db) as engine:
        if machine_class is not None and machine is None:
            raise InputError("--machine-class goes with --machine", where="--machine-class")
        now = datetime.now(UTC)
        days = _parse_days(expires)
        created = tokens.create_token(
            engine,
            role,
            now=now,
            name=name,
            machine=Machine(machine, machine_class or "") if machine else None,
            expires_at=now + timedelta(days=days) if days else None,
        )
    if as_json:
        console.print_json(
            data={"id": created.info.id, "role": role.value, "machine": machine, "token": created.secret}
        )
        return
    typer.echo(created.secret)


@token_app.command("list")
def token_list(db: DbOption = None) -> None:
    """List tokens (never their secrets)."""
    with user_errors(), open_store(db) as engine:
        found = tokens.list_tokens(engine)
    print_tokens(found)


def print_tokens(found: list[tokens.TokenInfo]) -> None:
    table = Table()
    for column in ("id", "role", "machine", "name", "created", "expires", "revoked"):
        table.add_column(column)
    for info in found:
        table.add_row(
            str(info.id),
            info.role.value,
            info.machine or "",
            info.name,
            f"{info.created_at:%Y-%m-%d %H:%M}",
            f"{info.expires_at:%Y-%m-%d}" if info.expires_at else "",
            f"{info.revoked_at:%Y-%m-%d %H:%M}" if info.revoked_at else "",
        )
    print_table(table)


@token_app.command("revoke")
def token_revoke(
    token_id: Annotated[int, typer.Argument(help="The token's id (from `token list`).")], db: DbOption = None
) -> None:
    """Revoke a token: requests with it get 401 from now on."""
    with user_errors(), open_store(db) as engine:
        info = tokens.revoke_token(engine, token_id, datetime.now(UTC))
    console.print(f"token {info.id} ({info.role.value}) revoked")


def register(app: typer.Typer) -> None:
    app.command()(serve)
    app.add_typer(token_app, name="token")

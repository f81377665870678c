"""The CLI's lazy command table (perfsheriff.cli.main.COMMANDS) says what the commands themselves say, and the
commands' plain options coerce their values as Typer does, without pydantic (perfsheriff.cli.main.AsGiven)."""

from __future__ import annotations

import importlib

import pytest
import typer
from typer import _click as click
from typer._click.exceptions import BadParameter
from typer._coercion import build_runtime_param

from perfsheriff.cli.main import COMMANDS, AsGiven, app, load_command


def first_paragraph(text: str | None) -> str:
    return " ".join((text or "").split("\n\n")[0].split())


@pytest.mark.parametrize("name", list(COMMANDS))
def test_each_listed_command_loads_with_the_help_the_list_shows(name: str) -> None:
    command = load_command(name)
    assert command.name == name
    assert first_paragraph(command.help) == COMMANDS[name][1]


def test_every_command_the_modules_register_is_listed() -> None:
    holder = typer.Typer()
    for module in sorted({module for module, _ in COMMANDS.values()}):
        importlib.import_module(module).register(holder)
    registered = set(typer.main.get_group(holder).commands)
    assert registered == set(COMMANDS)


def _loaded(name: str) -> tuple[click.Context, list[click.Parameter]]:
    """The command ``name`` as the root group loads it, its parameters (``--help`` too) and a context."""
    group = typer.main.get_group(app)
    ctx = click.Context(group, info_name="perfsheriff")
    command = group.get_command(ctx, name)
    assert command is not None
    return click.Context(command, parent=ctx, info_name=name), command.get_params(ctx)


def _plain(param: click.Parameter) -> bool:
    descriptor = param.type_descriptor  # type: ignore[attr-defined]
    return descriptor.annotation in (str, bool) and not (descriptor.is_path or descriptor.is_choice)


@pytest.mark.parametrize("name", ["series", "show", "ingest", "detect"])
def test_plain_text_options_and_flags_are_coerced_without_pydantic(name: str) -> None:
    _, params = _loaded(name)
    plain = [param for param in params if _plain(param)]
    assert any(param.name == "help" for param in plain)
    for param in plain:
        assert isinstance(param._runtime_param, AsGiven), param.name  # type: ignore[attr-defined]
    for param in params:
        if not _plain(param):
            assert not isinstance(param._runtime_param, AsGiven), param.name  # type: ignore[attr-defined]
    root = typer.main.get_group(app)
    for param in root.get_params(click.Context(root)):
        assert isinstance(param._runtime_param, AsGiven), param.name  # type: ignore[attr-defined]


@pytest.mark.parametrize("value", ["", "x", "sqlite:///a b.db", "ünïcode", "--not-an-option", True, False, 3, b"bytes"])
def test_as_given_answers_as_typers_own_adapters(value: object) -> None:
    ctx, params = _loaded("series")
    for param in params:
        if not _plain(param):
            continue
        typers = build_runtime_param(param.type_descriptor)  # type: ignore[attr-defined]
        ours = param._runtime_param  # type: ignore[attr-defined]
        try:
            expected: object = typers.coerce(value, param, ctx)
        except BadParameter as exc:
            expected = ("refused", exc.message)
        try:
            got: object = ours.coerce(value, param, ctx)
        except BadParameter as exc:
            got = ("refused", exc.message)
        assert (got, type(got)) == (expected, type(expected)), param.name

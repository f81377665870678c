"""The CLI's lazy command table (perfsheriff.cli.main.COMMANDS) says what the commands themselves say."""

from __future__ import annotations

import importlib

import pytest
import typer

from perfsheriff.cli.main import COMMANDS, load_command


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

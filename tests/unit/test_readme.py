"""The README's examples are real: its configuration loads and its commands exist."""

from __future__ import annotations

import re
from pathlib import Path

from perfsheriff import projectfile
from perfsheriff.cli.main import COMMANDS

README = Path(__file__).resolve().parents[2] / "README.md"


def test_readme_configuration_loads_as_written(tmp_path: Path) -> None:
    (block,) = re.findall(r"```toml\n(.*?)```", README.read_text(), flags=re.DOTALL)
    loaded = projectfile.loads(block, source="README.md", config_dir=tmp_path)
    assert loaded.project.name == "demo"
    assert [b.name for b in loaded.benchmarks] == ["parse"]
    assert loaded.benchmarks[0].timeout == 300


def test_readme_commands_exist() -> None:
    commands = set(COMMANDS)  # each loads as listed: tests/unit/test_cli_lazy.py
    used = set(re.findall(r"bin/perfsheriff (\w+)", README.read_text()))
    assert used <= commands, f"README names commands that do not exist: {used - commands}"


def test_readme_has_exactly_two_setup_commands() -> None:
    (block,) = re.findall(r"## Two commands\n.*?```console\n(.*?)```", README.read_text(), flags=re.DOTALL)
    assert [line.split("#")[0].strip() for line in block.strip().splitlines()] == ["make demo", "make test"]

"""``perfsheriff --help`` loads none of the heavy modules behind the commands (bench_cli_startup.py times it)."""

from __future__ import annotations

import json
import subprocess
import sys

HEAVY = ("sqlalchemy", "scipy", "numpy", "fastapi", "httpx", "perfsheriff.service", "perfsheriff.store")
PROBE = """\
import contextlib, io, json, sys
from perfsheriff.cli.main import app
with contextlib.redirect_stdout(io.StringIO()) as out, contextlib.suppress(SystemExit):
    app(sys.argv[1:])
print(json.dumps({"help": out.getvalue(), "modules": sorted(sys.modules)}))
"""


def loaded_by(*args: str) -> tuple[str, list[str]]:
    done = subprocess.run(
        [sys.executable, "-c", PROBE, *args], capture_output=True, text=True, check=True, env={"COLUMNS": "120"}
    )
    found = json.loads(done.stdout.splitlines()[-1])
    return found["help"], found["modules"]


def heavy(modules: list[str]) -> list[str]:
    return [m for m in modules if m.split(".")[0] in HEAVY or m.startswith(HEAVY)]


def test_help_lists_every_command_without_loading_them() -> None:
    text, modules = loaded_by("--help")
    for command in ("demo", "track", "bisect", "serve", "comment", "token", "db"):
        assert f" {command} " in text
    assert heavy(modules) == []


def test_a_mistyped_command_is_told_apart_without_loading_the_others() -> None:
    _, modules = loaded_by("trakc")
    assert heavy(modules) == []


def test_a_command_loads_only_its_own_module() -> None:
    text, modules = loaded_by("comment", "--help")
    assert "--github-pr" in text
    assert "perfsheriff.cli.review" in modules
    assert "perfsheriff.cli.tracking" not in modules
    assert "sqlalchemy" not in modules

"""Shell completion: the scripts a shell sources, and the answers to TAB (Click's protocol, as Typer speaks it).

A shell's completion function runs ``perfsheriff`` with ``_PERFSHERIFF_COMPLETE`` set and the words typed
so far in ``COMP_WORDS``/``COMP_CWORD`` (bash) or ``_TYPER_COMPLETE_ARGS`` (zsh, fish); these tests do the same.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

#: Runs the CLI as the installed script does, then names the modules it loaded (on stderr, apart from the answer).
PROBE = """\
import json, sys
from perfsheriff.cli.main import app
try:
    app(prog_name="perfsheriff")
finally:
    print(json.dumps(sorted(sys.modules)), file=sys.stderr)
"""


def complete(instruction: str, **env: str) -> tuple[str, list[str]]:
    environment = {**os.environ, "_PERFSHERIFF_COMPLETE": instruction, **env}
    done = subprocess.run(
        [sys.executable, "-c", PROBE], capture_output=True, text=True, env=environment, check=False, timeout=60
    )
    assert done.returncode == 0, done.stderr
    return done.stdout, json.loads(done.stderr.splitlines()[-1])


@pytest.mark.parametrize(
    ("shell", "sign"), [("bash", "complete -o default -F"), ("zsh", "#compdef"), ("fish", "complete")]
)
def test_each_shell_gets_a_script_to_source(shell: str, sign: str) -> None:
    script, _ = complete(f"source_{shell}")
    assert sign in script
    assert "_PERFSHERIFF_COMPLETE=complete_" in script


def test_a_command_name_completes_without_loading_any_command() -> None:
    answer, modules = complete("complete_bash", COMP_WORDS="perfsheriff se", COMP_CWORD="1")
    assert answer.split() == ["series", "serve"]
    assert not [m for m in modules if m.startswith(("perfsheriff.cli.data", "perfsheriff.cli.server", "sqlalchemy"))]


def test_zsh_gets_each_command_with_its_help() -> None:
    answer, _ = complete("complete_zsh", _TYPER_COMPLETE_ARGS="perfsheriff se")
    assert '"series":"List the stored series."' in answer


def test_a_commands_options_and_choices_complete() -> None:
    options, _ = complete("complete_bash", COMP_WORDS="perfsheriff series --d", COMP_CWORD="2")
    assert options.split() == ["--db"]
    roles, _ = complete("complete_bash", COMP_WORDS="perfsheriff token create --role ", COMP_CWORD="4")
    assert set(roles.split()) == {"read", "agent", "sheriff", "admin"}

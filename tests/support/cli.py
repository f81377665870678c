"""Running the CLI as tests need it: in process (Typer's runner) or as a child process, as a user runs it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from typer.testing import CliRunner

from perfsheriff.cli.main import app

runner = CliRunner()


def invoke(*args: str, db: str) -> tuple[int, str, str]:
    result = runner.invoke(app, [*args, "--db", db])
    if result.exception and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result.exit_code, result.stdout, result.stderr


def run_cli(
    *args: str, cwd: Path, env: dict[str, str] | None = None, stdin: str | None = None
) -> subprocess.CompletedProcess[str]:
    """The installed console script in a child process, as a user runs it."""
    command = [sys.executable, "-c", "from perfsheriff.cli.main import main; main()", *args]
    environment = {**os.environ, "COLUMNS": "200", **(env or {})}
    return subprocess.run(command, cwd=cwd, capture_output=True, text=True, env=environment, input=stdin, check=False)


def assert_one_error_line(result: object, *fragments: str) -> None:
    """Exit status 1 and one line on stderr: ``error: ...`` naming every fragment, never a traceback."""
    assert getattr(result, "returncode", None) == 1, result
    stderr = str(getattr(result, "stderr", ""))
    assert "Traceback" not in stderr
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert len(lines) == 1, stderr
    assert lines[0].startswith("error:"), stderr
    for fragment in fragments:
        assert fragment in lines[0]

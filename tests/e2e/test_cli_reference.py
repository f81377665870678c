"""docs/cli.md is generated from the commands' --help and must stay in step with them."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

DOCS = Path(__file__).resolve().parents[2] / "docs" / "cli.md"
REGENERATE = "python -m typer perfsheriff.cli.main utils docs --name perfsheriff --output docs/cli.md"


def test_cli_reference_is_current(tmp_path: Path) -> None:
    fresh = tmp_path / "cli.md"
    command = [sys.executable, "-m", "typer", "perfsheriff.cli.main", "utils", "docs", "--name", "perfsheriff"]
    subprocess.run([*command, "--output", str(fresh)], check=True, capture_output=True)
    assert fresh.read_text() == DOCS.read_text(), f"docs/cli.md is stale: run `{REGENERATE}`"

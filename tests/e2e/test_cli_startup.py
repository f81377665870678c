"""``perfsheriff --help`` loads none of the heavy modules behind the commands, and reading a series loads no
analysis or migration tool, and from an SQLite file neither SQLAlchemy nor pydantic (bench_cli_startup.py times
them)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from support.cli import invoke
from support.gitfixtures import Repo
from support.uploads import perfsheriff_json

#: What reading a stored series needs none of: detection's statistics, Alembic (the database is current),
#: the result parsers of ingestion, the services of other commands.
NOT_FOR_READING = ("scipy", "alembic", "perfsheriff.service.intake", "perfsheriff.service.analysis", "rich.progress")
#: ... nor, on an SQLite file at the newest schema, SQLAlchemy (store/sqlite_reads.py), numpy (a revision's figures
#: come from stats.revision_levels), or pydantic: neither for the settings (perfsheriff.database_location) nor for
#: Typer's coercion of the options (cli.main.AsGiven).
NOT_FOR_READING_SQLITE = ("sqlalchemy", "numpy", "pydantic", "pydantic_settings")
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


def test_reading_series_loads_neither_analysis_nor_migrations(
    tmp_path: Path,
) -> None:
    repo = Repo.init(tmp_path / "project")
    repo.commits(["one"])
    result = tmp_path / "result.json"
    result.write_text(perfsheriff_json({"parse": [1.0, 2.0, 3.0]}))
    db = f"sqlite:///{tmp_path / 'perf.db'}"
    code, _, err = invoke(
        "ingest", str(result), "--repo", str(repo.path), "--revision", "HEAD", "--machine", "box", db=db
    )
    assert code == 0, err
    series_id = json.loads(invoke("series", "--json", db=db)[1])[0]["id"]
    for args in (["series"], ["show", series_id]):
        text, modules = loaded_by(*args, "--db", db)
        assert "parse" in text
        assert [m for m in modules if m.startswith((*NOT_FOR_READING, *NOT_FOR_READING_SQLITE))] == []

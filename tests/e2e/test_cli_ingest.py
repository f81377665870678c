"""The CLI end to end: ingest, series and show against real repositories and databases."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from support.cli import invoke, run_cli
from support.gitfixtures import Repo
from support.uploads import perfsheriff_json


@pytest.fixture
def repo(tmp_path: Path) -> Repo:
    made = Repo.init(tmp_path / "project")
    made.commits(["one", "two"])
    made.rollup("r1", ["three", "four"])
    return made


def count(engine: Engine, table: str) -> int:
    with engine.connect() as conn:
        return int(conn.execute(sa.text(f"SELECT count(*) FROM {table}")).scalar_one())


def test_ingest_then_list_and_show(repo: Repo, tmp_path: Path, engine: Engine, engine_url: str) -> None:
    for rev, level in (("HEAD~1", 10.0), ("HEAD", 12.0)):
        path = tmp_path / f"{rev}.json"
        path.write_text(perfsheriff_json({"parse": [level, level + 1, level + 2], "render": [1.0]}))
        code, _, err = invoke(
            "ingest", str(path), "--repo", str(repo.path), "--revision", rev, "--machine", "box", db=engine_url
        )
        assert code == 0, err
    code, out, _ = invoke("series", "--json", db=engine_url)
    listed = json.loads(out)
    assert code == 0
    assert sorted(s["benchmark"] for s in listed) == ["parse", "render"]
    parse = next(s for s in listed if s["benchmark"] == "parse")
    assert (parse["unit"], parse["machine"]) == ("ms", "box")
    code, out, _ = invoke("show", parse["id"][:8], "--json", db=engine_url)
    shown = json.loads(out)
    assert [(p["revision"], p["n_samples"], p["median"]) for p in shown["points"]] == [
        (repo.rev("HEAD~1"), 3, 11.0),
        (repo.rev("HEAD"), 3, 13.0),
    ]


def test_reingesting_a_file_stores_nothing_new(repo: Repo, tmp_path: Path, engine: Engine, engine_url: str) -> None:
    path = tmp_path / "r.json"
    path.write_text(perfsheriff_json({"parse": [1.0, 2.0]}))
    args = ("ingest", str(path), "--repo", str(repo.path), "--revision", "HEAD", "--machine", "box")
    assert invoke(*args, db=engine_url)[0] == 0
    code, out, _ = invoke(*args, db=engine_url)
    assert code == 0
    assert "already stored" in out
    assert count(engine, "runs") == 1
    assert count(engine, "samples") == 1


def test_a_bad_file_is_reported_and_the_good_ones_land(
    repo: Repo, tmp_path: Path, engine: Engine, engine_url: str
) -> None:
    good = tmp_path / "good.json"
    good.write_text(perfsheriff_json({"parse": [1.0]}))
    bad = tmp_path / "bad.json"
    bad.write_text(perfsheriff_json({"parse": [1.0]})[:-10])  # truncated
    code, _, err = invoke(
        "ingest", str(bad), str(good), "--repo", str(repo.path), "--revision", "HEAD", "--machine", "box", db=engine_url
    )
    assert code == 1
    assert str(bad) in err
    assert "Traceback" not in err
    assert count(engine, "runs") == 1


BAD_INPUTS = {
    "truncated JSON": (b'{"format": "perfsheriff", "version": 1, "results": [{"name": "x"', "bad.json"),
    "NaN": (
        b'{"format": "perfsheriff", "version": 1, "results": [{"name": "x", "unit": "ms", "samples": [NaN]}]}',
        "bad.json",
    ),
    "negative time": (
        b'{"format": "perfsheriff", "version": 1, "results": [{"name": "x", "unit": "ms", "samples": [-1]}]}',
        "bad.json",
    ),
    "string for a number": (
        b'{"format": "perfsheriff", "version": 1, "results": [{"name": "x", "unit": "ms", "samples": ["1"]}]}',
        "bad.json",
    ),
    "empty benchmark list": (b'{"format": "perfsheriff", "version": 1, "results": []}', "bad.json"),
    # JSON escapes make text no database stores: PostgreSQL refuses NUL, and a lone surrogate is not UTF-8.
    "NUL in a name": (
        b'{"format": "perfsheriff", "version": 1, "results": [{"name": "a\\u0000b", "unit": "ms", "samples": [1]}]}',
        "bad.json",
    ),
    "lone surrogate in a unit": (
        b'{"format": "perfsheriff", "version": 1, "results": [{"name": "a", "unit": "\\ud800", "samples": [1]}]}',
        "bad.json",
    ),
    "binary file": (bytes(range(256)) * 4, "bad.bin"),
    "empty file": (b"", "bad.json"),
}


@pytest.mark.parametrize("case", sorted(BAD_INPUTS))
def test_bad_files_get_one_clear_line_and_write_nothing(
    case: str, repo: Repo, tmp_path: Path, engine: Engine, engine_url: str
) -> None:
    content, name = BAD_INPUTS[case]
    path = tmp_path / name
    path.write_bytes(content)
    code, _, err = invoke(
        "ingest", str(path), "--repo", str(repo.path), "--revision", "HEAD", "--machine", "box", db=engine_url
    )
    assert code == 1
    lines = [line for line in err.strip().splitlines() if line.strip()]
    assert len(lines) == 1, err
    assert lines[0].startswith("error:")
    assert str(path) in err.replace("\n", "")
    assert count(engine, "runs") == 0
    assert count(engine, "samples") == 0


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--revision", "no-such-rev"), "unknown revision 'no-such-rev'"),
        (("--revision", "HEAD", "--branch", "nope"), "no branch 'nope'"),
        (("--revision", "HEAD", "--config", "novalue"), "expected key=value"),
        (("--revision", "HEAD", "--format", "nonsense"), "nonsense"),
    ],
)
def test_bad_arguments_are_named(
    args: tuple[str, ...], message: str, repo: Repo, tmp_path: Path, engine: Engine, engine_url: str
) -> None:
    path = tmp_path / "r.json"
    path.write_text(perfsheriff_json({"parse": [1.0]}))
    code, _, err = invoke("ingest", str(path), "--repo", str(repo.path), "--machine", "box", *args, db=engine_url)
    assert code == 1
    assert message in err
    assert "Traceback" not in err
    assert count(engine, "runs") == 0


def test_revision_off_the_branch_is_refused(repo: Repo, tmp_path: Path, engine_url: str) -> None:
    repo.branch("feature")
    repo.commit("unmerged work")
    repo.switch("main")
    path = tmp_path / "r.json"
    path.write_text(perfsheriff_json({"parse": [1.0]}))
    code, _, err = invoke(
        "ingest", str(path), "--repo", str(repo.path), "--revision", "feature", "--machine", "box", db=engine_url
    )
    assert code == 1
    assert "is not on branch 'main'" in err


def test_not_a_repository(tmp_path: Path, engine_url: str) -> None:
    path = tmp_path / "r.json"
    path.write_text(perfsheriff_json({"parse": [1.0]}))
    code, _, err = invoke(
        "ingest", str(path), "--repo", str(tmp_path), "--revision", "HEAD", "--machine", "box", db=engine_url
    )
    assert code == 1
    assert "not a git repository" in err


def test_show_unknown_series(engine_url: str) -> None:
    code, _, err = invoke("show", "abcdef", db=engine_url)
    assert code == 1
    assert "no series with id 'abcdef'" in err


def test_default_database_and_size_limit_in_a_real_process(repo: Repo, tmp_path: Path) -> None:
    path = tmp_path / "r.json"
    path.write_text(perfsheriff_json({"parse": [1.0, 2.0, 3.0]}))
    work = tmp_path / "work"
    work.mkdir()
    env = {"PERFSHERIFF_DATABASE_URL": ""}
    env.pop("PERFSHERIFF_DATABASE_URL")
    base = ["ingest", str(path), "--repo", str(repo.path), "--revision", "HEAD", "--machine", "box"]
    too_big = run_cli(*base, cwd=work, env={"PERFSHERIFF_MAX_RESULT_BYTES": "10"})
    assert too_big.returncode == 1
    assert "more than the limit of 10 bytes" in too_big.stderr
    assert "Traceback" not in too_big.stderr
    done = run_cli(*base, cwd=work)
    assert done.returncode == 0, done.stderr
    assert (work / ".perfsheriff" / "perfsheriff.db").is_file()
    listed = run_cli("series", "--json", cwd=work)
    assert [s["benchmark"] for s in json.loads(listed.stdout)] == ["parse"]


def test_invalid_setting_is_a_clear_error(tmp_path: Path) -> None:
    result = run_cli("series", cwd=tmp_path, env={"PERFSHERIFF_MAX_RESULT_BYTES": "lots"})
    assert result.returncode == 1
    assert "PERFSHERIFF_MAX_RESULT_BYTES" in result.stderr
    assert "Traceback" not in result.stderr


CRITERION = Path(__file__).resolve().parents[1] / "fixtures" / "formats" / "criterion" / "target" / "criterion"


@pytest.mark.parametrize("case", ["link out", "link to pagemap", "fifo", "proc file", "link within"])
def test_a_result_folder_is_read_within_itself_and_only_its_regular_files(
    case: str, repo: Repo, tmp_path: Path
) -> None:
    """Ingest of a folder: no symbolic link out of it, nothing but regular files, a /proc file read with a bound."""
    folder = tmp_path / "criterion"
    shutil.copytree(CRITERION, folder)
    outside = tmp_path / "outside.json"
    outside.write_text(perfsheriff_json({"secret": [1.0]}))
    target, bad = folder, folder / "fib" / "20" / "change" / "estimates.json"
    bad.unlink()
    if case == "link out":
        bad.symlink_to(outside)
    elif case == "link to pagemap":
        bad.symlink_to("/proc/self/pagemap")
    elif case == "fifo":
        os.mkfifo(bad)
    elif case == "proc file":
        target = Path("/proc/self/pagemap")  # its size says 0; it holds 8 bytes for every page of the address space
    else:
        bad.symlink_to(folder / "fib" / "20" / "base" / "benchmark.json")
    work = tmp_path / "work"
    work.mkdir()
    command = [sys.executable, "-c", "from perfsheriff.cli.main import main; main()", "ingest", str(target)]
    command += ["--repo", str(repo.path), "--revision", "HEAD", "--machine", "box"]
    env = {**os.environ, "COLUMNS": "200", "PERFSHERIFF_MAX_RESULT_BYTES": str(1 << 20)}
    env.pop("PERFSHERIFF_DATABASE_URL", None)
    done = subprocess.run(command, cwd=work, capture_output=True, text=True, env=env, timeout=120, check=False)
    if case == "link within":  # a link inside the folder is followed
        assert done.returncode == 0, done.stderr
        return
    assert done.returncode == 1
    assert "Traceback" not in done.stderr
    (line,) = done.stderr.strip().splitlines()
    expected = {
        "link out": f"error: {bad}: a symbolic link out of the folder (to {outside}) is not read",
        "link to pagemap": f"error: {bad}: a symbolic link out of the folder (to /proc/",
        "fifo": f"error: {bad}: not a regular file (a FIFO, a device or a socket is not read)",
        "proc file": f"error: {target}: more bytes than its size said, past the limit for a result file",
    }[case]
    assert line.startswith(expected), line

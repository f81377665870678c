"""``perfsheriff compare --server`` end to end: results uploaded to a real server, compared there and locally."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import numpy as np
import pytest

from support.benchrepo import BenchProject
from support.cli import assert_one_error_line, run_cli
from support.fakeservers import FakeService, Reply
from support.liveserver import LiveServer, free_port, start_server

BASE_LEVELS = {"work": 100.0, "parse": 50.0, "lex": 20.0}
HEAD_LEVELS = {"work": 130.0, "parse": 50.0, "lex": 16.0}  # work 30 % slower, lex 20 % faster


def results(path: Path, levels: dict[str, float]) -> Path:
    """Ten samples around each level, with the same 0.5 % noise at every revision."""
    noise = 0.005 * np.random.default_rng(0).standard_normal(10)
    items = [{"name": name, "unit": "ms", "samples": list(level * (1 + noise))} for name, level in levels.items()]
    path.write_text(json.dumps({"format": "perfsheriff", "version": 1, "results": items}))
    return path


@pytest.fixture
def uploaded(server: LiveServer, project: BenchProject, tmp_path: Path) -> tuple[str, str]:
    """Two push tips of main, measured and uploaded with ``perfsheriff upload`` as a CI job does it."""
    token = server.token("agent", machine="box", machine_class="test-class")
    env = {"PERFSHERIFF_SERVER": server.url, "PERFSHERIFF_TOKEN": token}
    base, head = project.tips[1], project.tips[2]
    for rev, levels in ((base, BASE_LEVELS), (head, HEAD_LEVELS)):
        path = results(tmp_path / f"{rev}.json", levels)
        done = run_cli("upload", str(path), "--revision", rev, "--machine", "box", cwd=tmp_path, env=env)
        assert done.returncode == 0, done.stderr
    return base, head


def compare(*args: str, cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return run_cli("compare", *args, cwd=cwd, env=env)


def test_the_servers_comparison_reads_as_the_local_one(
    server: LiveServer, uploaded: tuple[str, str], tmp_path: Path
) -> None:
    base, head = uploaded
    for shown in ([], ["--markdown"], ["--json"]):
        names = ("--base", base[:8], "--head", head)  # the server resolves a sha's prefix as the store does
        remote = compare(*names, *shown, cwd=tmp_path, env={"PERFSHERIFF_SERVER": server.url})
        local = compare(*names, *shown, "--db", server.db_url, cwd=tmp_path)
        assert (remote.returncode, remote.stderr) == (0, ""), remote.stderr
        assert local.returncode == 0, local.stderr
        assert remote.stdout == local.stdout
    answer = json.loads(remote.stdout)
    assert (answer["base"], answer["head"]) == (base, head)
    verdicts = {row["benchmark"]: row["verdict"] for row in answer["series"]}
    assert verdicts == {"work": "regression", "parse": "no_change", "lex": "improvement"}


def test_a_rule_that_fires_on_the_servers_data_exits_3(
    server: LiveServer, uploaded: tuple[str, str], tmp_path: Path
) -> None:
    base, head = uploaded
    gate = ("--base", base, "--head", head, "--fail-on", "regression>10%,improvement>50%", "--markdown")
    remote = compare(*gate, "--server", server.url, cwd=tmp_path)
    local = compare(*gate, "--db", server.db_url, cwd=tmp_path)
    assert remote.returncode == local.returncode == 3
    assert (remote.stdout, remote.stderr) == (local.stdout, local.stderr)
    assert "**Gate failed** (rules: `regression>10%`, `improvement>50%`)." in remote.stdout
    assert remote.stderr.startswith("rule regression>10% fired: work on test-class: +30.0% (worse by a factor")
    passing = compare(*gate[:5], "regression>50%", cwd=tmp_path, env={"PERFSHERIFF_SERVER": server.url})
    assert (passing.returncode, passing.stderr) == (0, "")


def test_what_the_server_refuses_is_one_line(
    server: LiveServer, project: BenchProject, uploaded: tuple[str, str], tmp_path: Path
) -> None:
    base, head = uploaded
    at = ("--server", server.url)
    unknown = compare("--base", "nosuchbranch", "--head", head, *at, cwd=tmp_path)
    assert_one_error_line(unknown, "no branch, tag or stored revision named 'nosuchbranch'", "(HTTP 404 not_found)")
    unmeasured = compare("--base", base, "--head", "f" * 40, *at, cwd=tmp_path)
    assert_one_error_line(unmeasured, "no stored revision", "(HTTP 404 not_found)")
    other = results(tmp_path / "other.json", {"other": 1.0})
    token = server.token("agent", machine="box", machine_class="test-class")
    env = {"PERFSHERIFF_SERVER": server.url, "PERFSHERIFF_TOKEN": token}
    sent = run_cli("upload", str(other), "--revision", project.tips[3], "--machine", "box", cwd=tmp_path, env=env)
    assert sent.returncode == 0, sent.stderr
    apart = compare("--base", base, "--head", project.tips[3], "--fail-on", "regression", *at, cwd=tmp_path)
    assert_one_error_line(apart, "no series was measured at both", "the gate has nothing to judge", "(HTTP 422")
    wrong_rule = compare("--base", base, "--head", head, "--fail-on", "regression<5%", *at, cwd=tmp_path)
    assert_one_error_line(wrong_rule, "--fail-on: rule")


def test_a_server_and_a_database_together_are_refused(tmp_path: Path) -> None:
    nobody = f"http://127.0.0.1:{free_port()}"
    names = ("--base", "a" * 40, "--head", "b" * 40)
    both = compare(*names, "--server", nobody, "--db", f"sqlite:///{tmp_path / 'x.db'}", cwd=tmp_path)
    assert_one_error_line(both, "choose one of --server and --db")
    ambient = {"PERFSHERIFF_SERVER": nobody, "PERFSHERIFF_DATABASE_URL": f"sqlite:///{tmp_path / 'x.db'}"}
    unsure = compare(*names, cwd=tmp_path, env=ambient)
    assert_one_error_line(unsure, "PERFSHERIFF_SERVER and PERFSHERIFF_DATABASE_URL are both set")


def test_an_explicit_database_wins_over_the_servers_variable(
    server: LiveServer, uploaded: tuple[str, str], tmp_path: Path
) -> None:
    base, head = uploaded
    nobody = f"http://127.0.0.1:{free_port()}"
    local = compare(
        "--base", base, "--head", head, "--db", server.db_url, cwd=tmp_path, env={"PERFSHERIFF_SERVER": nobody}
    )
    assert local.returncode == 0, local.stderr


def test_an_unreachable_server_is_one_line(tmp_path: Path) -> None:
    nobody = f"http://127.0.0.1:{free_port()}"
    done = compare("--base", "a" * 40, "--head", "b" * 40, "--server", nobody, cwd=tmp_path)
    assert_one_error_line(done, f"cannot reach {nobody}")
    not_a_url = compare("--base", "a" * 40, "--head", "b" * 40, "--server", "perf.example.org", cwd=tmp_path)
    assert_one_error_line(not_a_url, "--server: expected an http:// or https:// URL")


def test_a_server_that_ignores_the_gate_or_garbles_it_fails_it(tmp_path: Path) -> None:
    """A server older than fail_on answers without judging the rules: passing the gate then would be a lie."""
    base, head = "a" * 40, "b" * 40
    path = f"/api/v1/compare?base={base}&head={head}&fail_on=regression"
    unjudged = {"base": base, "head": head, "series": [], "suites": [], "rules": [], "fired": []}
    garbled = unjudged | {
        "rules": ["regression"],
        "fired": [{"rule": "regression", "kind": "regression", "change": 1.5, "series": "x"}],
    }
    for answer, said in ((unjudged, "ignored fail_on"), (garbled, "names a rule, series or suite it lacks")):
        with FakeService() as odd:
            odd.on("GET", path, Reply(200, answer))
            done = compare("--base", base, "--head", head, "--fail-on", "regression", "--server", odd.url, cwd=tmp_path)
            assert odd.unexpected == []
        assert_one_error_line(done, said, "unexpected_response")


def test_a_server_that_reads_only_for_tokens_takes_one(
    server: LiveServer, project: BenchProject, uploaded: tuple[str, str], tmp_path: Path
) -> None:
    base, head = uploaded
    closed = start_server(server.db_url, tmp_path, config=project.config, env={"PERFSHERIFF_PUBLIC_READ": "false"})
    try:
        names = ("--base", base, "--head", head, "--server", closed.url)
        refused = compare(*names, cwd=tmp_path)
        assert_one_error_line(refused, "(HTTP 401 unauthorized)")
        token_file = tmp_path / "token"
        token_file.write_text(closed.token("read") + "\n")
        token_file.chmod(0o600)
        done = compare(*names, "--token-file", str(token_file), "--json", cwd=tmp_path)
        assert done.returncode == 0, done.stderr
        assert sorted(row["benchmark"] for row in json.loads(done.stdout)["series"]) == ["lex", "parse", "work"]
    finally:
        closed.stop()

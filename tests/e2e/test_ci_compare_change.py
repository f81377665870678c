"""integrations/ci/compare-change.sh (what the GitHub Action and the GitLab template run) on a real repository."""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
from pathlib import Path

import yaml

from support.fakeservers import FakeService, Reply
from support.gitfixtures import Repo
from support.liveserver import free_port

REPO_ROOT = Path(__file__).resolve().parents[2]
SCRIPT = REPO_ROOT / "integrations" / "ci" / "compare-change.sh"
BENCH = """\
import json, random, sys
from pathlib import Path
level = float(Path("level.txt").read_text())
samples = [level * (1 + random.gauss(0, 0.01)) for _ in range(20)]
result = {"name": "parse", "unit": "ms", "samples": samples}
Path(sys.argv[1]).write_text(json.dumps({"format": "perfsheriff", "version": 1, "results": [result]}))
"""


def change(tmp_path: Path, level_after: int) -> Repo:
    """main at level 100; the branch ``feature`` (checked out) changes it to ``level_after``."""
    repo = Repo.init(tmp_path / "project")
    repo.commit("parser", files={"bench.py": BENCH, "level.txt": "100\n"})
    repo.commit("docs", files={"README": "parser\n"})
    repo.branch("feature")
    repo.commit("rework the parser", files={"level.txt": f"{level_after}\n"})
    return repo


def run_script(repo: Repo, **settings: str) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",  # perfsheriff is installed
        "PERFSHERIFF_BENCHMARK": f"{shlex.quote(sys.executable)} bench.py results.json",
        "PERFSHERIFF_RESULTS": "results.json",
        "PERFSHERIFF_BASE": "main",
        **settings,
    }
    env.pop("PERFSHERIFF_DATABASE_URL", None)
    return subprocess.run(["sh", str(SCRIPT)], cwd=repo.path, env=env, capture_output=True, text=True, check=False)


def test_a_regressing_change_fails_the_gate_and_gets_one_comment(tmp_path: Path) -> None:
    repo = change(tmp_path, 112)
    with FakeService() as github:
        github.on("GET", "/repos/octo/parser/issues/5/comments?per_page=100&page=1", Reply(200, []))
        github.on("POST", "/repos/octo/parser/issues/5/comments", Reply(201, {"id": 31}))
        done = run_script(
            repo,
            PERFSHERIFF_FAIL_ON="regression>5%",
            PERFSHERIFF_COMMENT="github:5",
            GITHUB_TOKEN="ghp_" + "x" * 36,
            GITHUB_API_URL=github.url,
            GITHUB_REPOSITORY="octo/parser",
        )
        assert github.unexpected == []
    assert done.returncode == 3, done.stderr
    assert "rule regression>5% fired: parse on ci" in done.stderr
    (posted,) = github.calls("POST", "/repos/octo/parser/issues/5/comments")
    assert "**(!) regression**" in posted.body["body"]
    assert "<!-- perfsheriff:compare -->" in posted.body["body"]
    assert "created comment 31 on pull request #5" in done.stdout
    assert repo.git("symbolic-ref", "--short", "HEAD").strip() == "feature"  # left as it was found
    assert repo.git("status", "--porcelain").strip() == "?? perfsheriff-compare.md"


def test_a_neutral_change_passes_and_writes_the_table(tmp_path: Path) -> None:
    repo = change(tmp_path, 100)
    uploads_go_there = f"http://127.0.0.1:{free_port()}"  # a CI's variable for uploads: the job's data is compared
    done = run_script(
        repo, PERFSHERIFF_FAIL_ON="regression>5%", PERFSHERIFF_REPEATS="3", PERFSHERIFF_SERVER=uploads_go_there
    )
    assert done.returncode == 0, done.stderr
    table = (repo.path / "perfsheriff-compare.md").read_text()
    assert "| parse |" in table
    assert "Gate failed" not in table


def test_a_bad_setting_stops_it_before_anything_runs(tmp_path: Path) -> None:
    repo = change(tmp_path, 112)
    done = run_script(repo, PERFSHERIFF_COMMENT="bitbucket:4")
    assert done.returncode == 1
    assert "PERFSHERIFF_COMMENT: expected github:NUMBER or gitlab:IID" in done.stderr
    assert not (repo.path / "results.json").exists()
    missing = run_script(repo, PERFSHERIFF_BENCHMARK="")
    assert missing.returncode != 0
    assert "set PERFSHERIFF_BENCHMARK" in missing.stderr


def test_the_action_and_the_template_run_this_script_and_parse() -> None:
    action = yaml.safe_load((REPO_ROOT / "integrations" / "github" / "action.yml").read_text())
    steps = action["runs"]["steps"]
    assert action["runs"]["using"] == "composite"
    assert any("ci/compare-change.sh" in step.get("run", "") for step in steps)
    workflow = yaml.safe_load((REPO_ROOT / "integrations" / "github" / "example-workflow.yml").read_text())
    assert workflow["permissions"]["pull-requests"] == "write"
    template = yaml.safe_load((REPO_ROOT / "integrations" / "gitlab" / "perfsheriff.gitlab-ci.yml").read_text())
    assert any("compare-change.sh" in line for line in template["perfsheriff"]["script"])

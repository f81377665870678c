"""The merge gate end to end: results of two revisions of a real repository, compare --fail-on --markdown."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
import sqlalchemy as sa

from support.cli import run_cli
from support.gitfixtures import Repo

WEIRD = "parse|`json`"  # a name that would break a Markdown table, and start code, unescaped


def results(levels: dict[str, float]) -> str:
    """Perfsheriff JSON: ten samples around each level with 0.5 % noise, the same noise at every revision.

    Head's samples are then base's scaled exactly, so each ratio is exactly the ratio of the levels.
    """
    noise = 0.005 * np.random.default_rng(0).standard_normal(10)
    items = [{"name": name, "unit": "ms", "samples": list(level * (1 + noise))} for name, level in levels.items()]
    return json.dumps({"format": "perfsheriff", "version": 1, "results": items})


@pytest.fixture(scope="module")
def measured(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Repo, str]:
    """A repository whose head commit slows ``WEIRD`` by 30 % and ``render`` by 3 %, and speeds up ``lex``."""
    folder = tmp_path_factory.mktemp("gate")
    repo = Repo.init(folder / "project")
    repo.commit("initial", files={"a.txt": "1\n"})
    repo.commit("make parsing slower", files={"a.txt": "2\n"})
    db = f"sqlite:///{folder / 'perf.db'}"
    for rev, levels in (
        ("HEAD~1", {WEIRD: 100.0, "render": 50.0, "lex": 20.0, "io": 10.0}),
        ("HEAD", {WEIRD: 130.0, "render": 51.5, "lex": 16.0, "io": 10.0}),
    ):
        path = folder / f"{rev}.json"
        path.write_text(results(levels))
        done = run_cli(
            "ingest", str(path), "--repo", str(repo.path), "--revision", rev, "--machine", "ci", "--db", db, cwd=folder
        )
        assert done.returncode == 0, done.stderr
    set_weight(db, WEIRD, 0.01)  # the big regression is a micro-benchmark that barely counts
    return folder, repo, db


def set_weight(db: str, benchmark: str, weight: float) -> None:
    """Weights live with the benchmarks in the store."""
    engine = sa.create_engine(db)
    with engine.begin() as conn:
        conn.execute(sa.text("UPDATE benchmarks SET weight = :w WHERE name = :name"), {"w": weight, "name": benchmark})
    engine.dispose()


def set_tags(db: str, tags: dict[str, list[str]]) -> None:
    """Tags live with the benchmarks too (a project file's ``tags``, stored when the project is tracked)."""
    engine = sa.create_engine(db)
    with engine.begin() as conn:
        for name, found in tags.items():
            query = sa.text("UPDATE benchmarks SET tags = :tags WHERE name = :name")
            conn.execute(query, {"tags": json.dumps(found), "name": name})
    engine.dispose()


def gate(measured: tuple[Path, Repo, str], *args: str) -> tuple[int, str, str]:
    folder, repo, db = measured
    done = run_cli(
        "compare", "--base", "HEAD~1", "--head", "HEAD", "--repo", str(repo.path), *args, "--db", db, cwd=folder
    )
    return done.returncode, done.stdout, done.stderr


def test_a_generous_gate_passes_and_prints_a_pr_comment(measured: tuple[Path, Repo, str]) -> None:
    code, out, err = gate(measured, "--fail-on", "regression>100%", "--markdown")
    assert (code, err) == (0, "")
    _, repo, _ = measured
    assert out.startswith(f"### perfsheriff: `{repo.rev('HEAD')[:12]}` against `{repo.rev('HEAD~1')[:12]}`\n")
    assert "**Gate passed** (rules: `regression>100%`)." in out
    lines = out.splitlines()
    suite = next(line for line in lines if line.startswith("| time on ci |"))
    assert "| 4 series: 2 regressions, 1 improvement, 1 no change |" in suite
    series = [line for line in lines if line.startswith("| ") and " ms |" in line]
    # regressions first, worst first; then the improvement; the unchanged series folded away below
    assert [line.split(" | ")[0] for line in series] == [r"| parse\|\`json\`", "| render", "| lex", "| io"]
    assert r"**(!) regression**" in series[0]
    assert "(+) improvement" in series[2]
    assert "<details><summary>1 series with no change</summary>" in out
    assert all(line.count("|") - line.count(r"\|") == 7 for line in series), "escaped names keep six cells"


def test_a_rule_that_fires_exits_3_and_names_the_rows(measured: tuple[Path, Repo, str]) -> None:
    code, out, err = gate(measured, "--fail-on", "regression>10%,improvement>20%", "--markdown")
    assert code == 3
    assert "**Gate failed**" in out
    assert r"- `regression>10%`: parse\|\`json\` on ci: +30.0% (worse by a factor 1.30" in out
    assert "(fails the gate)" in out
    fired = err.strip().splitlines()
    assert len(fired) == 2
    assert fired[0].startswith("rule regression>10% fired: parse|`json` on ci: +30.0% (worse by a factor 1.30")
    assert fired[0].endswith(" > 1.100)")
    # a time that falls by a fifth is better by a factor 1.25: limits are factors, symmetric on the log scale
    assert fired[1].startswith("rule improvement>20% fired: lex on ci: -20.0% (better by a factor 1.25")
    assert fired[1].endswith(" > 1.200)")


def test_weights_decide_the_suite_rule(measured: tuple[Path, Repo, str]) -> None:
    # Weighted 0.01, the +30 % barely counts: the suite is about the mean of +3 %, -20 % and 0 %, an improvement.
    code, out, err = gate(measured, "--fail-on", "suite>2%", "--json")
    assert (code, err) == (0, "")
    payload = json.loads(out)
    [suite] = payload["suites"]
    assert suite["relative_change"] < 0
    assert {r["benchmark"]: r["weight"] for r in payload["series"]}[WEIRD] == 0.01
    assert payload["fired"] == []
    db = measured[2]
    set_weight(db, WEIRD, 100)
    try:
        code, out, err = gate(measured, "--fail-on", "suite>2%", "--json")
    finally:
        set_weight(db, WEIRD, 0.01)
    assert code == 3
    assert json.loads(out)["fired"][0]["rule"] == "suite>2%"
    assert err.startswith("rule suite>2% fired: the weighted suite of time on ci: ")


def test_tags_get_their_own_summaries_and_rules(measured: tuple[Path, Repo, str]) -> None:
    # real-world: render +3 % and the +30 % weighted 0.01 (about +3.2 %); micro: lex -20 % and io unchanged.
    db = measured[2]
    set_tags(db, {"render": ["real-world"], WEIRD: ["real-world"], "io": ["micro"], "lex": ["micro"]})
    try:
        code, out, err = gate(
            measured,
            "--fail-on",
            "suite>2%,real-world:suite>1%,micro:improvement>30%,real-world:regression>20%",
            "--json",
        )
        table = gate(measured)
        markdown = gate(measured, "--markdown", "--fail-on", "real-world:suite>5%")
        unknown = gate(measured, "--fail-on", "realworld:suite>2%")
    finally:
        set_tags(db, {name: [] for name in ("render", "io", WEIRD, "lex")})
    assert code == 3
    payload = json.loads(out)
    assert [(s["tag"], s["series"], s["verdict"]) for s in payload["tag_suites"]] == [
        ("micro", 2, "improvement"),
        ("real-world", 2, "regression"),
    ]
    expected = math.exp((math.log(1.03) + 0.01 * math.log(1.3)) / 1.01) - 1
    assert payload["tag_suites"][1]["relative_change"] == pytest.approx(expected, rel=0.05)
    assert [(f["rule"], f.get("tag_suite"), f.get("series") is not None) for f in payload["fired"]] == [
        ("real-world:suite>1%", 1, False),
        ("real-world:regression>20%", None, True),
    ]
    assert err.splitlines()[0].startswith("rule real-world:suite>1% fired: the weighted suite of tag real-world, ")
    assert table[0] == 0
    assert "weighted suite of tag micro, time on ci: " in table[1]
    assert "weighted suite of tag real-world, time on ci: +3.2% [" in table[1]
    assert (markdown[0], markdown[2]) == (0, "")
    assert r"| real\-world | time on ci | +3.2% | " in markdown[1]
    assert "**Gate passed** (rules: `real-world:suite>5%`)." in markdown[1]
    assert unknown[0] == 1
    assert 'no compared series carries the tag "realworld"; known tags: micro, real-world' in unknown[2]


@pytest.mark.parametrize(
    ("rule", "message"),
    [
        ("regresion>10%", 'error: --fail-on: rule "regresion>10%": unknown kind "regresion"'),
        ("real world:suite>2%", 'error: --fail-on: rule "real world:suite>2%": a tag before ":" is ASCII letters'),
    ],
)
def test_a_bad_rule_is_a_usage_error(measured: tuple[Path, Repo, str], rule: str, message: str) -> None:
    code, out, err = gate(measured, "--fail-on", rule)
    assert (code, out) == (1, "")
    assert err.startswith(message)
    assert "Traceback" not in err


def test_a_gate_on_revisions_without_common_series_fails_as_a_usage_error(tmp_path: Path) -> None:
    repo = Repo.init(tmp_path / "project")
    repo.commits(["one", "two"])
    db = f"sqlite:///{tmp_path / 'perf.db'}"
    for rev, name in (("HEAD~1", "parse"), ("HEAD", "render")):
        path = tmp_path / f"{name}.json"
        path.write_text(results({name: 1.0}))
        ingest = ("ingest", str(path), "--repo", str(repo.path), "--revision", rev, "--machine", "ci", "--db", db)
        assert run_cli(*ingest, cwd=tmp_path).returncode == 0
    compare = ("compare", "--base", "HEAD~1", "--head", "HEAD", "--repo", str(repo.path), "--db", db)
    done = run_cli(*compare, "--fail-on", "regression>100%", cwd=tmp_path)
    assert done.returncode == 1
    assert "the gate has nothing to judge" in done.stderr
    assert run_cli(*compare, cwd=tmp_path).returncode == 0  # without a gate, an empty comparison is no error

"""A mypy-like history (tests/support/mypylike.py): perfsheriff finds both generations from the recorded
environment, records them in turn without being told where they start, and keeps the timeline continuous."""

from __future__ import annotations

import json
import re
from datetime import timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from sqlalchemy.engine import Engine

from perfsheriff.report.build import ReportFormat, write_report
from perfsheriff.service.analysis.detection import DetectionPolicy, detect_stored
from perfsheriff.service.generations import upgrades
from perfsheriff.service.generations.factors import series_factors
from perfsheriff.service.views import dashboard
from perfsheriff.stats.changepoints import DetectionSettings
from perfsheriff.store import alerts as alert_store
from perfsheriff.store import queries
from support.cli import invoke
from support.mypylike import CLASS, ENVIRONMENTS, RELEASE, STEP_AT, T0, MypyLike

NOW = T0 + timedelta(days=30)
POLICY = DetectionPolicy(default=DetectionSettings(min_relative_change=0.05), drift=None)


@pytest.fixture
def mypy(engine: Engine, tmp_path: Path) -> MypyLike:
    return MypyLike(engine, tmp_path / "mypy")


def unrecorded(engine_url: str) -> list[dict[str, Any]]:
    code, out, err = invoke("machine", "generations", CLASS, "--json", db=engine_url)
    assert code == 0, err
    return list(json.loads(out)["unrecorded"])


def test_both_environment_changes_are_found_and_recorded_in_turn(mypy: MypyLike, engine_url: str) -> None:
    _, b, c = ENVIRONMENTS
    listed = unrecorded(engine_url)
    # The kernel update at commit 20 is no generation; the new hardware and the new OS are.
    assert [(u["at"], u["kind"], sorted(u["changed"])) for u in listed] == [
        (b.starts_at.isoformat(), "upgrade", ["cpu_count", "cpu_model"]),
        (c.starts_at.isoformat(), "upgrade", ["os"]),
    ]
    # Python and the compiler changed with the OS: named beside it, though alone they make no generation.
    assert [u["also_changed"] for u in listed] == [
        {},
        {"python": {"from": "3.8.10", "to": "3.11.9"}, "compiler": {"from": "GCC 9.4.0", "to": "GCC 11.4.0"}},
    ]
    assert listed[0]["command"] == (
        f"perfsheriff machine upgrade {CLASS} --from OLD --to NEW --at {b.starts_at.isoformat()}"
    )
    code, out, err = invoke("machine", "generations", CLASS, db=engine_url)
    assert code == 0, err
    flat = " ".join(out.split())
    assert "not recorded as a generation of mypy-runner: bench-1 (upgrade) from 2026-03-03 15:30:00 UTC" in flat
    assert "os Ubuntu 20.04.6 LTS -> Ubuntu 22.04.4 LTS (with python 3.8.10 -> 3.11.9, compiler GCC 9.4.0" in flat

    config = str(mypy.path / "perfsheriff.toml")
    for old, new, env in (("A", "B", b), ("B", "C", c)):
        code, out, err = invoke(
            "machine", "upgrade", CLASS, "--from", old, "--to", new, "--config", config, db=engine_url
        )
        assert code == 0, err
        assert f"starts at {env.starts_at:%Y-%m-%d %H:%M:%S} UTC (a new setup of bench-1 (upgrade))" in " ".join(
            out.split()
        )
    assert unrecorded(engine_url) == []  # both covered now


def test_once_both_upgrades_are_recorded_the_timeline_is_continuous_and_only_the_real_step_alerts(
    mypy: MypyLike,
) -> None:
    _, b, c = ENVIRONMENTS
    for old, new, env in (("A", "B", b), ("B", "C", c)):
        done = upgrades.record_upgrade(
            mypy.engine, mypy.project_file, CLASS, from_label=old, to_label=new, at=None, now=NOW
        )
        assert done.starts_at == env.starts_at
    with mypy.engine.connect() as conn:
        (series,) = queries.list_series(conn)
        to_b, to_c = series_factors(conn, series.id, CLASS)
        view = dashboard.series_view(conn, series.id)
    assert to_b.applied is not None, to_b.describe()
    assert to_c.applied is not None, to_c.describe()
    assert to_b.applied.low <= 0.7 <= to_b.applied.high
    assert to_c.applied.low <= 0.85 / 0.7 <= to_c.applied.high
    assert (to_b.boundary, to_c.boundary) == (40, 80)
    assert view["rescaled"] is True
    medians = np.array(view["points"]["median"])
    assert len(medians) == 120
    newest = float(np.median(medians[80:STEP_AT]))
    assert newest == pytest.approx(8.5, rel=0.01)
    # Each old environment's rescaled level is the newest one's within its (composed) factor's interval.
    factor, low, high = (to_b.applied.factor * to_c.applied.factor, to_b.applied.low * to_c.applied.low,
                         to_b.applied.high * to_c.applied.high)  # fmt: skip
    assert low / factor <= float(np.median(medians[:40])) / newest <= high / factor
    last = to_c.applied
    assert last.low / last.factor <= float(np.median(medians[40:80])) / newest <= last.high / last.factor

    report = detect_stored(mypy.engine, POLICY, now=NOW)
    with mypy.engine.connect() as conn:
        alerts = alert_store.list_alerts(conn)
    assert [mypy.shas.index(a.first_bad) for a in alerts] == [STEP_AT], report.held_back
    assert alerts[0].relative_change == pytest.approx(0.1, abs=0.02)


def test_without_the_upgrades_both_boundaries_alert(mypy: MypyLike) -> None:
    """The control: the same history read raw has the machines' steps at commits 40 and 80."""
    detect_stored(mypy.engine, POLICY, now=NOW)
    with mypy.engine.connect() as conn:
        alerts = alert_store.list_alerts(conn)
    assert {40, 80} <= {mypy.shas.index(a.first_bad) for a in alerts}


def record_both(mypy: MypyLike) -> None:
    for old, new in (("A", "B"), ("B", "C")):
        upgrades.record_upgrade(mypy.engine, mypy.project_file, CLASS, from_label=old, to_label=new, at=None, now=NOW)


@pytest.mark.parametrize("horizon", [400, 30], ids=["tail-reaches-the-release", "release-before-the-tail"])
def test_drift_since_the_release_reads_the_rescaled_timeline(mypy: MypyLike, horizon: int) -> None:
    """The release (commit 60) was measured on B, the newest revisions on C: +10 % (the step at 100), not the
    +34 % of the raw values."""
    record_both(mypy)
    detect_stored(mypy.engine, DetectionPolicy(horizon=horizon), now=NOW)
    with mypy.engine.connect() as conn:
        (entry,) = dashboard.release_drifts(conn)
    assert entry["tag"] == RELEASE
    (series,) = entry["drifted"]
    assert series["relative_change"] == pytest.approx(0.1, abs=0.02)


def test_compare_across_the_boundaries_is_in_the_newest_units_and_says_so(mypy: MypyLike, engine_url: str) -> None:
    """Commit 20 (measured on A) against commit 110 (on C, after the real step): +10 %, not the raw -6.5 %."""
    record_both(mypy)
    base, head = mypy.shas[20], mypy.shas[110]
    code, out, err = invoke("compare", "--base", base, "--head", head, "--json", db=engine_url)
    assert code == 0, err
    answer = json.loads(out)
    (row,) = answer["series"]
    assert row["relative_change"] == pytest.approx(0.1, abs=0.02)
    assert row["verdict"] == "regression"
    across = row["across_generations"]
    assert (across["units"], across["base"]["generation"], across["head"]) == (
        "C",
        "A",
        {"generation": "C", "factor": None, "low": None, "high": None},
    )
    assert across["base"]["low"] <= across["base"]["factor"] <= across["base"]["high"]
    assert across["base"]["factor"] == pytest.approx(0.85, rel=0.01)
    assert answer["not_compared"] == []
    code, out, err = invoke("compare", "--base", base, "--head", head, db=engine_url)
    assert code == 0, err
    said = "self-check time on mypy-runner: compared in the units of C (base measured on A, x0.8"
    assert said in " ".join(out.split())
    code, out, err = invoke("compare", "--base", base, "--head", head, "--markdown", db=engine_url)
    assert code == 0, err
    line = "- self\\-check time on mypy\\-runner: compared in the units of C \\(base measured on A, x0.8"
    assert line in out
    # Both on the newest generation: an ordinary comparison, nothing said of generations.
    code, out, err = invoke("compare", "--base", mypy.shas[90], "--head", head, "--json", db=engine_url)
    assert code == 0, err
    assert "across_generations" not in json.loads(out)["series"][0]


def test_compare_refuses_while_a_factor_on_the_way_is_pending(mypy: MypyLike, engine_url: str) -> None:
    """C recorded as starting after every run: its factor has no baseline yet, so neither side can be put in
    its units, and a raw comparison (the machines' step) is not given instead."""
    upgrades.record_upgrade(mypy.engine, mypy.project_file, CLASS, from_label="A", to_label="B", at=None, now=NOW)
    later = T0 + timedelta(days=10)
    upgrades.record_upgrade(mypy.engine, mypy.project_file, CLASS, from_label="B", to_label="C", at=later, now=NOW)
    code, out, err = invoke("compare", "--base", mypy.shas[20], "--head", mypy.shas[110], db=engine_url)
    lines = [line for line in err.splitlines() if line.strip()]
    assert (code, len(lines)) == (1, 1), (out, err)
    assert lines[0].startswith("error: self-check time on mypy-runner cannot be compared across its machine upgrade: ")
    assert "measured on A of mypy-runner, and the factor into C is pending: 0 of 20 baseline revisions" in lines[0]


def test_the_static_report_draws_the_rescaled_timeline_with_both_boundaries(mypy: MypyLike, tmp_path: Path) -> None:
    record_both(mypy)
    written = write_report(mypy.engine, tmp_path / "report", ReportFormat.MARKDOWN, now=NOW)
    index = written.index.read_text()
    (graph,) = written.graphs
    svg = graph.read_text()
    assert "Machine generations: values in the units of C: upgrade to B from position 40: x0.6990 " in index
    assert "upgrade to C from position 80: x1.2" in index
    assert svg.count('stroke-dasharray="4 3"') == 2
    # The medians' line: flat (the noise) before the step at commit 100, as the rescaled timeline is.
    line = re.search(r'<polyline points="([^"]+)"', svg)
    assert line is not None
    ys = [float(p.split(",")[1]) for p in line.group(1).split()]
    assert len(ys) == 120
    assert max(ys[:STEP_AT]) - min(ys[:STEP_AT]) < (max(ys) - min(ys)) / 3


def test_the_compare_page_is_computed_again_once_the_upgrades_are_recorded(mypy: MypyLike) -> None:
    base, head = mypy.shas[20], mypy.shas[110]
    with mypy.engine.connect() as conn:
        before = dashboard.compare_view(conn, base, head)
    assert "across_generations" not in before["series"][0]
    record_both(mypy)
    with mypy.engine.connect() as conn:
        after = dashboard.compare_view(conn, base, head)
    assert after["series"][0]["across_generations"]["base"]["generation"] == "A"
    assert after["series"][0]["relative_change"] == pytest.approx(0.1, abs=0.02)

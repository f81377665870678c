"""Machine generations on a real database: an upgrade, its baseline jobs taken by an agent, the factor, one timeline.

A series measured on the old machine for 40 revisions; a new machine 30 % faster takes over at revision 40, and
the code gets 10 % slower at revision 50. The upgrade's baseline jobs are claimed as an agent claims them and
answered through intake, as an upload is stored.
"""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from perfsheriff import projectfile
from perfsheriff.gitrepo import GitRepo
from perfsheriff.model import BenchmarkResult, Configuration, JobReason, JobState, Machine, ResultSet
from perfsheriff.service.analysis.detection import DetectionPolicy, detect_stored
from perfsheriff.service.generations import upgrades
from perfsheriff.service.generations.factors import rescaled_points, series_factors
from perfsheriff.service.intake import ingest
from perfsheriff.service.queue import jobs
from perfsheriff.service.views import dashboard
from perfsheriff.service.views import series as series_views
from perfsheriff.stats.changepoints import DetectionSettings
from perfsheriff.stats.generations import ScaleEstimate
from perfsheriff.store import alerts as alert_store
from perfsheriff.store import queries
from perfsheriff.store import schema as t
from support.gitfixtures import Repo

T_OLD = datetime(2026, 6, 1, tzinfo=UTC)  # the old machine's runs, an hour apart
T_NEW = datetime(2026, 9, 1, tzinfo=UTC)  # the new machine's first run
OLD, NEW = Machine("old-1", "cls"), Machine("new-1", "cls")
POLICY = DetectionPolicy(default=DetectionSettings(min_relative_change=0.05), drift=None)
TOML = '[project]\nname = "project"\nrepository = "."\nbranch = "main"\n[[benchmarks]]\nname = "b"\ncommand = "true"\n'


class Lab:
    """60 commits of a project; the old machine measured the first 40, the new one (0.7x) the last 20."""

    def __init__(self, engine: Engine, path: Path) -> None:
        self.engine, self.repo = engine, Repo.init(path)
        self.rng = np.random.default_rng(5)
        self.shas = [self.repo.commit(f"change {i}") for i in range(60)]
        self.project_file = projectfile.loads(TOML, source="perfsheriff.toml", config_dir=path)

    @staticmethod
    def level(index: int) -> float:
        return 100.0 * (1.1 if index >= 50 else 1.0)

    def store(self, sha: str, machine: Machine, scale: float, at: datetime) -> int:
        target = ingest.prepare_target(
            self.engine, GitRepo(self.repo.path), revision=sha, machine=machine, configuration=Configuration()
        )
        values = scale * self.level(self.shas.index(sha)) * np.exp(0.01 * self.rng.standard_normal(5))
        results = ResultSet("perfsheriff", (BenchmarkResult("b", "ms", tuple(float(v) for v in values)),))
        with self.engine.begin() as conn:
            stored = ingest.store_result_set(
                conn,
                target,
                results,
                source="benchmark b",
                content_hash=hashlib.sha256(f"{sha}{machine.name}{at}".encode()).hexdigest(),
                now=at,
            )
        return stored.run_id

    def history(self) -> None:
        for i in range(40):
            self.store(self.shas[i], OLD, 1.0, T_OLD + timedelta(hours=i))
        for i in range(40, 60):
            self.store(self.shas[i], NEW, 0.7, T_NEW + timedelta(hours=i))

    def run_baseline(self, now: datetime) -> int:
        """Claim every baseline job as the new machine's agent does, answer it through intake; how many."""
        done = 0
        while (job := jobs.claim(self.engine, machine=NEW.name, now=now)) is not None:
            assert job.reason == JobReason.BASELINE.value
            run_id = self.store(job.revision, NEW, 0.7, now)
            with self.engine.begin() as conn:
                jobs.complete(conn, job.id, run_id, now=now)
            done += 1
            now += timedelta(minutes=5)
        return done


@pytest.fixture
def lab(engine: Engine, tmp_path: Path) -> Lab:
    built = Lab(engine, tmp_path / "project")
    built.history()
    return built


def series_id(engine: Engine) -> str:
    with engine.connect() as conn:
        (row,) = queries.list_series(conn)
    return row.id


def test_an_upgrade_gives_one_timeline_with_no_alert_at_the_boundary_and_the_real_step_kept(lab: Lab) -> None:
    now = T_NEW + timedelta(days=5)
    done = upgrades.record_upgrade(
        lab.engine, lab.project_file, "cls", from_label="2019 Xeon", to_label="2026 EPYC", at=None, now=now
    )
    # The boundary is the new machine's first run, found from the class's setups.
    assert done.starts_at == T_NEW + timedelta(hours=40)
    assert done.boundary_from.startswith("a new setup of new-1")
    assert (done.ordinal, done.revisions_chosen, done.jobs_queued) == (2, 20, 20)
    with lab.engine.connect() as conn:
        queued = conn.execute(sa.select(t.jobs.c.revision_id, t.jobs.c.priority, t.jobs.c.state)).all()
    assert {(p, s) for _, p, s in queued} == {(JobReason.BASELINE.priority, JobState.QUEUED.value)}
    sid = series_id(lab.engine)
    with lab.engine.connect() as conn:
        (pending,) = series_factors(conn, sid, "cls")
    assert pending.result is None
    assert pending.describe() == "pending: 0 of 20 baseline revisions measured on 2026 EPYC so far"

    assert lab.run_baseline(now) == 20
    with lab.engine.connect() as conn:
        (factor,) = series_factors(conn, sid, "cls")
        rescaled = rescaled_points(conn, sid, "cls")
    scale = factor.applied
    assert isinstance(scale, ScaleEstimate), factor.describe()
    assert scale.low <= 0.7 <= scale.high
    assert scale.factor == pytest.approx(0.7, rel=0.01)
    assert factor.boundary == 40
    assert rescaled is not None
    points, _ = rescaled
    medians = np.array([np.median(points.samples(i)) for i in range(len(points))])
    assert len(points) == 60
    # One timeline: the old generation's level is the new one's, within the noise of a median of 5 (1 %).
    assert np.median(medians[:40]) == pytest.approx(np.median(medians[40:50]), rel=0.01)

    # The views: the API's series read and `show` rescaled, or raw when asked.
    with lab.engine.connect() as conn:
        view = dashboard.series_view(conn, sid)
        raw_view = dashboard.series_view(conn, sid, raw=True)
        detail = series_views.series_detail(conn, sid)
    assert (view["rescaled"], raw_view["rescaled"]) == (True, False)
    (generation,) = view["generations"]
    assert (generation["state"], generation["boundary_position"]) == ("applied", 40)
    assert generation["low"] <= 0.7 <= generation["high"]
    assert np.median(view["points"]["median"][:40]) == pytest.approx(70.0, rel=0.02)
    # Raw: the 20 baseline revisions hold 5 samples of each machine, the other 20 the old machine's alone.
    counts, raw_medians = np.array(raw_view["points"]["n"][:40]), np.array(raw_view["points"]["median"][:40])
    assert sorted(counts.tolist()) == [5] * 20 + [10] * 20
    assert np.median(raw_medians[counts == 5]) == pytest.approx(100.0, rel=0.02)
    assert detail.rescaled
    assert np.median([p.median for p in detail.points[:40]]) == pytest.approx(70.0, rel=0.02)

    detect_stored(lab.engine, POLICY, now=now)
    with lab.engine.connect() as conn:
        alerts = alert_store.list_alerts(conn)
    bad = sorted(lab.shas.index(a.first_bad) for a in alerts)
    assert bad == [50], [(a.kind, a.last_good, a.first_bad, a.relative_change) for a in alerts]
    (step,) = alerts
    assert step.kind == "regression"
    assert step.relative_change == pytest.approx(0.1, abs=0.02)


def test_on_the_raw_series_the_boundary_alerts(lab: Lab) -> None:
    """The control: without an upgrade recorded, the machines' step is an alert at revision 40."""
    detect_stored(lab.engine, POLICY, now=T_NEW + timedelta(days=5))
    with lab.engine.connect() as conn:
        alerts = alert_store.list_alerts(conn)
    assert 40 in {lab.shas.index(a.first_bad) for a in alerts}


def test_undo_removes_the_generation_and_its_queued_baseline_jobs_only(lab: Lab) -> None:
    now = T_NEW + timedelta(days=5)
    upgrades.record_upgrade(
        lab.engine, lab.project_file, "cls", from_label="A", to_label="B", baseline_revisions=6, at=None, now=now
    )
    taken = jobs.claim(lab.engine, machine=NEW.name, now=now)
    assert taken is not None
    undone = upgrades.undo_upgrade(lab.engine, "cls")
    assert (undone.label, undone.previous_label, undone.jobs_removed) == ("B", "A", 5)
    with lab.engine.connect() as conn:
        states = conn.execute(sa.select(t.jobs.c.state)).scalars().all()
        assert states == [JobState.RUNNING.value]  # the job an agent holds is left to finish
        assert series_factors(conn, series_id(lab.engine), "cls") == []


def written(engine: Engine) -> tuple[list[tuple[str, str]], int]:
    with engine.connect() as conn:
        labels = conn.execute(
            sa.select(t.machine_generations.c.previous_label, t.machine_generations.c.label).order_by(
                t.machine_generations.c.ordinal
            )
        ).all()
        count = conn.execute(sa.select(sa.func.count()).select_from(t.jobs)).scalar_one()
    return [(str(a), str(b)) for a, b in labels], int(count)


def test_the_commands_record_list_and_undo_an_upgrade(lab: Lab, engine_url: str, tmp_path: Path) -> None:
    from support.cli import invoke

    config = tmp_path / "project" / "perfsheriff.toml"
    config.write_text(TOML)
    code, out, err = invoke(
        "machine", "upgrade", "cls", "--from", "2019 Xeon", "--to", "2026 EPYC", "--config", str(config),
        "--baseline-revisions", "8", db=engine_url,
    )  # fmt: skip
    assert code == 0, err
    assert "generation 2 2026 EPYC (after 2019 Xeon)" in out
    assert "a new setup of new-1 (new machine)" in out
    assert "8 baseline jobs queued over 8 revisions" in " ".join(out.split())
    code, out, err = invoke("machine", "generations", "cls", "--json", db=engine_url)
    assert code == 0, err
    listed = json.loads(out)
    assert [g["label"] for g in listed["generations"]] == ["2026 EPYC"]
    (series,) = listed["series"]
    assert (series["state"], series["factor"], series["baseline_revisions_asked"]) == ("pending", None, 8)
    lab.run_baseline(T_NEW + timedelta(days=5))
    code, out, err = invoke("machine", "generations", db=engine_url)
    assert code == 0, err
    flat = " ".join(out.split())
    # 8 revisions: an interval of the smallest and largest ratio, just wider than ±2 % here (seeded).
    assert "factor: too uncertain: about 1 more revisions (the 95% interval reaches ±2.0%" in flat, flat
    sid = series_id(lab.engine)
    code, out, err = invoke("show", sid, "--json", db=engine_url)
    assert code == 0, err
    shown = json.loads(out)
    assert shown["rescaled"] is False  # too uncertain: the values stay as measured
    assert shown["generations"][0]["state"] == "too uncertain"
    code, out, err = invoke("show", sid, db=engine_url)
    assert code == 0, err
    assert "machine upgrade of cls to 2026 EPYC (from position 40): factor too uncertain" in " ".join(out.split())
    code, out, err = invoke("machine", "upgrade", "cls", "--undo", db=engine_url)
    assert code == 0, err
    assert "removed generation 2026 EPYC of cls (back to 2019 Xeon); 0 queued baseline jobs removed" in " ".join(
        out.split()
    )
    assert written(lab.engine)[0] == []


BAD = [
    (["upgrade", "nope", "--from", "A", "--to", "B"], ["no machine of class 'nope'"]),
    (["upgrade", "cls", "--from", "A", "--to", "C"], ["--from", "current generation of cls is 'B', not 'A'"]),
    (["upgrade", "cls", "--from", "Z", "--to", "B"], ["--from", "current generation of cls is 'B', not 'Z'"]),
    (["upgrade", "cls", "--from", "A", "--to", "B"], ["already recorded"]),
    (
        ["upgrade", "cls", "--from", "B", "--to", "C", "--baseline-revisions", "5"],
        ["--baseline-revisions", "at least 6"],
    ),
    (["upgrade", "cls", "--from", "B", "--to", "C", "--baseline-revisions", "0"], ["--baseline-revisions", "got 0"]),
    (["upgrade", "cls", "--from", "B", "--to", "C", "--at", "next tuesday"], ["--at", "cannot read 'next tuesday'"]),
    (["upgrade", "cls", "--from", "B", "--to", "C", "--at", "2026-01-01"], ["--at", "must start after"]),
    (["upgrade", "cls", "--from", "B", "--to", "C", "--at", "2999-01-01"], ["--at", "must start by now"]),
    (["upgrade", "cls", "--from", "B", "--to", "A"], ["--to", "already had a generation labelled 'A'"]),
    (["upgrade", "cls"], ["--from OLD and --to NEW"]),
]


@pytest.mark.parametrize(("args", "fragments"), BAD, ids=[" ".join(a) for a, _ in BAD])
def test_bad_input_is_one_line_and_writes_nothing(
    lab: Lab, engine_url: str, tmp_path: Path, args: list[str], fragments: list[str]
) -> None:
    from support.cli import invoke

    config = tmp_path / "project" / "perfsheriff.toml"
    config.write_text(TOML)
    code, _, err = invoke(
        "machine", "upgrade", "cls", "--from", "A", "--to", "B", "--config", str(config), db=engine_url
    )
    assert code == 0, err
    before = written(lab.engine)
    assert before == ([("A", "B")], 20)
    code, _, err = invoke("machine", *args, "--config", str(config), db=engine_url)
    assert_one_error(code, err, fragments)
    assert written(lab.engine) == before


def test_undo_with_nothing_to_undo_is_one_line(lab: Lab, engine_url: str) -> None:
    from support.cli import invoke

    code, _, err = invoke("machine", "upgrade", "cls", "--undo", db=engine_url)
    assert_one_error(code, err, ["cls has no recorded upgrade to undo"])
    code, _, err = invoke("machine", "generations", "nope", db=engine_url)
    assert_one_error(code, err, ["no machine of class 'nope'"])


def assert_one_error(code: int, err: str, fragments: list[str]) -> None:
    lines = [line for line in err.splitlines() if line.strip()]
    assert code == 1, err
    assert len(lines) == 1, err
    assert lines[0].startswith("error:"), err
    for fragment in fragments:
        assert fragment in lines[0], err


def test_baseline_jobs_wait_while_the_class_run_budget_is_spent(lab: Lab) -> None:
    now = T_NEW + timedelta(days=5)
    upgrades.record_upgrade(
        lab.engine, lab.project_file, "cls", from_label="A", to_label="B", baseline_revisions=6, at=None, now=now
    )
    budget = {"cls": 5}  # each job is one run of the benchmark
    taken = [jobs.claim(lab.engine, machine=NEW.name, now=now, budgets=budget) for _ in range(6)]
    assert [j is not None for j in taken] == [True] * 5 + [False]
    assert jobs.claim(lab.engine, machine=NEW.name, now=now + timedelta(days=1, minutes=1), budgets=budget)


def test_while_the_factor_is_pending_the_boundary_alert_is_held_back_with_a_reason(lab: Lab) -> None:
    now = T_NEW + timedelta(days=5)
    upgrades.record_upgrade(lab.engine, lab.project_file, "cls", from_label="A", to_label="B", at=None, now=now)
    report = detect_stored(lab.engine, POLICY, now=now)
    with lab.engine.connect() as conn:
        alerts = alert_store.list_alerts(conn)
    assert [lab.shas.index(a.first_bad) for a in alerts] == [50]
    (held,) = report.held_back
    assert "held back at the upgrade of cls to B: its factor is pending: 0 of 20 baseline revisions" in held


def test_the_api_reads_the_series_rescaled_or_raw(lab: Lab, engine_url: str, tmp_path: Path) -> None:
    from support.liveserver import start_server

    now = T_NEW + timedelta(days=5)
    upgrades.record_upgrade(lab.engine, lab.project_file, "cls", from_label="A", to_label="B", at=None, now=now)
    lab.run_baseline(now)
    sid = series_id(lab.engine)
    live = start_server(engine_url, tmp_path)
    try:
        with live.client() as http:
            rescaled = http.get(f"/api/v1/series/{sid}").json()
            raw = http.get(f"/api/v1/series/{sid}", params={"raw": "true"}).json()
    finally:
        live.stop()
    assert (rescaled["rescaled"], raw["rescaled"]) == (True, False)
    (generation,) = rescaled["generations"]
    assert (generation["generation"], generation["state"], generation["boundary_position"]) == ("B", "applied", 40)
    assert generation["low"] <= 0.7 <= generation["high"]
    assert np.median(rescaled["points"]["median"][:40]) == pytest.approx(70.0, rel=0.02)
    assert max(raw["points"]["median"][:40]) == pytest.approx(100.0, rel=0.05)

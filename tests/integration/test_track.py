"""The track loop against real repositories, real benchmark processes and real databases.

Every test builds a project whose ``bench.py`` turns ``level.txt`` into samples
(see ``benchrepo``); the runner checks each commit out and runs it, and the
tracker measures, detects and bisects exactly as ``perfsheriff track`` does.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from perfsheriff import projectfile
from perfsheriff.alerts import BisectionState
from perfsheriff.errors import ConfigError, NotFoundError
from perfsheriff.model import Push
from perfsheriff.projectfile import BenchmarkSpec, MachineSpec, ScheduleMode
from perfsheriff.scheduling import scheduled, spread_order
from perfsheriff.service.intake.ingest import Target
from perfsheriff.service.queue.jobs import JobReason
from perfsheriff.service.tracking.execute import LocalExecutor, Measured
from perfsheriff.service.tracking.track import TrackEvents, choose_machine
from perfsheriff.store import schema as t
from support.benchrepo import BASE_LEVEL, build_project
from support.tracking import count_runs, make_tracker, runs_by_revision, stored_alerts

# -- the whole loop ----------------------------------------------------------------------------------------------


def test_a_pass_measures_every_push_detects_and_bisects_into_the_rollup(engine: Engine, tmp_path: Path) -> None:
    project = build_project(tmp_path)
    tracker = make_tracker(engine, project.config, tmp_path / "work")
    bisect_steps: list[tuple[int, str, int]] = []
    ran: list[str] = []
    events = TrackEvents(ran=lambda sha, spec, measured: ran.append(sha))
    report = tracker.run(replace(events, bisect_step=lambda a, c, r: bisect_steps.append((a, c, r))))

    assert (report.runs_ok, report.runs_failed) == (len(project.tips), 0)
    runs = runs_by_revision(engine)
    for tip in project.tips:
        assert runs[tip][0] == ("ok", 1)  # the tip's first run is the track run, with its one series
    assert len(report.new_alert_ids) == 1
    (alert_id,) = report.new_alert_ids
    (alert,) = stored_alerts(engine)
    assert alert.id == alert_id
    assert alert.kind == "regression"
    assert alert.benchmark == "work"
    assert (alert.last_good, alert.first_bad) == (project.last_good, project.rollup)
    assert alert.relative_change == pytest.approx(0.30, abs=0.03)

    bisected = report.bisections[alert_id]
    outcome = bisected.outcome
    assert outcome.kind.value == "culprit", outcome.reason
    assert [r.sha for r in bisected.culprits] == [project.culprit]
    assert bisected.culprits[0].subject == "slow down work"
    assert outcome.confidence is not None
    assert outcome.confidence > 0.8
    assert 0 < outcome.runs_spent <= tracker.project_file.budgets.runs_per_alert
    assert bisected.range_size == len(project.side) + 1  # the members and the merge
    # Confirmation first: both ends retriggered to four runs each (the neighbours all have data), then
    # bisection within what is left of the alert's budget.
    confirmed = report.confirmations[alert_id]
    assert (confirmed.outcome.value, confirmed.runs) == ("confirmed", 6)
    bisecting = ran[-outcome.runs_spent :]
    assert ran[: -outcome.runs_spent].count(project.last_good) == 4
    # The bisection ran its probes between the ends (G P P B B P P G), in the order stored: a drifting
    # machine then moves a probe and its neighbours alike.
    ends = {project.last_good, project.rollup}
    assert any(sha not in ends for sha in bisecting)
    for k, sha in enumerate(bisecting):
        if sha not in ends:
            assert {bisecting[k - 1], bisecting[min(k + 1, len(bisecting) - 1)]} & ends, bisecting
    assert outcome.runs_spent <= tracker.project_file.budgets.runs_per_alert - confirmed.runs
    # Every run is stored, so the runs beyond the track runs are exactly those spent.
    assert count_runs(engine) == len(project.tips) + confirmed.runs + outcome.runs_spent
    assert sum(r for _, _, r in bisect_steps) == outcome.runs_spent
    assert {a for a, _, _ in bisect_steps} == {alert_id}
    assert {c for _, c, _ in bisect_steps} <= {project.last_good, *project.side, project.rollup}

    (stored,) = stored_alerts(engine)
    recorded = stored.bisection
    assert recorded is not None
    assert "bisection" not in stored.details  # the record has a table of its own
    assert (recorded.good, recorded.bad) == (project.last_good, project.rollup)
    assert recorded.state is BisectionState.CULPRIT
    assert recorded.culprits == (project.culprit,)
    assert recorded.runs_spent == outcome.runs_spent
    assert recorded.confidence == pytest.approx(outcome.confidence)
    assert recorded.range_size == len(project.side) + 1
    assert [p.commit for p in recorded.probes] == [p.commit for p in outcome.probes]
    assert {p.verdict for p in recorded.probes} <= {"good", "bad"}
    assert any(p.commit == project.culprit and p.verdict == "bad" for p in recorded.probes)

    # A second pass has nothing new to run, and finds nothing new.
    again = make_tracker(engine, project.config, tmp_path / "work").run()
    assert (again.runs_ok, again.runs_failed, again.new_alert_ids, again.bisections) == (0, 0, [], {})
    assert again.confirmations == {}
    assert count_runs(engine) == len(project.tips) + confirmed.runs + outcome.runs_spent
    assert len(stored_alerts(engine)) == 1


def test_new_pushes_are_measured_on_the_next_pass(engine: Engine, tmp_path: Path) -> None:
    project = build_project(tmp_path, level_after=BASE_LEVEL)
    first = make_tracker(engine, project.config, tmp_path / "work").run()
    assert (first.runs_ok, first.new_alert_ids) == (len(project.tips), [])
    new = [project.repo.commit("newer 1", files={"n.txt": "1\n"}), project.repo.commit("newer 2", files={"n.txt": "2"})]

    report = make_tracker(engine, project.config, tmp_path / "work").run()

    assert (report.runs_ok, report.runs_failed, report.new_alert_ids) == (2, 0, [])
    runs = runs_by_revision(engine)
    assert [runs[sha] for sha in new] == [[("ok", 1)], [("ok", 1)]]
    assert count_runs(engine) == len(project.tips) + 2
    with engine.connect() as conn:
        environments = conn.execute(sa.text("SELECT environment FROM runs")).scalars().all()
    for environment in environments:  # what the numbers depend on besides the code, kept with each run
        loaded = environment if isinstance(environment, dict) else json.loads(environment)
        assert {"cpu_model", "kernel", "python", "machine"} <= loaded.keys()


def test_a_first_pass_backfills_only_the_newest_pushes(engine: Engine, tmp_path: Path) -> None:
    project = build_project(tmp_path, level_after=BASE_LEVEL)
    report = make_tracker(engine, project.config, tmp_path / "work", backfill=4).run()
    assert report.runs_ok == 4
    assert set(runs_by_revision(engine)) == set(project.tips[-4:])
    # Later passes fill nothing in behind: only what is new since is pending.
    assert make_tracker(engine, project.config, tmp_path / "work", backfill=4).run().runs_ok == 0


def test_a_backfill_measures_out_of_history_order(engine: Engine, tmp_path: Path) -> None:
    """A machine that drifts during a pass must not line up with history: the backfill runs in
    ``spread_order``, the newest push last as the routine run."""
    project = build_project(tmp_path, level_after=BASE_LEVEL)
    ran: list[str] = []
    events = TrackEvents(ran=lambda sha, spec, measured: ran.append(sha))
    make_tracker(engine, project.config, tmp_path / "work", backfill=8).run(events)
    older = project.tips[-8:-1]
    assert ran == [older[position] for position in spread_order(7)] + [project.tips[-1]]
    assert ran[:7] != older


def test_a_url_repository_is_mirrored_and_tracked_the_same(engine: Engine, tmp_path: Path) -> None:
    project = build_project(tmp_path, url=True)
    workdir = tmp_path / "work"
    tracker = make_tracker(engine, project.config, workdir)
    mirrors = list((workdir / "mirrors").iterdir())
    assert len(mirrors) == 1
    assert tracker.repo.path.resolve() == mirrors[0].resolve()
    assert tracker.repo.path.resolve() != project.repo.path.resolve()

    report = tracker.run()

    assert report.runs_ok == len(project.tips)
    (alert_id,) = report.new_alert_ids
    assert [r.sha for r in report.bisections[alert_id].culprits] == [project.culprit]
    # A commit pushed to the origin later is fetched into the mirror and measured by the next pass.
    newer = project.repo.commit("newer", files={"n.txt": "1\n"})
    again = make_tracker(engine, project.config, workdir).run()
    assert again.runs_ok == 1
    assert runs_by_revision(engine)[newer] == [("ok", 1)]


def test_failed_runs_are_recorded_without_samples_and_bisection_skips_them(engine: Engine, tmp_path: Path) -> None:
    project = build_project(tmp_path, broken=True)
    report = make_tracker(engine, project.config, tmp_path / "work").run()

    assert (report.runs_ok, report.runs_failed) == (len(project.tips) - 1, 1)
    assert project.broken_tip is not None
    assert runs_by_revision(engine)[project.broken_tip] == [("failed", 0)]
    with engine.connect() as conn:
        error = conn.execute(sa.select(t.runs.c.error).where(t.runs.c.status == "failed").limit(1)).scalar_one()
    assert "exited with status 1" in error
    assert "the tree is broken" in error

    (alert_id,) = report.new_alert_ids
    bisected = report.bisections[alert_id]
    assert bisected.outcome.kind.value == "culprit", bisected.outcome.reason
    assert [r.sha for r in bisected.culprits] == [project.culprit]
    skipped = [p.commit for p in bisected.outcome.probes if p.verdict.value == "skipped"]
    assert skipped
    assert set(skipped) <= {project.side[2], project.side[3]}  # the broken members
    for sha in skipped:
        assert {status for status, _ in runs_by_revision(engine)[sha]} == {"failed"}


def test_an_improvement_is_bisected_like_a_regression(engine: Engine, tmp_path: Path) -> None:
    project = build_project(tmp_path, level_after=70)
    report = make_tracker(engine, project.config, tmp_path / "work").run()

    (alert_id,) = report.new_alert_ids
    (alert,) = stored_alerts(engine)
    assert alert.kind == "improvement"
    assert alert.relative_change == pytest.approx(-0.30, abs=0.03)
    assert (alert.last_good, alert.first_bad) == (project.last_good, project.rollup)
    bisected = report.bisections[alert_id]
    assert bisected.outcome.kind.value == "culprit", bisected.outcome.reason
    assert [r.sha for r in bisected.culprits] == [project.culprit]
    assert alert.bisection is not None
    assert alert.bisection.culprits == (project.culprit,)
    assert alert.details.get("state") != "invalid"


@pytest.mark.parametrize("schedule", ["commit", "every-n-pushes", "nightly"])
def test_the_configured_schedule_picks_what_a_pass_measures(engine: Engine, tmp_path: Path, schedule: str) -> None:
    every = "\nevery = 3" if schedule == "every-n-pushes" else ""
    project = build_project(
        tmp_path, level_after=BASE_LEVEL, extra_config=f'\n[schedule]\nmode = "{schedule}"{every}\n'
    )
    expected = {
        "commit": {*project.tips, *project.side},
        "every-n-pushes": {*project.tips[::3], project.tips[-1]},
        "nightly": {project.tips[-1]},
    }[schedule]
    report = make_tracker(engine, project.config, tmp_path / "work", backfill=100).run()
    assert (report.runs_ok, report.runs_failed) == (len(expected), 0)
    assert set(runs_by_revision(engine)) == expected


def test_a_bisection_stops_at_the_run_budget(engine: Engine, tmp_path: Path) -> None:
    """One run cannot single out one of four suspects: the bisection stops there and says so."""
    project = build_project(tmp_path, runs_per_alert=1)
    report = make_tracker(engine, project.config, tmp_path / "work").run()

    (alert_id,) = report.new_alert_ids
    outcome = report.bisections[alert_id].outcome
    assert outcome.kind.value == "undecided"
    assert outcome.runs_spent == 1
    assert outcome.candidates
    assert set(outcome.candidates) <= {*project.side, project.rollup}
    # Confirmation may spend half of a budget of one run (it spends one), and bisection has one run at least.
    assert (report.confirmations[alert_id].runs, report.confirmations[alert_id].outcome.value) == (1, "unconfirmed")
    assert count_runs(engine) == len(project.tips) + 1 + 1
    (alert,) = stored_alerts(engine)
    assert alert.bisection is not None
    assert (alert.bisection.state, alert.bisection.runs_spent) == (BisectionState.UNDECIDED, 1)
    assert alert.details.get("state") != "invalid"


@dataclass
class StopsAfter:
    """Runs locally, and stops the process (``KeyboardInterrupt``, as Ctrl-C) within the bisection run after
    ``runs`` bisection runs."""

    inner: LocalExecutor
    runs: int
    on_run: Callable[[str, BenchmarkSpec, Measured], None] | None = None

    def measure(self, target: Target, spec: BenchmarkSpec, shas: Sequence[str], *, reason: JobReason) -> list[Measured]:
        self.inner.on_run = self.on_run
        if reason is JobReason.BISECT and len(shas) > self.runs:
            self.inner.measure(target, spec, shas[: self.runs], reason=reason)
            raise KeyboardInterrupt
        if reason is JobReason.BISECT:
            self.runs -= len(shas)
        return self.inner.measure(target, spec, shas, reason=reason)


def test_a_bisection_stopped_midway_is_resumed_by_the_next_pass(engine: Engine, tmp_path: Path) -> None:
    project = build_project(tmp_path)
    tracker = make_tracker(engine, project.config, tmp_path / "work")
    assert tracker.runner is not None
    stopping = replace(tracker, executor=StopsAfter(LocalExecutor(engine, tracker.runner, tracker.now), runs=9))
    first: list[str] = []
    with pytest.raises(KeyboardInterrupt):
        stopping.run(TrackEvents(bisect_step=lambda _a, commit, _r: first.append(commit)))
    (alert,) = stored_alerts(engine)
    assert alert.bisection is not None
    # two steps done: the ends interleaved (G B B G) and the first probe between them (G P P B); a third begun
    assert (alert.bisection.state, alert.bisection.runs_spent) == (BisectionState.RUNNING, 8)
    stopped_at = count_runs(engine)
    assert stopped_at == len(project.tips) + 6 + 9  # track runs, confirmation, and the bisection's nine
    assert len(first) == 2

    steps: list[str] = []
    report = make_tracker(engine, project.config, tmp_path / "work").run(
        TrackEvents(bisect_step=lambda _a, commit, _r: steps.append(commit))
    )
    assert (report.runs_ok, report.new_alert_ids, report.confirmations) == (0, [], {})  # only the bisection goes on
    bisected = report.bisections[alert.id]
    assert bisected.outcome.kind.value == "culprit", bisected.outcome.reason
    assert [r.sha for r in bisected.culprits] == [project.culprit]
    assert first[1] not in steps  # the finished probe is not measured again
    # The runs of both passes count against the alert's budget.
    assert bisected.outcome.runs_spent == 8 + count_runs(engine) - stopped_at
    (alert,) = stored_alerts(engine)
    assert alert.bisection is not None
    assert (alert.bisection.state, alert.bisection.culprits) == (BisectionState.CULPRIT, (project.culprit,))
    assert alert.bisection.runs_spent == bisected.outcome.runs_spent
    # A third pass finds nothing left to resume.
    assert make_tracker(engine, project.config, tmp_path / "work").run().bisections == {}


def test_bisecting_an_unknown_alert_is_not_found(engine: Engine, tmp_path: Path) -> None:
    project = build_project(tmp_path, level_after=BASE_LEVEL)
    with pytest.raises(NotFoundError, match="no alert 999"):
        make_tracker(engine, project.config, tmp_path / "work").bisect_alert(999)


# -- schedules and machines (no database) ------------------------------------------------------------------------


def _pushes() -> list[Push]:
    """p1 (a root), p2, p3 (a roll-up of s1, s2 and its merge m3), p4, p5."""
    return [
        Push("p1", None, ("p1",)),
        Push("p2", "p1", ("p2",)),
        Push("m3", "p2", ("s1", "s2", "m3")),
        Push("p4", "m3", ("p4",)),
        Push("p5", "p4", ("p5",)),
    ]


@pytest.mark.parametrize(
    ("mode", "every", "expected"),
    [
        (ScheduleMode.PUSH, None, ["p1", "p2", "m3", "p4", "p5"]),
        (ScheduleMode.COMMIT, None, ["p1", "p2", "s1", "s2", "m3", "p4", "p5"]),
        (ScheduleMode.EVERY_N_PUSHES, 2, ["p1", "m3", "p5"]),
        (ScheduleMode.EVERY_N_PUSHES, 3, ["p1", "p4", "p5"]),  # the last tip is always kept
        (ScheduleMode.EVERY_N_PUSHES, 1, ["p1", "p2", "m3", "p4", "p5"]),
        (ScheduleMode.EVERY_N_PUSHES, 10, ["p1", "p5"]),
        (ScheduleMode.NIGHTLY, None, ["p5"]),
    ],
)
def test_schedule_modes(mode: ScheduleMode, every: int | None, expected: list[str]) -> None:
    assert scheduled(_pushes(), mode, every) == expected


@pytest.mark.parametrize("mode", list(ScheduleMode))
def test_schedules_of_no_pushes_are_empty(mode: ScheduleMode) -> None:
    assert scheduled([], mode, 2 if mode is ScheduleMode.EVERY_N_PUSHES else None) == []


def _project_file(machines: str) -> projectfile.ProjectFile:
    text = f'[project]\nname = "p"\nrepository = "."\nbranch = "main"\n{machines}'
    return projectfile.loads(text, source="perfsheriff.toml", config_dir=Path("/nowhere"))


def test_choose_machine() -> None:
    two = _project_file('[[machines]]\nname = "a"\nclass = "fast"\n[[machines]]\nname = "b"\n')
    assert choose_machine(two, None, "host") == MachineSpec("a", "fast")
    assert choose_machine(two, "b", "host") == MachineSpec("b", "b")
    with pytest.raises(ConfigError, match=r"no machine 'c' in the configuration \(known: a, b\)") as raised:
        choose_machine(two, "c", "host")
    assert raised.value.where == "--machine"
    none = _project_file("")
    assert choose_machine(none, None, "host") == MachineSpec("host")
    assert choose_machine(none, "named", "host") == MachineSpec("named")


def test_configured_weights_and_tags_reach_the_stored_benchmarks(engine: Engine, tmp_path: Path) -> None:
    project = build_project(tmp_path, level_after=BASE_LEVEL)
    config = project.config.read_text().replace(
        'format = "perfsheriff"', 'format = "perfsheriff"\nweight = 3.5\ntags = ["real-world", "io", "io"]'
    )
    project.config.write_text(config)
    make_tracker(engine, project.config, tmp_path / "work", backfill=2).run()
    with engine.connect() as conn:
        stored = conn.execute(sa.select(t.benchmarks.c.name, t.benchmarks.c.weight, t.benchmarks.c.tags)).all()
    assert [tuple(row) for row in stored] == [("work", 3.5, ["io", "real-world"])]

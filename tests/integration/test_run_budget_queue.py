"""The machine-time budget on the real queue: a bad week of alerts, routine runs that never wait, nothing lost."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from perfsheriff.model import Configuration, JobReason, Machine
from perfsheriff.projectfile import BenchmarkSpec
from perfsheriff.service.queue import budget_status, jobs
from perfsheriff.store import jobs as queue
from perfsheriff.store import records
from perfsheriff.store import schema as t

T0 = datetime(2026, 11, 2, 0, 0, tzinfo=UTC)
SPEC = BenchmarkSpec("work", "python3 bench.py > {output}", format="perfsheriff")
BUDGET = {"cls": 30}


class Queue:
    """One project on one machine class ``cls`` with two machines; a revision per job, queued at ``now``."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.made = 0
        with engine.begin() as conn:
            self.project = records.project_id(conn, "p", "/nowhere")
            self.branch = records.branch_id(conn, self.project, "main")
            machine = records.machine_id(conn, Machine("m1", "cls"))
            records.machine_id(conn, Machine("m2", "cls"))
            revision = self._revision(conn)
            self.run = conn.execute(  # the run every job of the simulation is answered by
                t.runs.insert()
                .values(
                    project_id=self.project,
                    branch_id=self.branch,
                    revision_id=revision,
                    machine_id=machine,
                    configuration_id=records.configuration_id(conn, Configuration()),
                    status="ok",
                    created_at=T0,
                )
                .returning(t.runs.c.id)
            ).scalar_one()

    def _revision(self, conn: sa.Connection) -> int:
        self.made += 1
        values = {"sha": f"{self.made:040x}", "parents": "", "author": "a", "author_email": "a@x", "time": T0}
        insert = t.revisions.insert().values(project_id=self.project, message="m", **values)
        return int(conn.execute(insert.returning(t.revisions.c.id)).scalar_one())

    def add(self, reason: JobReason, now: datetime, count: int = 1) -> list[int]:
        with self.engine.begin() as conn:
            return [
                jobs.enqueue(
                    conn,
                    jobs.JobRequest(
                        self.project,
                        self.branch,
                        self._revision(conn),
                        SPEC,
                        Path("/cfg"),
                        "cls",
                        Configuration(),
                        reason,
                    ),
                    now=now,
                )[0]
                for _ in range(count)
            ]

    def finish(self, job_id: int, now: datetime) -> None:
        with self.engine.begin() as conn:
            jobs.complete(conn, job_id, self.run, now=now)


def test_spent_budget_hands_out_routine_runs_only_until_the_day_frees_it(engine: Engine) -> None:
    q = Queue(engine)
    bisect = q.add(JobReason.BISECT, T0, 2)
    confirm = q.add(JobReason.CONFIRM, T0, 1)
    routine = q.add(JobReason.ROUTINE, T0, 1)
    budgets = {"cls": 2}
    taken = [jobs.claim(engine, machine="m1", lease_s=3600, now=T0, budgets=budgets) for _ in range(4)]
    # routine first, then confirmation, then one bisection step: the budget of 2 is spent, the last waits.
    assert [j.id if j else None for j in taken] == [routine[0], confirm[0], bisect[0], None]
    for job in taken[:3]:
        assert job is not None
        q.finish(job.id, T0 + timedelta(minutes=10))
    later = T0 + timedelta(hours=3)
    (pushed,) = q.add(JobReason.ROUTINE, later)
    claimed = jobs.claim(engine, machine="m2", lease_s=3600, now=later, budgets=budgets)
    assert claimed is not None
    assert claimed.id == pushed  # a new push is never held back
    assert jobs.claim(engine, machine="m2", lease_s=3600, now=later, budgets=budgets) is None
    with engine.connect() as conn:
        (status,) = budget_status.budget_status(conn, budgets, now=later)
    assert (status.machine_class, status.runs_per_day, status.spent, status.held_back) == ("cls", 2, 2, 1)
    assert status.frees_at == T0 + timedelta(days=1)
    assert [(w.reason, w.jobs) for w in status.queued] == [(JobReason.BISECT, 1)]
    assert "budget of 2 runs a day is spent until 2026-11-03 00:00 UTC" in status.queued[0].why
    # Without a budget (or a day later) the waiting bisection step is handed out.
    unlimited = jobs.claim(engine, machine="m2", lease_s=3600, now=later, budgets={"other": 1})
    assert unlimited is not None
    assert unlimited.id == bisect[1]


def test_a_bad_week_never_delays_routine_runs_and_loses_nothing(engine: Engine) -> None:
    """Two machines, a push an hour, and 100 jobs of automation at once on the first morning: routine runs
    are taken at the first claim after they are queued, automation never takes more than 30 runs in any
    rolling day, every job is done in the end, and the queue drains as days free the budget."""
    q = Queue(engine)
    step = timedelta(minutes=20)  # the scheduling interval: each machine claims (and runs) a job per step
    queued_at: dict[int, datetime] = {}
    reasons: dict[int, JobReason] = {}
    for reason, count in ((JobReason.CONFIRM, 20), (JobReason.BACKFILL, 40), (JobReason.BISECT, 40)):
        for job_id in q.add(reason, T0 + timedelta(hours=6), count):
            queued_at[job_id], reasons[job_id] = T0 + timedelta(hours=6), reason
    claimed_at: dict[int, datetime] = {}
    running: list[int] = []
    waiting_seen = False
    now = T0
    while now < T0 + timedelta(days=6):
        if now.minute == 0:  # a push an hour
            for job_id in q.add(JobReason.ROUTINE, now):
                queued_at[job_id], reasons[job_id] = now, JobReason.ROUTINE
        for job_id in running:
            q.finish(job_id, now)
        running = []
        for machine in ("m1", "m2"):
            job = jobs.claim(engine, machine=machine, lease_s=3600, now=now, budgets=BUDGET)
            if job is not None:
                assert job.id not in claimed_at, "a job was handed out twice"
                claimed_at[job.id] = now
                running.append(job.id)
        if now == T0 + timedelta(days=1, hours=12):
            with engine.connect() as conn:
                (status,) = budget_status.budget_status(conn, BUDGET, now=now)
            waiting_seen = status.held_back > 0 and all("budget of 30 runs a day" in w.why for w in status.queued)
        now += step
    assert waiting_seen
    assert set(claimed_at) == set(queued_at), "every job was handed out"
    routine_waits = [claimed_at[j] - queued_at[j] for j in queued_at if reasons[j] is JobReason.ROUTINE]
    assert max(routine_waits) == timedelta(0)  # taken at the first claim after it was queued
    budgeted = sorted(at for j, at in claimed_at.items() if reasons[j] is not JobReason.ROUTINE)
    for i, at in enumerate(budgeted):  # no rolling day holds more than the budget
        assert sum(1 for other in budgeted[i:] if other < at + timedelta(days=1)) <= BUDGET["cls"]
    assert budgeted[-1] > T0 + timedelta(days=3)  # it took days, and it drained: 100 runs at 30 a day
    with engine.connect() as conn:
        assert queue.queued_by_reason(conn) == {}
        assert budget_status.budget_status(conn, BUDGET, now=now)[0].held_back == 0


def test_status_and_the_api_show_what_waits_and_a_zero_budget_is_refused(
    engine_url: str, engine: Engine, tmp_path: Path
) -> None:
    from support.cli import assert_one_error_line, run_cli
    from support.liveserver import start_server

    now = datetime.now(UTC)
    q = Queue(engine)
    q.add(JobReason.BACKFILL, now, 3)
    q.add(JobReason.ROUTINE, now, 1)
    for _ in range(2):  # the routine run, then one backfill: the budget of 1 is spent
        assert jobs.claim(engine, machine="m1", lease_s=3600, now=now, budgets={"*": 1}) is not None
    env = {"PERFSHERIFF_RUN_BUDGETS": '{"*": 1, "gpu": 50}'}
    shown = run_cli("status", "--db", engine_url, cwd=tmp_path, env=env)
    assert shown.returncode == 0, shown.stderr
    assert "backfill 2" in shown.stdout
    assert "2 jobs: the budget of 1 runs a day is spent until " in shown.stdout
    listed = json.loads(run_cli("status", "--json", "--db", engine_url, cwd=tmp_path, env=env).stdout)
    assert [(c["machine_class"], c["runs_per_day"], c["spent"], c["held_back"]) for c in listed] == [
        ("cls", 1, 1, 2),
        ("gpu", 50, 0, 0),
    ]
    for bad in ('{"cls": 0}', '{"cls": "many"}', "200", "nope"):
        refused = run_cli("status", "--db", engine_url, cwd=tmp_path, env={"PERFSHERIFF_RUN_BUDGETS": bad})
        assert_one_error_line(refused, "PERFSHERIFF_RUN_BUDGETS")
    server = start_server(engine_url, tmp_path, env=env)
    try:
        with server.client() as http:
            answer = http.get("/api/v1/status")
            assert answer.status_code == 200, answer.text
            (cls, gpu) = answer.json()["classes"]
            assert (cls["held_back"], cls["queued"][0]["reason"], gpu["runs_per_day"]) == (2, "backfill", 50)
            assert cls["queued"][0]["why"].startswith("the budget of 1 runs a day is spent until ")
            overview = http.get("/")
            assert overview.status_code == 200
            assert "<h2>Machine time, last 24 hours</h2>" in overview.text
            assert "<td>backfill 2</td>" in overview.text
            assert "2 jobs: the budget of 1 runs a day is spent until " in overview.text
    finally:
        server.stop()

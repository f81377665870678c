"""Confirming candidates before anyone sees them: real repositories, real benchmark runs, real databases.

The project's ``bench.py`` (see ``benchrepo``) turns ``level.txt`` into samples;
a real regression raises it inside a roll-up, and a busy machine makes some
invocations 30 % slow whatever the commit. Only the webhook's receiver is a
stand-in (a local HTTP server).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from perfsheriff.model import Machine
from perfsheriff.scheduling import spread_order
from perfsheriff.service.analysis.detection import detect_stored
from perfsheriff.service.queue import jobs
from perfsheriff.service.queue.jobs import JobReason
from perfsheriff.service.sheriffing import summaries
from perfsheriff.service.tracking.execute import QueueExecutor, QueueTimeout
from perfsheriff.service.tracking.track import TrackEvents, TrackReport
from perfsheriff.service.views import dashboard
from perfsheriff.store import alerts as alert_store
from perfsheriff.store import records
from perfsheriff.store import schema as t
from support.benchrepo import BASE_LEVEL, build_project, busy_machine
from support.fakeservers import FakeService, Reply
from support.tracking import NOW, count_runs, make_tracker, stored_alerts

WEBHOOK = """
[notify]
base_url = "https://perf.example.org"
min_confidence = 0.5

[[notify.webhooks]]
name = "chat"
url = "{url}/hook"
"""


@pytest.fixture
def services() -> Iterator[FakeService]:
    with FakeService() as service:
        service.on("POST", "/hook", Reply(200, {"ok": True}))
        yield service


def notifications(engine: Engine) -> list[tuple[int, str]]:
    with engine.connect() as conn:
        return [
            (int(s), str(o))
            for s, o in conn.execute(sa.select(t.notifications.c.summary_id, t.notifications.c.outcome))
        ]


def journal(engine: Engine, summary_id: int) -> list[dict[str, object]]:
    with engine.connect() as conn:
        notes: list[dict[str, object]] = summaries.summary_detail(conn, summary_id)["notes"]
    return notes


def queues(engine: Engine) -> dict[str, list[int]]:
    with engine.connect() as conn:
        return {q: [s["id"] for s in summaries.queue(conn, q)] for q in ("code", "perf")}


def test_a_true_regression_is_confirmed_then_bisected_and_its_author_told(
    engine: Engine, tmp_path: Path, services: FakeService
) -> None:
    project = build_project(tmp_path, extra_config=WEBHOOK.format(url=services.url))
    told: list[str] = []
    ran: list[str] = []
    report = make_tracker(engine, project.config, tmp_path / "work").run(
        TrackEvents(confirmed=lambda c: told.append(c.line()), ran=lambda sha, spec, measured: ran.append(sha))
    )

    (alert_id,) = report.new_alert_ids
    confirmed = report.confirmations[alert_id]
    assert confirmed.outcome.value == "confirmed", confirmed.reason
    assert confirmed.runs == 6  # three retriggers at each end; every neighbour had data already
    before_bisection = ran[: -report.bisections[alert_id].outcome.runs_spent]
    assert before_bisection.count(project.last_good) == before_bisection.count(project.rollup) == 4
    assert told == [confirmed.line()]
    assert re.search(r"6 confirmation runs, confirmed: the new data shows the regression \(\+(29|30|31)\.", told[0])
    (alert,) = stored_alerts(engine)
    assert alert.confirmation == "confirmed"
    record = alert.details["confirmation"]
    assert (record["runs_before"], record["runs_after"], record["rounds"]) == (4, 4, 1)  # four runs at each end
    assert record["relative_change"] == pytest.approx(0.30, abs=0.03)
    assert record["p_value"] < 0.05

    # Then as before: bisection names the culprit, the summary's journal has both rounds, the author is told.
    assert [r.sha for r in report.bisections[alert_id].culprits] == [project.culprit]
    summary_id = confirmed.summary_id
    assert summary_id is not None
    texts = [str(n["text"]) for n in journal(engine, summary_id)]
    assert texts[0].startswith("created by detection")
    assert texts[1].startswith(f"confirmation of alert {alert_id} ")
    assert "6 runs in 1 round (retriggered 3 at" in texts[1]
    assert any(text.startswith("bisection of") for text in texts[2:])
    assert notifications(engine) == [(summary_id, "sent")]
    assert len(services.requests) == 1
    assert queues(engine)["perf"] == [summary_id]


def test_a_busy_machine_raises_a_candidate_that_is_not_reproduced_and_nobody_is_told(
    engine: Engine, tmp_path: Path, services: FakeService
) -> None:
    project = build_project(tmp_path, level_after=BASE_LEVEL, extra_config=WEBHOOK.format(url=services.url))
    # The first runs of the newest five pushes came out 30 % slow: the machine was busy when they landed. (A first
    # pass measures older pushes in spread_order, the newest last: these are the invocations that measure them.)
    older = spread_order(len(project.tips) - 1)
    busy_machine(project.config, [*(run for run, tip in enumerate(older) if tip >= 15), len(older)])
    report = make_tracker(engine, project.config, tmp_path / "work").run()

    (alert_id,) = report.new_alert_ids
    (alert,) = stored_alerts(engine)
    assert alert.kind == "regression"
    assert (alert.last_good, alert.first_bad) == (project.tips[14], project.tips[15])
    closed = report.confirmations[alert_id]
    assert closed.outcome.value == "not-reproduced", closed.evidence
    # Four runs at each end rule the change out there: the detector was sure (its probability near 1), but a
    # +30 % step that the new runs show as +0 % is far likelier noise. A second round looked again where the
    # old runs are slowest, and found no change there either.
    assert 6 < closed.runs <= 15
    assert alert.confirmation == "not-reproduced"
    assert alert.details["confirmation"]["verdict"] in ("inconclusive", "no_change")
    # The last round judged a place the detector did not claim, so it started from even odds there.
    assert alert.details["confirmation"]["moved"] is True
    assert alert.details["confirmation"]["probability_before"] == 0.5
    assert alert.details["confirmation"]["probability"] < 0.05
    assert alert.confidence == alert.details["confirmation"]["probability"]

    assert report.bisections == {}  # no bisection ...
    assert notifications(engine) == []  # ... and nobody told
    assert services.requests == []
    assert queues(engine) == {"code": [], "perf": []}
    assert count_runs(engine) == len(project.tips) + closed.runs
    summary_id = closed.summary_id
    assert summary_id is not None
    with engine.connect() as conn:
        detail = summaries.summary_detail(conn, summary_id)
    assert detail["state"] == "invalid"
    data, closing, learnt = detail["notes"]
    assert data["kind"] == "data"
    assert str(data["text"]).startswith(f"confirmation of candidate alert {alert_id} ")
    assert f"{closed.runs} runs in 2 rounds (retriggered " in str(data["text"])
    assert re.search(r"not reproduced: the new data shows no (significant )?change", str(data["text"]))
    assert data["details"]["confirmation"]["rounds"] == 2  # type: ignore[index]
    assert (closing["kind"], closing["from_state"], closing["to_state"]) == ("transition", "untriaged", "invalid")
    assert str(closing["text"]).startswith("not reproduced: ")
    # A candidate that did not reproduce is a rejection: its series now alerts less readily, and says so.
    assert learnt["kind"] == "comment"
    assert "sensitivity" in str(learnt["text"])
    assert "1 invalid" in str(learnt["text"])

    # The next pass finds nothing new: the candidate's place is taken, and its data has healed.
    again = make_tracker(engine, project.config, tmp_path / "work").run()
    assert (again.new_alert_ids, again.confirmations, again.bisections) == ([], {}, {})

    # A real regression pushed right after it (five commits on) is not hidden by it: the runs the busy machine
    # slowed lie just before it and make the detector place the step early, on them, and confirmation closes
    # those candidates one by one as it measures them again, until the step stands where it is.
    slow = project.repo.commit("slow down work for real", files={"level.txt": "130\n"})
    for i in range(5):
        project.repo.commit(f"after the slowdown {i}", files={"after.txt": f"{i}\n"})
    confirmed: list[int] = []
    for _ in range(4):
        found = make_tracker(engine, project.config, tmp_path / "work").run()
        confirmed += [i for i, c in found.confirmations.items() if c.outcome.value == "confirmed"]
        if confirmed:
            break
    (real_id,) = confirmed
    assert [r.sha for r in found.bisections[real_id].culprits] == [slow]
    assert [outcome for _, outcome in notifications(engine)] == ["sent"]


def test_a_candidate_waits_unseen_and_an_interrupted_confirmation_resumes(engine: Engine, tmp_path: Path) -> None:
    project = build_project(tmp_path)
    tracker = make_tracker(engine, project.config, tmp_path / "work")
    (branch,) = tracker.project_file.project.branches
    target = tracker.target(branch)
    tracker.measure(target, TrackReport(), TrackEvents())
    found = detect_stored(engine, tracker.policy(target), now=NOW, filters={"branch": branch})

    (alert_id,) = found.new_alert_ids
    (alert,) = stored_alerts(engine)
    assert alert.confirmation == "confirming"
    with engine.connect() as conn:
        assert summaries.list_summaries(conn) == []  # in no summary, so in no queue, no page, no message
        assert dashboard.series_alerts(conn, alert.series_id) == []  # nor on the series' graph
    assert queues(engine) == {"code": [], "perf": []}

    # Say the pass died after two of the six retriggers: the next pass asks only for the four missing.
    tracker.executor_for(TrackEvents()).measure(
        target, tracker.project_file.benchmarks[0], [project.last_good] * 2, reason=JobReason.CONFIRM
    )
    report = make_tracker(engine, project.config, tmp_path / "work").run()
    assert report.new_alert_ids == []
    assert report.confirmations[alert_id].outcome.value == "confirmed"
    assert report.confirmations[alert_id].runs == 4
    assert dict(stored_alerts(engine)[0].details["confirmation"]["retriggered"]) == {
        project.last_good: 1,
        project.rollup: 3,
    }
    assert report.bisections[alert_id].culprits[0].sha == project.culprit
    with engine.connect() as conn:
        assert [a["id"] for a in dashboard.series_alerts(conn, alert.series_id)] == [alert_id]


def test_alerts_of_uploaded_results_are_published_at_once(engine: Engine, tmp_path: Path) -> None:
    """Without a scope to confirm in (``perfsheriff detect`` over ingested data), alerts go straight to summaries."""
    project = build_project(tmp_path)
    tracker = make_tracker(engine, project.config, tmp_path / "work")
    (branch,) = tracker.project_file.project.branches
    tracker.measure(tracker.target(branch), TrackReport(), TrackEvents())
    assert len(detect_stored(engine, tracker.policy(), now=NOW, filters={"branch": branch}).new_alert_ids) == 1
    (alert,) = stored_alerts(engine)
    assert alert.confirmation is None
    assert queues(engine)["code"] != []


def test_a_candidate_placed_a_push_early_is_moved_to_where_the_runs_show_the_change(
    engine: Engine, tmp_path: Path
) -> None:
    project = build_project(tmp_path)
    tracker = make_tracker(engine, project.config, tmp_path / "work")
    (branch,) = tracker.project_file.project.branches
    target = tracker.target(branch)
    tracker.measure(target, TrackReport(), TrackEvents())
    (alert_id,) = detect_stored(engine, tracker.policy(target), now=NOW, filters={"branch": branch}).new_alert_ids
    # As if noise had made the detector put the step one push early: between tips 8 and 9 (the last good).
    early = project.tips.index(project.last_good)
    with engine.begin() as conn:
        ids = records.revision_ids(conn, target.project_id, [project.tips[early - 1], project.last_good])
        assert alert_store.move_range(conn, alert_id, ids[project.tips[early - 1]], ids[project.last_good])

    report = make_tracker(engine, project.config, tmp_path / "work").run()

    confirmed = report.confirmations[alert_id]
    assert confirmed.outcome.value == "confirmed", confirmed.reason
    assert f"the range moved there from {project.tips[early - 1][:10]}..{project.last_good[:10]}" in confirmed.reason
    (alert,) = stored_alerts(engine)
    assert (alert.last_good, alert.first_bad) == (project.last_good, project.rollup)
    assert alert.details["confirmation"]["moved"] is True
    assert alert.details["confirmation"]["rounds"] == 2
    assert [r.sha for r in report.bisections[alert_id].culprits] == [project.culprit]  # bisected in the right range


def test_confirmation_jobs_a_timed_out_pass_left_in_the_queue_are_waited_for_again(
    engine: Engine, tmp_path: Path
) -> None:
    project = build_project(tmp_path)
    local = make_tracker(engine, project.config, tmp_path / "work")
    (branch,) = local.project_file.project.branches
    target = local.target(branch)
    local.measure(target, TrackReport(), TrackEvents())
    (alert_id,) = detect_stored(engine, local.policy(target), now=NOW, filters={"branch": branch}).new_alert_ids
    queue = QueueExecutor(engine, local.project_file.config_dir, timeout_s=0.0, sleep=lambda _: None, now=lambda: NOW)
    queued = replace(local, runner=None, executor=queue)

    for _ in range(2):  # no agent answers: the pass gives up, and the next one takes the same jobs up again
        with pytest.raises(QueueTimeout, match="6 of 6 jobs for machine class 'test-class' were not answered"):
            queued.confirm_pending(target, TrackReport(), TrackEvents())
    with engine.connect() as conn:
        waiting = conn.execute(sa.select(t.jobs.c.reason, t.jobs.c.state)).all()
    assert sorted(waiting) == [("confirm", "queued")] * 6
    assert stored_alerts(engine)[0].confirmation == "confirming"
    assert queues(engine) == {"code": [], "perf": []}
    assert alert_id in {a.id for a in stored_alerts(engine)}


def test_a_queued_pass_held_back_by_the_run_budget_says_so(engine: Engine, tmp_path: Path) -> None:
    project = build_project(tmp_path)
    local = make_tracker(engine, project.config, tmp_path / "work")
    (branch,) = local.project_file.project.branches
    target = local.target(branch)
    local.measure(target, TrackReport(), TrackEvents())
    detect_stored(engine, local.policy(target), now=NOW, filters={"branch": branch})
    budgets = {"test-class": 1}
    told: list[str] = []
    queue = QueueExecutor(
        engine,
        local.project_file.config_dir,
        timeout_s=0.0,
        sleep=lambda _: None,
        now=lambda: NOW,
        budgets=budgets,
        on_wait=told.append,
    )
    queued = replace(local, runner=None, executor=queue)
    with pytest.raises(QueueTimeout, match="start `perfsheriff agent`"):  # queued, nothing spent: agents are absent
        queued.confirm_pending(target, TrackReport(), TrackEvents())
    assert told == []
    with engine.begin() as conn:
        records.machine_id(conn, Machine("agent-1", "test-class"))
    assert jobs.claim(engine, machine="agent-1", lease_s=3600, now=NOW, budgets=budgets) is not None  # spends it

    with pytest.raises(QueueTimeout, match="they wait because the budget of 1 runs a day is spent until"):
        queued.confirm_pending(target, TrackReport(), TrackEvents())
    assert len(told) == 1
    assert told[0].startswith("the budget of 1 runs a day is spent until")

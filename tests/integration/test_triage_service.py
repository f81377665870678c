"""Triage wired to the database: summaries, merges, culprits, downstream, transitions and the journal.

Real git histories (``gitfixtures``), real SQLite and PostgreSQL. Alerts are
written the way detection writes them, at chosen ranges, so each test states
the ranges it is about; ``test_track`` and the CLI tests cover alerts found by
detection itself.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from perfsheriff.alerts import Bisection, BisectionProbe, BisectionState
from perfsheriff.errors import ConflictError, InputError, NotFoundError
from perfsheriff.gitrepo import GitRepo
from perfsheriff.model import BenchmarkResult, Configuration, Machine, ResultSet
from perfsheriff.roles import Role
from perfsheriff.service.access import tokens
from perfsheriff.service.analysis.detection import DetectionPolicy, detect_stored
from perfsheriff.service.intake import ingest
from perfsheriff.service.sheriffing import culprits, summaries
from perfsheriff.service.sheriffing import triage as triage_service
from perfsheriff.service.views import catalog
from perfsheriff.store import alerts as alert_store
from perfsheriff.store import bisections as bisection_store
from perfsheriff.store import notifications, queries, records
from perfsheriff.store import schema as t
from perfsheriff.triage import InvalidTransition
from support.gitfixtures import Repo

NOW = datetime(2026, 2, 1, 9, 0, tzinfo=UTC)
BENCHMARKS = ("parse", "render", "load")
LINUX_BOX = Machine("box", "linux")


@dataclass
class World:
    """A project in a real database: a main branch of ``shas`` (position i = shas[i]) and its series."""

    engine: Engine
    repo: Repo
    shas: list[str]
    project_id: int

    def measure(self, branch: str, machine: Machine = LINUX_BOX) -> None:
        """Store one flat result per benchmark at the branch tip: the series exist, history is imported."""
        target = ingest.prepare_target(
            self.engine,
            GitRepo(self.repo.path),
            revision=branch,
            machine=machine,
            configuration=Configuration.of({"os": "linux"}),
            branch=branch,
        )
        results = ResultSet("perfsheriff", tuple(BenchmarkResult(b, "ms", (10.0, 10.1, 9.9)) for b in BENCHMARKS))
        with self.engine.begin() as conn:
            ingest.store_result_set(conn, target, results, source="test", content_hash=target.revision, now=NOW)
        self.project_id = target.project_id

    def alert(
        self,
        benchmark: str,
        good: str,
        bad: str,
        *,
        branch: str = "main",
        kind: str = "regression",
        change: float = 0.10,
        confidence: float = 0.99,
        machine: str = "linux",
    ) -> int:
        """Store an alert the way detection does, between revisions ``good`` and ``bad`` of ``branch``."""
        with self.engine.begin() as conn:
            (series,) = queries.list_series(conn, benchmark=benchmark, branch=branch, machine=machine)
            ids = records.revision_ids(conn, self.project_id, [good, bad])
            row = {
                "series_id": series.id,
                "last_good_revision_id": ids[good],
                "first_bad_revision_id": ids[bad],
                "kind": kind,
                "relative_change": change,
                "confidence": confidence,
                "details": {},
                "created_at": NOW,
            }
            (alert_id,) = alert_store.insert_alerts(conn, [row])
        return alert_id

    def summary_of(self, alert_id: int) -> int:
        with self.engine.connect() as conn:
            found = conn.execute(sa.select(t.alerts.c.summary_id).where(t.alerts.c.id == alert_id)).scalar()
        assert found is not None
        return int(found)

    def detail(self, summary_id: int) -> dict[str, Any]:
        with self.engine.connect() as conn:
            return summaries.summary_detail(conn, summary_id)


def culprit_record(
    alert: int, sha: str, *, kind: str = "culprit", confidence: float = 0.97, runs: int = 12
) -> Bisection:
    """A decided bisection of ``alert`` as the track loop stores it."""
    named = kind == "culprit"
    return Bisection(
        alert,
        "0" * 40,
        sha,
        BisectionState(kind),
        range_size=3,
        runs_spent=runs,
        culprits=(sha,) if named else (),
        confidence=confidence if named else None,
        reason="" if named else "the two ends measure the same",
        probes=(BisectionProbe(sha, "bad", 4, "step"),),
    )


def record(world: World, bisection: Bisection, repo: GitRepo | None = None, now: datetime = NOW) -> int:
    """Store ``bisection`` (as the track loop does) and wire it into triage."""
    with world.engine.begin() as conn:
        bisection_store.save(conn, bisection, now=now)
    return culprits.record_bisection(world.engine, bisection, repo=repo, now=now)


@pytest.fixture
def world(engine: Engine, tmp_path: Path) -> World:
    repo = Repo.init(tmp_path / "project")
    shas = [repo.commit(f"change {i}", files={"level.txt": f"{i}\n"}) for i in range(12)]
    made = World(engine, repo, shas, 0)
    made.measure("main")
    return made


def states_of(notes: list[dict[str, Any]]) -> list[tuple[str, str | None, str | None]]:
    return [(n["kind"], n["from_state"], n["to_state"]) for n in notes]


# -- summaries -----------------------------------------------------------------------------------------------------


def test_alerts_of_one_change_form_one_untriaged_summary_with_a_creation_note(world: World) -> None:
    s = world.shas
    parse = world.alert("parse", s[3], s[5])
    render = world.alert("render", s[4], s[6], kind="improvement", change=-0.2)
    load = world.alert("load", s[8], s[9])
    done = triage_service.summarize(world.engine, [parse, render, load], NOW)

    assert len(done.created) == 2
    one, other = world.summary_of(parse), world.summary_of(load)
    assert world.summary_of(render) == one != other
    detail = world.detail(one)
    assert detail["state"] == "untriaged"
    assert detail["queue"] == "code"  # nothing bisected yet: data still coming
    assert (detail["last_good"], detail["first_bad"]) == (s[3], s[6])  # the hull of both ranges
    assert {a["id"] for a in detail["alerts"]} == {parse, render}
    (note,) = detail["notes"]
    assert note["who"] == "perfsheriff"
    assert note["text"].startswith("created by detection")
    assert states_of(detail["notes"]) == [("data", "untriaged", "untriaged")]
    # Summarizing again finds nothing to place.
    assert triage_service.summarize(world.engine, None, NOW).created == ()


@pytest.mark.commits
def test_concurrent_passes_place_each_alert_once(world: World) -> None:
    s = world.shas
    alerts = [world.alert(name, s[3], s[5]) for name in BENCHMARKS]
    barrier = threading.Barrier(4)
    created: list[int] = []

    def place() -> None:
        barrier.wait()
        created.extend(triage_service.summarize(world.engine, alerts, NOW).created)

    threads = [threading.Thread(target=place) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(created) == 1
    assert len({world.summary_of(a) for a in alerts}) == 1
    with world.engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(t.alert_summaries)).scalar_one() == 1


def test_an_alert_connecting_two_summaries_merges_them_into_the_older(world: World) -> None:
    s = world.shas
    first, second = world.alert("parse", s[1], s[3]), world.alert("render", s[5], s[7])
    triage_service.summarize(world.engine, [first, second], NOW)
    older, newer = world.summary_of(first), world.summary_of(second)
    assert older < newer
    bridge = world.alert("load", s[2], s[6])
    done = triage_service.summarize(world.engine, [bridge], NOW + timedelta(hours=1))

    assert done.merges == {newer: older}
    assert {world.summary_of(a) for a in (first, second, bridge)} == {older}
    kept = world.detail(older)
    assert (kept["last_good"], kept["first_bad"]) == (s[1], s[7])
    assert kept["notes"][-2]["kind"] == "reassign"
    assert f"absorbed summary {newer}" in kept["notes"][-2]["text"]
    assert "detection added alert" in kept["notes"][-1]["text"]
    merged = world.detail(newer)
    assert merged["state"] == "reassigned"
    assert merged["alerts"] == []
    assert merged["notes"][-1]["text"].startswith(f"merged into summary {older}")
    assert states_of(merged["notes"])[-1] == ("transition", "untriaged", "reassigned")


def test_drift_alerts_group_apart_from_steps(world: World) -> None:
    s = world.shas
    step, drift = world.alert("parse", s[3], s[5]), world.alert("parse", s[0], s[10], kind="drift")
    triage_service.summarize(world.engine, [step, drift], NOW)
    assert world.summary_of(step) != world.summary_of(drift)
    drifting = world.detail(world.summary_of(drift))
    assert drifting["drift"] is True
    assert drifting["queue"] == "perf"  # drift is never bisected: its data is all there is


def test_detection_summarizes_the_alerts_it_finds(world: World) -> None:
    # A real step found by detection lands in a summary without any further call.
    repo, engine = world.repo, world.engine
    git = GitRepo(repo.path)
    for index in range(40):
        sha = repo.commit(f"more {index}")
        target = ingest.prepare_target(
            engine, git, revision=sha, machine=Machine("box", "linux"), configuration=Configuration.of({"os": "x"})
        )
        level = 10.0 if index < 20 else 13.0
        values = tuple(level * (1 + 0.002 * ((index * 7 + k) % 5 - 2)) for k in range(5))
        with engine.begin() as conn:
            results = ResultSet("perfsheriff", (BenchmarkResult("steady", "ms", values),))
            ingest.store_result_set(conn, target, results, source="test", content_hash=sha, now=NOW)
    found = detect_stored(engine, DetectionPolicy(drift=None), now=NOW)
    assert found.new_alert_ids
    with engine.connect() as conn:
        listed = summaries.list_summaries(conn, queue="code")
    assert {a["id"] for s in listed for a in s["alerts"]} == set(found.new_alert_ids)


# -- bisection results ---------------------------------------------------------------------------------------------


def test_a_culprit_is_set_journaled_and_regroups_alerts_that_share_it(world: World) -> None:
    s = world.shas
    early, late = world.alert("parse", s[1], s[4]), world.alert("render", s[4], s[8])
    triage_service.summarize(world.engine, [early, late], NOW)
    older, newer = world.summary_of(early), world.summary_of(late)
    assert older != newer  # the ranges only touch

    record(world, culprit_record(early, s[3]))
    first = world.detail(older)
    assert first["culprit"]["sha"] == s[3]
    assert first["culprit"]["subject"] == "change 3"
    assert first["culprit"]["confidence"] == pytest.approx(0.97)
    assert first["queue"] == "perf"  # a culprit is named: a decision is needed
    data = first["notes"][-1]
    assert data["kind"] == "data"
    assert "12 runs" in data["text"]
    assert f"culprit {s[3][:12]}" in data["text"]
    assert data["details"]["probes"][0]["verdict"] == "bad"

    # The later alert's bisection names the same commit (a benchmark that moved later, say): one summary.
    after = record(world, culprit_record(late, s[3]))
    assert after == older
    assert world.summary_of(late) == older
    merged = world.detail(newer)
    assert merged["state"] == "reassigned"
    assert f"both name culprit {s[3][:12]}" in merged["notes"][-1]["text"]
    alerts = {a["id"]: a for a in world.detail(older)["alerts"]}
    assert alerts[late]["culprit"] == s[3]
    assert alerts[late]["culprit_confidence"] == pytest.approx(0.97)


def test_a_bisection_the_benchmark_could_not_serve_is_journaled_and_hands_the_summary_to_a_sheriff(
    world: World,
) -> None:
    s = world.shas
    alert = world.alert("parse", s[2], s[6])
    triage_service.summarize(world.engine, [alert], NOW)
    assert world.detail(world.summary_of(alert))["queue"] == "code"  # waiting for data
    why = "no result of parse at 3 commits: the benchmark did not exist yet"
    failed = replace(culprit_record(alert, s[4]), state=BisectionState.FAILED, culprits=(), confidence=None)
    summary = record(world, replace(failed, reason=why, runs_spent=6))

    detail = world.detail(summary)
    (shown,) = detail["alerts"]
    assert (shown["bisection"], shown["bisection_reason"], shown["culprit"]) == ("failed", why, None)
    assert detail["queue"] == "perf"  # automation is done with it: a sheriff decides
    assert detail["state"] == "untriaged"  # a failure says nothing about the change itself
    note = detail["notes"][-1]
    assert note["kind"] == "data"
    assert note["text"].endswith(f"6 runs at 1 of 3 commits; failed: {why}")


def test_a_change_that_did_not_reproduce_makes_the_summary_invalid(world: World) -> None:
    s = world.shas
    alert = world.alert("parse", s[2], s[3])
    triage_service.summarize(world.engine, [alert], NOW)
    summary = record(world, culprit_record(alert, s[3], kind="not_reproduced"))
    detail = world.detail(summary)
    assert detail["state"] == "invalid"
    assert detail["queue"] is None
    assert states_of(detail["notes"])[-3:] == [
        ("data", "untriaged", "untriaged"),
        ("transition", "untriaged", "invalid"),
        ("comment", "invalid", "invalid"),
    ]
    assert "did not reproduce" in detail["notes"][-2]["text"]
    assert "the two ends measure the same" in detail["notes"][-2]["text"]
    # A change that did not reproduce was a false alert: its series learns from it like from a sheriff's call.
    assert "(parse on linux (os=linux)) is now less sensitive" in detail["notes"][-1]["text"]


def test_a_culprit_named_later_reopens_what_perfsheriff_made_invalid(world: World) -> None:
    s = world.shas
    first, second = world.alert("parse", s[2], s[4]), world.alert("render", s[2], s[4])
    triage_service.summarize(world.engine, [first, second], NOW)
    summary = record(world, culprit_record(first, s[3], kind="not_reproduced"))
    assert world.detail(summary)["state"] == "invalid"
    summary = record(world, culprit_record(second, s[3]))
    detail = world.detail(summary)
    assert detail["state"] == "investigating"
    assert states_of(detail["notes"])[-2] == ("transition", "invalid", "investigating")
    assert f"named culprit {s[3][:12]}: reopened" in detail["notes"][-2]["text"]
    # Reopened, the alerts no longer count as rejected: both series return to their configured sensitivity.
    assert detail["notes"][-1]["text"].count("is now more sensitive") == 2


def test_a_sheriffs_invalid_stands_when_a_culprit_is_named(world: World) -> None:
    s = world.shas
    alert = world.alert("parse", s[2], s[4])
    (summary,) = triage_service.summarize(world.engine, [alert], NOW).created
    triage_service.transition(world.engine, summary, "invalid", who="ada", text="a noisy machine", now=NOW)
    record(world, culprit_record(alert, s[3]))
    assert world.detail(summary)["state"] == "invalid"


def test_a_cherry_picked_culprit_marks_the_release_summary_downstream(world: World) -> None:
    repo, s = world.repo, world.shas
    repo.branch("release", s[5])
    picks = [repo.commit(f"release fix {i}") for i in range(2)]
    repo.switch("main")
    culprit = repo.commit("slow down parse", files={"parse.txt": "slower\n"})
    tail = [repo.commit(f"after {i}") for i in range(2)]
    repo.switch("release")
    repo.git("cherry-pick", culprit)
    picked = repo.rev()
    assert picked != culprit
    picks.append(repo.commit("release fix 3"))
    repo.switch("main")
    world.measure("main")
    world.measure("release")

    upstream_alert = world.alert("parse", s[-1], tail[0])
    down_alert = world.alert("parse", picks[1], picks[2], branch="release")
    other_alert = world.alert("render", s[2], s[4])
    triage_service.summarize(world.engine, [upstream_alert, down_alert, other_alert], NOW)
    git = GitRepo(repo.path)
    original = record(world, culprit_record(upstream_alert, culprit), git, NOW)
    assert world.detail(original)["state"] == "untriaged"  # nothing elsewhere names it yet
    later = NOW + timedelta(hours=2)
    copy = record(world, culprit_record(down_alert, picked), git, later)

    detail = world.detail(copy)
    assert detail["branch"] == "release"
    assert detail["state"] == "downstream"
    assert detail["upstream_summary_id"] == original
    assert detail["queue"] is None
    assert "same patch-id" in detail["notes"][-2]["text"]
    assert "is now more sensitive" in detail["notes"][-1]["text"]  # a change seen again was a real one
    assert world.detail(original)["downstream"] == [copy]
    related = {r["summary_id"]: r["reasons"] for r in detail["related"]}
    assert "same-culprit" in related[original]
    with world.engine.connect() as conn:
        stored = dict(conn.execute(sa.select(t.revisions.c.sha, t.revisions.c.patch_id)).all())
    assert stored[culprit] == stored[picked] == git.patch_id(culprit)


# -- sheriffs' actions ---------------------------------------------------------------------------------------------


@pytest.fixture
def summary(world: World) -> int:
    alert = world.alert("parse", world.shas[3], world.shas[5])
    triage_service.summarize(world.engine, [alert], NOW)
    return world.summary_of(alert)


def test_transitions_are_journaled_and_the_journal_only_grows(world: World, summary: int) -> None:
    engine = world.engine
    tokens.create_token(engine, Role.SHERIFF, now=NOW, name="grace")  # a sheriff perfsheriff knows
    triage_service.transition(engine, summary, "investigating", who="ada", text="retriggering", now=NOW)
    before = world.detail(summary)["notes"]
    triage_service.transition(
        engine,
        summary,
        "acknowledged",
        who="grace",
        text="real: the parser allocates more",
        owner="grace",
        bug_url="https://bugs.example.org/42",
        now=NOW + timedelta(minutes=5),
    )
    triage_service.add_note(
        engine, summary, who="ada", text="handing over to the EU shift", now=NOW + timedelta(hours=1)
    )
    detail = world.detail(summary)
    notes = detail["notes"]
    assert notes[: len(before)] == before  # nothing written earlier changed
    assert states_of(notes)[len(before) :] == [
        ("transition", "investigating", "acknowledged"),
        ("comment", "acknowledged", "acknowledged"),
        ("comment", "acknowledged", "acknowledged"),
        ("comment", "acknowledged", "acknowledged"),
        ("comment", "acknowledged", "acknowledged"),
    ]
    assert [n["who"] for n in notes[len(before) :]] == ["grace", "grace", "grace", "perfsheriff", "ada"]
    assert notes[len(before)]["text"] == "real: the parser allocates more"
    assert notes[len(before) + 1]["text"] == "owner set to grace"
    assert notes[len(before) + 2]["text"] == "bug link set to https://bugs.example.org/42"
    assert "(parse on linux (os=linux)) is now more sensitive" in notes[len(before) + 3]["text"]
    assert (detail["state"], detail["owner"], detail["bug_url"]) == (
        "acknowledged",
        "grace",
        "https://bugs.example.org/42",
    )
    assert [n["id"] for n in notes] == sorted(n["id"] for n in notes)


def test_an_owner_must_be_someone_perfsheriff_knows(world: World, summary: int) -> None:
    before = world.detail(summary)
    with pytest.raises(InputError, match="unknown user 'nobody': an owner is a commit author"):
        triage_service.assign(world.engine, summary, who="ada", owner="nobody", now=NOW)
    with pytest.raises(InputError, match="unknown user"):  # and a refused owner refuses the whole change
        triage_service.transition(world.engine, summary, "investigating", who="ada", owner="a%", now=NOW)
    assert world.detail(summary) == before
    for known in ("Ada Lovelace", "ada@example.org", "ADA"):  # an author's name, e-mail, or handle
        triage_service.assign(world.engine, summary, who="ada", owner=known, now=NOW)
        assert world.detail(summary)["owner"] == known


def test_a_forbidden_move_names_the_allowed_targets_and_changes_nothing(world: World, summary: int) -> None:
    engine = world.engine
    triage_service.transition(engine, summary, "investigating", who="ada", now=NOW)
    with pytest.raises(InvalidTransition, match="from investigating to fixed") as raised:
        triage_service.transition(engine, summary, "fixed", who="ada", now=NOW)
    assert "acknowledged, downstream, invalid, reassigned, wontfix" in str(raised.value)
    with pytest.raises(InputError, match="unknown state 'fine'"):
        triage_service.transition(engine, summary, "fine", who="ada", now=NOW)
    with pytest.raises(InputError, match="bug link must be an http"):
        triage_service.transition(engine, summary, "acknowledged", who="ada", bug_url="bug 42", now=NOW)
    with pytest.raises(NotFoundError, match="no summary 999999"):
        triage_service.transition(engine, 999999, "acknowledged", who="ada", now=NOW)
    with pytest.raises(NotFoundError):
        triage_service.add_note(engine, 999999, who="ada", text="hello", now=NOW)
    with pytest.raises(InputError, match="needs an author"):
        triage_service.add_note(engine, summary, who=" ", text="hello", now=NOW)
    detail = world.detail(summary)
    assert detail["state"] == "investigating"
    assert len(detail["notes"]) == 2  # the creation note and the one transition


def test_a_stale_from_state_is_a_conflict(world: World, summary: int) -> None:
    engine = world.engine
    triage_service.transition(engine, summary, "investigating", who="ada", now=NOW)
    triage_service.transition(engine, summary, "acknowledged", who="ada", from_state="investigating", now=NOW)
    with pytest.raises(ConflictError, match="is acknowledged now, not investigating: someone changed it meanwhile"):
        triage_service.transition(engine, summary, "invalid", who="grace", from_state="investigating", now=NOW)
    assert world.detail(summary)["state"] == "acknowledged"


@pytest.mark.commits
def test_of_sheriffs_deciding_at_once_exactly_one_wins(world: World, summary: int) -> None:
    engine = world.engine
    triage_service.transition(engine, summary, "investigating", who="ada", now=NOW)
    targets = ["acknowledged", "invalid", "wontfix", "downstream", "reassigned"] * 2
    barrier = threading.Barrier(len(targets))
    outcomes: list[str] = []

    def decide(target: str) -> None:
        barrier.wait()
        try:
            triage_service.transition(engine, summary, target, who=target, from_state="investigating", now=NOW)
            outcomes.append("won")
        except ConflictError:
            outcomes.append("conflict")

    threads = [threading.Thread(target=decide, args=(target,)) for target in targets]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == ["conflict"] * (len(targets) - 1) + ["won"]
    detail = world.detail(summary)
    transitions = [n for n in detail["notes"] if n["kind"] == "transition"]
    assert len(transitions) == 2
    assert transitions[-1]["to_state"] == detail["state"] == transitions[-1]["who"]


def test_reassigning_an_alert_journals_both_summaries(world: World) -> None:
    s = world.shas
    kept, moving = world.alert("parse", s[1], s[2]), world.alert("render", s[6], s[7])
    triage_service.summarize(world.engine, [kept, moving], NOW)
    target, source = world.summary_of(kept), world.summary_of(moving)
    triage_service.reassign_alert(world.engine, moving, target, who="ada", text="same root cause", now=NOW)

    assert world.summary_of(moving) == target
    into = world.detail(target)
    assert into["notes"][-1]["kind"] == "reassign"
    assert f"moved here from summary {source}: same root cause" in into["notes"][-1]["text"]
    assert (into["last_good"], into["first_bad"]) == (s[1], s[7])
    left = world.detail(source)
    assert [n["kind"] for n in left["notes"]][-2:] == ["reassign", "transition"]
    assert left["state"] == "reassigned"  # it has no alert left
    with pytest.raises(InputError, match="already"):
        triage_service.reassign_alert(world.engine, moving, target, who="ada", now=NOW)
    with pytest.raises(NotFoundError):
        triage_service.reassign_alert(world.engine, 999999, target, who="ada", now=NOW)


def test_queues_put_the_most_severe_first(world: World) -> None:
    s = world.shas
    small, large = world.alert("parse", s[1], s[2], change=0.05), world.alert("render", s[6], s[7], change=1.0)
    triage_service.summarize(world.engine, [small, large], NOW)
    with world.engine.connect() as conn:
        code = summaries.queue(conn, "code")
        assert summaries.queue(conn, "perf") == []
        assert [x["id"] for x in summaries.list_summaries(conn, benchmark="rend")] == [world.summary_of(large)]
    assert [x["alerts"][0]["id"] for x in code] == [large, small]
    assert code[0]["severity"] == pytest.approx(0.99)


def test_summaries_filter_by_the_machine_class_of_their_alerts(world: World) -> None:
    world.measure("main", Machine("mini", "arm-mac"))
    s = world.shas
    linux, mac = world.alert("parse", s[1], s[2]), world.alert("load", s[6], s[7], machine="arm-mac")
    triage_service.summarize(world.engine, [linux, mac], NOW)
    with world.engine.connect() as conn:
        on_mac = summaries.list_summaries(conn, machine="arm-mac")
        on_linux = summaries.queue(conn, "code", machine="linux")
        assert summaries.list_summaries(conn, machine="sparc") == []
    assert [x["id"] for x in on_mac] == [world.summary_of(mac)]
    assert [x["id"] for x in on_linux] == [world.summary_of(linux)]
    assert {a["machine_class"] for a in on_mac[0]["alerts"]} == {"arm-mac"}


def test_the_notification_log_records_each_key_once(world: World, summary: int) -> None:
    with world.engine.begin() as conn:
        notifications.record(conn, summary, "github", "summary-1:github", "failed", 4, "503 from GitHub", NOW)
        notifications.record(conn, summary, "webhook", "summary-1:webhook", "sent", 1, None, NOW)
        assert notifications.sent_keys(conn, summary) == {"summary-1:webhook"}
        notifications.record(conn, summary, "github", "summary-1:github", "sent", 2, None, NOW)
        notifications.record(conn, summary, "webhook", "summary-1:webhook", "failed", 1, "late report", NOW)
        assert notifications.sent_keys(conn, summary) == {"summary-1:github", "summary-1:webhook"}
        rows = conn.execute(sa.select(t.notifications.c.key, t.notifications.c.outcome)).all()
        assert sorted(rows) == [("summary-1:github", "sent"), ("summary-1:webhook", "sent")]
        with pytest.raises(LookupError):
            notifications.record(conn, 999999, "email", "summary-999999:email", "failed", 1, "x", NOW)


def test_the_newest_alerts_are_read_with_a_limit_in_the_order_found(world: World) -> None:
    s = world.shas
    ids = [world.alert("parse", s[1], s[2]), world.alert("render", s[3], s[4]), world.alert("load", s[5], s[6])]
    with world.engine.connect() as conn:
        assert [a.id for a in alert_store.list_alerts(conn, newest=2)] == ids[1:]
        assert [a["id"] for a in catalog.alerts(conn, benchmark=None, kind=None, limit=2)] == ids[1:]
        assert [a.id for a in alert_store.list_alerts(conn, benchmark="pars", newest=5)] == ids[:1]

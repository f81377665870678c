"""A month of sheriffing in a real database, for the figures of ``perfsheriff stats`` and ``/api/v1/stats``.

``build_history`` stores results of three benchmarks (suites ``core`` and ``io``) on two machine classes,
then, through the services: five alerts in the period and one older, their summaries, sheriffs' state
changes at known times, a confirmation that did not reproduce (closed by perfsheriff), a bisection that named
a culprit, and the culprit's notification on two webhooks, one of them down. ``EXPECTED`` is what the figures
of the period must say.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy.engine import Engine

from perfsheriff import projectfile
from perfsheriff.alerts import Bisection, BisectionProbe, BisectionState
from perfsheriff.gitrepo import GitRepo
from perfsheriff.model import BenchmarkResult, Configuration, Machine, ResultSet
from perfsheriff.service.intake import ingest
from perfsheriff.service.sheriffing import culprits, notifying
from perfsheriff.service.sheriffing import triage as triage_service
from perfsheriff.store import alerts as alert_store
from perfsheriff.store import bisections as bisection_store
from perfsheriff.store import queries, records
from perfsheriff.triage import State
from support.fakeservers import FakeService, Reply
from support.gitfixtures import Repo

NOW = datetime(2026, 2, 1, 9, 0, tzinfo=UTC)
#: A moment after every event of the history: the figures are read "now" with ``--since 30d``.
READ_AT = NOW + timedelta(days=1)
PROJECT = "stats-project"
SUITES = {"parse": "core", "render": "core", "load": "io"}
MACHINES = (Machine("box", "linux"), Machine("mac", "arm-mac"))


@dataclass(frozen=True, slots=True)
class History:
    engine: Engine
    repo: Repo
    shas: list[str]
    project_id: int

    def alert(self, benchmark: str, good: int, bad: int, *, at: datetime, **fields: object) -> int:
        """Store an alert as detection does, between ``shas[good]`` and ``shas[bad]`` (on linux unless told)."""
        machine, kind = fields.pop("machine", "linux"), fields.pop("kind", "regression")
        with self.engine.begin() as conn:
            (series,) = queries.list_series(conn, benchmark=benchmark, branch="main", machine=str(machine))
            ids = records.revision_ids(conn, self.project_id, [self.shas[good], self.shas[bad]])
            row = {
                "series_id": series.id,
                "last_good_revision_id": ids[self.shas[good]],
                "first_bad_revision_id": ids[self.shas[bad]],
                "kind": kind,
                "relative_change": -0.2 if kind == "improvement" else 0.1,
                "confidence": 0.99,
                "details": {},
                "created_at": at,
                **fields,
            }
            (alert_id,) = alert_store.insert_alerts(conn, [row])
        return alert_id

    def summary(self, alert_id: int, at: datetime) -> int:
        (summary_id,) = triage_service.summarize(self.engine, [alert_id], at).created
        return summary_id

    def move(self, summary_id: int, state: str, at: datetime) -> None:
        triage_service.transition(self.engine, summary_id, state, who="ada", text="looked at it", now=at)


def _measure(engine: Engine, repo: Repo, machine: Machine) -> int:
    git = GitRepo(repo.path)
    configuration = Configuration.of({"os": "any"})
    target = ingest.prepare_target(engine, git, revision="main", machine=machine, configuration=configuration)
    results = ResultSet(
        "perfsheriff", tuple(BenchmarkResult(b, "ms", (10.0, 10.1, 9.9), suite=s) for b, s in SUITES.items())
    )
    with engine.begin() as conn:
        ingest.store_result_set(conn, target, results, source="test", content_hash=target.revision, now=NOW)
    return target.project_id


def _notify_file(url: str) -> projectfile.ProjectFile:
    text = f"""
[project]
name = "{PROJECT}"
repository = "."
branch = "main"

[notify]
base_url = "https://perf.example.org"
min_confidence = 0.5
retries = 1

[[notify.webhooks]]
name = "chat"
url = "{url}/hook"

[[notify.webhooks]]
name = "pager"
url = "{url}/down"
"""
    return projectfile.loads(text, source="perfsheriff.toml", config_dir=Path("/nowhere"))


def build_history(engine: Engine, folder: Path) -> History:
    """The history ``EXPECTED`` describes (see the module docstring)."""
    repo = Repo.init(folder / PROJECT)
    shas = [repo.commit(f"change {i}", files={"level.txt": f"{i}\n"}) for i in range(12)]
    (project_id,) = {_measure(engine, repo, machine) for machine in MACHINES}
    history = History(engine, repo, shas, project_id)
    hour = timedelta(hours=1)
    history.alert("render", 10, 11, at=NOW - timedelta(days=60))  # before the period: not counted

    acknowledged = history.alert("parse", 1, 2, at=NOW)
    with engine.begin() as conn:
        alert_store.set_confirmation(conn, acknowledged, "confirmed", {"outcome": "confirmed", "runs": 6})
    first = history.summary(acknowledged, NOW)
    history.move(first, "acknowledged", NOW + 2 * hour)
    probe = BisectionProbe(shas[2], "bad", 4, "step")
    found = Bisection(acknowledged, shas[1], shas[2], BisectionState.CULPRIT, 1, 12, (shas[2],), 0.97, "", (probe,))
    with engine.begin() as conn:
        bisection_store.save(conn, found, now=NOW + 5 * hour)
    culprits.record_bisection(engine, found, repo=None, now=NOW + 5 * hour)

    rejected = history.summary(history.alert("render", 4, 5, at=NOW), NOW)
    history.move(rejected, "investigating", NOW + 4 * hour)
    history.move(rejected, "invalid", NOW + 6 * hour)

    on_mac = history.summary(history.alert("parse", 7, 8, at=NOW + hour, machine="arm-mac", kind="improvement"), NOW)
    history.move(on_mac, "invalid", NOW + 9 * hour)

    history.summary(history.alert("load", 0, 10, at=NOW, kind="drift"), NOW)

    candidate = history.alert("load", 9, 10, at=NOW, confirmation="confirming")
    with engine.begin() as conn:
        alert_store.set_confirmation(conn, candidate, "not-reproduced", {"outcome": "not-reproduced", "runs": 8})
    closed = history.summary(candidate, NOW + hour)
    with engine.begin() as conn:
        triage_service.system_transition(conn, closed, State.INVALID, "did not reproduce", now=NOW + hour)

    with FakeService() as webhooks:
        webhooks.on("POST", "/hook", Reply(200, {}))
        webhooks.on("POST", "/down", Reply(500, {"error": "down"}))
        notifying.notify_culprit(engine, first, _notify_file(webhooks.url), now=NOW + 6 * hour, sleep=lambda _: None)
    return history


#: The figures of the period (``--since 30d`` read at ``READ_AT``) for the whole project.
EXPECTED_OVERALL = {
    "alerts": 5,
    "kinds": {"regression": 3, "improvement": 1, "drift": 1},
    "not_reproduced": 1,
    "states": {"acknowledged": 1, "invalid": 2, "untriaged": 1},
    "valid": 1,
    "invalid": 2,
    "precision": 1 / 3,
    "median_hours_to_triage": 4.0,  # 2 h (acknowledged), 4 h (first investigating), 8 h (the mac one)
    "median_hours_to_culprit": 5.0,
    "confirmation_runs": 14,
    "bisection_runs": 12,
    "runs_per_alert": 26 / 5,
}

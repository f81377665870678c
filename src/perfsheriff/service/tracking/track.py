"""The track loop: new commits of the tracked branches are measured, checked and bisected.

One pass (``track_once``): fetch (for a URL) and import the history, pick the
revisions the schedule wants and that this machine has not measured yet, run
every configured benchmark there, run detection, confirm the new candidates by
measuring around them again (:mod:`perfsheriff.service.tracking.confirmation`: only a
confirmed one is published), and bisect the confirmed regressions within the
budgets (at most ``alerts_per_summary`` per suspect range, one representative
per benchmark when it regressed in several series).

Every planned bisection is stored ``running`` before the first of them starts,
and its runs spent after every step (:mod:`perfsheriff.store.bisections`): a
pass that was killed leaves them ``running``, and the next pass resumes them,
the runs already made serving again as data (no finished probe is repeated).

Why one module of about 400 lines: the steps of a pass (measure, confirm, resume, bisect) are methods of
one frozen :class:`Tracker` that carries the project, the store and the executor they all use; the
decisions themselves live in the core and in the sibling services.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy.engine import Engine

from perfsheriff.alerts import AlertConfirmation, AlertKind, Bisection, BisectionProbe, BisectionState
from perfsheriff.bisect import AlertDescriptor, BisectSettings, plan_bisections
from perfsheriff.errors import ConfigError, InputError, NotFoundError
from perfsheriff.gitrepo import GitRepo
from perfsheriff.model import Direction, Machine
from perfsheriff.projectfile import BenchmarkSpec, MachineSpec, ProjectFile
from perfsheriff.runner import Runner
from perfsheriff.scheduling import scheduled, spread_order
from perfsheriff.service.analysis.detection import ConfirmScope, DetectionPolicy, detect_stored, policy_from_thresholds
from perfsheriff.service.intake.ingest import Target, prepare_target
from perfsheriff.service.queue.jobs import JobReason
from perfsheriff.service.sheriffing import culprits, notifying
from perfsheriff.service.tracking.bisection import BisectJob, BisectReport, run_bisection
from perfsheriff.service.tracking.confirmation import ConfirmationReport, Confirmer
from perfsheriff.service.tracking.execute import Executor, LocalExecutor, Measured
from perfsheriff.store import alerts as alert_store
from perfsheriff.store import bisections as bisection_store
from perfsheriff.store import records, runsinfo
from perfsheriff.triage.confirmation import Outcome


@dataclass(frozen=True, slots=True)
class TrackEvents:
    """Callbacks for progress display; every one is optional."""

    planned: Callable[[int], None] | None = None
    ran: Callable[[str, BenchmarkSpec, Measured], None] | None = None
    bisect_step: Callable[[int, str, int], None] | None = None  # alert id, commit, repetitions
    confirmed: Callable[[ConfirmationReport], None] | None = None  # a candidate confirmed or closed


@dataclass
class TrackReport:
    runs_ok: int = 0
    runs_failed: int = 0
    new_alert_ids: list[int] = field(default_factory=list)
    confirmations: dict[int, ConfirmationReport] = field(default_factory=dict)
    bisections: dict[int, BisectReport] = field(default_factory=dict)
    reused: dict[int, int] = field(default_factory=dict)  # alert id -> the alert whose culprit it shares

    def absorb(self, later: TrackReport) -> None:
        """Add a later pass's report to this one, to report several passes as one."""
        self.runs_ok += later.runs_ok
        self.runs_failed += later.runs_failed
        self.new_alert_ids += later.new_alert_ids
        self.confirmations |= later.confirmations
        self.bisections |= later.bisections
        self.reused |= later.reused


def open_repository(project_file: ProjectFile, workroot: Path) -> GitRepo:
    """The tracked repository: the local checkout, or a mirror of the URL under ``workroot``."""
    project = project_file.project
    if not project.repository_is_url:
        return GitRepo(project.repository)
    name = hashlib.sha256(project.repository.encode()).hexdigest()[:12]
    return GitRepo.mirror(project.repository, workroot / "mirrors" / name)


def choose_machine(project_file: ProjectFile, name: str | None, default: str) -> MachineSpec:
    """The configured machine named ``name``, else the first configured one, else ``default`` bare."""
    if name is not None:
        for spec in project_file.machines:
            if spec.name == name:
                return spec
        if project_file.machines:
            known = ", ".join(m.name for m in project_file.machines)
            raise ConfigError(f"no machine {name!r} in the configuration (known: {known})", where="--machine")
        return MachineSpec(name)
    return project_file.machines[0] if project_file.machines else MachineSpec(default)


@dataclass(frozen=True, slots=True)
class Tracker:
    """The track loop over one project. Runs go through ``executor``: the local runner by default,
    or the job queue (:class:`~perfsheriff.service.tracking.execute.QueueExecutor`) when agents do the work."""

    engine: Engine
    project_file: ProjectFile
    repo: GitRepo
    runner: Runner | None
    machine: MachineSpec
    backfill: int = 20
    now: Callable[[], datetime] = lambda: datetime.now(UTC)
    executor: Executor | None = None

    def executor_for(self, events: TrackEvents) -> Executor:
        executor = self.executor
        if executor is None:
            if self.runner is None:
                raise ConfigError("the tracker needs a runner or an executor", where="runner")
            executor = LocalExecutor(self.engine, self.runner, self.now)
        executor.on_run = events.ran
        return executor

    def target(self, branch: str) -> Target:
        machine = Machine(self.machine.name, self.machine.machine_class)
        return prepare_target(
            self.engine,
            self.repo,
            revision=branch,
            machine=machine,
            configuration=self.machine.config,
            branch=branch,
            project=self.project_file.project.name,
        )

    def pending(self, target: Target, spec: BenchmarkSpec) -> list[str]:
        """Scheduled commits not measured by ``spec`` here yet: the newest ``backfill`` on a first pass, then
        every scheduled commit from the oldest one measured on."""
        schedule = self.project_file.schedule
        wanted = scheduled(self.repo.pushes(target.branch), schedule.mode, schedule.every)
        with self.engine.connect() as conn:
            ids = records.revision_ids(conn, target.project_id, wanted)
            done = runsinfo.measured_revisions(
                conn,
                list(ids.values()),
                machine_class=target.machine.machine_class,
                configuration_id=target.configuration_id,
                source=f"benchmark {spec.name}",
            )
        if not done:
            return wanted[-self.backfill :]
        # Later passes fill gaps and follow new commits, never history older than the first measured commit.
        first = next(i for i, sha in enumerate(wanted) if ids[sha] in done)
        return [sha for sha in wanted[first:] if ids[sha] not in done]

    def measure(self, target: Target, report: TrackReport, events: TrackEvents) -> None:
        """Run every benchmark at its pending commits: the newest as routine, older ones as backfill, in an
        order that does not follow history (``spread_order``), so that a drifting machine cannot pass for a
        change in the code."""
        work = [(spec, self.pending(target, spec)) for spec in self.project_file.benchmarks]
        if events.planned:
            events.planned(sum(len(shas) for _, shas in work))
        executor = self.executor_for(events)
        newest = self.repo.resolve(target.branch)
        for spec, shas in work:
            older = [sha for sha in shas if sha != newest]
            backfill = [older[position] for position in spread_order(len(older))]
            routine = [sha for sha in shas if sha == newest]
            measured = executor.measure(target, spec, backfill, reason=JobReason.BACKFILL) if backfill else []
            measured += executor.measure(target, spec, routine, reason=JobReason.ROUTINE) if routine else []
            report.runs_ok += sum(1 for m in measured if m.ok)
            report.runs_failed += sum(1 for m in measured if not m.ok)

    def policy(self, target: Target | None = None) -> DetectionPolicy:
        """The thresholds of the configuration; with ``target``, step alerts of the series measured there
        start as candidates to confirm."""
        policy = policy_from_thresholds(self.project_file.thresholds)
        scope = None
        if target is not None:
            sources = frozenset(self._specs())
            scope = ConfirmScope(target.machine.machine_class, str(target.configuration), sources)
        return replace(policy, release_tags=self.project_file.project.release_tags, confirm=scope)

    def _specs(self) -> dict[str, BenchmarkSpec]:
        return {f"benchmark {spec.name}": spec for spec in self.project_file.benchmarks}

    def confirm_pending(self, target: Target, report: TrackReport, events: TrackEvents) -> list[int]:
        """Confirm the candidates waiting on this branch (new ones, and any an interrupted pass left);
        returns the alerts that go on to bisection."""
        confirmer = Confirmer(
            self.engine,
            self.executor_for(events),
            target,
            self._specs(),
            self.project_file.budgets.runs_per_alert,
            min_magnitude=self.policy().default.min_relative_change,
        )
        published = []
        for alert in confirmer.pending():
            confirmed = confirmer.confirm(alert, self.now())
            report.confirmations[alert.id] = confirmed
            if events.confirmed:
                events.confirmed(confirmed)
            if confirmed.outcome is not Outcome.NOT_REPRODUCED:
                published.append(alert.id)
        return published

    def run(self, events: TrackEvents | None = None) -> TrackReport:
        events = events or TrackEvents()
        report = TrackReport()
        for branch in self.project_file.project.branches:
            target = self.target(branch)
            # Deliveries that failed or were rate-limited in an earlier pass get another chance.
            notifying.retry_pending(self.engine, target.project_id, self.project_file, now=self.now())
            self.measure(target, report, events)
            with self.engine.begin() as conn:
                specs = self.project_file.benchmarks
                records.configure_benchmarks(
                    conn, target.project_id, {s.name: s.weight for s in specs}, {s.name: s.tags for s in specs}
                )
            found = detect_stored(
                self.engine, self.policy(target), now=self.now(), filters={"project": target.project, "branch": branch}
            )
            report.new_alert_ids += found.new_alert_ids
            published = self.confirm_pending(target, report, events)
            self.resume_interrupted(target, report, events)
            self.bisect_new(target, list(dict.fromkeys([*found.new_alert_ids, *published])), report, events)
        return report

    def resume_interrupted(self, target: Target, report: TrackReport, events: TrackEvents) -> None:
        """Finish the bisections of this branch an earlier pass left ``running`` (it was killed meanwhile),
        then record the alerts that share one of them."""
        with self.engine.connect() as conn:
            running = bisection_store.load(conn, state=BisectionState.RUNNING)
            found = alert_store.list_alerts(conn, ids=list(running)) if running else []
            alerts = [a for a in found if a.branch == target.branch]
            sources = {a.id: runsinfo.source_of_series(conn, a.series_id) for a in alerts}
        for alert in (a for a in alerts if running[a.id].reused_from is None):
            spec = self._spec_for(sources[alert.id])
            if spec is not None:
                report.bisections[alert.id] = self._bisect_alert(target, alert, spec, events, running[alert.id])
                self._record(self._decided(alert, report.bisections[alert.id]))
        followers = [a for a in alerts if running[a.id].reused_from is not None]
        with self.engine.connect() as conn:
            shared = bisection_store.load(conn, alert_ids=[running[a.id].reused_from or 0 for a in followers])
        for alert in followers:
            representative = shared.get(running[alert.id].reused_from or 0)
            if representative is not None and representative.state.decided:
                report.reused[alert.id] = representative.alert_id
                self._record(self._shared(alert, representative))
            elif representative is None or representative.state is BisectionState.FAILED:
                with self.engine.begin() as conn:  # nothing to share: it stays unbisected, as its representative
                    failed = replace(running[alert.id], state=BisectionState.FAILED, reason="nothing to share")
                    bisection_store.save(conn, failed, now=self.now())

    def bisect_new(self, target: Target, alert_ids: list[int], report: TrackReport, events: TrackEvents) -> None:
        """Bisect new step alerts within the budgets; alerts sharing a representative reuse its culprit."""
        with self.engine.connect() as conn:
            found = alert_store.list_alerts(conn, ids=alert_ids) if alert_ids else []
            # Drift is never bisected; a candidate still confirming, or not reproduced, is not bisected either.
            closed = (AlertConfirmation.CONFIRMING, AlertConfirmation.NOT_REPRODUCED)
            alerts = [a for a in found if a.kind != AlertKind.DRIFT and a.confirmation not in closed]
            sources = {a.id: runsinfo.source_of_series(conn, a.series_id) for a in alerts}
        by_id = {a.id: a for a in alerts}
        descriptors = [
            AlertDescriptor(
                str(a.id),
                a.benchmark,
                a.last_good,
                a.first_bad,
                abs(a.relative_change),
                float(a.details.get("noise") or 1.0) / max(abs(float(a.details.get("before") or 1.0)), 1e-300),
            )
            for a in alerts
        ]
        plan = plan_bisections(descriptors, self.project_file.budgets.alerts_per_summary)
        specs = {i: spec for i in map(int, plan.bisect) if (spec := self._spec_for(sources.get(i))) is not None}
        reuse = {int(f): int(r) for f, r in plan.reuse.items() if int(r) in specs}
        with self.engine.begin() as conn:  # every one planned is stored first: a killed pass leaves them to resume
            for alert_id in [*specs, *reuse]:
                a = by_id[alert_id]
                planned = Bisection(alert_id, a.last_good, a.first_bad, reused_from=reuse.get(alert_id))
                bisection_store.save(conn, planned, now=self.now())
        decided = {}
        for alert_id, spec in specs.items():
            report.bisections[alert_id] = self._bisect_alert(target, by_id[alert_id], spec, events)
            decided[alert_id] = self._decided(by_id[alert_id], report.bisections[alert_id])
            self._record(decided[alert_id])
        for follower, representative in reuse.items():
            report.reused[follower] = representative
            self._record(self._shared(by_id[follower], decided[representative]))

    def _spec_for(self, source: str | None) -> BenchmarkSpec | None:
        for spec in self.project_file.benchmarks:
            if source == f"benchmark {spec.name}":
                return spec
        return None

    def bisect_alert(
        self, alert_id: int, spec_name: str | None = None, events: TrackEvents | None = None
    ) -> BisectReport:
        """Bisect one stored alert now (``perfsheriff bisect ALERT_ID``) and record the outcome on it."""
        with self.engine.connect() as conn:
            found = alert_store.list_alerts(conn, ids=[alert_id])
            if not found:
                raise NotFoundError(f"no alert {alert_id}: `perfsheriff alerts` lists them")
            alert = found[0]
            source = runsinfo.source_of_series(conn, alert.series_id)
        spec = self.project_file.benchmark(spec_name) if spec_name else self._spec_for(source)
        if spec is None:
            raise ConfigError(
                f"alert {alert_id}'s series was not measured by a configured benchmark: name one with --benchmark",
                where="--benchmark",
            )
        target = self.target(alert.branch)
        bisected = self._bisect_alert(target, alert, spec, events or TrackEvents())
        self._record(self._decided(alert, bisected))
        return bisected

    def _bisect_alert(
        self,
        target: Target,
        alert: alert_store.AlertRow,
        spec: BenchmarkSpec,
        events: TrackEvents,
        resumed: Bisection | None = None,
    ) -> BisectReport:
        """Bisect ``alert``, its record ``running`` meanwhile; ``resumed``: where an interrupted pass left it.

        A resumed bisection spends what is left of the budget; the runs made before serve as data, so the
        planner asks again for nothing it had already measured.
        """
        # The planner searches for the step between the two ends and confirms it as a regression;
        # an improvement is bisected the same way, with the direction that makes its step read as one.
        direction = Direction.LOWER_IS_BETTER if alert.relative_change > 0 else Direction.HIGHER_IS_BETTER
        job = BisectJob(
            alert.last_good, alert.first_bad, spec, alert.benchmark, alert.metric, direction, level_window=5
        )
        # Confirmation runs come out of the alert's run budget; bisection spends what is left.
        before = resumed.runs_spent if resumed is not None else 0
        spent = int((alert.details.get("confirmation") or {}).get("runs") or 0) + before
        settings = BisectSettings(max_runs=max(1, self.project_file.budgets.runs_per_alert - spent))
        record = Bisection(alert.id, alert.last_good, alert.first_bad, runs_spent=before)
        with self.engine.begin() as conn:
            bisection_store.save(conn, record, now=self.now())

        def step(request: Any, measured: list[Measured]) -> None:
            nonlocal record
            record = replace(record, runs_spent=record.runs_spent + len(measured))
            with self.engine.begin() as conn:
                bisection_store.save(conn, record, now=self.now())
            if events.bisect_step:
                events.bisect_step(alert.id, request.commit, request.repetitions)

        try:
            bisected = run_bisection(
                self.engine, self.repo, self.executor_for(events), target, job, settings=settings, on_step=step
            )
        except InputError as exc:  # the benchmark cannot serve this bisection: no later pass retries it
            failed = replace(record, state=BisectionState.FAILED, reason=exc.reason)
            with self.engine.begin() as conn:
                bisection_store.save(conn, failed, now=self.now())
            culprits.record_bisection(self.engine, failed, repo=None, now=self.now())  # the sheriff's turn now
            raise
        outcome = replace(bisected.outcome, runs_spent=before + bisected.outcome.runs_spent)
        return replace(bisected, outcome=outcome)

    @staticmethod
    def _decided(alert: alert_store.AlertRow, bisected: BisectReport) -> Bisection:
        """The record of ``alert``'s bisection once the planner decided."""
        outcome = bisected.outcome
        return Bisection(
            alert.id,
            alert.last_good,
            alert.first_bad,
            BisectionState(outcome.kind.value),
            bisected.range_size,
            outcome.runs_spent,
            tuple(r.sha for r in bisected.culprits),
            outcome.confidence,
            outcome.reason,
            tuple(BisectionProbe(p.commit, p.verdict.value, p.n_samples, p.reason) for p in outcome.probes),
        )

    @staticmethod
    def _shared(alert: alert_store.AlertRow, representative: Bisection) -> Bisection:
        """``representative``'s outcome for ``alert`` (same benchmark, same range): no runs of its own."""
        return replace(
            representative,
            alert_id=alert.id,
            good=alert.last_good,
            bad=alert.first_bad,
            runs_spent=0,
            reused_from=representative.alert_id,
        )

    def _record(self, bisection: Bisection) -> None:
        """Store a decided bisection and act on it: culprit, journal, regrouping, the author told."""
        with self.engine.begin() as conn:
            bisection_store.save(conn, bisection, now=self.now())
        # The culprit goes on the alert and into its summary's journal; a change that did not reproduce
        # makes the summary invalid (see service.culprits.record_bisection).
        summary_id = culprits.record_bisection(self.engine, bisection, repo=self.repo, now=self.now())
        notifying.notify_culprit(self.engine, summary_id, self.project_file, now=self.now())  # never raises

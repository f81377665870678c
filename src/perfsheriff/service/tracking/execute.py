"""Where benchmark runs happen: on this machine, or on agents through the job queue.

The track loop and the bisect driver ask an :class:`Executor` to measure a
benchmark at some commits and get back what was stored. Two executors:

- :class:`LocalExecutor` runs each commit here with the runner and records it
  (``perfsheriff track`` on a laptop or a single benchmark machine);
- :class:`QueueExecutor` queues one job per run and waits until agents have
  answered them all (``perfsheriff track --queue`` beside ``perfsheriff serve``):
  agents of the machine class share the work, and their uploads are the record.

Either way the runs are in the database when ``measure`` returns, so the
callers read their data from there, the same way for both.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Protocol

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from perfsheriff.errors import PerfsheriffError
from perfsheriff.model import RunStatus
from perfsheriff.projectfile import BenchmarkSpec
from perfsheriff.runner import Runner, RunOutcome
from perfsheriff.service.intake.ingest import Target
from perfsheriff.service.intake.runs import record_outcome, target_at
from perfsheriff.service.queue import budget_status, jobs
from perfsheriff.store import jobs as queue
from perfsheriff.store import records, runsinfo


@dataclass(frozen=True, slots=True)
class Measured:
    """One stored run (or a job that never produced one: ``run_id`` None, status ``infra``)."""

    sha: str
    status: RunStatus
    run_id: int | None
    error: str | None
    series: frozenset[str]  # the series the run gave samples to
    duration_s: float | None = None

    @property
    def ok(self) -> bool:
        return self.status is RunStatus.OK


class Executor(Protocol):
    #: Called after each run is stored (progress display).
    on_run: Callable[[str, BenchmarkSpec, Measured], None] | None

    def measure(
        self, target: Target, spec: BenchmarkSpec, shas: Sequence[str], *, reason: jobs.JobReason
    ) -> list[Measured]:
        """Run ``spec`` once at each commit in ``shas`` (repeats allowed) and return the stored runs, in order."""
        ...


def _utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass
class LocalExecutor:
    engine: Engine
    runner: Runner
    now: Callable[[], datetime] = _utc_now
    on_run: Callable[[str, BenchmarkSpec, Measured], None] | None = None

    def measure(
        self, target: Target, spec: BenchmarkSpec, shas: Sequence[str], *, reason: jobs.JobReason
    ) -> list[Measured]:
        del reason  # one machine: everything runs in the order asked
        out = []
        for sha in shas:
            outcome: RunOutcome = self.runner.run(spec, sha)
            with self.engine.begin() as conn:
                run_id = record_outcome(
                    conn, target_at(conn, target, sha), outcome, benchmark=spec.name, now=self.now()
                )
                series = runsinfo.series_of_run(conn, run_id)
            measured = Measured(sha, outcome.status, run_id, outcome.error, series, outcome.duration_s)
            if self.on_run is not None:
                self.on_run(sha, spec, measured)
            out.append(measured)
        return out


class QueueTimeout(PerfsheriffError):
    """Queued jobs were not answered in time: are agents of the machine class running?"""


@dataclass
class QueueExecutor:
    """Queue jobs for agents of ``target.machine``'s class and wait for their answers."""

    engine: Engine
    config_dir: Path
    poll_s: float = 1.0
    timeout_s: float = 6 * 3600.0
    now: Callable[[], datetime] = _utc_now
    sleep: Callable[[float], None] = time.sleep
    on_run: Callable[[str, BenchmarkSpec, Measured], None] | None = None
    max_attempts: int = jobs.DEFAULT_MAX_ATTEMPTS
    queued: list[int] = field(default_factory=list)
    #: The machine-time budgets (the ``run_budgets`` setting), so that a wait can say when it is the budget's.
    budgets: Mapping[str, int] = field(default_factory=dict)
    #: Told, once per change, why the jobs waited for are held back ("" once they are not).
    on_wait: Callable[[str], None] | None = None
    budget_check_s: float = 60.0

    def measure(
        self, target: Target, spec: BenchmarkSpec, shas: Sequence[str], *, reason: jobs.JobReason
    ) -> list[Measured]:
        ids = self._enqueue(target, spec, shas, reason)
        waiting = dict.fromkeys(ids)
        answered: dict[int, Measured] = {}
        deadline = time.monotonic() + self.timeout_s
        held, checked = "", -float("inf")
        while waiting:
            with self.engine.connect() as conn:
                for job_id, measured in self._finished(conn, list(waiting)).items():
                    answered[job_id] = measured
                    waiting.pop(job_id)
                    if self.on_run is not None:
                        self.on_run(measured.sha, spec, measured)
                if waiting and time.monotonic() - checked >= self.budget_check_s:
                    checked = time.monotonic()
                    why = self.held_back(conn, target.machine.machine_class, reason)
                    if why != held and self.on_wait is not None:
                        self.on_wait(why)
                    held = why
            if not waiting:
                break
            if time.monotonic() > deadline:
                hint = f"they wait because {held}" if held else "start `perfsheriff agent` on such a machine"
                raise QueueTimeout(
                    f"{len(waiting)} of {len(ids)} jobs for machine class {target.machine.machine_class!r} "
                    f"were not answered within {self.timeout_s:g} s: {hint}"
                )
            self.sleep(self.poll_s)
        return [answered[job_id] for job_id in ids]

    def held_back(self, conn: sa.Connection, machine_class: str, reason: jobs.JobReason) -> str:
        """Why jobs of ``reason`` on ``machine_class`` are not handed out now: the spent budget, or "" (nothing
        holds them back but agents being busy or absent)."""
        if not self.budgets:
            return ""
        for found in budget_status.budget_status(conn, self.budgets, now=self.now()):
            if found.machine_class == machine_class:
                return next((w.why for w in found.queued if w.reason is reason and w.why), "")
        return ""

    def _enqueue(self, target: Target, spec: BenchmarkSpec, shas: Sequence[str], reason: jobs.JobReason) -> list[int]:
        ids = []
        with self.engine.begin() as conn:
            revision_ids = records.revision_ids(conn, target.project_id, list(shas))
            pending = (
                self._pending(conn, target, spec, revision_ids.values()) if reason is jobs.JobReason.CONFIRM else {}
            )
            for sha in shas:
                if pending.get(revision_ids[sha]):
                    ids.append(pending[revision_ids[sha]].pop(0))
                    continue
                job_id, _ = jobs.enqueue(
                    conn,
                    jobs.JobRequest(
                        project_id=target.project_id,
                        branch_id=target.branch_id,
                        revision_id=revision_ids[sha],
                        spec=replace(spec),
                        config_dir=self.config_dir,
                        machine_class=target.machine.machine_class,
                        configuration=target.configuration,
                        reason=reason,
                        max_attempts=self.max_attempts,
                        # A bisection step or a retrigger asks for several runs of one commit: each is a job.
                        dedupe=reason not in (jobs.JobReason.BISECT, jobs.JobReason.CONFIRM),
                    ),
                    now=self.now(),
                )
                ids.append(job_id)
        self.queued.extend(ids)
        return ids

    @staticmethod
    def _pending(
        conn: sa.Connection, target: Target, spec: BenchmarkSpec, revision_ids: Iterable[int]
    ) -> dict[int, list[int]]:
        """Confirmation jobs a pass queued and stopped waiting for (it timed out): they are waited for again,
        not queued twice, since the pass that takes the candidate up again counts only the runs done."""
        return queue.open_jobs(
            conn,
            sorted(set(revision_ids)),
            benchmark=spec.name,
            machine_class=target.machine.machine_class,
            configuration_id=target.configuration_id,
            reason=jobs.JobReason.CONFIRM,
        )

    def _finished(self, conn: sa.Connection, ids: list[int]) -> dict[int, Measured]:
        rows = queue.finished_jobs(conn, ids)
        out = {}
        for row in rows:
            if row["run_id"] is None:
                out[int(row["id"])] = Measured(str(row["sha"]), RunStatus.INFRA, None, row["error"], frozenset())
                continue
            run_id = int(row["run_id"])
            series = runsinfo.series_of_run(conn, run_id)
            measured = Measured(str(row["sha"]), RunStatus(row["status"]), run_id, row["run_error"], series)
            out[int(row["id"])] = measured
        return out

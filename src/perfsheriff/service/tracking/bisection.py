"""The bisect driver: plays the pure planner against real runs, recording every run.

The planner (``perfsheriff.bisect``) decides which commit to run next and when
to stop; this module has the benchmark run there (by the executor: here, or by
agents through the job queue) in the order the planner asks (a probe's runs
between the ends' runs: ``G P P B B P P G``), each run stored (so the data serves
graphs and later bisections too), and feeds the planner one sample per run: the
run's median of the bisected series, in the order the runs were stored.
"""

from __future__ import annotations

import shlex
from collections.abc import Callable
from dataclasses import dataclass, replace

import numpy as np
from sqlalchemy.engine import Engine

from perfsheriff.bisect import BisectOutcome, BisectPlanner, BisectSettings, Observation, RunRequest, SuspectRange
from perfsheriff.errors import InputError
from perfsheriff.gitrepo import GitRepo
from perfsheriff.model import Direction, Revision, SeriesKey
from perfsheriff.projectfile import BenchmarkSpec
from perfsheriff.service.intake.ingest import Target
from perfsheriff.service.queue.jobs import JobReason
from perfsheriff.service.tracking.execute import Executor, Measured
from perfsheriff.store import queries, records
from perfsheriff.store.series_rows import SeriesRow


@dataclass(frozen=True, slots=True)
class BisectJob:
    """What to bisect: a range of the branch, one benchmark, one result series of it."""

    good: str
    bad: str
    benchmark: BenchmarkSpec
    result: str  # the result name inside the benchmark's output
    metric: str
    direction: Direction
    # For an alert: how many measured revisions just outside the range (before good, after bad) vouch
    # for the two levels, as the detector saw them. 0 for a range given by hand.
    level_window: int = 0
    # True when nobody named the result or metric (a range by hand with defaults): the only result and metric
    # the benchmark's output has is then followed, whatever the tool called it.
    follow_output: bool = False


@dataclass(frozen=True, slots=True)
class BisectReport:
    outcome: BisectOutcome
    culprits: list[Revision]
    range_size: int
    series_id: str


def suspect_range(
    repo: GitRepo, good: str, bad: str, levels: tuple[tuple[float, ...], tuple[float, ...]] = ((), ())
) -> SuspectRange:
    """``git rev-list good..bad`` as a DAG; good must be an ancestor of bad."""
    if good == bad:
        raise InputError("good and bad are the same commit: nothing to bisect", where="--good/--bad")
    if not repo.is_ancestor(good, bad):
        raise InputError(f"{good[:12]} is not an ancestor of {bad[:12]}: a bisection needs good before bad")
    commits = repo.revisions(repo.range(good, bad))
    return SuspectRange(good, bad, {r.sha: r.parents for r in commits}, good_level=levels[0], bad_level=levels[1])


def level_samples(
    engine: Engine, target: Target, series_id: str, job: BisectJob
) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """Medians of up to ``job.level_window`` measured revisions before the good end and after the bad end."""
    if job.level_window <= 0:
        return (), ()
    with engine.connect() as conn:
        points = queries.series_points(conn, series_id)
        ids = records.revision_ids(conn, target.project_id, [job.good, job.bad])
        good_at = records.branch_position(conn, target.branch_id, ids[job.good]) if job.good in ids else None
        bad_at = records.branch_position(conn, target.branch_id, ids[job.bad]) if job.bad in ids else None
    if good_at is None or bad_at is None:
        return (), ()
    medians = [float(np.median(points.samples(i))) for i in range(len(points))]
    before = [m for m, p in zip(medians, points.positions, strict=True) if p < good_at and m > 0]
    after = [m for m, p in zip(medians, points.positions, strict=True) if p > bad_at and m > 0]
    return tuple(before[-job.level_window :]), tuple(after[: job.level_window])


def _observations(
    engine: Engine, target: Target, series_id: str, shas: list[str], source: str
) -> dict[str, Observation]:
    with engine.connect() as conn:
        ids = records.revision_ids(conn, target.project_id, shas)
        medians = queries.run_medians(conn, series_id, list(ids.values()))
        failures = queries.failed_runs(
            conn,
            list(ids.values()),
            machine_class=target.machine.machine_class,
            configuration_id=target.configuration_id,
            source=source,
        )
    out = {}
    for sha, rid in ids.items():
        samples = tuple(v for v in medians.get(rid, []) if v > 0)
        if samples or failures.get(rid):
            out[sha] = Observation(samples, failures.get(rid, 0))
    return out


def run_bisection(
    engine: Engine,
    repo: GitRepo,
    executor: Executor,
    target: Target,
    job: BisectJob,
    *,
    settings: BisectSettings,
    on_step: Callable[[RunRequest, list[Measured]], None] | None = None,
) -> BisectReport:
    """Bisect ``job`` on ``target``'s machine class and configuration until the planner decides.

    Each step's runs go through ``executor``: here, or as jobs for agents (bisection comes first in their queue).
    When the benchmark's output has no result of the job's name and metric, nobody named them
    (``follow_output``) and the output has exactly one result and metric, that one is followed (tools name
    their own results: ``latency`` in Bencher's format, ``BM_parse/64``); otherwise the error lists what the
    output has, with the options that select each. The runs already made are kept and reused.
    """
    key = SeriesKey(
        target.project, target.branch, job.result, job.metric, target.machine.machine_class, target.configuration
    )
    suspect = suspect_range(repo, job.good, job.bad, level_samples(engine, target, key.id, job))
    planner = BisectPlanner(suspect, job.direction, settings)
    shas = [job.good, *suspect.order]
    source = f"benchmark {job.benchmark.name}"
    single = replace(job.benchmark, repetitions=1)
    while True:
        step = planner.next_step(_observations(engine, target, key.id, shas, source))
        if isinstance(step, BisectOutcome):
            return BisectReport(step, repo.revisions(step.culprits), len(suspect), key.id)
        # in the order asked: the probe's runs between the ends', so that a drifting machine cancels
        measured = executor.measure(target, single, list(step.runs), reason=JobReason.BISECT)
        if on_step is not None:
            on_step(step, measured)
        if all(m.ok and key.id not in m.series for m in measured):
            produced = frozenset().union(*(m.series for m in measured))
            adopted = _the_only_result(engine, job, produced)  # follow_output is off in it: this recurses once
            return run_bisection(engine, repo, executor, target, adopted, settings=settings, on_step=on_step)


def _the_only_result(engine: Engine, job: BisectJob, series_ids: frozenset[str]) -> BisectJob:
    """``job`` on the only series the benchmark's output gave samples to; else an InputError listing them."""
    produced = _describe(engine, series_ids)
    if len(produced) != 1 or not job.follow_output:
        raise InputError(_which_result(job, produced))
    (row,) = produced
    direction = Direction.HIGHER_IS_BETTER if row.direction == "higher_is_better" else Direction.LOWER_IS_BETTER
    return replace(job, result=row.benchmark, metric=row.metric, direction=direction, follow_output=False)


def _describe(engine: Engine, series_ids: frozenset[str]) -> list[SeriesRow]:
    if not series_ids:
        return []
    with engine.connect() as conn:
        return queries.list_series(conn, ids=sorted(series_ids))


def _which_result(job: BisectJob, produced: list[SeriesRow]) -> str:
    wanted = f"benchmark {job.benchmark.name!r} produced no result named {job.result!r} ({job.metric})"
    if not produced:
        return f"{wanted}, and no result at all"
    choices = "; ".join(
        f"{row.benchmark} ({row.metric}): --result {shlex.quote(row.benchmark)} --metric {shlex.quote(row.metric)}"
        for row in sorted(produced, key=lambda r: (r.benchmark, r.metric))[:_LISTED]
    )
    more = f"; and {len(produced) - _LISTED} more" if len(produced) > _LISTED else ""
    return f"{wanted}; it produced {len(produced)}, pick one: {choices}{more}"


_LISTED = 10

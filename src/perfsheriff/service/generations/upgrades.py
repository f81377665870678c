"""Recording a machine class's upgrade: its new generation, where it starts, and the baseline jobs it asks for.

A new generation starts at a moment (runs of the class recorded at or after it belong to it), so the old and
the new generation's samples of one revision tell the machines apart. The upgrade queues *baseline* jobs:
revisions the old generation measured, run again on the new one, whose ratios give each series' factor
(:mod:`perfsheriff.service.generations.factors`). They are ordinary jobs at the lowest priority, drawing on the
class's run budget like all automation, and agents take them like any job.
"""

from __future__ import annotations

import shlex
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from perfsheriff.errors import ConflictError, InputError, NotFoundError
from perfsheriff.machines import HARDWARE_KEYS, setup_boundaries
from perfsheriff.model import Configuration, JobReason
from perfsheriff.projectfile import ProjectFile
from perfsheriff.scheduling import spread_order
from perfsheriff.service.queue import jobs
from perfsheriff.stats.generations import min_revisions
from perfsheriff.store import generations as store
from perfsheriff.store import seriesinfo

#: Recorded environment keys named beside a setup change when they changed with it (a new system often brings a
#: new Python and compiler), though alone they make no new generation (``machines.HARDWARE_KEYS``).
ALSO_KEYS = ("python", "compiler")
#: Baseline revisions an upgrade asks for unless told: with 2 % noise, 20 revisions settle the factor within
#: ±2 % in about 90 % of series (docs/dashboard.md, "How well it does"); 10 in about a third.
DEFAULT_BASELINE_REVISIONS = 20
#: The fewest baseline revisions accepted: fewer never give a 95 % interval without assuming a distribution.
MIN_BASELINE_REVISIONS = min_revisions(0.05)
#: The baseline is spread over the newest this-many-times-N revisions the old generation measured: recent code
#: (the factor of a machine may depend on what the code does), yet far enough apart for independent ratios.
HISTORY_PER_REVISION = 5


@dataclass(frozen=True, slots=True)
class Upgrade:
    """A recorded upgrade: the generation's row, why it starts when it does, and the jobs queued for it."""

    machine_class: str
    ordinal: int
    label: str
    previous_label: str
    starts_at: datetime
    boundary_from: str  # "--at", "a new setup of <machine>", or "now"
    baseline_revisions: int
    jobs_queued: int
    revisions_chosen: int
    skipped: tuple[str, ...] = field(default=())  # benchmarks with series but no command in the project file


@dataclass(frozen=True, slots=True)
class SetupChange:
    """A change of hardware or system in a class's recorded runs: which machine, since when, what changed."""

    machine: str
    kind: str  # "upgrade" (the machine's setup changed) or "new machine"
    at: datetime  # the first run on the new setup
    changed: tuple[tuple[str, str | None, str], ...]  # (key, from, to)
    covered: bool  # a recorded generation starts at it
    also: tuple[tuple[str, str, str], ...] = ()  # ALSO_KEYS that changed with it on the same machine

    def describe(self) -> str:
        parts = [f"{key} {old} -> {new}" if old else f"{key} {new}" for key, old, new in self.changed]
        also = f" (with {', '.join(f'{key} {old} -> {new}' for key, old, new in self.also)})" if self.also else ""
        return f"{self.machine} ({self.kind}) from {self.at:%Y-%m-%d %H:%M:%S} UTC: {'; '.join(parts)}{also}"


@dataclass(frozen=True, slots=True)
class Undone:
    machine_class: str
    label: str
    previous_label: str
    jobs_removed: int


def current_label(conn: sa.Connection, machine_class: str) -> str | None:
    """The label of the class's newest generation; None while only the implicit first one exists."""
    rows = store.generations(conn, machine_class)
    return str(rows[-1]["label"]) if rows else None


def check_baseline_revisions(count: int) -> None:
    """Refuse fewer baseline revisions than any 95 % interval for the factor needs."""
    if isinstance(count, bool) or count < MIN_BASELINE_REVISIONS:
        raise InputError(
            f"at least {MIN_BASELINE_REVISIONS} baseline revisions are needed (fewer never give a 95 % interval "
            f"for the factor), got {count}",
            where="--baseline-revisions",
        )


def record_upgrade(
    engine: Engine,
    project_file: ProjectFile,
    machine_class: str,
    *,
    from_label: str,
    to_label: str,
    baseline_revisions: int = DEFAULT_BASELINE_REVISIONS,
    at: datetime | None,
    now: datetime,
) -> Upgrade:
    """Record the upgrade of ``machine_class`` from ``from_label`` to ``to_label`` and queue its baseline jobs.

    All in one transaction: bad input (unknown class, a ``from_label`` that is not the class's current
    generation, the same upgrade twice, too few baseline revisions, a boundary before the previous one)
    raises before anything is written.
    """
    from_label, to_label = from_label.strip(), to_label.strip()
    check_baseline_revisions(baseline_revisions)
    for where, label in (("--from", from_label), ("--to", to_label)):
        if not label or len(label) > 200:
            raise InputError("a generation's label is 1 to 200 characters", where=where)
    with engine.begin() as conn:
        if not store.class_known(conn, machine_class):
            raise NotFoundError(f"no machine of class {machine_class!r} is registered and no series was measured on it")
        rows = store.generations(conn, machine_class)
        newest = rows[-1] if rows else None
        if newest is not None and (newest["previous_label"], newest["label"]) == (from_label, to_label):
            raise ConflictError(
                f"the upgrade of {machine_class} from {from_label!r} to {to_label!r} is already recorded "
                f"(at {newest['starts_at']:%Y-%m-%d %H:%M} UTC); --undo removes it"
            )
        current = None if newest is None else str(newest["label"])
        if current is not None and from_label != current:
            message = f"the current generation of {machine_class} is {current!r}, not {from_label!r}"
            raise InputError(message, where="--from")
        used = {from_label} | {str(r["label"]) for r in rows} | {str(r["previous_label"]) for r in rows}
        if to_label in used:
            raise InputError(f"{machine_class} already had a generation labelled {to_label!r}", where="--to")
        previous_start = None if newest is None else newest["starts_at"]
        starts_at, boundary_from = _boundary(conn, machine_class, at, previous_start, now)
        ordinal = 2 if newest is None else int(newest["ordinal"]) + 1
        store.insert_generation(
            conn,
            machine_class=machine_class,
            ordinal=ordinal,
            label=to_label,
            previous_label=from_label,
            starts_at=starts_at,
            baseline_revisions=baseline_revisions,
            created_at=now,
        )
        queued = _queue_baseline(
            conn, project_file, machine_class, baseline_revisions, (starts_at, previous_start), now=now
        )
    return Upgrade(machine_class, ordinal, to_label, from_label, starts_at, boundary_from, baseline_revisions, *queued)


def undo_upgrade(engine: Engine, machine_class: str) -> Undone:
    """Remove the class's newest generation and its baseline jobs no agent has taken yet."""
    with engine.begin() as conn:
        rows = store.generations(conn, machine_class)
        if not rows:
            raise NotFoundError(f"{machine_class} has no recorded upgrade to undo")
        newest = rows[-1]
        store.delete_generation(conn, int(newest["id"]))
        removed = store.delete_queued_baselines(conn, machine_class, newest["created_at"])
    return Undone(machine_class, str(newest["label"]), str(newest["previous_label"]), removed)


def _boundary(
    conn: sa.Connection, machine_class: str, at: datetime | None, previous: datetime | None, now: datetime
) -> tuple[datetime, str]:
    """Where the new generation starts: ``at``; else the class's latest new setup after the previous generation
    (``machines.setup_boundaries`` over its runs in time order); else ``now``."""
    if at is not None:
        if at > now:  # runs recorded until then, baseline runs included, would count as the old generation's
            raise InputError(f"the new generation must start by now, got {at:%Y-%m-%d %H:%M} UTC", where="--at")
        if previous is not None and at <= previous:
            raise InputError(
                f"the new generation must start after the current one ({previous:%Y-%m-%d %H:%M} UTC), "
                f"got {at:%Y-%m-%d %H:%M} UTC",
                where="--at",
            )
        return at, "--at"
    for change in setup_changes(conn, machine_class):  # the first since the current generation: upgrades in turn
        if previous is None or change.at > previous:
            return change.at, f"a new setup of {change.machine} ({change.kind})"
    return now, "now"


def setup_changes(conn: sa.Connection, machine_class: str) -> list[SetupChange]:
    """Where the class's machines changed hardware or system (``machines.setup_boundaries`` over its runs in
    time order, ``HARDWARE_KEYS`` only: a kernel update or a new Python alone is no new generation), oldest
    first, each with whether a recorded generation covers it (starts after the change before it, by this one)."""
    rows = store.class_setups(conn, machine_class, HARDWARE_KEYS + ALSO_KEYS)
    firsts: dict[tuple[str, tuple[str, ...]], datetime] = {}
    for machine, setup, first in rows:
        key = (machine, setup[: len(HARDWARE_KEYS)])
        firsts[key] = min(first, firsts.get(key, first))
    times = sorted(set(firsts.values()))
    rank = {moment: index for index, moment in enumerate(times)}
    marks = setup_boundaries([(machine, setup, rank[first]) for (machine, setup), first in firsts.items()])
    starts = [g["starts_at"] for g in store.generations(conn, machine_class)]
    out: list[SetupChange] = []
    for mark in marks:
        moment, machine = times[int(mark["position"])], str(mark["machine"])
        after = out[-1].at if out else None
        covered = any((after is None or after < s) and s <= moment for s in starts)
        changed = tuple((key, v["from"], v["to"]) for key, v in mark["changed"].items())
        mine = sorted((first, setup[len(HARDWARE_KEYS) :]) for m, setup, first in rows if m == machine)
        before = [extra for first, extra in mine if first < moment]
        now_on = [extra for first, extra in mine if first == moment]
        also: tuple[tuple[str, str, str], ...] = ()
        if before and now_on:
            pairs = zip(ALSO_KEYS, before[-1], now_on[0], strict=True)
            also = tuple((key, old, new) for key, old, new in pairs if old and new and old != new)
        out.append(SetupChange(machine, str(mark["kind"]), moment, changed, covered, also))
    return out


def unrecorded(conn: sa.Connection, machine_class: str | None) -> list[tuple[str, SetupChange, str]]:
    """(class, change, command that records it) of each setup change of the class, else of every class some
    series was measured on, that no recorded generation covers."""
    out = []
    for name in [machine_class] if machine_class is not None else seriesinfo.machine_classes(conn):
        label = current_label(conn, name)
        for change in setup_changes(conn, name):
            if not change.covered:
                out.append((name, change, unrecorded_command(name, change, label)))
                label = None  # the next one's --from is the label this one gets
    return out


def unrecorded_command(machine_class: str, change: SetupChange, from_label: str | None) -> str:
    """The command that records ``change`` as a new generation (labels are the user's to choose)."""
    return (
        f"perfsheriff machine upgrade {shlex.quote(machine_class)} --from {shlex.quote(from_label or 'OLD')} "
        f"--to NEW --at {change.at.isoformat()}"
    )


def _queue_baseline(
    conn: sa.Connection,
    project_file: ProjectFile,
    machine_class: str,
    count: int,
    old_generation: tuple[datetime, datetime | None],
    *,
    now: datetime,
) -> tuple[int, int, tuple[str, ...]]:
    """Queue ``count`` revisions spread over the old generation's recent history (its runs before the new
    generation's start, since its own), each for every benchmark of the class on that branch; returns (jobs
    queued, revisions chosen, benchmarks skipped)."""
    starts_at, previous_start = old_generation
    series = store.measured_series(conn, machine_class)
    known = {spec.name for spec in project_file.benchmarks}
    skipped = sorted(
        {f"{r['project']}/{r['benchmark']}" for r in series if r["project"] != project_file.project.name}
        | {r["benchmark"] for r in series if r["project"] == project_file.project.name and r["benchmark"] not in known}
    )
    mine = [r for r in series if r["project"] == project_file.project.name and r["benchmark"] in known]
    queued = chosen = 0
    for branch_id in sorted({int(r["branch_id"]) for r in mine}):
        history = store.revisions_measured_before(conn, machine_class, branch_id, starts_at, previous_start)
        revisions = _spread(history[-count * HISTORY_PER_REVISION :], count)
        chosen += len(revisions)
        on_branch = [r for r in mine if int(r["branch_id"]) == branch_id]
        for revision_id in revisions:
            for row in on_branch:
                _, new = jobs.enqueue(
                    conn,
                    jobs.JobRequest(
                        project_id=int(row["project_id"]),
                        branch_id=branch_id,
                        revision_id=revision_id,
                        spec=project_file.benchmark(str(row["benchmark"])),
                        config_dir=project_file.config_dir,
                        machine_class=machine_class,
                        configuration=Configuration.of(row["configuration"] or {}),
                        reason=JobReason.BASELINE,
                    ),
                    now=now,
                )
                queued += int(new)
    return queued, chosen, tuple(skipped)


def _spread(history: Sequence[tuple[int, int]], count: int) -> list[int]:
    """The revision ids of ``count`` of ``history`` (position, id), in the order they should be measured:
    :func:`perfsheriff.scheduling.spread_order`, so a pass cut short still covers the stretch evenly."""
    order = spread_order(len(history))
    return [history[position][1] for position in order[:count]]

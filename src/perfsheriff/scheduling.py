"""What runs when: which revisions a tracking pass measures, in which order, and how much machine time
automation may take. Pure decisions, no I/O.

Perfherder's trees measure every push; a nightly project measures the tip once a day; a busy branch
measures every n-th push and lets bisection fill in. ``perfsheriff.toml``'s ``[schedule]`` names the
mode (``ScheduleMode``); :func:`scheduled` applies it. :class:`RunBudget` caps what automation claims
on a machine class per day.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from perfsheriff.errors import InputError
from perfsheriff.model import JobReason, Push


class ScheduleMode(enum.StrEnum):
    """Which revisions ``track`` measures."""

    PUSH = "push"  # the tip of every push
    COMMIT = "commit"  # every commit, roll-up members included
    EVERY_N_PUSHES = "every-n-pushes"  # the tip of every n-th push
    NIGHTLY = "nightly"  # the branch tip, once a day


def scheduled(pushes: Sequence[Push], mode: ScheduleMode, every: int | None) -> list[str]:
    """The commits the schedule wants measured, oldest first; every n-th push keeps the newest tip too."""
    if mode is ScheduleMode.COMMIT:
        return [sha for push in pushes for sha in push.commits]
    tips = [push.tip for push in pushes]
    if mode is ScheduleMode.EVERY_N_PUSHES and every:
        chosen = tips[::every]
        return chosen if not tips or chosen[-1] == tips[-1] else [*chosen, tips[-1]]
    if mode is ScheduleMode.NIGHTLY:
        return tips[-1:]
    return tips


GOLDEN = (5**0.5 - 1) / 2


def spread_order(count: int) -> list[int]:
    """Positions ``0 .. count-1`` in the order a backfill measures them: run ``j`` goes to the rank of
    ``frac(j · φ)`` (the golden-ratio sequence, whose points split the widest gaps first; Weyl 1916).

    Measured in history order, a machine that slowly warms up, or a neighbour that keeps it busy for
    minutes, lines up with consecutive commits and looks like a trend or a step in the code. In this order
    any ``k`` consecutive runs land about ``count / k`` commits apart or more (at least a fifth of that,
    anywhere in the pass: the three-gap theorem), so the machine's drift becomes scattered noise, which the
    detector's rank tests tolerate, instead of a shift between neighbours. A pass cut short after ``m``
    runs leaves no gap wider than about ``2 · count / m``, not one end of history unmeasured.
    """
    steps = sorted(range(count), key=lambda j: (j * GOLDEN) % 1.0)
    order = [0] * count
    for position, step in enumerate(steps):
        order[step] = position
    return order


def interleaved(counts: Sequence[tuple[str, int]]) -> list[str]:
    """Runs of several revisions in A B B A order: rounds of one run each, every other round reversed.

    Measured as A A A A B B B B, a machine that slows down over the minutes the runs take makes B look
    slower than A, which a comparison of the two reads as a regression. In A B B A A B B A order a linear
    drift adds the same to both sides' means (exactly, for an even and equal count of runs), and runs of A
    and B that follow each other are taken close together in time.
    """
    names = [name for name, _ in counts]
    left = [runs for _, runs in counts]
    order: list[str] = []
    forward = True
    while any(runs > 0 for runs in left):
        for i in range(len(names)) if forward else reversed(range(len(names))):
            if left[i] > 0:
                order.append(names[i])
                left[i] -= 1
        forward = not forward
    return order


# One machine-time budget per machine class ------------------------------------------------------------------

#: The rolling period a budget covers: what automation claimed in the last day counts against today's runs.
BUDGET_WINDOW = timedelta(days=1)
#: What a budget limits: everything automation asks for on its own. Routine runs of new pushes are what the
#: machines are there for, so they are never held back (they also go first, see ``JobReason.priority``).
BUDGETED = frozenset(reason for reason in JobReason if reason is not JobReason.ROUTINE)


@dataclass(frozen=True, slots=True)
class RunBudget:
    """How many runs a day automation (confirmation retriggers, backfills, bisections) may take on one class.

    Mozilla caps automation per machine pool because its test machines also run every push; a bad week
    with many alerts must not starve those routine runs. Lower-priority work waits while the budget is
    spent (it stays queued, nothing is dropped) and takes its turn as claims age out of the rolling
    :data:`BUDGET_WINDOW`. A run is one repetition of a benchmark: a job asking for four counts four.
    A job is claimable while anything is left, so a class may overshoot by one job's repetitions (and,
    with agents claiming at the same instant, by one job each): a budget is a rate, not an invariant.
    """

    runs_per_day: int

    def __post_init__(self) -> None:
        if isinstance(self.runs_per_day, bool) or not isinstance(self.runs_per_day, int) or self.runs_per_day < 1:
            raise InputError(
                f"a run budget must be a whole number of runs per day >= 1, got {self.runs_per_day!r} "
                "(a budget of zero would stop confirmation and bisection for good; leave it unset for no limit)"
            )

    def allows(self, reason: JobReason, spent: int) -> bool:
        """Whether a job for ``reason`` may be claimed now, with ``spent`` budgeted runs in the window."""
        return reason not in BUDGETED or spent < self.runs_per_day

    def frees_at(self, claims: Sequence[tuple[datetime, int]], now: datetime) -> datetime:
        """When budgeted work may be claimed again: ``now`` if anything is left, else when enough of the
        window's ``claims`` (each its claim time and runs) have aged out to bring the total under the budget."""
        window = sorted((at, runs) for at, runs in claims if now - BUDGET_WINDOW < at <= now)
        spent = sum(runs for _, runs in window)
        for at, runs in window:  # oldest first: the first claims to age out
            if spent < self.runs_per_day:
                break
            spent -= runs
            now = max(now, at + BUDGET_WINDOW)
        return now


def budget_for(budgets: Mapping[str, int], machine_class: str) -> RunBudget | None:
    """The budget of ``machine_class`` in ``budgets`` (class -> runs a day; ``"*"`` for every other class),
    or None when it has none (no limit)."""
    limit = budgets.get(machine_class, budgets.get("*"))
    return None if limit is None else RunBudget(limit)

"""The sheriffs' two work queues, as pure filters and one sort order.

Perfherder splits sheriffing in two: *code sheriffs* take new summaries and
gather data (retriggers, backfills: here, automatic bisection), *perf
sheriffs* decide once the data is in. So an open summary (``untriaged`` or
``investigating``) sits in exactly one queue:

- **code**: its data is still coming (no bisection yet, or one running, and no culprit);
- **perf**: its data is ready (bisection finished, or a culprit named) and it needs a decision.

Decided and resolved summaries are in neither. Both queues put the most severe
summary first (see :mod:`perfsheriff.triage.severity`), then the oldest, then
the smallest id, so two sheriffs looking at the same queue see the same order.
"""

from __future__ import annotations

import enum
import math
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from perfsheriff.errors import InputError
from perfsheriff.triage.states import OPEN_STATES, State, parse_state


class Queue(enum.StrEnum):
    CODE = "code"
    PERF = "perf"


class Bisection(enum.StrEnum):
    """Where the automatic data collection of a summary stands."""

    NONE = "none"  # not started (or not needed yet)
    RUNNING = "running"
    FINISHED = "finished"  # every planned bisection ended, with a culprit or without


@dataclass(frozen=True, slots=True)
class QueueEntry:
    """What the queues need of a summary."""

    summary_id: int
    state: State
    severity: float
    created: datetime
    bisection: Bisection = Bisection.NONE
    culprit_named: bool = False

    def __post_init__(self) -> None:
        object.__setattr__(self, "state", parse_state(self.state))
        if self.bisection not in set(Bisection):
            raise InputError(f"summary {self.summary_id}: unknown bisection status {self.bisection!r}")
        object.__setattr__(self, "bisection", Bisection(self.bisection))
        if not (math.isfinite(self.severity) and self.severity >= 0):
            raise InputError(f"summary {self.summary_id}: severity must be a finite number >= 0")
        if self.created.tzinfo is None:
            raise InputError(f"summary {self.summary_id}: its creation time must be timezone-aware")

    @property
    def data_ready(self) -> bool:
        """Whether a perf sheriff has what a decision needs."""
        return self.culprit_named or self.bisection is Bisection.FINISHED


def queue_of(entry: QueueEntry) -> Queue | None:
    """The queue ``entry`` belongs in, or ``None`` once it is decided."""
    if entry.state not in OPEN_STATES:
        return None
    return Queue.PERF if entry.data_ready else Queue.CODE


def sheriff_queue(entries: Iterable[QueueEntry], queue: Queue) -> tuple[QueueEntry, ...]:
    """The entries of ``queue``, most severe first, then oldest, then smallest id."""
    wanted = Queue(queue)
    return tuple(sorted((e for e in entries if queue_of(e) is wanted), key=_priority))


def code_queue(entries: Iterable[QueueEntry]) -> tuple[QueueEntry, ...]:
    return sheriff_queue(entries, Queue.CODE)


def perf_queue(entries: Iterable[QueueEntry]) -> tuple[QueueEntry, ...]:
    return sheriff_queue(entries, Queue.PERF)


def _priority(entry: QueueEntry) -> tuple[float, datetime, int]:
    return (-entry.severity, entry.created, entry.summary_id)

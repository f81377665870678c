"""How well the sheriffing works: alerts raised, their triage outcomes, precision, delays, runs spent.

Pure: the service reads one :class:`AlertOutcome` per alert of the period and these functions count,
take medians and group (by project, suite, benchmark, machine class). See ``docs/triage.md``,
*How well the sheriffing works*.

Precision is the sheriffs' verdict on the alerts they were shown: an alert whose summary is in a
:data:`~perfsheriff.triage.sensitivity.CONFIRMED` state (acknowledged, wontfix, downstream, fixed,
backedout) was a real change, one in ``invalid`` was not; open summaries and ``reassigned`` ones (merged
away) decide nothing. Candidates confirmation closed as not reproduced were never shown to anyone: they
are counted apart and left out of precision and time to triage.
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import numpy as np

from perfsheriff.errors import InputError
from perfsheriff.triage.sensitivity import CONFIRMED, REJECTED

#: The confirmation status of a candidate that did not reproduce (``alerts.confirmation``).
NOT_REPRODUCED = "not-reproduced"
KINDS = ("regression", "improvement", "drift")
VALID_STATES = frozenset(s.value for s in CONFIRMED)
INVALID_STATES = frozenset(s.value for s in REJECTED)

_DAYS = re.compile(r"(\d{1,5})d")


@dataclass(frozen=True, slots=True)
class AlertOutcome:
    """One alert of the period and what became of it; ``triaged_at``: its summary's first state change by a
    sheriff; ``culprit_at``: when bisection named a culprit."""

    project: str
    suite: str
    benchmark: str
    machine_class: str
    kind: str
    created_at: datetime
    state: str | None = None  # its summary's state; None: in no summary (a candidate)
    confirmation: str | None = None
    triaged_at: datetime | None = None
    culprit_at: datetime | None = None
    confirmation_runs: int = 0
    bisection_runs: int = 0

    @property
    def shown(self) -> bool:
        """Whether sheriffs saw it: a candidate closed as not reproduced never reached them."""
        return self.confirmation != NOT_REPRODUCED


@dataclass(frozen=True, slots=True)
class Figures:
    """What a group of alerts says about the sheriffing; medians in hours, None when nothing to measure."""

    alerts: int = 0
    kinds: dict[str, int] = field(default_factory=dict)
    not_reproduced: int = 0
    states: dict[str, int] = field(default_factory=dict)
    valid: int = 0
    invalid: int = 0
    precision: float | None = None
    median_hours_to_triage: float | None = None
    median_hours_to_culprit: float | None = None
    confirmation_runs: int = 0
    bisection_runs: int = 0
    runs_per_alert: float | None = None


def median(values: Sequence[float]) -> float | None:
    """The median, or None for no values (an empty period is not an error)."""
    return float(np.median(np.asarray(values, dtype=float))) if values else None


def precision(valid: int, invalid: int) -> float | None:
    """valid / (valid + invalid); None when nothing was judged."""
    if valid < 0 or invalid < 0:
        raise InputError("counts of valid and invalid alerts must be >= 0")
    return valid / (valid + invalid) if valid + invalid else None


def _hours(start: datetime, end: datetime | None) -> float | None:
    """Hours from ``start`` to ``end``; 0 for an alert that joined a summary already triaged."""
    return None if end is None else max(0.0, (end - start).total_seconds() / 3600)


def figures(outcomes: Iterable[AlertOutcome]) -> Figures:
    """The figures of a group of alerts."""
    found = list(outcomes)
    shown = [o for o in found if o.shown]
    valid = sum(o.state in VALID_STATES for o in shown)
    invalid = sum(o.state in INVALID_STATES for o in shown)
    triage = [h for o in shown if (h := _hours(o.created_at, o.triaged_at)) is not None]
    culprit = [h for o in found if (h := _hours(o.created_at, o.culprit_at)) is not None]
    confirming, bisecting = sum(o.confirmation_runs for o in found), sum(o.bisection_runs for o in found)
    return Figures(
        alerts=len(found),
        kinds={kind: sum(o.kind == kind for o in found) for kind in KINDS},
        not_reproduced=len(found) - len(shown),
        states=dict(sorted(Counter(o.state for o in shown if o.state is not None).items())),
        valid=valid,
        invalid=invalid,
        precision=precision(valid, invalid),
        median_hours_to_triage=median(triage),
        median_hours_to_culprit=median(culprit),
        confirmation_runs=confirming,
        bisection_runs=bisecting,
        runs_per_alert=(confirming + bisecting) / len(found) if found else None,
    )


def breakdown(outcomes: Iterable[AlertOutcome], key: Callable[[AlertOutcome], str]) -> dict[str, Figures]:
    """Figures per value of ``key`` (a suite, a benchmark, a machine class), sorted by it."""
    groups: dict[str, list[AlertOutcome]] = defaultdict(list)
    for outcome in outcomes:
        groups[key(outcome)].append(outcome)
    return {name: figures(groups[name]) for name in sorted(groups)}


def noisiest(outcomes: Iterable[AlertOutcome], *, top: int = 10) -> list[tuple[str, int]]:
    """The ``top`` benchmarks with the most alerts sheriffs judged invalid, most first (ties by name)."""
    counts = Counter(o.benchmark for o in outcomes if o.shown and o.state in INVALID_STATES)
    return sorted(counts.items(), key=lambda item: (-item[1], item[0]))[:top]


def parse_moment(text: str, now: datetime, *, where: str) -> datetime:
    """``30d`` (that many days before ``now``), or an ISO date or time (UTC unless it says otherwise)."""
    value = text.strip()
    days = _DAYS.fullmatch(value)
    if days:
        return now - timedelta(days=int(days.group(1)))
    try:
        moment = datetime.fromisoformat(value)
        return moment.astimezone(UTC) if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
    except (ValueError, OverflowError):  # not a moment, or one that leaves the calendar in UTC (year 1 at +14:00)
        message = f"cannot read {text!r} as a moment: expected a number of days (30d) or a date (2026-01-01)"
        raise InputError(message, where=where) from None


def period(since: str, until: str | None, now: datetime) -> tuple[datetime, datetime]:
    """The period [since, until) the figures cover; ``until`` defaults to ``now``."""
    start = parse_moment(since, now, where="since")
    end = now if until is None else parse_moment(until, now, where="until")
    if end < start:
        raise InputError(f"{end:%Y-%m-%d %H:%M} is before since ({start:%Y-%m-%d %H:%M})", where="until")
    return start, end

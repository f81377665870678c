"""The vocabulary of alerts and the record of their bisection: typed values of the core, free of I/O.

An alert's *kind* says what detection found, its *confirmation* where a
candidate stands before anyone sees it; a :class:`Bisection` is what the search
for the alert's culprit has done so far. The stored columns hold the enums'
values, so the database and every JSON output read exactly as the strings did.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from perfsheriff.errors import InputError


class AlertKind(enum.StrEnum):
    """What detection found; the vocabulary of the ``alerts.kind`` column."""

    REGRESSION = "regression"
    IMPROVEMENT = "improvement"
    DRIFT = "drift"

    @classmethod
    def of_step(cls, is_regression: bool) -> AlertKind:
        """The kind of a step change, given :meth:`perfsheriff.model.Direction.is_regression`'s answer."""
        return cls.REGRESSION if is_regression else cls.IMPROVEMENT


class AlertConfirmation(enum.StrEnum):
    """Where a candidate alert stands; the vocabulary of ``alerts.confirmation`` (NULL: never subject to it)."""

    CONFIRMING = "confirming"  # measured again around its range before anyone sees it
    CONFIRMED = "confirmed"
    NOT_REPRODUCED = "not-reproduced"  # closed: nobody is told
    UNCONFIRMED = "unconfirmed"  # too little data could be had: it goes on as before


class BisectionState(enum.StrEnum):
    """Where a bisection stands; the vocabulary of ``bisections.state``.

    ``running`` until it ends; then the planner's outcome (the values of
    :class:`perfsheriff.bisect.OutcomeKind`), or ``failed`` when the benchmark
    could not serve it (no result of the bisected series). A bisection still
    ``running`` when no process drives it was interrupted: the next ``track``
    pass resumes it.
    """

    RUNNING = "running"
    CULPRIT = "culprit"
    TWO_CULPRITS = "two_culprits"
    NOT_REPRODUCED = "not_reproduced"
    UNDECIDED = "undecided"
    FAILED = "failed"

    @property
    def decided(self) -> bool:
        """The planner came to an outcome (what triage, the queues and every view call "bisected")."""
        return self not in (BisectionState.RUNNING, BisectionState.FAILED)

    @property
    def names_culprit(self) -> bool:
        return self in (BisectionState.CULPRIT, BisectionState.TWO_CULPRITS)


@dataclass(frozen=True, slots=True)
class BisectionProbe:
    """One decided probe: the commit, its verdict (a :class:`perfsheriff.bisect.ProbeVerdict` value), its samples."""

    commit: str
    verdict: str
    n_samples: int
    reason: str

    def __post_init__(self) -> None:
        if self.n_samples < 0:
            raise InputError(f"probe of {self.commit[:12]}: n_samples must be >= 0, got {self.n_samples}")


@dataclass(frozen=True, slots=True)
class Bisection:
    """The search for one alert's culprit between ``good`` and ``bad``, as far as it went.

    ``runs_spent`` counts the runs it made (every attempt, an interrupted one
    too); ``culprits`` are named once it is decided (one, two oldest first, or
    those found before an ``undecided`` end); ``reused_from`` is the alert whose
    bisection this one shares (same benchmark, same range: no runs of its own).
    """

    alert_id: int
    good: str
    bad: str
    state: BisectionState = BisectionState.RUNNING
    range_size: int = 0
    runs_spent: int = 0
    culprits: tuple[str, ...] = ()
    confidence: float | None = None
    reason: str = ""
    probes: tuple[BisectionProbe, ...] = ()
    reused_from: int | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "state", BisectionState(self.state))
        object.__setattr__(self, "culprits", tuple(self.culprits))
        object.__setattr__(self, "probes", tuple(self.probes))
        if self.runs_spent < 0 or self.range_size < 0:
            raise InputError(f"bisection of alert {self.alert_id}: runs spent and range size must be >= 0")
        if self.state.names_culprit and not self.culprits:
            raise InputError(f"bisection of alert {self.alert_id}: a {self.state.value} outcome names its culprits")

    @property
    def culprit(self) -> str | None:
        """The commit to blame on the alert: the first named, once the outcome names one."""
        return self.culprits[0] if self.state.names_culprit and self.culprits else None

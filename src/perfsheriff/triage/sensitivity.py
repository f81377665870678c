"""Per-series sensitivity learnt from triage: a series whose alerts sheriffs reject alerts less readily, one
whose changes sheriffs had to point out by hand alerts more readily.

The rule (``docs/triage.md``, *Sensitivity learnt from triage*). Each step alert of a series whose
summary is decided counts once: ``invalid`` is a rejection; ``acknowledged``, ``wontfix``,
``downstream``, ``fixed`` and ``backedout`` confirm the change was real. A **hand-made** alert (a
change a sheriff saw and the detector did not report) is a confirmation from the moment it is made,
while its summary is still open too; marked ``invalid`` later, it is a rejection like any other.
Other open summaries and ``reassigned`` ones (merged away) say nothing. With ``net`` = rejections -
confirmations:

- the configured ``min_relative_change`` is multiplied by ``STEP ** net`` (2^(1/3): three net
  rejections double it), clamped to [``FLOOR``, ``CEILING``] (one net confirmation makes the series
  about 21 % more sensitive; it is never more than twice less sensitive);
- while ``net > 0`` the threshold is also raised to ``MARGIN`` (10 %) above the largest rejected
  change, so a change of the size sheriffs just rejected does not alert again, but never past
  ``CEILING`` times the configured threshold: a series cannot learn to ignore a large regression;
- while ``net <= 0`` and the series has hand-made alerts, the threshold is also lowered to ``MARGIN``
  below the smallest hand-made change, so a change of the size a sheriff had to point out alerts next
  time, but never below ``FLOOR`` times the configured threshold: a series cannot learn to alert on
  its noise. Rejections that come to outnumber the confirmations lift this again.

Confirmations cancel rejections one for one, so a series that alerted wrongly returns to its
configured sensitivity as valid alerts arrive. The result is monotone: one more rejection never lowers
the threshold, one more confirmation or hand-made alert never raises it; with no triaged alert it is the
identity. Pure: no database, no clock.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass

from perfsheriff.errors import InputError
from perfsheriff.triage.states import OPEN_STATES, State

#: Each net rejection multiplies the threshold by this (three double it).
STEP = 2.0 ** (1.0 / 3.0)
#: The most a series is made less sensitive: twice its configured threshold.
CEILING = 2.0
#: The most a series is made more sensitive: one step below its configured threshold.
FLOOR = 1.0 / STEP
#: How far above the largest rejected change the threshold is raised while rejections dominate, and how far
#: below the smallest hand-made change it is lowered while they do not.
MARGIN = 1.1

#: States whose alerts were real changes, and the state of those that were not.
CONFIRMED = frozenset({State.ACKNOWLEDGED, State.WONTFIX, State.DOWNSTREAM, State.FIXED, State.BACKEDOUT})
REJECTED = frozenset({State.INVALID})


@dataclass(frozen=True, slots=True)
class Judged:
    """One triaged step alert of a series: whether it was real, the relative change it reported, and whether
    a sheriff made it by hand (the detector missed the change)."""

    valid: bool
    relative_change: float
    handmade: bool = False

    def __post_init__(self) -> None:
        if self.handmade and not self.valid:
            raise InputError("a rejected alert counts as a rejection, made by hand or not")


def judged(state: State, relative_change: float, *, handmade: bool = False) -> Judged | None:
    """The verdict a summary's state gives its alerts; None for a state that decides nothing.

    A hand-made alert is a confirmation while its summary is open (its maker judged it real), and a
    rejection once the summary is ``invalid``.
    """
    if state in REJECTED:
        return Judged(False, relative_change)
    if state in CONFIRMED or (handmade and state in OPEN_STATES):
        return Judged(True, relative_change, handmade)
    return None


@dataclass(frozen=True, slots=True)
class Sensitivity:
    """How a series' ``min_relative_change`` is adjusted: ``factor`` times it, at least ``at_least``, at most
    ``at_most`` (None: no such cap), always within [``FLOOR``, ``CEILING``] times it."""

    factor: float = 1.0
    at_least: float = 0.0
    invalid: int = 0
    valid: int = 0
    at_most: float | None = None
    handmade: int = 0  # of the valid ones, those a sheriff made by hand

    def __post_init__(self) -> None:
        if not FLOOR - 1e-12 <= self.factor <= CEILING + 1e-12:
            raise InputError(f"a sensitivity factor must lie in [{FLOOR:.3f}, {CEILING}], got {self.factor}")
        if not (math.isfinite(self.at_least) and self.at_least >= 0):
            raise InputError(f"at_least must be a finite number >= 0, got {self.at_least}")
        if self.at_most is not None and not (math.isfinite(self.at_most) and self.at_most >= 0):
            raise InputError(f"at_most must be a finite number >= 0 or None, got {self.at_most}")
        if self.invalid < 0 or self.valid < 0 or not 0 <= self.handmade <= self.valid:
            raise InputError("counts of invalid, valid and hand-made alerts must be >= 0, hand-made ones valid")

    @property
    def is_default(self) -> bool:
        return self.factor == 1.0 and self.at_least == 0.0 and self.at_most is None

    @property
    def key(self) -> tuple[float, float, float]:
        """What the threshold depends on, ordered so that a larger key is a less sensitive series (a single
        triage decision moves every part the same way)."""
        return self.factor, self.at_least, -(math.inf if self.at_most is None else self.at_most)

    def apply(self, min_relative_change: float) -> float:
        """The threshold to detect with, given the configured one."""
        raised = min(max(self.factor * min_relative_change, self.at_least), CEILING * min_relative_change)
        if self.at_most is not None:
            raised = min(raised, self.at_most)
        return max(raised, FLOOR * min_relative_change)

    def describe(self) -> str:
        """One phrase for the journal and ``perfsheriff show``."""
        if self.is_default:
            rule = "the configured min_relative_change"
        else:
            rule = f"{self.factor:.2f} x the configured min_relative_change"
            if self.at_least > 0:
                rule = f"max({rule}, {self.at_least:.2%})"
            if self.at_most is not None:
                rule = f"min({rule}, {self.at_most:.2%}), at least {FLOOR:.2f} x it"
            rule += f", at most {CEILING:g} x it"
        made = f", {self.handmade} of them made by hand" if self.handmade else ""
        return f"{rule} ({self.invalid} invalid, {self.valid} valid triaged alerts{made})"


def learn(history: Iterable[Judged]) -> Sensitivity:
    """The sensitivity a series' triaged alerts ask for (see the module docstring for the rule)."""
    alerts = list(history)
    rejected = [abs(j.relative_change) for j in alerts if not j.valid and math.isfinite(j.relative_change)]
    pointed_out = [abs(j.relative_change) for j in alerts if j.handmade and math.isfinite(j.relative_change)]
    pointed_out = [change for change in pointed_out if change > 0]
    invalid = sum(not j.valid for j in alerts)
    valid = len(alerts) - invalid
    net = invalid - valid
    factor = min(CEILING, max(FLOOR, STEP ** max(-2, min(4, net)))) if net else 1.0
    at_least = MARGIN * max(rejected) if net > 0 and rejected else 0.0
    at_most = min(pointed_out) / MARGIN if net <= 0 and pointed_out else None
    return Sensitivity(factor, at_least, invalid, valid, at_most, sum(j.handmade for j in alerts))


#: The summary states whose step alerts can count (:func:`judged`): decided ones, and open ones for their
#: hand-made alerts. The store reads the alerts of summaries in these states only.
COUNTING_STATES = tuple(sorted(s.value for s in CONFIRMED | REJECTED | OPEN_STATES))


def learnt_by_series(alerts: Iterable[tuple[str, str, float, bool]]) -> dict[str, Sensitivity]:
    """The learnt sensitivity of each series among ``alerts``: (series id, summary state, relative change,
    made by hand) of its triaged step alerts, oldest first, as the store reads them. A series none of whose
    alerts counts is left out (its sensitivity is the default)."""
    history: dict[str, list[Judged]] = {}
    for series_id, state, change, handmade in alerts:
        verdict = judged(State(state), change, handmade=handmade)
        if verdict is not None:
            history.setdefault(series_id, []).append(verdict)
    return {series_id: learn(verdicts) for series_id, verdicts in history.items()}

"""Which alerts to bisect, and which reuse another alert's culprit.

Machine time is scarce (Perfherder's sheriffing rules): at most five alerts of
a summary (one suspect range) are bisected, and when one benchmark regresses
on many machines or configurations over the same suspect range, only one
*representative* is bisected, the alert with the largest effect relative to
its noise (the easiest to bisect), and its culprit is reused for the others.
The limit is per suspect range, not per call: a first pass over a long history
raises alerts over many ranges at once, and each range deserves its culprit
(tracking 150 commits of a Markdown parser raised 22 confirmed alerts over 12
ranges; a limit over all of them left a +11 % step over 105 commits unbisected).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from perfsheriff.errors import InputError

#: Perfherder's limit on alerts bisected (retriggered and backfilled) per summary.
MAX_BISECTIONS_PER_SUMMARY = 5


@dataclass(frozen=True, slots=True)
class AlertDescriptor:
    """What the policy needs of an alert.

    ``benchmark`` names the benchmark and metric (the series without machine
    and configuration); ``good`` and ``bad`` are its suspect range's ends;
    ``effect`` is the relative change and ``noise`` the relative noise.
    """

    alert_id: str
    benchmark: str
    good: str
    bad: str
    effect: float
    noise: float

    def __post_init__(self) -> None:
        if not (math.isfinite(self.effect) and math.isfinite(self.noise) and self.noise >= 0):
            raise InputError("effect must be finite and noise finite and >= 0")

    @property
    def signal(self) -> float:
        """``|effect| / noise``; infinite for noise-free series (zero noise)."""
        if self.noise == 0:
            return math.inf if self.effect else 0.0
        return abs(self.effect) / self.noise


@dataclass(frozen=True, slots=True)
class BisectionPlan:
    """``bisect``: alerts to bisect, strongest first. ``reuse``: alert -> the alert whose culprit it takes.
    ``deferred``: alerts left out by the limit per suspect range (with the alerts that would reuse them)."""

    bisect: tuple[str, ...]
    reuse: Mapping[str, str]
    deferred: tuple[str, ...]


def plan_bisections(
    alerts: Iterable[AlertDescriptor], max_bisections: int = MAX_BISECTIONS_PER_SUMMARY
) -> BisectionPlan:
    """Choose one representative per (benchmark, suspect range), and bisect the ``max_bisections`` strongest
    of each suspect range.

    The representative of a group is its alert with the largest ``|effect| /
    noise`` (ties: the smallest ``alert_id``); groups are ranked by their
    representative's signal, strongest first over all ranges. Pure and
    deterministic: the input order does not matter.
    """
    if max_bisections < 0:
        raise InputError("max_bisections must be >= 0")
    groups: dict[tuple[str, str, str], list[AlertDescriptor]] = {}
    for alert in alerts:
        groups.setdefault((alert.benchmark, alert.good, alert.bad), []).append(alert)
    ranked = sorted((sorted(group, key=_strength) for group in groups.values()), key=lambda g: _strength(g[0]))
    bisect: list[str] = []
    reuse: dict[str, str] = {}
    deferred: list[str] = []
    taken: dict[tuple[str, str], int] = {}  # suspect range -> bisections planned there so far
    for head, *rest in ranked:
        suspect = (head.good, head.bad)
        if taken.get(suspect, 0) < max_bisections:
            taken[suspect] = taken.get(suspect, 0) + 1
            bisect.append(head.alert_id)
            reuse.update((alert.alert_id, head.alert_id) for alert in rest)
        else:
            deferred.extend(alert.alert_id for alert in (head, *rest))
    return BisectionPlan(tuple(bisect), reuse, tuple(deferred))


def _strength(alert: AlertDescriptor) -> tuple[float, str]:
    return (-alert.signal, alert.alert_id)

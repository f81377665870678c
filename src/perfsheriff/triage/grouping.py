"""Alert summaries: which alerts a sheriff looks at together.

The rule (Perfherder's alert summaries, generalised from identical push ranges
to overlapping ones): on one branch, two alerts belong together when their
suspect ranges share a commit, or when bisection named the same culprit for
both. Regressions and improvements share summaries (one change often does
both); drift alerts, whose "range" is a whole window, group only with other
drift alerts, or one slow drift would swallow every step alert of a month.

"Belong together" is closed under repetition: a summary is a connected
component, and its range is the hull of its alerts' ranges. Two summaries
whose hulls overlap, or which name a common culprit, therefore merge. This is
what makes grouping independent of arrival order (checked by property tests):
whichever order alerts come in, the result is the finest partition in which
no two summaries on a branch overlap or share a culprit. Merging only ever
grows hulls and culprit sets, so a pair that may merge stays mergeable, and
every merge sequence ends at that same partition.

:func:`group` is incremental: it takes the summaries alerts may still join
(the caller's choice, typically those not yet decided) and the new alerts,
and says which summary each alert joins, which existing summaries merge, and
which new summaries to create. An existing summary whose alert gained a
culprit is passed with the culprit added and no new alert: ``group`` then
merges it with any summary naming the same culprit.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from perfsheriff.alerts import AlertKind
from perfsheriff.errors import InputError
from perfsheriff.model import SHA_HEX


@dataclass(frozen=True, slots=True, order=True)
class SuspectRange:
    """The commits at first-parent positions ``(last_good, first_bad]`` of one branch.

    Positions number a branch's first-parent history from 0; a range holds
    every push after the last good one up to and including the first bad one.
    """

    last_good: int
    first_bad: int

    def __post_init__(self) -> None:
        if not 0 <= self.last_good < self.first_bad:
            got = f"({self.last_good}, {self.first_bad}]"
            raise InputError(f"a suspect range needs 0 <= last_good < first_bad, got {got}")

    def overlaps(self, other: SuspectRange) -> bool:
        """Whether the two ranges share at least one push (touching ends do not)."""
        return max(self.last_good, other.last_good) < min(self.first_bad, other.first_bad)

    def hull(self, other: SuspectRange) -> SuspectRange:
        """The smallest range holding both."""
        return SuspectRange(min(self.last_good, other.last_good), max(self.first_bad, other.first_bad))

    def gap(self, other: SuspectRange) -> int:
        """Pushes lying between the two ranges and in neither; 0 when they overlap or touch."""
        return max(0, max(self.last_good, other.last_good) - min(self.first_bad, other.first_bad))


def check_sha(sha: str, what: str) -> None:
    """Culprits are full shas: abbreviations would make equal commits look different."""
    if len(sha) != 40 or not set(sha) <= SHA_HEX:
        raise InputError(f"{what} must be a full sha (40 lower-case hex digits), got {sha!r}")


@dataclass(frozen=True, slots=True)
class Alert:
    """What triage needs of one alert.

    ``configuration`` is the canonical ``key=value,...`` text. ``relative_change``
    is ``(after - before) / before``; ``confidence`` lies in [0, 1]; ``weight``
    is the benchmark's weight from ``perfsheriff.toml`` (default 1).
    ``culprit`` is the full sha bisection named, if it did.
    """

    id: int
    branch: str
    benchmark: str
    machine_class: str
    configuration: str
    suspect: SuspectRange
    kind: AlertKind
    relative_change: float
    confidence: float
    weight: float = 1.0
    culprit: str | None = None

    def __post_init__(self) -> None:
        if not self.branch or not self.benchmark or not self.machine_class:
            raise InputError(f"alert {self.id}: branch, benchmark and machine class must not be empty")
        try:
            object.__setattr__(self, "kind", AlertKind(self.kind))
        except ValueError:
            raise InputError(f"alert {self.id}: unknown kind {self.kind!r}") from None
        if not math.isfinite(self.relative_change):
            raise InputError(f"alert {self.id}: relative change must be finite, got {self.relative_change!r}")
        if not 0.0 <= self.confidence <= 1.0:
            raise InputError(f"alert {self.id}: confidence must lie in [0, 1], got {self.confidence!r}")
        if not (math.isfinite(self.weight) and self.weight >= 0):
            raise InputError(f"alert {self.id}: weight must be a finite number >= 0, got {self.weight!r}")
        if self.culprit is not None:
            check_sha(self.culprit, f"alert {self.id}: culprit")

    @property
    def drift(self) -> bool:
        return self.kind is AlertKind.DRIFT


@dataclass(frozen=True, slots=True)
class OpenSummary:
    """An existing summary alerts may still join: its branch, the hull of its alerts' ranges, their culprits.

    ``drift`` marks a summary of drift alerts (they group apart from steps).
    """

    id: int
    branch: str
    suspect: SuspectRange
    culprits: frozenset[str] = frozenset()
    drift: bool = False

    def __post_init__(self) -> None:
        if not self.branch:
            raise InputError(f"summary {self.id}: branch must not be empty")
        object.__setattr__(self, "culprits", frozenset(self.culprits))
        for sha in self.culprits:
            check_sha(sha, f"summary {self.id}: culprit")


@dataclass(frozen=True, slots=True)
class NewSummary:
    """A summary to create for ``alert_ids`` (ascending), none of which joins an existing one."""

    branch: str
    suspect: SuspectRange
    alert_ids: tuple[int, ...]
    culprits: frozenset[str] = frozenset()
    drift: bool = False


@dataclass(frozen=True, slots=True)
class Grouping:
    """The outcome of :func:`group`.

    ``joins``: new alert id -> the existing summary it joins (after merges, the survivor).
    ``merges``: existing summary id -> the existing summary absorbing it (always the
    smallest id of the merged set: the oldest summary keeps its state and journal).
    ``created``: new summaries, ordered by branch, kind and range.
    ``updated``: surviving existing summaries whose hull or culprits changed.
    """

    joins: Mapping[int, int] = field(default_factory=dict)
    merges: Mapping[int, int] = field(default_factory=dict)
    created: tuple[NewSummary, ...] = ()
    updated: tuple[OpenSummary, ...] = ()


@dataclass(slots=True)
class _Group:
    """A growing component: its hull, culprits, and members (summary ids and alert ids kept apart)."""

    suspect: SuspectRange
    culprits: set[str]
    summaries: list[int]
    alerts: list[int]

    def absorb(self, other: _Group) -> None:
        self.suspect = self.suspect.hull(other.suspect)
        self.culprits |= other.culprits
        self.summaries += other.summaries
        self.alerts += other.alerts


def group(summaries: Iterable[OpenSummary], alerts: Iterable[Alert]) -> Grouping:
    """Place new ``alerts`` into ``summaries`` or new summaries, merging summaries the alerts connect.

    Deterministic and independent of the order of both inputs. Existing
    summaries that already overlap each other (grouped under older rules, or
    newly linked by a culprit) are merged too.
    """
    summaries, alerts = list(summaries), list(alerts)
    _check_unique([s.id for s in summaries], "summary")
    _check_unique([a.id for a in alerts], "alert")
    originals = {s.id: s for s in summaries}
    joins: dict[int, int] = {}
    merges: dict[int, int] = {}
    created: list[NewSummary] = []
    updated: list[OpenSummary] = []
    for (branch, drift), groups in sorted(_lanes(summaries, alerts).items()):
        for component in _components(groups):
            culprits = frozenset(component.culprits)
            if not component.summaries:
                alert_ids = tuple(sorted(component.alerts))
                created.append(NewSummary(branch, component.suspect, alert_ids, culprits, drift))
                continue
            survivor, *absorbed = sorted(component.summaries)
            merges.update(dict.fromkeys(absorbed, survivor))
            joins.update(dict.fromkeys(component.alerts, survivor))
            before = originals[survivor]
            if before.suspect != component.suspect or before.culprits != culprits:
                updated.append(OpenSummary(survivor, branch, component.suspect, culprits, drift))
    created.sort(key=lambda n: (n.branch, n.drift, n.suspect, n.alert_ids))
    updated.sort(key=lambda s: s.id)
    return Grouping(dict(sorted(joins.items())), dict(sorted(merges.items())), tuple(created), tuple(updated))


def partition(alerts: Iterable[Alert]) -> tuple[tuple[int, ...], ...]:
    """The summaries ``alerts`` form from scratch, as sorted tuples of alert ids (sorted too)."""
    return tuple(sorted(n.alert_ids for n in group((), alerts).created))


def _lanes(summaries: Sequence[OpenSummary], alerts: Sequence[Alert]) -> dict[tuple[str, bool], list[_Group]]:
    """One-member groups per (branch, drift): only groups in one lane can merge."""
    lanes: dict[tuple[str, bool], list[_Group]] = {}
    for s in summaries:
        lanes.setdefault((s.branch, s.drift), []).append(_Group(s.suspect, set(s.culprits), [s.id], []))
    for a in alerts:
        culprits = {a.culprit} if a.culprit else set()
        lanes.setdefault((a.branch, a.drift), []).append(_Group(a.suspect, culprits, [], [a.id]))
    return lanes


def _components(groups: Sequence[_Group]) -> list[_Group]:
    """Merge groups whose hulls overlap or whose culprits meet, until no pair is left to merge.

    A merge by culprit can widen a hull into a new overlap and the other way
    round, so the two sweeps alternate until a round merges nothing.
    """
    current = list(groups)
    while True:
        merged = _merge_by_culprit(_merge_overlapping(current))
        if len(merged) == len(current):
            return merged
        current = merged


def _merge_overlapping(groups: Sequence[_Group]) -> list[_Group]:
    """One sweep in order of the ranges' starts: a group overlapping the open one joins it."""
    ordered = sorted(groups, key=lambda g: g.suspect)
    out: list[_Group] = []
    for g in ordered:
        if out and g.suspect.last_good < out[-1].suspect.first_bad:
            out[-1].absorb(g)
        else:
            out.append(g)
    return out


def _merge_by_culprit(groups: Sequence[_Group]) -> list[_Group]:
    """Join groups that name a common culprit (the first group naming it absorbs the later ones)."""
    out: list[_Group] = []
    owner: dict[str, _Group] = {}
    for g in groups:
        target = next((owner[c] for c in sorted(g.culprits) if c in owner), None)
        if target is None:
            out.append(g)
            target = g
        else:
            target.absorb(g)
        for c in target.culprits:
            owner[c] = target
    return out


def _check_unique(ids: Sequence[int], what: str) -> None:
    if len(set(ids)) != len(ids):
        raise InputError(f"{what} ids must be unique")

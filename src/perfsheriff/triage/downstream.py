"""Downstream and related summaries: the same change seen again elsewhere.

**Downstream.** A change lands on one branch (an integration branch, a
release branch, a fork) and is merged or cherry-picked into another later;
the other branch's benchmarks then alert again for the same commit. Such a
summary needs no new triage: it points at the original. A culprit is
recognised by its sha (a merge brings the commit itself) or by its patch id
(``git patch-id --stable``: a cherry-pick or rebase makes a new sha with the
same diff). A summary is downstream only when *every* culprit it names is
already known on another branch, and then of the earliest original (the
smallest id: ids are handed out in creation order). Originals that are
themselves downstream lead to what they point at, so chains never form.

**Related.** Summaries offered to a sheriff side by side, never acted on
automatically: those sharing a culprit, and those touching a common benchmark
in a nearby range. On one branch, "nearby" means at most
:data:`NEARBY_PUSHES` pushes between the ranges (Perfherder backfills two
revisions either side of an alert, so closer changes are hard to tell apart);
across branches, positions mean nothing, so the times the ranges' ends landed
are compared, with :data:`NEARBY_TIME` of slack (a day: integration branches
are typically merged daily or more often).
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from perfsheriff.errors import InputError
from perfsheriff.triage.grouping import SuspectRange, check_sha

#: Pushes that may lie between two ranges on one branch for them to count as nearby.
NEARBY_PUSHES = 2
#: Slack between the landing times of two ranges on different branches for them to count as nearby.
NEARBY_TIME = timedelta(hours=24)
_HEX = frozenset("0123456789abcdef")


class MatchKind(enum.StrEnum):
    SHA = "sha"  # the same commit, brought over by a merge
    PATCH_ID = "patch-id"  # the same diff under another sha: a cherry-pick or a rebase


@dataclass(frozen=True, slots=True)
class Culprit:
    """A culprit commit: its sha, and its stable patch id when it has one (merges and empty commits do not)."""

    sha: str
    patch_id: str | None = None

    def __post_init__(self) -> None:
        check_sha(self.sha, "culprit sha")
        if self.patch_id is not None and not (self.patch_id and set(self.patch_id) <= _HEX):
            raise InputError(f"a patch id is lower-case hex, got {self.patch_id!r}")

    def matches(self, other: Culprit) -> MatchKind | None:
        """How this culprit is the same change as ``other``, if it is: by sha first, else by patch id."""
        if self.sha == other.sha:
            return MatchKind.SHA
        if self.patch_id is not None and self.patch_id == other.patch_id:
            return MatchKind.PATCH_ID
        return None


@dataclass(frozen=True, slots=True)
class SummaryFacts:
    """What downstream and related detection need of a summary.

    ``suspect`` is the hull of its alerts' ranges in positions of ``branch``;
    ``landed`` the times its last good and first bad pushes landed there.
    ``upstream`` is the summary it was marked downstream of, if any.
    """

    id: int
    branch: str
    suspect: SuspectRange
    landed: tuple[datetime, datetime]
    benchmarks: frozenset[str]
    machine_classes: frozenset[str] = frozenset()
    culprits: tuple[Culprit, ...] = ()
    upstream: int | None = None

    def __post_init__(self) -> None:
        start, end = self.landed
        if start.tzinfo is None or end.tzinfo is None:
            raise InputError(f"summary {self.id}: landing times must be timezone-aware")
        if start > end:
            raise InputError(f"summary {self.id}: its first bad push cannot land before its last good one")
        object.__setattr__(self, "benchmarks", frozenset(self.benchmarks))
        object.__setattr__(self, "machine_classes", frozenset(self.machine_classes))

    @property
    def original(self) -> int:
        """The summary this one stands for: its upstream, or itself."""
        return self.id if self.upstream is None else self.upstream


@dataclass(frozen=True, slots=True)
class CulpritMatch:
    """``culprit`` (of the new summary) is ``original`` (a culprit of summary ``summary_id``), recognised ``by``."""

    culprit: str
    original: str
    summary_id: int
    by: MatchKind


@dataclass(frozen=True, slots=True)
class Upstream:
    """The new summary is downstream of ``summary_id``; ``matches`` says why, culprit by culprit."""

    summary_id: int
    matches: tuple[CulpritMatch, ...]


def find_upstream(new: SummaryFacts, earlier: Iterable[SummaryFacts]) -> Upstream | None:
    """The summary ``new`` is downstream of, or ``None`` when it names a culprit no other branch has seen."""
    candidates = sorted((s for s in earlier if s.branch != new.branch and s.id != new.id), key=lambda s: s.id)
    if not new.culprits:
        return None
    matches = []
    for culprit in new.culprits:
        best = _best_match(culprit, candidates)
        if best is None:
            return None
        matches.append(best)
    original_of = {s.id: s.original for s in candidates}
    return Upstream(min(original_of[m.summary_id] for m in matches), tuple(matches))


def _best_match(culprit: Culprit, candidates: Sequence[SummaryFacts]) -> CulpritMatch | None:
    """A match by sha beats one by patch id; among equals, the earliest original wins."""
    found = []
    for summary in candidates:
        for other in summary.culprits:
            by = culprit.matches(other)
            if by is not None:
                rank = (by is not MatchKind.SHA, summary.original, summary.id)
                found.append((rank, CulpritMatch(culprit.sha, other.sha, summary.id, by)))
    return min(found, key=lambda pair: pair[0])[1] if found else None


class RelatedReason(enum.StrEnum):
    SAME_CULPRIT = "same-culprit"
    NEARBY = "nearby"  # a common benchmark in a nearby range


@dataclass(frozen=True, slots=True)
class Related:
    """Summary ``summary_id`` is worth a look beside the new one, for ``reasons``; ``benchmarks`` they share."""

    summary_id: int
    reasons: tuple[RelatedReason, ...]
    benchmarks: tuple[str, ...]


def find_related(
    new: SummaryFacts,
    others: Iterable[SummaryFacts],
    *,
    nearby_pushes: int = NEARBY_PUSHES,
    nearby_time: timedelta = NEARBY_TIME,
) -> tuple[Related, ...]:
    """Summaries to show beside ``new``, by id: a shared culprit, or a common benchmark nearby."""
    if nearby_pushes < 0 or nearby_time < timedelta(0):
        raise InputError("the nearby tolerances must be >= 0")
    related = []
    for other in sorted(others, key=lambda s: s.id):
        if other.id == new.id:
            continue
        reasons = []
        if any(c.matches(o) for c in new.culprits for o in other.culprits):
            reasons.append(RelatedReason.SAME_CULPRIT)
        shared = tuple(sorted(new.benchmarks & other.benchmarks))
        if shared and _nearby(new, other, nearby_pushes, nearby_time):
            reasons.append(RelatedReason.NEARBY)
        if reasons:
            related.append(Related(other.id, tuple(reasons), shared))
    return tuple(related)


def _nearby(a: SummaryFacts, b: SummaryFacts, pushes: int, slack: timedelta) -> bool:
    if a.branch == b.branch:
        return a.suspect.gap(b.suspect) <= pushes
    (a_start, a_end), (b_start, b_end) = a.landed, b.landed
    return a_start - slack <= b_end and b_start - slack <= a_end

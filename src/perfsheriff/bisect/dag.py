"""The suspect range as a commit DAG, and git bisect's rule for the next commit to test.

A suspect range is what ``git rev-list good..bad`` lists: every commit reachable
from the first bad revision and not from the last good one, merged side
branches included. Bisection keeps a *candidate set* (the commits that may
still be the culprit) exactly like ``git bisect``: marking a commit good removes
it and all its ancestors; marking it bad keeps only its ancestors (itself
included); a skipped commit stays a candidate but is never chosen again.

The next commit is git's "best bisection" (``bisect.c: find_bisection``): for
every candidate ``c`` let ``w(c)`` be the number of candidates reachable from
``c`` (itself included); choose the ``c`` maximising ``min(w(c), total - w(c))``,
the first one in rev-list order (children before parents) on a tie.
Reference: git's ``Documentation/git-bisect-lk2009.txt`` ("bisection algorithm").

Sets of commits are Python integers used as bitmasks over the rev-list order:
ranges of a few thousand commits stay cheap.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

import numpy as np
from numpy.typing import NDArray

from perfsheriff.errors import InputError


@dataclass(frozen=True, slots=True)
class SuspectRange:
    """The commits between a last good and a first bad revision, as a DAG.

    ``parents`` maps every commit of the range (``git rev-list good..bad``) to
    its parents, first parent first; parents outside the range (the good end,
    older history) are dropped. ``good`` is not part of the range, ``bad`` is.
    ``order`` lists the range children first, starting with ``bad``.

    ``good_level`` and ``bad_level`` (optional) are samples of the two levels
    measured *outside* the range, which come with the alert: the detector's
    windows, i.e. the revisions just before the good end and just after the bad
    end that it found at the same level as that end. They sharpen the level
    estimates from the start; samples of the ends themselves belong in the
    observations, not here. Values must be finite and > 0.
    """

    good: str
    bad: str
    parents: Mapping[str, tuple[str, ...]]
    order: tuple[str, ...] = field(init=False, repr=False, compare=False)
    good_level: tuple[float, ...] = ()
    bad_level: tuple[float, ...] = ()

    def __post_init__(self) -> None:
        if self.bad not in self.parents:
            raise InputError(f"the bad end {self.bad!r} must be one of the range's commits")
        if self.good in self.parents:
            raise InputError(f"the good end {self.good!r} must not be one of the range's commits")
        for name in ("good_level", "bad_level"):
            values = tuple(float(v) for v in getattr(self, name))
            if not all(math.isfinite(v) and v > 0 for v in values):
                raise InputError(f"{name} samples must be finite numbers > 0")
            object.__setattr__(self, name, values)
        restricted = {sha: tuple(p for p in ps if p in self.parents) for sha, ps in self.parents.items()}
        object.__setattr__(self, "parents", MappingProxyType(restricted))
        object.__setattr__(self, "order", _rev_list_order(restricted, self.bad))

    def __len__(self) -> int:
        return len(self.order)

    def __contains__(self, sha: object) -> bool:
        return sha in self.parents


def _rev_list_order(parents: Mapping[str, tuple[str, ...]], bad: str) -> tuple[str, ...]:
    """Children-first topological order from ``bad`` (reverse depth-first post-order).

    Raises :class:`InputError` on a cycle or on commits that ``bad`` does not reach.
    """
    on_stack, done = {bad}, set[str]()
    post: list[str] = []
    stack: list[tuple[str, Iterator[str]]] = [(bad, iter(parents[bad]))]
    while stack:
        sha, pending = stack[-1]
        parent = next(pending, None)
        if parent is None:
            stack.pop()
            on_stack.discard(sha)
            done.add(sha)
            post.append(sha)
        elif parent in on_stack:
            raise InputError(f"the suspect range has a cycle through {parent!r}")
        elif parent not in done:
            on_stack.add(parent)
            stack.append((parent, iter(parents[parent])))
    unreachable = len(parents) - len(post)
    if unreachable:
        raise InputError(f"{unreachable} commit(s) of the range are not ancestors of the bad end {bad!r}")
    return tuple(reversed(post))


@dataclass(frozen=True, slots=True)
class Split:
    """A commit chosen to test: ``weight`` of the ``total`` candidates are at or below it."""

    commit: str
    weight: int
    total: int

    @property
    def reason(self) -> str:
        return f"bisect: {self.weight} of {self.total} candidates below"


class CommitGraph:
    """Ancestor sets of a :class:`SuspectRange` as bitmasks over its rev-list order."""

    __slots__ = ("_reach", "ancestors", "index", "order", "suspect")

    def __init__(self, suspect: SuspectRange) -> None:
        self.suspect = suspect
        self.order = suspect.order
        self.index = {sha: i for i, sha in enumerate(self.order)}
        masks = [0] * len(self.order)
        for i in reversed(range(len(self.order))):  # parents come after their children
            mask = 1 << i
            for parent in suspect.parents[self.order[i]]:
                mask |= masks[self.index[parent]]
            masks[i] = mask
        self.ancestors = tuple(masks)
        self._reach: NDArray[np.bool_] | None = None

    @property
    def reach(self) -> NDArray[np.bool_]:
        """``reach[i, k]``: commit ``k`` is an ancestor of commit ``i`` (itself included), by rev-list index."""
        if self._reach is None:
            size = len(self.order)
            rows = [[mask >> k & 1 for k in range(size)] for mask in self.ancestors]
            self._reach = np.array(rows, dtype=bool).reshape(size, size)
        return self._reach

    @property
    def everything(self) -> int:
        return (1 << len(self.order)) - 1

    def bit(self, sha: str) -> int:
        return 1 << self.index[sha]

    def ancestors_of(self, sha: str) -> int:
        """The commits reachable from ``sha`` within the range, ``sha`` included."""
        return self.ancestors[self.index[sha]]

    def mask(self, shas: Iterable[str]) -> int:
        out = 0
        for sha in shas:
            out |= self.bit(sha)
        return out

    def members(self, mask: int) -> tuple[str, ...]:
        """The commits of ``mask`` in rev-list order."""
        return tuple(sha for i, sha in enumerate(self.order) if mask >> i & 1)

    def best_bisection(self, candidates: int, excluded: int, bad_tip: str) -> Split | None:
        """git's best bisection point among ``candidates`` minus ``excluded`` and the known-bad tip.

        ``None`` when nothing is left to test (the culprit is the bad tip, or
        one of the excluded commits).
        """
        total = candidates.bit_count()
        testable = candidates & ~excluded & ~self.bit(bad_tip)
        best: Split | None = None
        best_distance = 0
        for i, sha in enumerate(self.order):
            if not testable >> i & 1:
                continue
            weight = (self.ancestors[i] & candidates).bit_count()
            distance = min(weight, total - weight)
            if distance > best_distance:
                best, best_distance = Split(sha, weight, total), distance
        return best

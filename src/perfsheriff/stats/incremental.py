"""Incremental change-point detection: append revisions, recompute only the tail.

How it stays cheap and stable:

* The state remembers the change points already *confirmed* and an *anchor*:
  the index of the last confirmed change (the first revision of the current
  level), or 0.
* Each pass analyses only the revisions from ``max(anchor, n - horizon)`` to the
  end, with :func:`~perfsheriff.stats.changepoints.detect`; its cost is bounded
  by ``horizon`` whatever the length of the history.
* A change found in the tail is confirmed once ``settle`` revisions with data
  follow it (by default ``settings.window``: its confirmation windows are then
  full and new data no longer enters its test). Confirmed change points are
  copied into the state and never re-analysed, so they never move; the anchor
  advances to the newest one. Younger changes are reported as *provisional*:
  they may still move or vanish as data arrives.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from perfsheriff.errors import InputError
from perfsheriff.model import Direction
from perfsheriff.stats.changepoints import ChangePoint, DetectionResult, DetectionSettings, Points, detect_prepared
from perfsheriff.stats.robust import PreparedSeries, prepare


@dataclass(frozen=True, slots=True)
class IncrementalState:
    """What an incremental pass keeps between calls; persist it beside the series."""

    confirmed: tuple[ChangePoint, ...] = ()
    anchor: int = 0
    n_seen: int = 0


@dataclass(frozen=True, slots=True)
class IncrementalResult:
    """Final (``confirmed``) and still-moving (``provisional``) change points, the tail pass, the new state."""

    confirmed: tuple[ChangePoint, ...]
    provisional: tuple[ChangePoint, ...]
    tail: DetectionResult
    state: IncrementalState

    @property
    def change_points(self) -> tuple[ChangePoint, ...]:
        return self.confirmed + self.provisional


def detect_incremental(
    points: Points,
    *,
    direction: Direction,
    settings: DetectionSettings | None = None,
    state: IncrementalState | None = None,
    horizon: int = 240,
    settle: int | None = None,
) -> IncrementalResult:
    """Detect change points in the tail of ``points`` (the whole series so far), keeping earlier verdicts.

    Method: :func:`~perfsheriff.stats.changepoints.detect` restricted to the
    revisions after the last confirmed change (at most ``horizon`` of them); see
    the module docstring for the confirmation rule. Assumes ``points`` only
    grows between calls (revisions appended at the end); a shorter series than
    the state has seen raises :class:`~perfsheriff.errors.InputError`.
    """
    settings = settings or DetectionSettings()
    state = state or IncrementalState()
    settle = settings.window if settle is None else settle
    n_total = len(points)
    if n_total < state.n_seen:
        raise InputError(f"the series shrank from {state.n_seen} to {n_total} revisions; start a new state")
    if horizon < 4 * settings.min_segment or settle < settings.min_segment:
        raise InputError("horizon must be >= 4 * min_segment and settle >= min_segment")
    start = max(state.anchor, n_total - horizon)
    prep = _shift(prepare(points[start:]), start)
    tail = detect_prepared(prep, direction=direction, settings=settings)
    later = prep.index.searchsorted
    fresh = [cp for cp in tail.change_points if len(prep.index) - int(later(cp.index)) >= settle]
    provisional = tuple(cp for cp in tail.change_points if cp not in fresh)
    confirmed = state.confirmed + tuple(fresh)
    anchor = fresh[-1].index if fresh else state.anchor
    new_state = replace(state, confirmed=confirmed, anchor=anchor, n_seen=n_total)
    return IncrementalResult(confirmed, provisional, tail, new_state)


def _shift(prep: PreparedSeries, start: int) -> PreparedSeries:
    """The prepared tail with its indices moved back to positions in the whole series."""
    return replace(prep, index=prep.index + np.int64(start))

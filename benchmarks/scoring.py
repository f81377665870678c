"""The scoring protocol of ``../shared/data/README.md``, importable so tests can check it.

The distance from a detection ``d`` to a true change ``t`` is 0 when ``d`` lies
in ``t``'s alert range ``[first, last]`` (``truth.ranges[str(t)]``, else
``[t, t]``), otherwise the distance to the nearer end of the range. Per
series, detections are matched to true changes one-to-one, smallest distance
first (ties: nearer to ``t``), within a tolerance; a detection within the
tolerance of an ``unknown_alerts`` index is ignored; every other unmatched
detection is a false positive. An ``invalid_alerts`` entry (a decoy) is hit when
a detection lies within the tolerance of it, by the same range-aware distance.
Precision, recall and F1 are micro-averaged (TP, FP, FN summed first).
Cross-validation splits series into folds by a hash of their id, so a series
always falls in the same fold whatever else is in the file.
"""

from __future__ import annotations

import statistics
import zlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

Ranges = Mapping[str, Sequence[int]]


@dataclass(frozen=True, slots=True)
class SeriesScore:
    tp: int
    fp: int
    fn: int
    decoys: int
    decoys_hit: int


def alert_range(t: int, ranges: Ranges | None) -> tuple[int, int]:
    """The push range ``[first, last]`` of the alert at ``t`` (``[t, t]`` when none is recorded)."""
    if ranges and str(t) in ranges:
        first, last = ranges[str(t)]
        return int(first), int(last)
    return t, t


def distance(d: int, t: int, ranges: Ranges | None = None) -> int:
    """0 inside ``t``'s range, else the distance from ``d`` to the range's nearer end."""
    first, last = alert_range(t, ranges)
    return 0 if first <= d <= last else min(abs(d - first), abs(d - last))


def match(
    detections: Sequence[int], truth: Sequence[int], tolerance: int, ranges: Ranges | None = None
) -> list[tuple[int, int]]:
    """One-to-one matching of detections to truth, smallest distance first, within ``tolerance``.

    Ties in distance go to the pair nearer to ``t``, then by the truth index and
    the detection index, so the result is deterministic.
    """
    pairs = sorted(
        (distance(d, t, ranges), abs(d - t), t, d)
        for d in set(detections)
        for t in set(truth)
        if distance(d, t, ranges) <= tolerance
    )
    used_d: set[int] = set()
    used_t: set[int] = set()
    matched = []
    for _, _, t, d in pairs:
        if d not in used_d and t not in used_t:
            used_d.add(d)
            used_t.add(t)
            matched.append((d, t))
    return matched


def score_series(
    detections: Sequence[int],
    truth: Sequence[int],
    *,
    unknown: Sequence[int] = (),
    decoys: Sequence[int] = (),
    ranges: Ranges | None = None,
    tolerance: int = 5,
) -> SeriesScore:
    """TP, FP, FN and decoys hit for one series under the protocol."""
    dets = sorted(set(detections))
    matched = match(dets, truth, tolerance, ranges)
    matched_d = {d for d, _ in matched}
    unmatched = [d for d in dets if d not in matched_d]
    fp = sum(1 for d in unmatched if not any(abs(d - u) <= tolerance for u in unknown))
    hit = sum(1 for v in decoys if any(distance(d, v, ranges) <= tolerance for d in dets))
    return SeriesScore(len(matched), fp, len(set(truth)) - len(matched), len(decoys), hit)


def score_record(detections: Sequence[int], record: Mapping[str, Any], tolerance: int = 5) -> SeriesScore:
    """:func:`score_series` with the truth of one record of the shared data sets."""
    truth = record["truth"]
    return score_series(
        detections,
        truth["change_points"],
        unknown=truth.get("unknown_alerts", ()),
        decoys=truth.get("invalid_alerts", ()),
        ranges=truth.get("ranges"),
        tolerance=tolerance,
    )


def fold_of(series_id: str, k: int) -> int:
    """The cross-validation fold of a series: a stable hash of its id, modulo ``k``."""
    return zlib.crc32(series_id.encode()) % k


@dataclass
class Totals:
    """Micro-averaged totals over many series."""

    tp: int = 0
    fp: int = 0
    fn: int = 0
    decoys: int = 0
    decoys_hit: int = 0
    points: int = 0
    cpu_seconds: float = 0.0
    per_series: list[SeriesScore] = field(default_factory=list)

    def add(self, score: SeriesScore, n_points: int) -> None:
        self.tp += score.tp
        self.fp += score.fp
        self.fn += score.fn
        self.decoys += score.decoys
        self.decoys_hit += score.decoys_hit
        self.points += n_points
        self.per_series.append(score)

    @property
    def precision(self) -> float:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else 1.0

    @property
    def recall(self) -> float:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else 1.0

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r else 0.0

    @property
    def false_alarms_per_1k(self) -> float:
        return 1000.0 * self.fp / self.points if self.points else 0.0

    @property
    def decoy_rate(self) -> float:
        return self.decoys_hit / self.decoys if self.decoys else 0.0

    @property
    def cpu_ms_per_1k(self) -> float:
        return 1e6 * self.cpu_seconds / self.points if self.points else 0.0


def spread(values: Sequence[float]) -> str:
    """``mean ± sd`` of per-fold figures, the way fold results are quoted."""
    if len(values) < 2:
        return f"{values[0]:.3f}" if values else "-"
    return f"{statistics.fmean(values):.3f} ± {statistics.stdev(values):.3f}"

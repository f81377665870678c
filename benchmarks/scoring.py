"""The scoring protocol of ``../shared/data/README.md``, importable so tests can check it.

Per series, detections are matched to true change points one-to-one, closest
pairs first, within a tolerance; a detection within the tolerance of an
``unknown_alerts`` index is ignored; every other unmatched detection is a false
positive. Precision, recall and F1 are micro-averaged (TP, FP, FN summed first).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class SeriesScore:
    tp: int
    fp: int
    fn: int
    decoys: int
    decoys_hit: int


def match(detections: Sequence[int], truth: Sequence[int], tolerance: int) -> list[tuple[int, int]]:
    """One-to-one matching of detections to truth, closest pairs first, within ``tolerance``.

    Ties in distance are broken by the truth index, then the detection index,
    so the result is deterministic.
    """
    pairs = sorted((abs(d - t), t, d) for d in set(detections) for t in set(truth) if abs(d - t) <= tolerance)
    used_d: set[int] = set()
    used_t: set[int] = set()
    matched = []
    for _, t, d in pairs:
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
    tolerance: int = 5,
) -> SeriesScore:
    """TP, FP, FN and decoys hit for one series under the protocol."""
    dets = sorted(set(detections))
    matched = match(dets, truth, tolerance)
    matched_d = {d for d, _ in matched}
    unmatched = [d for d in dets if d not in matched_d]
    fp = sum(1 for d in unmatched if not any(abs(d - u) <= tolerance for u in unknown))
    hit = sum(1 for v in decoys if any(abs(d - v) <= tolerance for d in dets))
    return SeriesScore(len(matched), fp, len(set(truth)) - len(matched), len(decoys), hit)


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

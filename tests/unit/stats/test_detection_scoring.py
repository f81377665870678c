"""The evaluation protocol of ../shared/data/README.md on hand-made cases (benchmarks/scoring.py)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[3] / "benchmarks"))
from scoring import Totals, match, score_series


def test_matching_is_one_to_one_closest_first() -> None:
    assert sorted(match([10, 12], [11, 13], tolerance=5)) == [(10, 11), (12, 13)]
    assert match([10], [12, 9], tolerance=5) == [(10, 9)]
    assert match([20], [10], tolerance=5) == []


def test_unmatched_detections_are_false_positives_unless_near_an_unknown_alert() -> None:
    score = score_series([10, 50, 80], [11], unknown=[52], decoys=[79, 200], tolerance=5)
    assert (score.tp, score.fp, score.fn) == (1, 1, 0)
    assert (score.decoys, score.decoys_hit) == (2, 1)


def test_tolerance_one() -> None:
    score = score_series([10], [12], tolerance=1)
    assert (score.tp, score.fp, score.fn) == (0, 1, 1)


def test_micro_averaging() -> None:
    totals = Totals()
    totals.add(score_series([10], [10]), 100)
    totals.add(score_series([5, 60], [30, 90]), 900)
    assert (totals.tp, totals.fp, totals.fn) == (1, 2, 2)
    assert totals.precision == pytest.approx(1 / 3)
    assert totals.recall == pytest.approx(1 / 3)
    assert totals.false_alarms_per_1k == pytest.approx(2.0)

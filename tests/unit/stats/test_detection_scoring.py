"""The evaluation protocol of ../shared/data/README.md on hand-made cases (benchmarks/scoring.py)."""

from __future__ import annotations

import pytest

from scoring import Totals, distance, fold_of, match, score_series


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


def test_a_detection_inside_the_alert_range_is_at_distance_zero() -> None:
    ranges = {"30": [24, 30]}
    assert distance(26, 30, ranges) == 0
    assert distance(20, 30, ranges) == 4
    assert distance(33, 30, ranges) == 3
    assert distance(26, 30) == 4
    score = score_series([19], [30], ranges=ranges, tolerance=5)
    assert (score.tp, score.fp) == (1, 0)
    score = score_series([19], [30], ranges=ranges, tolerance=1)
    assert (score.tp, score.fp) == (0, 1)


def test_ties_in_range_distance_go_to_the_pair_nearer_the_alert() -> None:
    ranges = {"30": [20, 30], "25": [25, 25]}
    assert sorted(match([24, 29], [30], 5, ranges)) == [(29, 30)]
    assert sorted(match([26], [25, 30], 5, ranges)) == [(26, 30)]  # inside 30's range beats 1 from 25


def test_decoys_are_hit_by_range_distance_too() -> None:
    score = score_series([12], [], decoys=[20], ranges={"20": [15, 20]}, tolerance=1)
    assert (score.decoys, score.decoys_hit, score.fp) == (1, 0, 1)
    score = score_series([14], [], decoys=[20], ranges={"20": [15, 20]}, tolerance=1)
    assert score.decoys_hit == 1


def test_folds_are_stable_and_spread_every_series() -> None:
    ids = [f"series:{i}" for i in range(400)]
    folds = [fold_of(i, 4) for i in ids]
    assert folds == [fold_of(i, 4) for i in ids]
    assert all(60 <= folds.count(k) <= 140 for k in range(4))

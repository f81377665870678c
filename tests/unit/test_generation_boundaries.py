"""Which changes at a machine upgrade's boundary raise no alert, and why (the detector's side of generations)."""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np

from perfsheriff.service.generations.factors import AcrossGenerations, GenerationFactor
from perfsheriff.stats.changepoints import ChangePoint
from perfsheriff.stats.generations import ScaleEstimate, TooUncertain
from perfsheriff.store.queries import SeriesPoints

REVISIONS = tuple(f"r{i}" for i in range(10))
SCALE = ScaleEstimate(0.7, 0.69, 0.71, 0.95, REVISIONS, 0.01)
WIDE = TooUncertain(0.7, 0.6, 0.8, 0.95, REVISIONS, 0.1, 12, "the interval reaches ±14%")
POSITIONS = np.arange(100, 160, dtype=np.int64)  # a series read from branch position 100; boundary at 140


def factor(result: ScaleEstimate | TooUncertain | None, boundary: int | None = 140) -> GenerationFactor:
    pending = None if result else "0 of 20 baseline revisions measured on new so far"
    return GenerationFactor("new", "old", 2, datetime(2026, 9, 1, tzinfo=UTC), 20, 10, boundary, result, pending)


def across(*factors: GenerationFactor) -> AcrossGenerations:
    empty = np.zeros(0, dtype=np.int64)
    return AcrossGenerations(
        "cls", SeriesPoints(empty, empty, np.zeros(1, dtype=np.int64), np.zeros(0), empty), list(factors)
    )


def step(index: int, change: float, first: int = -1, last: int = -1) -> ChangePoint:
    return ChangePoint(
        index, index - 1, 1.0, 1.0 + change, 0.01, 0.01, change, change > 0, 0.99, 20, 20, 0.99, first, last
    )


def test_a_step_within_the_factors_interval_at_the_boundary_is_explained() -> None:
    why = across(factor(SCALE)).at_boundary(step(40, 0.01), POSITIONS)
    assert why is not None
    assert why.startswith("explained at the upgrade of cls to new by the factor's interval (x0.7000 [0.6900, 0.7100]")


def test_a_real_step_at_the_boundary_or_one_elsewhere_is_reported() -> None:
    assert across(factor(SCALE)).at_boundary(step(40, 0.10), POSITIONS) is None  # larger than the interval allows
    assert across(factor(SCALE)).at_boundary(step(50, 0.01), POSITIONS) is None  # not at the boundary
    assert across(factor(SCALE)).at_boundary(step(45, 0.01, first=38, last=47), POSITIONS) is not None  # may be


def test_while_the_factor_is_pending_or_too_uncertain_any_step_at_the_boundary_is_held_back() -> None:
    held = across(factor(None)).at_boundary(step(40, -0.3), POSITIONS)
    assert held == (
        "held back at the upgrade of cls to new: its factor is pending: "
        "0 of 20 baseline revisions measured on new so far"
    )
    wide = across(factor(WIDE)).at_boundary(step(40, 0.5), POSITIONS)
    assert wide is not None
    assert "its factor is too uncertain: about 12 more revisions" in wide
    assert across(factor(None)).at_boundary(step(30, -0.3), POSITIONS) is None
    assert across(factor(None, boundary=None)).at_boundary(step(40, -0.3), POSITIONS) is None

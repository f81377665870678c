"""What a unit or a measure's name says: the metric label and the better direction.

Tools that report one measurement per benchmark (pyperf, pytest-benchmark,
asv, Perfherder) have no notion of a metric, so perfsheriff labels it from the
unit's dimension; tools that report several (Go, Google Benchmark, hyperfine,
BMF, Criterion) name their metrics themselves in their modules.
"""

from __future__ import annotations

from perfsheriff.model import Dimension, Direction, UnitInfo, unit_info

#: The unit given to values that a format reports without any unit.
UNITLESS = ""

_METRIC_OF_DIMENSION = {
    Dimension.TIME: "time",
    Dimension.SIZE: "size",
    Dimension.RATE: "throughput",
    Dimension.COUNT: "count",
    Dimension.RATIO: "ratio",
    Dimension.OTHER: "value",
}

_UNKNOWN = unit_info("\x00not a unit\x00")

# Words that mark a rate (more is better) in a measure or counter name
# whose unit perfsheriff does not know.
_RATE_MARKS = ("throughput", "bandwidth", "per_second", "per-second", "per_sec", "_per_s", "ops/s", "/s")


def metric_for(unit: str) -> str:
    """The metric label for a tool that reports one measurement: "time", "size", ..."""
    return _METRIC_OF_DIMENSION[unit_info(unit).dimension]


def is_known(unit: str) -> bool:
    """True when the unit is in perfsheriff's vocabulary (so its direction is settled)."""
    info: UnitInfo = unit_info(unit)
    return info != _UNKNOWN


def guess_direction(name: str, unit: str = UNITLESS) -> Direction:
    """Direction of a measure the tool does not qualify: from the unit, else from rate-like words.

    Only used where a format states no direction itself; a known unit wins,
    then names such as ``items_per_second`` or ``throughput`` mean higher is
    better, and everything else is taken as lower is better (time-like).
    """
    if is_known(unit):
        return unit_info(unit).direction
    text = f"{name} {unit}".lower()
    if any(mark in text for mark in _RATE_MARKS):
        return Direction.HIGHER_IS_BETTER
    return Direction.LOWER_IS_BETTER

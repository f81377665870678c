"""Bencher Metric Format (BMF) JSON: ``{"<benchmark>": {"<measure>": {"value": ...}}}``.

Each measure slug is a metric. BMF carries one value per benchmark and
measure, so that value is the single sample; ``lower_value`` and
``upper_value`` are bounds, not repetitions, and are only checked to be
numbers. Bencher's built-in measures have known units: ``latency`` in ns,
``throughput`` in ops/s (higher is better), ``build-time`` in seconds,
``file-size`` in bytes. Other measures are unitless and lower is better
unless the slug names a rate (``throughput``, ``..._per_second``).
"""

from __future__ import annotations

from perfsheriff.formats._format import Format, Probe
from perfsheriff.formats._json import Node, load
from perfsheriff.formats._results import ResultCollector
from perfsheriff.formats._units import UNITLESS, guess_direction
from perfsheriff.model import ResultSet

NAME = "bmf"
_MEASURE_UNITS = {"latency": "ns", "throughput": "ops/s", "build-time": "s", "file-size": "bytes"}


def sniff(probe: Probe) -> bool:
    obj = probe.json_object()
    if not obj:
        return False
    measures = next(iter(obj.values()))
    if not isinstance(measures, dict) or not measures:
        return False
    first = next(iter(measures.values()))
    return isinstance(first, dict) and "value" in first


def parse(data: bytes) -> ResultSet:
    root = load(data)
    collector = ResultCollector(NAME)
    for name, measures in root.items():
        if not measures.object():
            measures.fail("an object with at least one measure")
        for slug, measure in measures.items():
            _add(collector, name, slug, measure)
    return collector.build("top level", 'an object like {"bench": {"latency": {"value": 1.0}}}')


def _add(collector: ResultCollector, name: str, slug: str, measure: Node) -> None:
    value = measure.at("value")
    for bound in ("lower_value", "upper_value"):
        node = measure.get(bound)
        if node is not None:
            node.number()
    unit = _MEASURE_UNITS.get(slug, UNITLESS)
    collector.add(value.where, name, unit, [value.number()], metric=slug, direction=guess_direction(slug, unit))


FORMAT = Format(NAME, "Bencher Metric Format JSON", sniff, parse)

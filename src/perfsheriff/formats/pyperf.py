"""pyperf JSON (``pyperf ... -o result.json``, pyperformance suites).

A file holds ``benchmarks``, each with ``runs``; a run's ``values`` are
already per-loop measurements, its ``warmups`` are skipped. Metadata (name,
unit) is looked up in the benchmark's own ``metadata`` first, then in the
file's common ``metadata``: a single-benchmark file (``pyperf timeit``) keeps
the name in the common part. The unit defaults to ``second`` as in pyperf.
"""

from __future__ import annotations

from perfsheriff.formats._format import Format, Probe, first_element
from perfsheriff.formats._json import Node, load
from perfsheriff.formats._results import ResultCollector
from perfsheriff.formats._units import metric_for
from perfsheriff.model import ResultSet

NAME = "pyperf"


def sniff(probe: Probe) -> bool:
    obj = probe.json_object()
    if obj is None or "context" in obj or "machine_info" in obj:
        return False
    first = first_element(obj.get("benchmarks"))
    return isinstance(first, dict) and "runs" in first


def parse(data: bytes) -> ResultSet:
    root = load(data)
    common = root.get("metadata")
    collector = ResultCollector(NAME)
    for bench in root.at("benchmarks").elements():
        meta = bench.get("metadata")
        name_node = _meta(meta, common, "name")
        if name_node is None:
            raise bench.error("expected a benchmark name in 'metadata.name' (of the benchmark or the file)")
        unit_node = _meta(meta, common, "unit")
        unit = "second" if unit_node is None else unit_node.string()
        samples = _values(bench)
        collector.add(
            bench.child("runs").where, name_node.string(non_empty=True), unit, samples, metric=metric_for(unit)
        )
    if common is not None:
        collector.context(common.scalars())
    return collector.build(root.child("benchmarks").where, "at least one benchmark in 'benchmarks'")


def _meta(own: Node | None, common: Node | None, key: str) -> Node | None:
    for metadata in (own, common):
        if metadata is not None:
            value = metadata.get(key)
            if value is not None:
                return value
    return None


def _values(bench: Node) -> list[float]:
    """Every value of every run, in order; calibration runs carry only warmups."""
    samples: list[float] = []
    for run in bench.at("runs").elements():
        values = run.get("values")
        if values is not None:
            samples.extend(item.number() for item in values.elements())
    if not samples:
        raise bench.child("runs").error("expected at least one run with 'values' (found only warmups)")
    return samples


FORMAT = Format(NAME, "pyperf / pyperformance JSON", sniff, parse)

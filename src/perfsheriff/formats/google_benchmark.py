"""Google Benchmark JSON (``--benchmark_format=json`` or ``--benchmark_out=...``).

Each entry of ``benchmarks`` is one repetition (``run_type: iteration``) or
an aggregate over repetitions (``run_type: aggregate``: mean, median, stddev,
cv). Repetitions of one ``run_name`` become one result's samples and
aggregates are skipped; only when a run has no repetitions in the file
(``--benchmark_report_aggregates_only``) is its ``median`` aggregate (else its
``mean``) used as a single sample. Entries with ``error_occurred`` or
``skipped`` are left out.

Metrics: ``real_time`` and ``cpu_time`` in the entry's ``time_unit``, plus
every counter (any other numeric member): ``items_per_second`` and
``bytes_per_second`` in ``items/s`` and ``bytes/s``, user counters unitless,
higher is better when the name says it is a rate.
"""

from __future__ import annotations

from perfsheriff.formats._format import Format, Probe
from perfsheriff.formats._json import Node, load
from perfsheriff.formats._results import ResultCollector
from perfsheriff.formats._units import UNITLESS, guess_direction
from perfsheriff.model import ResultSet

NAME = "google-benchmark"
_NOT_COUNTERS = frozenset(
    {"family_index", "per_family_instance_index", "repetitions", "repetition_index", "threads", "iterations"}
    | {"real_time", "cpu_time", "time_unit", "aggregate_unit", "big_o", "rms", "complexity"}
)
_COUNTER_UNITS = {"items_per_second": "items/s", "bytes_per_second": "bytes/s"}
_FALLBACK_AGGREGATES = ("median", "mean")


def sniff(probe: Probe) -> bool:
    obj = probe.json_object()
    return obj is not None and isinstance(obj.get("context"), dict) and isinstance(obj.get("benchmarks"), list)


def parse(data: bytes) -> ResultSet:
    root = load(data)
    collector = ResultCollector(NAME, merge=True)
    aggregates: dict[str, dict[str, Node]] = {}
    repeated: set[str] = set()
    for entry in root.at("benchmarks").elements():
        if _failed(entry):
            continue
        if _is_aggregate(entry):
            kind_node = entry.get("aggregate_name")
            kind = "" if kind_node is None else kind_node.string()
            aggregates.setdefault(_run_name(entry, kind), {})[kind] = entry
        else:
            run_name = _run_name(entry, "")
            repeated.add(run_name)
            _add_entry(collector, run_name, entry)
    for run_name, by_kind in aggregates.items():
        fallback = next((by_kind[kind] for kind in _FALLBACK_AGGREGATES if kind in by_kind), None)
        if run_name not in repeated and fallback is not None:
            _add_entry(collector, run_name, fallback)
    context = root.get("context")
    if context is not None:
        collector.context(context.scalars())
    return collector.build(root.child("benchmarks").where, "at least one benchmark entry without an error")


def _failed(entry: Node) -> bool:
    return any(flag is not None and flag.boolean() for flag in (entry.get("error_occurred"), entry.get("skipped")))


def _is_aggregate(entry: Node) -> bool:
    run_type = entry.get("run_type")
    if run_type is not None:
        return run_type.string() == "aggregate"
    return entry.has("aggregate_name")  # files from before run_type existed


def _run_name(entry: Node, aggregate: str) -> str:
    """The repetitions' common name; old files name aggregates ``<run>_<aggregate>`` only."""
    run_name = entry.get("run_name")
    if run_name is not None:
        return run_name.string(non_empty=True)
    name = entry.at("name").string(non_empty=True)
    suffix = f"_{aggregate}"
    return name[: -len(suffix)] if aggregate and name.endswith(suffix) and len(name) > len(suffix) else name


def _add_entry(collector: ResultCollector, run_name: str, entry: Node) -> None:
    unit_node = entry.get("time_unit")
    time_unit = "ns" if unit_node is None else unit_node.string(non_empty=True)
    for metric in ("real_time", "cpu_time"):
        value = entry.at(metric)
        collector.add(value.where, run_name, time_unit, [value.number()], metric=metric)
    for key, value in entry.items():
        if key in _NOT_COUNTERS or isinstance(value.value, bool) or not isinstance(value.value, int | float):
            continue
        unit = _COUNTER_UNITS.get(key, UNITLESS)
        direction = guess_direction(key, unit)
        collector.add(value.where, run_name, unit, [value.number()], metric=key, direction=direction)


FORMAT = Format(NAME, "Google Benchmark JSON", sniff, parse)

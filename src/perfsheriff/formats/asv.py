"""airspeed velocity results files (``results/<machine>/<hash>-<env>.json``).

Version 2 stores, per benchmark, a row of columns named by
``result_columns`` (``result``, ``params``, ..., ``samples``, ...), trailing
empty columns omitted. Version 1 stores a value, or an object with
``result``/``params``/``samples``. A parameterized benchmark becomes one result
per combination of its parameters, named as asv prints it:
``bench.time_sort(100, 'float')`` (the parameter reprs, joined by ", ").

Samples are the recorded ``samples`` (``asv run --record-samples``); without
them the single sample is asv's result, which is the median. Failed and
skipped combinations (``null``, or ``NaN`` in old files) are left out.

The file does not carry units (they live in ``benchmarks.json``), so the unit
follows asv's naming rules: ``time_*``/``timeraw_*`` in seconds,
``mem_*``/``peakmem_*`` in bytes, anything else (``track_*``) unitless.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass

from perfsheriff.formats._format import Format, Probe
from perfsheriff.formats._json import Node, load
from perfsheriff.formats._results import ResultCollector
from perfsheriff.formats._units import UNITLESS, metric_for
from perfsheriff.model import ResultSet

NAME = "asv"
_PREFIX_UNITS = (("timeraw_", "seconds"), ("time_", "seconds"), ("peakmem_", "bytes"), ("mem_", "bytes"))


def sniff(probe: Probe) -> bool:
    obj = probe.json_object()
    if obj is None or not isinstance(obj.get("results"), dict):
        return False
    return isinstance(obj.get("result_columns"), list) or (
        isinstance(obj.get("commit_hash"), str) and isinstance(obj.get("version"), int)
    )


@dataclass(frozen=True, slots=True)
class _Benchmark:
    """One benchmark's stored values, whichever file version they came from."""

    name: str
    result: Node  # a value, or a list with one value per parameter combination
    params: Node | None
    samples: Node | None


def parse(data: bytes) -> ResultSet:
    root = load(data)
    version_node = root.at("version")
    version = version_node.integer()
    if version == 2:
        benchmarks = _version_2(root)
    elif version == 1:
        benchmarks = _version_1(root)
    else:
        raise version_node.error(f"expected asv results version 1 or 2, got {version}")
    collector = ResultCollector(NAME)
    for bench in benchmarks:
        _add(collector, bench)
    collector.context(root.scalars())
    params = root.get("params")
    if params is not None:
        collector.context(params.scalars())
    return collector.build(root.child("results").where, "at least one benchmark that did not fail")


def _version_2(root: Node) -> list[_Benchmark]:
    columns = [column.string() for column in root.at("result_columns").elements()]
    if "result" not in columns:
        raise root.child("result_columns").error("expected the column 'result' in 'result_columns'")
    out = []
    for name, row in root.at("results").items():
        cells = dict(zip(columns, row.elements(), strict=False))
        result = cells.get("result")
        if result is None or result.is_null():
            continue  # every combination failed, e.g. a build failure
        out.append(_Benchmark(name, result, _present(cells.get("params")), _present(cells.get("samples"))))
    return out


def _version_1(root: Node) -> list[_Benchmark]:
    out = []
    for name, value in root.at("results").items():
        if value.is_object():
            out.append(_Benchmark(name, value.at("result"), value.get("params"), value.get("samples")))
        else:
            out.append(_Benchmark(name, value, None, None))
    return out


def _present(node: Node | None) -> Node | None:
    return None if node is None or node.is_null() else node


def _add(collector: ResultCollector, bench: _Benchmark) -> None:
    unit = next((unit for prefix, unit in _PREFIX_UNITS if bench.name.rpartition(".")[2].startswith(prefix)), UNITLESS)
    axes = _axes(bench.params)
    values = bench.result.elements() if isinstance(bench.result.value, list) else [bench.result]
    expected = math.prod(len(axis) for axis in axes)
    if len(values) != expected:
        raise bench.result.error(f"expected {expected} results, one per parameter combination, got {len(values)}")
    samples: list[Node | None] = [None] * len(values)
    if bench.samples is not None:
        samples = list(bench.samples.elements())
        if len(samples) != len(values):
            raise bench.samples.error(f"expected {len(values)} sample lists, one per result, got {len(samples)}")
    for combination, value, sample in zip(itertools.product(*axes), values, samples, strict=True):
        if value.is_null() or value.is_non_finite():
            continue  # this combination failed or was skipped
        name = f"{bench.name}({', '.join(combination)})" if combination else bench.name
        if sample is None or sample.is_null():
            collector.add(value.where, name, unit, [value.number()], metric=metric_for(unit))
        else:
            collector.add(sample.where, name, unit, sample.numbers(), metric=metric_for(unit))


def _axes(params: Node | None) -> list[list[str]]:
    """The parameter reprs per axis; combinations follow ``itertools.product`` (the last varies fastest)."""
    if params is None:
        return []
    return [[value.string() for value in axis.elements(non_empty=True)] for axis in params.elements()]


FORMAT = Format(NAME, "airspeed velocity (asv) results JSON", sniff, parse)

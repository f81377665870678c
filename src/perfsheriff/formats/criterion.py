"""Criterion.rs on-disk results (``target/criterion/<group>/<bench>/new/``).

A parser cannot list directories, so this format reads a mapping of relative
paths to bytes (:func:`parse_tree`). Every ``.../new/sample.json`` is one
benchmark; its sibling ``benchmark.json`` names it (``full_id``, else
``title``), else the directory path below ``criterion/`` does. ``base/``
(the previous run kept for comparison), ``change/`` and ``report/`` are
ignored: they are not this run's measurements.

``sample.json`` holds, per sample, ``iters`` iterations that took ``times``
nanoseconds in total, so the samples of metric ``time`` (unit ``ns``) are
``times[i] / iters[i]``. When ``benchmark.json`` declares a ``throughput``
(``Bytes``, ``BytesDecimal``, ``Elements``, ``Bits``), metric
``throughput`` is derived per sample in bytes/s, elements/s or bits/s.
"""

from __future__ import annotations

from collections.abc import Mapping

from perfsheriff.errors import FormatError
from perfsheriff.formats._format import Format, Probe
from perfsheriff.formats._json import Node, load
from perfsheriff.formats._results import ResultCollector
from perfsheriff.model import Direction, ResultSet

NAME = "criterion"
_SAMPLE_TAIL = ("new", "sample.json")
_THROUGHPUT_UNITS = {"Bytes": "bytes/s", "BytesDecimal": "bytes/s", "Elements": "elements/s", "Bits": "bits/s"}


def sniff(probe: Probe) -> bool:
    if tuple(probe.source.split("/")[-2:]) == _SAMPLE_TAIL:
        return True
    obj = probe.json_object()
    return obj is not None and isinstance(obj.get("iters"), list) and isinstance(obj.get("times"), list)


def sample_paths(files: Mapping[str, bytes]) -> list[str]:
    """The keys of ``files`` that are a benchmark's ``new/sample.json``, sorted."""
    return sorted(path for path in files if tuple(_parts(path)[-2:]) == _SAMPLE_TAIL)


def parse_tree(files: Mapping[str, bytes]) -> ResultSet:
    by_normal_path = {"/".join(_parts(path)): path for path in files}
    collector = ResultCollector(NAME)
    for path in sample_paths(files):
        directory = _parts(path)[:-1]
        bench_key = by_normal_path.get("/".join([*directory, "benchmark.json"]))
        info = None if bench_key is None else load(files[bench_key], bench_key)
        name = _name(info, directory[:-1])
        if not name:
            raise FormatError("expected a benchmark directory above 'new/'", where=path)
        _add(collector, name, load(files[path], path), info)
    return collector.build("directory", "at least one '<benchmark>/new/sample.json' (Criterion's output directory)")


def _parts(path: str) -> list[str]:
    return [part for part in path.replace("\\", "/").split("/") if part not in {"", "."}]


def _name(info: Node | None, directory: list[str]) -> str:
    if info is not None:
        for key in ("full_id", "title"):
            node = info.get(key)
            if node is not None:
                return node.string(non_empty=True)
    below = directory
    if "criterion" in directory:
        below = directory[len(directory) - directory[::-1].index("criterion") :]
    return "/".join(below)


def _add(collector: ResultCollector, name: str, sample: Node, info: Node | None) -> None:
    iters_node, times_node = sample.at("iters"), sample.at("times")
    iters, times = iters_node.numbers(), times_node.numbers()
    if len(iters) != len(times):
        raise times_node.error(f"expected as many 'times' as 'iters' ({len(iters)}), got {len(times)}")
    if any(count <= 0 for count in iters):
        raise iters_node.error("expected iteration counts above zero")
    per_iteration = [total / count for total, count in zip(times, iters, strict=True)]
    collector.add(times_node.where, name, "ns", per_iteration)
    throughput = None if info is None else info.get("throughput")
    if throughput is None:
        return
    for kind, amount in throughput.items():
        unit = _THROUGHPUT_UNITS.get(kind)
        if unit is None:
            raise amount.error(f"expected a throughput of kind {', '.join(_THROUGHPUT_UNITS)}, got {kind!r}")
        if any(ns <= 0 for ns in per_iteration):
            raise times_node.error("expected times above zero to derive a throughput")
        rates = [amount.number() * 1e9 / ns for ns in per_iteration]
        collector.add(amount.where, name, unit, rates, metric="throughput", direction=Direction.HIGHER_IS_BETTER)


FORMAT = Format(NAME, "Criterion.rs target/criterion directory", sniff, parse_tree=parse_tree)

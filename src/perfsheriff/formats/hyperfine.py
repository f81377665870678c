"""hyperfine ``--export-json`` files.

Each entry of ``results`` is one command, named by ``command`` (which holds
the ``--command-name`` when one was given). Its ``times`` (seconds, one per
run) are the samples of metric ``time``; ``memory_usage_byte`` (hyperfine 1.16
and later) gives metric ``max-rss`` in bytes. Runs whose exit code is not 0
(kept by ``--ignore-failure``) are dropped: a failed run is not a measurement.
Without ``times`` (very old hyperfine) the single sample is the ``median``.
"""

from __future__ import annotations

from perfsheriff.formats._format import Format, Probe, first_element
from perfsheriff.formats._json import Node, load
from perfsheriff.formats._results import ResultCollector
from perfsheriff.model import ResultSet

NAME = "hyperfine"


def sniff(probe: Probe) -> bool:
    obj = probe.json_object()
    first = first_element(None if obj is None else obj.get("results"))
    return isinstance(first, dict) and "command" in first


def parse(data: bytes) -> ResultSet:
    root = load(data)
    collector = ResultCollector(NAME)
    for result in root.at("results").elements():
        name = result.at("command").string(non_empty=True)
        ok = _succeeded(result)
        times = result.get("times")
        if times is None:
            median = result.at("median", "the 'times' of each run or at least their 'median'")
            collector.add(median.where, name, "s", [median.number()])
            continue
        samples = _kept(times, ok)
        if samples:
            collector.add(times.where, name, "s", samples)
        memory = result.get("memory_usage_byte")
        if memory is not None and (rss := _kept(memory, ok)):
            collector.add(memory.where, name, "bytes", rss, metric="max-rss")
    return collector.build(root.child("results").where, "at least one command with a successful run")


def _succeeded(result: Node) -> list[bool] | None:
    """Per run, whether it exited with 0; ``None`` when the file does not say."""
    codes = result.get("exit_codes")
    if codes is None:
        return None
    return [not code.is_null() and code.integer() == 0 for code in codes.elements()]


def _kept(node: Node, ok: list[bool] | None) -> list[float]:
    """The values of the runs that succeeded."""
    values = node.numbers()
    if ok is None:
        return values
    if len(ok) != len(values):
        raise node.error(f"expected one value per run ({len(ok)} exit codes), got {len(values)}")
    return [value for value, good in zip(values, ok, strict=True) if good]


FORMAT = Format(NAME, "hyperfine --export-json", sniff, parse)

"""perfsheriff's own result format: the shape to emit from a custom harness.

Version history (bump ``VERSION`` and add a line for every change; readers
accept every version listed here)::

    1  first version: "format", "version", "results" (name, unit, samples,
       optional metric, direction, suite) and optional "context". A missing
       metric is labelled from the unit ("time" for ms, "size" for bytes...).

The reader is strict: unknown keys are errors, so that a misspelt optional
field ("directon") is reported instead of silently ignored. The writer
(:func:`dump`) is what agents upload: whatever a benchmark wrote, parsed,
then written out in this format.
"""

from __future__ import annotations

import json

from perfsheriff.formats._format import Format, Probe
from perfsheriff.formats._json import Node, load
from perfsheriff.formats._results import ResultCollector
from perfsheriff.formats._units import metric_for
from perfsheriff.model import Direction, ResultSet

NAME = "perfsheriff"
VERSION = 1
_SUPPORTED_VERSIONS = (1,)
_TOP_KEYS = frozenset({"format", "version", "results", "context"})
_RESULT_KEYS = frozenset({"name", "unit", "samples", "metric", "direction", "suite"})
_DIRECTIONS = ", ".join(repr(d.value) for d in Direction)


def sniff(probe: Probe) -> bool:
    obj = probe.json_object()
    return obj is not None and obj.get("format") == NAME


def parse(data: bytes) -> ResultSet:
    root = load(data)
    _check_keys(root, _TOP_KEYS)
    if root.at("format").string() != NAME:
        root.child("format").fail(f"the string {NAME!r}")
    version = root.at("version").integer()
    if version not in _SUPPORTED_VERSIONS:
        raise root.child("version").error(
            f"expected format version {', '.join(map(str, _SUPPORTED_VERSIONS))}, got {version}; "
            "a newer perfsheriff may read this file"
        )
    collector = ResultCollector(NAME)
    for entry in root.at("results").elements():
        _add_result(collector, entry)
    context = root.get("context")
    if context is not None:
        collector.context((key, value.string()) for key, value in context.items())
    return collector.build(root.child("results").where, "at least one entry in 'results'")


def dump(results: ResultSet) -> str:
    """``results`` in this format (version 1), every field written out.

    Metric, direction and suite are written even where the reader would
    infer the same default, so that parsing the text gives ``results`` back
    exactly; floats are written by ``repr``, which round-trips.
    """
    entries = [
        {
            "name": result.name,
            "unit": result.unit,
            "metric": result.metric,
            "direction": result.better.value,
            "suite": result.suite,
            "samples": list(result.samples),
        }
        for result in results.results
    ]
    document: dict[str, object] = {"format": NAME, "version": VERSION}
    if results.context:
        document["context"] = dict(results.context)
    document["results"] = entries
    return json.dumps(document, ensure_ascii=False, allow_nan=False)


def _add_result(collector: ResultCollector, entry: Node) -> None:
    _check_keys(entry, _RESULT_KEYS)
    direction = None
    direction_node = entry.get("direction")
    if direction_node is not None:
        text = direction_node.string()
        if text not in {d.value for d in Direction}:
            raise direction_node.error(f"expected one of {_DIRECTIONS}, got {text!r}")
        direction = Direction(text)
    metric = entry.get("metric")
    suite = entry.get("suite")
    samples = entry.at("samples")
    unit = entry.at("unit").string()
    collector.add(
        samples.where,
        entry.at("name").string(non_empty=True),
        unit,
        samples.numbers(),
        metric=metric_for(unit) if metric is None else metric.string(non_empty=True),
        direction=direction,
        suite="" if suite is None else suite.string(),
    )


def _check_keys(node: Node, allowed: frozenset[str]) -> None:
    unknown = sorted(set(node.object()) - allowed)
    if unknown:
        raise node.error(f"unexpected key {unknown[0]!r}; expected only {', '.join(sorted(allowed))}")


FORMAT = Format(NAME, "perfsheriff's own JSON (documented in docs/formats.md)", sniff, parse)

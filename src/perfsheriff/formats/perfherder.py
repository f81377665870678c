"""Mozilla Perfherder data: ``PERFHERDER_DATA: {...}`` lines in a log, or a bare JSON object.

Every other log line is ignored, and several ``PERFHERDER_DATA`` lines may
appear (one per suite run, as in Talos and Raptor logs). A blob has a
``framework`` and ``suites``; each suite may have ``subtests``.

Naming: a subtest is ``<suite>/<subtest>``. A suite's own ``value`` is its
summary (Perfherder alerts on it and keeps it as its own series), so it is a
result named ``<suite>`` whenever present, beside its subtests. Samples are
``replicates`` when given, else the single ``value``. ``lowerIsBetter``
defaults to true as in Perfherder; a subtest without ``unit`` takes its
suite's; without any unit a value is unitless. The framework name is the
results' suite and, with ``extraOptions``, part of the context.
"""

from __future__ import annotations

from perfsheriff.errors import FormatError
from perfsheriff.formats._format import Format, Probe
from perfsheriff.formats._json import Node, load
from perfsheriff.formats._results import ResultCollector
from perfsheriff.formats._text import decode_text
from perfsheriff.formats._units import UNITLESS, metric_for
from perfsheriff.model import Direction, ResultSet

NAME = "perfherder"
MARKER = "PERFHERDER_DATA:"


def sniff(probe: Probe) -> bool:
    obj = probe.json_object()
    if obj is not None:
        return isinstance(obj.get("suites"), list) and isinstance(obj.get("framework"), dict)
    return probe.text is not None and MARKER in probe.text


def parse(data: bytes) -> ResultSet:
    collector = ResultCollector(NAME)
    context: dict[str, list[str]] = {}
    for blob in _blobs(data):
        framework = blob.at("framework").at("name").string()
        context.setdefault("framework", []).append(framework)
        for suite in blob.at("suites").elements():
            _add_suite(collector, suite, framework, context)
    collector.context((key, ", ".join(dict.fromkeys(values))) for key, values in context.items())
    return collector.build("top level", f"'{MARKER} {{...}}' lines with at least one suite value")


def _blobs(data: bytes) -> list[Node]:
    text = decode_text(data)
    blobs = []
    for number, line in enumerate(text.splitlines(), start=1):
        head, marker, payload = line.partition(MARKER)
        if marker:
            # Blank out the prefix so that JSON columns are the log line's columns.
            padded = " " * (len(head) + len(marker)) + payload
            blobs.append(load(padded.encode(), f"line {number}", line=number))
    if not blobs and text.lstrip().startswith("{"):
        blobs.append(load(data))
    if not blobs:
        raise FormatError(f"expected lines containing '{MARKER} {{...}}' or a Perfherder JSON object", where="line 1")
    for blob in blobs:
        blob.object()
    return blobs


def _add_suite(collector: ResultCollector, suite: Node, framework: str, context: dict[str, list[str]]) -> None:
    name = suite.at("name").string(non_empty=True)
    unit = _unit(suite, UNITLESS)
    options = suite.get("extraOptions")
    if options is not None:
        context.setdefault("extraOptions", []).extend(option.string() for option in options.elements())
    subtests = suite.get("subtests")
    if suite.get("value") is not None:
        _add_value(collector, suite, name, unit, framework)
    elif subtests is None or not subtests.elements():
        raise suite.error("expected a suite 'value' or a non-empty 'subtests' list")
    for subtest in [] if subtests is None else subtests.elements():
        sub_name = f"{name}/{subtest.at('name').string(non_empty=True)}"
        _add_value(collector, subtest, sub_name, _unit(subtest, unit), framework)


def _unit(node: Node, default: str) -> str:
    unit = node.get("unit")
    return default if unit is None else unit.string()


def _add_value(collector: ResultCollector, node: Node, name: str, unit: str, framework: str) -> None:
    lower = node.get("lowerIsBetter")
    direction = Direction.LOWER_IS_BETTER if lower is None or lower.boolean() else Direction.HIGHER_IS_BETTER
    replicates = node.get("replicates")
    if replicates is not None and replicates.elements():
        source, samples = replicates, replicates.numbers()
    else:
        source = node.at("value", "a value or replicates")
        samples = [source.number()]
    collector.add(source.where, name, unit, samples, metric=metric_for(unit), direction=direction, suite=framework)


FORMAT = Format(NAME, "Mozilla Perfherder PERFHERDER_DATA log lines or JSON", sniff, parse)

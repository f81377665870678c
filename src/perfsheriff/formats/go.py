"""``go test -bench`` text output (the Go benchmark data format).

A benchmark line is ``BenchmarkName-8  <iterations>  <value> <unit> ...``;
the name is kept whole, ``-8`` (GOMAXPROCS) included. Each ``<value> <unit>``
pair is a metric: ``ns/op`` is ``time``, ``B/op`` is ``alloc-bytes``,
``allocs/op`` is ``allocs``, ``MB/s`` is ``throughput``, and any other unit
(``b.ReportMetric``) is a metric named by its unit, higher is better when the
unit is a rate (``.../s``). Lines repeated by ``-count=N`` are samples of one
result. ``key: value`` lines (``goos``, ``goarch``, ``pkg``, ``cpu``) are the
file's context; ``pkg`` is also the suite of the benchmarks below it. Every
other line (``PASS``, ``ok``, logs) is ignored.
"""

from __future__ import annotations

import math
import re

from perfsheriff.errors import FormatError
from perfsheriff.formats._format import Format, Probe
from perfsheriff.formats._results import ResultCollector
from perfsheriff.formats._text import decode_text
from perfsheriff.formats._units import guess_direction
from perfsheriff.model import ResultSet

NAME = "go"
# "Benchmark" followed by the end of the name or a character that is not a
# lower-case letter, as the Go benchmark format specifies.
_BENCH_LINE = re.compile(r"^(Benchmark(?![a-z])\S*)[ \t]+(\d+)[ \t]+(.*)$")
_CONFIG_LINE = re.compile(r"^([a-z][^\s:A-Z]*):[ \t]*(.*)$")
_METRICS = {"ns/op": "time", "B/op": "alloc-bytes", "allocs/op": "allocs", "MB/s": "throughput"}


def sniff(probe: Probe) -> bool:
    text = probe.text
    if text is None:
        return False
    return any(_BENCH_LINE.match(line) for line in text.splitlines())


def parse(data: bytes) -> ResultSet:
    text = decode_text(data)
    collector = ResultCollector(NAME, merge=True)
    context: dict[str, list[str]] = {}
    package = ""
    for number, raw_line in enumerate(text.splitlines(), start=1):
        line = raw_line.rstrip()
        bench = _BENCH_LINE.match(line)
        if bench is not None:
            _add_line(collector, f"line {number}", bench.group(1), bench.group(3), package)
            continue
        config = _CONFIG_LINE.match(line)
        if config is not None:
            key, value = config.group(1), config.group(2).strip()
            package = value if key == "pkg" else package
            if value not in context.setdefault(key, []):
                context[key].append(value)
    collector.context((key, ", ".join(values)) for key, values in context.items())
    return collector.build("line 1", "lines like 'BenchmarkName-8  1000  1234 ns/op'")


def _add_line(collector: ResultCollector, where: str, name: str, measurements: str, package: str) -> None:
    fields = measurements.split()
    if not fields or len(fields) % 2:
        raise FormatError("expected pairs of '<value> <unit>' after the iteration count", where=where)
    for value_text, unit in zip(fields[::2], fields[1::2], strict=True):
        value = _number(value_text, where)
        metric = _METRICS.get(unit, unit)
        collector.add(where, name, unit, [value], metric=metric, direction=guess_direction(metric, unit), suite=package)


def _number(text: str, where: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise FormatError(f"expected a number before the unit, got {text!r}", where=where) from None
    if not math.isfinite(value):
        raise FormatError(f"expected a finite number, got {text!r}", where=where)
    return value


FORMAT = Format(NAME, "go test -bench output", sniff, parse)

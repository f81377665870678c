"""Bad input of every kind is a FormatError that says where and what was expected."""

from __future__ import annotations

import pytest

from perfsheriff.errors import FormatError
from perfsheriff.formats import FORMAT_NAMES, parse

from .conftest import FIXTURES

CASES = [
    # (format, document, where, part of the reason)
    ("pyperf", (FIXTURES / "pyperf_suite.json").read_bytes()[:300], "line 1 column 301", "expected a JSON document"),
    (
        "pyperf",
        b'{"benchmarks": [{"metadata": {"name": "a"}, "runs": [{"values": ["1"]}]}]}',
        "benchmarks[0].runs[0].values[0]",
        "expected a number, got a string",
    ),
    ("pyperf", b'{"benchmarks": [{"runs": [{"values": [1]}]}]}', "benchmarks[0]", "benchmark name"),
    (
        "pyperf",
        b'{"benchmarks": [{"metadata": {"name": "a"}, "runs": [{"warmups": [[1, 2]]}]}]}',
        "benchmarks[0].runs",
        "found only warmups",
    ),
    (
        "pytest-benchmark",
        b'{"benchmarks": [{"fullname": "t", "stats": {"data": [1, NaN]}}]}',
        "benchmarks[0].stats.data[1]",
        "expected a number, got NaN",
    ),
    (
        "pytest-benchmark",
        b'{"benchmarks": [{"fullname": "t", "stats": {"mean": 1}}]}',
        "benchmarks[0].stats",
        "'median'",
    ),
    (
        "pytest-benchmark",
        b'{"benchmarks": [{"fullname": "t", "stats": {"data": [1e999]}}]}',
        "benchmarks[0].stats.data[0]",
        "a finite number",
    ),
    (
        "pytest-benchmark",
        b'{"benchmarks": [{"fullname": "t", "stats": {"data": [-0.5]}}]}',
        "benchmarks[0].stats.data",
        "must be >= 0",
    ),
    (
        "google-benchmark",
        b'{"context": {}, "benchmarks": [{"name": "BM", "real_time": true, "cpu_time": 1}]}',
        "benchmarks[0].real_time",
        "expected a number, got true",
    ),
    ("google-benchmark", b'{"context": {}, "benchmarks": []}', "benchmarks", "no benchmark results"),
    (
        "google-benchmark",
        b'{"context": {}, "benchmarks": [{"name": "BM", "real_time": 1, "cpu_time": 1, '
        b'"time_unit": "ns"}, {"name": "BM", "real_time": 1, "cpu_time": 1, "time_unit": "ms"}]}',
        "benchmarks[1].real_time",
        "another unit",
    ),
    ("hyperfine", b'{"results": [{"command": "a", "times": [0.1, -0.2]}]}', "results[0].times", ">= 0"),
    (
        "hyperfine",
        b'{"results": [{"command": "a", "times": [0.1], "exit_codes": [0, 0]}]}',
        "results[0].times",
        "one value per run",
    ),
    ("hyperfine", b'{"results": [{"command": 5, "times": [0.1]}]}', "results[0].command", "a string"),
    (
        "asv",
        b'{"version": 2, "result_columns": ["result", "params"], "results": {"b.time_x": [[1, 2], [["1"]]]}}',
        'results["b.time_x"][0]',
        "expected 1 results",
    ),
    ("asv", b'{"version": 3, "results": {}}', "version", "version 1 or 2"),
    ("asv", b'{"version": 2, "result_columns": ["params"], "results": {}}', "result_columns", "'result'"),
    ("asv", b'{"version": 1, "results": {}}', "results", "no benchmark results"),
    ("bmf", b'{"b": {"latency": {"value": "fast"}}}', "b.latency.value", "a number"),
    ("bmf", b'{"b": {"latency": {"value": 1, "upper_value": null}}, "c": {}}', "c", "at least one measure"),
    ("bmf", b"[]", "top level", "an object"),
    ("go", b"goos: linux\nBenchmarkA-8  100  abc ns/op\n", "line 2", "a number"),
    ("go", b"BenchmarkA-8  100  -5 ns/op\n", "line 1", ">= 0"),
    ("go", b"BenchmarkA-8  100  5 ns/op 7\n", "line 1", "pairs"),
    ("go", b"BenchmarkA-8  100  NaN ns/op\n", "line 1", "finite"),
    ("go", b"PASS\nok  \texample.com/x\t0.1s\n", "line 1", "no benchmark results"),
    ("perfherder", b'log\nx PERFHERDER_DATA: {"framework": {"name": "t"}, "suites": [\n', "line 2 column 60", "JSON"),
    (
        "perfherder",
        b'PERFHERDER_DATA: {"framework": {"name": "t"}, "suites": [{"name": "s"}]}',
        "line 1: suites[0]",
        "a suite 'value'",
    ),
    (
        "perfherder",
        b'{"framework": {"name": "t"}, "suites": [{"name": "s", "value": 1, "lowerIsBetter": "yes"}]}',
        "suites[0].lowerIsBetter",
        "true or false",
    ),
    ("perfherder", b"nothing here\n", "line 1", "PERFHERDER_DATA"),
    ("criterion", b'{"iters": [1.0], "times": [1.0, 2.0]}', "times", "as many 'times'"),
    (
        "perfsheriff",
        b'{"format": "perfsheriff", "version": 1, "results": [{"name": "a", "unit": "s", "samples": [Infinity]}]}',
        "results[0].samples[0]",
        "got NaN or Infinity",
    ),
    ("perfsheriff", b'{"format": "perfsheriff", "version": true, "results": []}', "version", "an integer"),
    (
        "perfsheriff",
        b'{"format": "perfsheriff", "version": 1, "results": [{"name": "a", "unit": "s", "samples": []}]}',
        "results[0].samples",
        "non-empty list",
    ),
]


@pytest.mark.parametrize(("fmt", "document", "where", "reason"), CASES)
def test_bad_documents(fmt: str, document: bytes, where: str, reason: str) -> None:
    source = "base/new/sample.json" if fmt == "criterion" else "input"
    with pytest.raises(FormatError) as info:
        parse(source, document, fmt)
    assert info.value.source == source
    assert info.value.where == where
    assert reason in info.value.reason


@pytest.mark.parametrize("fmt", FORMAT_NAMES)
@pytest.mark.parametrize(
    ("document", "where"),
    [
        (b'{"a": 1}\x00', "byte 8"),
        (b'{"caf\xe9": 1}', "byte 5"),
        (b"[" * 100_000, "top level"),
    ],
)
def test_binary_and_pathological_content_for_every_format(fmt: str, document: bytes, where: str) -> None:
    source = "b/new/sample.json" if fmt == "criterion" else "input"
    if fmt in {"perfherder", "go"} and document.startswith(b"["):
        where = "line 1"  # read as a log without PERFHERDER_DATA or benchmark lines
    with pytest.raises(FormatError) as info:
        parse(source, document, fmt)
    assert (info.value.source, info.value.where) == (source, where)


def test_huge_integer_is_a_format_error() -> None:
    document = b'{"b": {"latency": {"value": ' + b"9" * 5000 + b"}}}"
    with pytest.raises(FormatError) as info:
        parse("input", document, "bmf")
    assert info.value.where == "top level"

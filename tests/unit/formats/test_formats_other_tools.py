"""Parsers of Criterion, Go, BMF, Perfherder and perfsheriff's own format."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from perfsheriff.errors import FormatError
from perfsheriff.formats import parse, parse_tree
from perfsheriff.model import BenchmarkResult, Direction, ResultSet

from .conftest import CRITERION_ROOT, read_tree

Fixture = Callable[[str], bytes]
LOWER, HIGHER = Direction.LOWER_IS_BETTER, Direction.HIGHER_IS_BETTER


def by_key(results: ResultSet) -> dict[tuple[str, str], BenchmarkResult]:
    return {(r.name, r.metric): r for r in results.results}


def test_criterion_tree_reads_new_samples_only() -> None:
    results = by_key(parse_tree("target/criterion", read_tree(CRITERION_ROOT)))
    assert set(results) == {
        ("fib/20", "time"),
        ("noinfo", "time"),
        ("parse json/1KiB", "time"),
        ("parse json/1KiB", "throughput"),
    }
    fib = results["fib/20", "time"]
    assert (fib.unit, fib.better) == ("ns", LOWER)
    assert fib.samples == pytest.approx((25210.0, 25150.0, 25110.0, 25150.0, 25100.0))  # times / iters, not base/
    assert results["noinfo", "time"].samples == (150.0, 145.0)
    rate = results["parse json/1KiB", "throughput"]
    assert (rate.unit, rate.better) == ("bytes/s", HIGHER)
    assert rate.samples == pytest.approx((1024 / 2000e-9, 1024 / 2048e-9, 1024 / 1953.125e-9))


def test_criterion_tree_given_from_the_project_root_names_below_criterion() -> None:
    files = {f"target/criterion/{path}": data for path, data in read_tree(CRITERION_ROOT).items()}
    names = {r.name for r in parse_tree(".", files).results}
    assert names == {"fib/20", "noinfo", "parse json/1KiB"}


def test_criterion_single_sample_file_named_by_its_directory(fixture: Fixture) -> None:
    source = "target/criterion/noinfo/new/sample.json"
    (result,) = parse(source, (CRITERION_ROOT / "noinfo/new/sample.json").read_bytes()).results
    assert (result.name, result.samples) == ("noinfo", (150.0, 145.0))


def test_criterion_tree_without_samples_is_an_error() -> None:
    with pytest.raises(FormatError) as info:
        parse_tree("target/criterion", {"report/index.html": b"<html></html>"}, "criterion")
    assert info.value.where == "directory"
    assert "new/sample.json" in info.value.reason


def test_go_bench_merges_counts_into_samples_and_names_metrics(fixture: Fixture) -> None:
    results = parse("bench.txt", fixture("go_bench.txt"))
    assert results.format == "go"
    table = by_key(results)
    time = table["BenchmarkEncode/small-16", "time"]
    assert (time.unit, time.samples, time.suite) == ("ns/op", (409.3, 411.0, 405.8), "example.com/app/codec")
    assert table["BenchmarkEncode/small-16", "throughput"].better is HIGHER
    assert table["BenchmarkEncode/small-16", "throughput"].unit == "MB/s"
    assert table["BenchmarkEncode/small-16", "alloc-bytes"].unit == "B/op"
    assert table["BenchmarkDecode-16", "allocs"].samples == (7, 7, 7)
    custom = table["BenchmarkDecode-16", "items/s"]
    assert (custom.unit, custom.better, custom.samples) == ("items/s", HIGHER, (42.0, 42.5, 41.8))
    assert table["BenchmarkPut-16", "time"].suite == "example.com/app/store"
    context = dict(results.context)
    assert context["goos"] == "linux"
    assert context["pkg"] == "example.com/app/codec, example.com/app/store"


def test_go_keeps_names_without_gomaxprocs_suffix() -> None:
    (result,) = parse("b.txt", b"BenchmarkX \t 10 \t 1.5e+03 ns/op\n", "go").results
    assert (result.name, result.samples) == ("BenchmarkX", (1500.0,))


def test_bmf_measures_are_metrics_with_known_units(fixture: Fixture) -> None:
    table = by_key(parse("bmf.json", fixture("bmf.json")))
    latency = table["bench_fib::fib_10", "latency"]
    assert (latency.unit, latency.samples, latency.better) == ("ns", (88.0,), LOWER)
    throughput = table["bench_fib::fib_20", "throughput"]
    assert (throughput.unit, throughput.better) == ("ops/s", HIGHER)
    assert table["binary", "file-size"].unit == "bytes"
    assert table["binary", "build-time"].unit == "s"
    assert (table["binary", "instructions"].unit, table["binary", "instructions"].better) == ("", LOWER)


def test_perfherder_log_collects_every_line_and_names_subtests(fixture: Fixture) -> None:
    results = parse("live_backing.log", fixture("perfherder.log"))
    table = by_key(results)
    assert [r.name for r in results.results] == [
        "tp5o",
        "tp5o/amazon.com",
        "tp5o/bbc.co.uk",
        "dromaeo_css/jquery.html",
        "dromaeo_css/prototype.html",
    ]
    assert table["tp5o", "time"].samples == (245.81,)
    amazon = table["tp5o/amazon.com", "time"]
    assert (amazon.unit, amazon.samples, amazon.suite) == ("ms", (305.0, 299.0, 301.0, 298.0, 302.0), "talos")
    jquery = table["dromaeo_css/jquery.html", "value"]
    assert (jquery.unit, jquery.better) == ("score", HIGHER)
    assert dict(results.context) == {"extraOptions": "e10s, stylo", "framework": "talos"}


def test_perfherder_bare_json_has_suite_summary_beside_subtests(fixture: Fixture) -> None:
    results = by_key(parse("perfherder-data.json", fixture("perfherder.json")))
    summary = results["speedometer3", "value"]
    assert (summary.unit, summary.better, summary.samples) == ("score", HIGHER, (14.52,))
    react = results["speedometer3/TodoMVC-React", "time"]
    assert (react.unit, react.better, react.samples) == ("ms", LOWER, (60.9, 61.4, 62.0))


def test_perfsheriff_format_reads_all_fields(fixture: Fixture) -> None:
    results = parse("results.json", fixture("perfsheriff.json"))
    table = by_key(results)
    assert table["startup", "time"].samples == (112.4, 110.9, 113.0)
    assert table["startup", "max-rss"].unit == "bytes"
    frame = table["render/frame", "throughput"]
    assert (frame.better, frame.suite, frame.unit) == (HIGHER, "ui", "frames/s")
    assert results.context == (("compiler", "gcc 13.2"), ("machine", "bench-01"))


@pytest.mark.parametrize(
    ("document", "where", "reason"),
    [
        (b'{"format": "perfsheriff", "version": 2, "results": []}', "version", "format version 1"),
        (b'{"format": "perfsheriff", "version": 1, "results": [], "extra": 1}', "top level", "'extra'"),
        (
            b'{"format": "perfsheriff", "version": 1, "results": [{"name": "a", "unit": "s", "samples": [1], '
            b'"directon": "lower_is_better"}]}',
            "results[0]",
            "'directon'",
        ),
        (
            b'{"format": "perfsheriff", "version": 1, "results": [{"name": "a", "unit": "s", "samples": [1], '
            b'"direction": "down"}]}',
            "results[0].direction",
            "'lower_is_better'",
        ),
        (b'{"format": "perfsheriff", "version": 1, "results": []}', "results", "no benchmark results"),
        (
            b'{"format": "perfsheriff", "version": 1, "results": [{"name": "a", "unit": "s", "samples": [1]}, '
            b'{"name": "a", "unit": "s", "samples": [2]}]}',
            "results[1].samples",
            "appears twice; first at results[0].samples",
        ),
        (
            b'{"format": "perfsheriff", "version": 1, "context": {"a": 1}, '
            b'"results": [{"name": "a", "unit": "s", "samples": [1]}]}',
            "context.a",
            "a string",
        ),
    ],
)
def test_perfsheriff_format_is_strict(document: bytes, where: str, reason: str) -> None:
    with pytest.raises(FormatError) as info:
        parse("r.json", document)
    assert (info.value.source, info.value.where) == ("r.json", where)
    assert reason in info.value.reason


def test_go_refuses_one_name_in_two_packages() -> None:
    text = b"pkg: a\nBenchmarkX-8 10 5 ns/op\npkg: b\nBenchmarkX-8 10 6 ns/op\n"
    with pytest.raises(FormatError) as info:
        parse("bench.txt", text)
    assert info.value.where == "line 4"
    assert "suite" in info.value.reason

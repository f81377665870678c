"""Parsers of the JSON-writing Python and C++ tools, checked against realistic fixtures."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from perfsheriff.formats import parse
from perfsheriff.model import BenchmarkResult, Direction, ResultSet

Fixture = Callable[[str], bytes]
LOWER, HIGHER = Direction.LOWER_IS_BETTER, Direction.HIGHER_IS_BETTER


def by_key(results: ResultSet) -> dict[tuple[str, str], BenchmarkResult]:
    return {(r.name, r.metric): r for r in results.results}


def test_pyperf_suite_keeps_every_value_and_skips_warmups(fixture: Fixture) -> None:
    results = parse("suite.json", fixture("pyperf_suite.json"), "pyperf")
    assert results.format == "pyperf"
    assert [r.name for r in results.results] == ["telco", "json_dumps"]
    telco = results.results[0]
    assert telco.samples == (0.00981, 0.00975, 0.00990, 0.00978, 0.00984, 0.00979)
    assert (telco.unit, telco.metric, telco.better) == ("second", "time", LOWER)
    assert results.results[1].samples == (0.0151, 0.0149, 0.0150, 0.0152)
    assert ("hostname", "bench-01") in results.context


def test_pyperf_single_benchmark_takes_name_and_unit_from_common_metadata(fixture: Fixture) -> None:
    (result,) = parse("timeit.json", fixture("pyperf_timeit.json")).results
    assert (result.name, result.unit, result.metric) == ("timeit", "byte", "size")
    assert result.samples == (7360512, 7364608, 7380992)


def test_pytest_benchmark_uses_fullname_group_and_raw_data(fixture: Fixture) -> None:
    results = parse("bench.json", fixture("pytest_benchmark.json"))
    assert results.format == "pytest-benchmark"
    sort, parse_ = results.results
    assert sort.name == "tests/test_perf.py::test_sort[100]"
    assert (sort.suite, sort.unit, sort.metric, sort.better) == ("sorting", "s", "time", LOWER)
    assert sort.samples == (4.1e-06, 4.3e-06, 5.3e-06, 4.2e-06, 4.8e-06)
    assert (parse_.suite, parse_.samples) == ("", (0.0012, 0.0013, 0.0015, 0.0013))
    context = dict(results.context)
    assert context["commit_info.id"] == "5d1f2a9c0b7e4f3a8d6c1b2e9f0a7d3c4b5e6f70"
    assert "samples" not in context


def test_pytest_benchmark_without_data_falls_back_to_the_median_and_says_so(fixture: Fixture) -> None:
    results = parse("0001_saved.json", fixture("pytest_benchmark_saved.json"))
    assert results.results[0].samples == (0.00122,)
    assert dict(results.context)["samples"] == "summary-only"


def test_asv_v2_expands_parameters_and_skips_failures(fixture: Fixture) -> None:
    results = by_key(parse("results/gh-runner/4c3f2e1d-virtualenv-py3.11.json", fixture("asv_v2.json")))
    assert list(results) == [
        ("benchmarks.TimeSuite.time_sort(100, 'float')", "time"),
        ("benchmarks.TimeSuite.time_sort(100, 'int')", "time"),
        ("benchmarks.TimeSuite.time_sort(1000, 'int')", "time"),
        ("benchmarks.time_import", "time"),
        ("benchmarks.MemSuite.mem_list", "size"),
        ("benchmarks.peakmem_load", "size"),
        ("benchmarks.track_cache_hit_ratio", "value"),
    ]
    assert results["benchmarks.TimeSuite.time_sort(1000, 'int')", "time"].samples == (0.000212, 0.000214, 0.000217)
    assert results["benchmarks.time_import", "time"].unit == "seconds"
    mem = results["benchmarks.MemSuite.mem_list", "size"]
    assert (mem.unit, mem.samples) == ("bytes", (448,))  # no recorded samples: asv's result
    track = results["benchmarks.track_cache_hit_ratio", "value"]
    assert (track.unit, track.better) == ("", LOWER)


def test_asv_v1_values_params_and_nan_for_skipped(fixture: Fixture) -> None:
    results = parse("fcf8c079-py2.7.json", fixture("asv_v1.json"))
    assert [(r.name, r.samples) for r in results.results] == [
        ("time_quantity.time_quantity_init_array", (0.10822079181671143,)),
        ("time_units.mem_unit", (344,)),
        ("time_other.time_parameterized(1)", (1,)),
        ("time_other.time_parameterized(2)", (4,)),
    ]
    assert ("machine", "cheetah") in results.context


def test_google_benchmark_merges_repetitions_and_skips_aggregates_and_errors(fixture: Fixture) -> None:
    results = by_key(parse("out.json", fixture("google_benchmark.json")))
    assert set(results) == {
        ("BM_memcpy/64", "real_time"),
        ("BM_memcpy/64", "cpu_time"),
        ("BM_memcpy/64", "bytes_per_second"),
        ("BM_parse/real_time/threads:2", "real_time"),
        ("BM_parse/real_time/threads:2", "cpu_time"),
        ("BM_parse/real_time/threads:2", "items_per_second"),
        ("BM_parse/real_time/threads:2", "nodes"),
        ("BM_parse/real_time/threads:2", "cache_misses"),
    }
    real = results["BM_memcpy/64", "real_time"]
    assert (real.unit, real.samples, real.better) == ("ns", (5.71, 5.75, 5.69), LOWER)
    rate = results["BM_memcpy/64", "bytes_per_second"]
    assert (rate.unit, rate.better, len(rate.samples)) == ("bytes/s", HIGHER, 3)
    assert results["BM_parse/real_time/threads:2", "cpu_time"].unit == "us"
    items = results["BM_parse/real_time/threads:2", "items_per_second"]
    assert (items.unit, items.better) == ("items/s", HIGHER)
    nodes = results["BM_parse/real_time/threads:2", "nodes"]
    assert (nodes.unit, nodes.better, nodes.samples) == ("", LOWER, (1523,))


def test_google_benchmark_aggregates_only_uses_the_median(fixture: Fixture) -> None:
    results = parse("aggregates.json", fixture("google_benchmark_aggregates.json"))
    assert [(r.name, r.metric, r.unit, r.samples) for r in results.results] == [
        ("BM_hash", "real_time", "ms", (20.1,)),
        ("BM_hash", "cpu_time", "ms", (20.0,)),
    ]
    assert ("host_name", "bench-02") in results.context


def test_hyperfine_times_memory_and_failed_runs_dropped(fixture: Fixture) -> None:
    results = by_key(parse("hyperfine.json", fixture("hyperfine.json")))
    rg = results["rg -c TODO src/", "time"]
    assert (rg.unit, rg.samples) == ("s", (0.0124, 0.0119, 0.0131, 0.01239, 0.01243))
    rss = results["rg -c TODO src/", "max-rss"]
    assert (rss.unit, rss.better, len(rss.samples)) == ("bytes", LOWER, 5)
    grep = results["grep -rc TODO src/", "time"]
    assert grep.samples == (0.0412, 0.0442, 0.0409)  # the run that exited 1 is not a measurement
    assert results["grep -rc TODO src/", "max-rss"].samples == (3145728, 3149824, 3145728)


@pytest.mark.parametrize(
    ("document", "samples"),
    [
        (b'{"results": [{"command": "a", "median": 0.5, "mean": 0.6}]}', (0.5,)),
        (b'{"results": [{"command": "a", "times": [0.1, 0.2]}]}', (0.1, 0.2)),
    ],
)
def test_hyperfine_minimal_documents(document: bytes, samples: tuple[float, ...]) -> None:
    assert parse("h.json", document, "hyperfine").results[0].samples == samples

"""The public API: detection, dispatch by name, directory inputs and error locations."""

from __future__ import annotations

import pytest

from perfsheriff.errors import FormatError
from perfsheriff.formats import FORMAT_NAMES, detect, parse, parse_tree

from .conftest import CRITERION_ROOT, FIXTURES, read_tree

DETECTED = {
    "pyperf_suite.json": "pyperf",
    "pyperf_timeit.json": "pyperf",
    "pytest_benchmark.json": "pytest-benchmark",
    "pytest_benchmark_saved.json": "pytest-benchmark",
    "asv_v2.json": "asv",
    "asv_v1.json": "asv",
    "google_benchmark.json": "google-benchmark",
    "google_benchmark_aggregates.json": "google-benchmark",
    "hyperfine.json": "hyperfine",
    "go_bench.txt": "go",
    "bmf.json": "bmf",
    "perfherder.log": "perfherder",
    "perfherder.json": "perfherder",
    "perfsheriff.json": "perfsheriff",
}


def test_format_names_are_the_documented_ones() -> None:
    assert set(FORMAT_NAMES) == {
        "pyperf",
        "pytest-benchmark",
        "asv",
        "google-benchmark",
        "hyperfine",
        "criterion",
        "go",
        "bmf",
        "perfherder",
        "perfsheriff",
    }


def test_every_fixture_file_is_listed() -> None:
    assert {path.name for path in FIXTURES.iterdir() if path.is_file()} == set(DETECTED)


@pytest.mark.parametrize(("name", "expected"), sorted(DETECTED.items()))
def test_detect_each_fixture(name: str, expected: str) -> None:
    data = (FIXTURES / name).read_bytes()
    assert detect(name, data) == expected
    assert parse(name, data).format == expected


def test_detect_criterion_sample_by_content_and_by_name() -> None:
    data = (CRITERION_ROOT / "fib/20/new/sample.json").read_bytes()
    assert detect("sample.json", data) == "criterion"
    assert detect("target/criterion/x/new/sample.json", b"{}") == "criterion"


@pytest.mark.parametrize("data", [b"", b"hello\n", b'{"a": 1}', b"[1, 2]", b"\x00\x01\x02", b"\xff\xfe"])
def test_detect_unknown_lists_the_known_formats(data: bytes) -> None:
    with pytest.raises(FormatError) as info:
        detect("mystery.out", data)
    assert info.value.source == "mystery.out"
    assert info.value.where
    for name in FORMAT_NAMES:
        assert name in info.value.reason


def test_unknown_format_name() -> None:
    with pytest.raises(FormatError) as info:
        parse("x.json", b"{}", "jmh")
    assert (info.value.source, info.value.where) == ("x.json", "--format")
    assert "pyperf" in info.value.reason


def test_parse_errors_carry_the_source() -> None:
    with pytest.raises(FormatError) as info:
        parse("runs/42.json", b'{"benchmarks": []}', "pyperf")
    assert (info.value.source, info.value.where) == ("runs/42.json", "benchmarks")
    assert str(info.value).startswith("runs/42.json, benchmarks: found no benchmark results")


def test_parse_tree_with_one_file_parses_it_with_its_path() -> None:
    data = (FIXTURES / "bmf.json").read_bytes()
    results = parse_tree("out", {"bmf.json": data})
    assert results.format == "bmf"
    with pytest.raises(FormatError) as info:
        parse_tree("out", {"bmf.json": b"{"})
    assert info.value.source == "out/bmf.json"


@pytest.mark.parametrize("fmt", [None, "go"])
def test_parse_tree_refuses_several_files_for_single_file_formats(fmt: str | None) -> None:
    with pytest.raises(FormatError) as info:
        parse_tree("out", {"a.txt": b"", "b.txt": b""}, fmt)
    assert (info.value.source, info.value.where) == ("out", "directory")
    assert "exactly one result file, found 2" in info.value.reason


def test_parse_tree_detects_criterion() -> None:
    assert parse_tree("target/criterion", read_tree(CRITERION_ROOT)).format == "criterion"


def test_criterion_errors_name_the_file_inside_the_tree() -> None:
    files = read_tree(CRITERION_ROOT)
    files["fib/20/new/sample.json"] = b'{"iters": [1.0, 0.0], "times": [5.0, 6.0]}'
    with pytest.raises(FormatError) as info:
        parse_tree("target/criterion", files)
    assert (info.value.source, info.value.where) == ("target/criterion", "fib/20/new/sample.json: iters")


@pytest.mark.parametrize(
    "names",
    [("machine_info", "benchmarks"), ("results", "commit_hash", "version"), ("framework", "suites"), ("context",)],
)
def test_bmf_benchmarks_named_like_other_formats_keys_stay_bmf(names: tuple[str, ...]) -> None:
    document = "{" + ", ".join(f'"{name}": {{"latency": {{"value": 1.0}}}}' for name in names) + "}"
    assert detect("bmf.json", document.encode()) == "bmf"

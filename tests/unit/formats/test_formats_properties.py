"""Properties: any input either parses or raises a located FormatError, and valid documents round-trip."""

from __future__ import annotations

import json
import math
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from perfsheriff.errors import FormatError
from perfsheriff.formats import FORMAT_NAMES, parse, parse_tree
from perfsheriff.model import ResultSet

from .conftest import CRITERION_ROOT, FIXTURES, read_tree

SETTINGS = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
FORMATS = st.sampled_from([None, *FORMAT_NAMES])
FIXTURE_NAMES = sorted(path.name for path in FIXTURES.iterdir() if path.is_file())
JSON_FIXTURES = [name for name in FIXTURE_NAMES if name.endswith(".json")]

# Keys the parsers look for, so that generated documents reach past the first check.
KEYS = st.sampled_from(
    [
        "benchmarks",
        "runs",
        "values",
        "warmups",
        "metadata",
        "name",
        "unit",
        "stats",
        "data",
        "median",
        "fullname",
        "group",
        "context",
        "run_name",
        "run_type",
        "aggregate_name",
        "real_time",
        "cpu_time",
        "time_unit",
        "error_occurred",
        "results",
        "command",
        "times",
        "exit_codes",
        "memory_usage_byte",
        "result_columns",
        "version",
        "params",
        "samples",
        "result",
        "commit_hash",
        "format",
        "direction",
        "metric",
        "suite",
        "framework",
        "suites",
        "subtests",
        "replicates",
        "lowerIsBetter",
        "value",
        "iters",
        "full_id",
        "throughput",
        "latency",
    ]
)
SCALARS = st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=6) | KEYS
JSON_VALUES = st.recursive(
    SCALARS,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(KEYS | st.text(max_size=4), children, max_size=5),
    max_leaves=25,
)


def parse_or_error(source: str, data: bytes, fmt: str | None) -> ResultSet | None:
    """Parse, allowing only a FormatError that names the source and a place."""
    try:
        return parse(source, data, fmt)
    except FormatError as err:
        error = err
    assert (error.source, bool(error.where)) == (source, True)
    return None


@SETTINGS
@given(data=st.binary(max_size=300), fmt=FORMATS)
def test_arbitrary_bytes(data: bytes, fmt: str | None) -> None:
    parse_or_error("input", data, fmt)


@SETTINGS
@given(value=JSON_VALUES, fmt=FORMATS)
def test_arbitrary_json(value: object, fmt: str | None) -> None:
    parse_or_error("input.json", json.dumps(value).encode(), fmt)


@SETTINGS
@given(value=JSON_VALUES, fmt=FORMATS, prefix=st.sampled_from(["", "[task] INFO - ", "x"]))
def test_arbitrary_perfherder_lines(value: object, fmt: str | None, prefix: str) -> None:
    parse_or_error("log", f"start\n{prefix}PERFHERDER_DATA: {json.dumps(value)}\n".encode(), fmt)


def _mutate(data: bytes, kind: int, position: int, payload: bytes) -> bytes:
    at = position % (len(data) + 1)
    if kind == 0:
        return data[:at]
    if kind == 1:
        return data[:at] + data[at + len(payload) :]
    if kind == 2:
        return data[:at] + payload + data[at:]
    return data[:at] + payload[:1] + data[at + 1 :]


@SETTINGS
@given(
    name=st.sampled_from(FIXTURE_NAMES),
    kind=st.integers(0, 3),
    position=st.integers(0, 10_000),
    payload=st.binary(min_size=1, max_size=8) | st.sampled_from([b"-", b"NaN", b"null", b"[", b"}", b'"', b"1e999"]),
    fmt=FORMATS,
)
def test_mutated_fixture_bytes(name: str, kind: int, position: int, payload: bytes, fmt: str | None) -> None:
    parse_or_error(name, _mutate((FIXTURES / name).read_bytes(), kind, position, payload), fmt)


def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [prefix]
    if isinstance(value, dict):
        for key, child in value.items():
            out.extend(_paths(child, (*prefix, key)))
    elif isinstance(value, list):
        for index, child in enumerate(value):
            out.extend(_paths(child, (*prefix, index)))
    return out


def _replace(document: Any, path: tuple[Any, ...], new: object) -> Any:
    if not path:
        return new
    parent = document
    for step in path[:-1]:
        parent = parent[step]
    parent[path[-1]] = new
    return document


@SETTINGS
@given(name=st.sampled_from(JSON_FIXTURES), pick=st.integers(0, 10_000), new=JSON_VALUES, detect=st.booleans())
def test_fixture_with_one_value_replaced(name: str, pick: int, new: object, detect: bool) -> None:
    text = (FIXTURES / name).read_text()
    document = json.loads(text)
    paths = _paths(document)
    changed = _replace(document, paths[pick % len(paths)], new)
    fmt = None if detect else parse("fixture", text.encode()).format
    parse_or_error(name, json.dumps(changed).encode(), fmt)


@SETTINGS
@given(
    path=st.sampled_from(sorted(read_tree(CRITERION_ROOT))),
    new=JSON_VALUES | st.binary(max_size=20),
)
def test_criterion_tree_with_one_file_replaced(path: str, new: object) -> None:
    files = read_tree(CRITERION_ROOT)
    files[path] = new if isinstance(new, bytes) else json.dumps(new).encode()
    try:
        parse_tree("target/criterion", files)
    except FormatError as err:
        error = err
    else:
        return
    assert (error.source, bool(error.where)) == ("target/criterion", True)


# --- valid generated documents parse back to what was written ---------------------------------------

FINITE = st.floats(min_value=0, max_value=1e12, allow_nan=False, allow_infinity=False)
# Any text a database can store: no lone surrogates, no NUL (the model refuses both).
STORABLE = st.characters(codec="utf-8", exclude_categories=["Cs"], exclude_characters="\x00")
NAMES = st.text(STORABLE, min_size=1, max_size=12)
UNITS = st.sampled_from(["ms", "s", "ns", "bytes", "ops/s", "count", "", "frames/s"])
METRICS = st.sampled_from(["time", "max-rss", "instructions", "throughput"])


@st.composite
def perfsheriff_documents(draw: st.DrawFn) -> dict[str, Any]:
    keys = draw(st.lists(st.tuples(NAMES, METRICS), min_size=1, max_size=6, unique=True))
    results = []
    for name, metric in keys:
        entry: dict[str, Any] = {"name": name, "unit": draw(UNITS), "samples": draw(st.lists(FINITE, min_size=1))}
        entry["metric"] = metric
        if draw(st.booleans()):
            entry["direction"] = draw(st.sampled_from(["lower_is_better", "higher_is_better"]))
        if draw(st.booleans()):
            entry["suite"] = draw(NAMES)
        results.append(entry)
    context = draw(st.dictionaries(NAMES, st.text(STORABLE, max_size=10), max_size=3))
    return {"format": "perfsheriff", "version": 1, "results": results, "context": context}


@SETTINGS
@given(document=perfsheriff_documents())
def test_perfsheriff_documents_round_trip(document: dict[str, Any]) -> None:
    results = parse("r.json", json.dumps(document).encode())
    assert results.format == "perfsheriff"
    assert [(r.name, r.metric, r.unit, list(r.samples)) for r in results.results] == [
        (e["name"], e["metric"], e["unit"], e["samples"]) for e in document["results"]
    ]
    for result, entry in zip(results.results, document["results"], strict=True):
        if "direction" in entry:
            assert result.better.value == entry["direction"]
        assert result.suite == entry.get("suite", "")
    assert dict(results.context) == document["context"]


@SETTINGS
@given(
    document=st.dictionaries(
        NAMES,
        st.dictionaries(
            st.sampled_from(["latency", "throughput", "file-size", "instructions"]),
            st.fixed_dictionaries({"value": FINITE}),
            min_size=1,
        ),
        min_size=1,
        max_size=5,
    )
)
def test_bmf_documents_round_trip(document: dict[str, dict[str, dict[str, float]]]) -> None:
    results = parse("bmf.json", json.dumps(document).encode())
    assert results.format == "bmf"
    assert {(r.name, r.metric): r.samples for r in results.results} == {
        (name, slug): (measure["value"],) for name, measures in document.items() for slug, measure in measures.items()
    }


GO_NAMES = st.from_regex(r"Benchmark[A-Z][A-Za-z0-9_/=]{0,10}(-[1-9][0-9]?)?", fullmatch=True)
GO_VALUES = st.floats(min_value=0, max_value=1e9, allow_nan=False).map(lambda x: round(x, 3))


@SETTINGS
@given(
    lines=st.lists(st.tuples(GO_NAMES, st.integers(1, 10**9), GO_VALUES, GO_VALUES), min_size=1, max_size=12),
    header=st.booleans(),
)
def test_go_output_round_trips(lines: list[tuple[str, int, float, float]], header: bool) -> None:
    text = "goos: linux\ngoarch: amd64\npkg: example.com/m\n" if header else ""
    for name, iterations, ns, allocs in lines:
        text += f"{name}  \t{iterations}\t{ns} ns/op\t{allocs} B/op\n"
    text += "PASS\nok  \texample.com/m\t1.0s\n"
    results = parse("bench.txt", text.encode())
    assert results.format == "go"
    expected: dict[tuple[str, str], list[float]] = {}
    for name, _, ns, allocs in lines:
        expected.setdefault((name, "time"), []).append(ns)
        expected.setdefault((name, "alloc-bytes"), []).append(allocs)
    got = {(r.name, r.metric): list(r.samples) for r in results.results}
    assert got.keys() == expected.keys()
    for key, values in expected.items():
        assert all(math.isclose(a, b) for a, b in zip(got[key], values, strict=True))

"""An agent uploads its merged results in perfsheriff's JSON: every field must come back as it was."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from perfsheriff import formats
from perfsheriff.formats import perfsheriff as own_format
from perfsheriff.model import BenchmarkResult, Direction, ResultSet

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "formats"
CRITERION = FIXTURES / "criterion" / "target" / "criterion"

# Any text a database can store: no lone surrogates, no NUL (the model refuses both).
STORABLE = st.characters(codec="utf-8", exclude_categories=("Cs",), exclude_characters="\x00")
TEXT = st.text(STORABLE, min_size=1, max_size=12)
SAMPLES = st.lists(
    st.floats(min_value=0.0, max_value=1e300, allow_nan=False, allow_infinity=False), min_size=1, max_size=6
)


@st.composite
def result_sets(draw: st.DrawFn) -> ResultSet:
    keys = draw(st.lists(st.tuples(TEXT, TEXT), min_size=1, max_size=5, unique=True))
    results = tuple(
        BenchmarkResult(
            name=name,
            unit=draw(st.sampled_from(["ms", "ns", "s", "bytes", "ops/s", "", "widgets"])),
            samples=tuple(draw(SAMPLES)),
            metric=metric,
            direction=draw(st.sampled_from([None, *Direction])),
            suite=draw(st.text(STORABLE, max_size=8)),
        )
        for name, metric in keys
    )
    context = draw(st.dictionaries(TEXT, st.text(STORABLE, max_size=10), max_size=3))
    return ResultSet(draw(st.sampled_from(formats.FORMAT_NAMES)), results, tuple(context.items()))


def assert_same_results(parsed: ResultSet, original: ResultSet) -> None:
    assert parsed.format == "perfsheriff"
    assert parsed.results == original.results
    assert dict(parsed.context) == dict(original.context)


@settings(max_examples=300, deadline=None)
@given(result_sets())
def test_every_field_round_trips(original: ResultSet) -> None:
    assert_same_results(formats.parse("result.json", own_format.dump(original).encode()), original)


@pytest.mark.parametrize("name", sorted(p.name for p in FIXTURES.iterdir() if p.is_file()))
def test_results_of_every_tool_survive_the_conversion(name: str) -> None:
    original = formats.parse(name, (FIXTURES / name).read_bytes())
    assert_same_results(formats.parse("result.json", own_format.dump(original).encode()), original)


def test_criterion_trees_survive_the_conversion() -> None:
    files = {p.relative_to(CRITERION).as_posix(): p.read_bytes() for p in CRITERION.rglob("*") if p.is_file()}
    original = formats.parse_tree(str(CRITERION), files)
    assert_same_results(formats.parse("result.json", own_format.dump(original).encode()), original)


def test_samples_keep_every_bit() -> None:
    tricky = (0.1 + 0.2, 1e-300, 123456789.123456789, math.nextafter(1.0, 2.0))
    original = ResultSet("bmf", (BenchmarkResult("parse", "s", tricky),))
    (parsed,) = formats.parse("result.json", own_format.dump(original).encode()).results
    assert parsed.samples == tricky

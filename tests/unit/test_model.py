"""Domain values: validation, series identity, units and the sign of a regression."""

from __future__ import annotations

import math
from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from perfsheriff.errors import InputError
from perfsheriff.model import (
    BenchmarkResult,
    Configuration,
    Direction,
    Machine,
    Push,
    ResultSet,
    Revision,
    SeriesKey,
    check_samples,
    format_value,
    storable_text,
    unit_info,
)


def test_series_id_is_pinned() -> None:
    """Stored series are found by this hash: it must never change between versions."""
    key = SeriesKey("p", "main", "b", "time", "m", Configuration.parse(["a=1"]))
    assert key.id == "c5d536e395c1f325"


STORABLE = st.characters(exclude_categories=("Cs",), exclude_characters="\x00")  # what a configuration may hold


@given(st.dictionaries(st.text(alphabet="abcxyz_", min_size=1, max_size=5), st.text(STORABLE, max_size=5), max_size=6))
def test_series_id_ignores_configuration_order(items: dict[str, str]) -> None:
    forward = Configuration(tuple(items.items()))
    backward = Configuration(tuple(reversed(items.items())))
    assert SeriesKey("p", "main", "b", "time", "m", forward).id == SeriesKey("p", "main", "b", "time", "m", backward).id


def test_series_id_separates_every_field() -> None:
    base = ("p", "main", "b", "time", "m")
    ids = {SeriesKey(*base).id}
    for index in range(len(base)):
        changed = list(base)
        changed[index] += "x"
        ids.add(SeriesKey(*changed).id)
    ids.add(SeriesKey(*base, Configuration.of({"threads": "4"})).id)
    assert len(ids) == len(base) + 2


@pytest.mark.parametrize("text", ["novalue", "=1", " =x"])
def test_configuration_parse_names_the_bad_assignment(text: str) -> None:
    with pytest.raises(InputError, match="expected key=value"):
        Configuration.parse([text])


def test_configuration_rejects_duplicate_keys() -> None:
    with pytest.raises(InputError, match="unique"):
        Configuration.parse(["a=1", "a=2"])


def test_revision_checks_sha_and_timezone() -> None:
    when = datetime(2024, 1, 1, tzinfo=UTC)
    assert Revision("a" * 40, (), "A", "a@x", when, "m\nbody").subject == "m"
    with pytest.raises(InputError, match="40 lower-case hex"):
        Revision("A" * 40, (), "A", "a@x", when, "m")
    with pytest.raises(InputError, match="timezone"):
        Revision("a" * 40, (), "A", "a@x", datetime(2024, 1, 1), "m")


def test_push_ends_with_its_tip() -> None:
    with pytest.raises(InputError):
        Push("b" * 40, None, ("a" * 40,))


def test_machine_class_defaults_to_name() -> None:
    assert Machine("box").machine_class == "box"
    with pytest.raises(InputError):
        Machine(" ")


@pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf])
def test_samples_must_be_finite(value: float) -> None:
    with pytest.raises(InputError, match="finite"):
        check_samples([1.0, value], "ms")


def test_negative_values_only_where_the_unit_allows() -> None:
    with pytest.raises(InputError, match=">= 0"):
        check_samples([-1.0], "ns")
    assert check_samples([-1.0], "%") == (-1.0,)
    assert check_samples([-1.0], "furlongs") == (-1.0,)


def test_direction_comes_from_the_unit_unless_given() -> None:
    assert BenchmarkResult("x", "ms", (1.0,)).better is Direction.LOWER_IS_BETTER
    assert BenchmarkResult("x", "ops/s", (1.0,)).better is Direction.HIGHER_IS_BETTER
    assert BenchmarkResult("x", "ms", (1.0,), direction=Direction.HIGHER_IS_BETTER).better is Direction.HIGHER_IS_BETTER
    assert unit_info("Seconds").factor == 1.0


@given(st.floats(-10, 10, allow_nan=False).filter(lambda x: x != 0))
def test_regression_sign_is_opposite_for_the_two_directions(change: float) -> None:
    lower = Direction.LOWER_IS_BETTER.is_regression(change)
    higher = Direction.HIGHER_IS_BETTER.is_regression(change)
    assert lower != higher
    assert lower == (change > 0)


def test_result_set_refuses_empty_and_duplicates() -> None:
    with pytest.raises(InputError, match="no benchmark results"):
        ResultSet("x", ())
    one = BenchmarkResult("x", "ms", (1.0,))
    with pytest.raises(InputError, match="twice"):
        ResultSet("x", (one, one))


@pytest.mark.parametrize(
    ("value", "unit", "shown"),
    [
        (0.0123, "s", "12.3 ms"),
        (1500.0, "ns", "1.5 µs"),
        (2048.0, "bytes", "2 KiB"),
        (12.0, "ms", "12 ms"),
        (3.5, "ops/s", "3.5 ops/s"),
        (7.0, "", "7"),
    ],
)
def test_values_are_shown_with_a_readable_prefix(value: float, unit: str, shown: str) -> None:
    assert format_value(value, unit) == shown


@pytest.mark.parametrize("text", ["a\x00b", "\ud800", "x\udfffy"])
def test_text_no_database_can_store_is_refused_by_name(text: str) -> None:
    assert not storable_text(text)
    with pytest.raises(InputError, match="its name holds a NUL character or a lone surrogate"):
        BenchmarkResult(text, "ms", (1.0,))
    with pytest.raises(InputError, match="its suite holds"):
        BenchmarkResult("parse", "ms", (1.0,), suite=text)
    with pytest.raises(InputError, match="context holds"):
        ResultSet("perfsheriff", (BenchmarkResult("parse", "ms", (1.0,)),), (("host", text),))
    assert storable_text("ünïcode ✓ and tabs\t")


def test_names_and_configurations_are_bounded_alike_for_every_database() -> None:
    with pytest.raises(InputError, match="metric has 201 characters"):
        BenchmarkResult("w", "ms", (1.0,), metric="m" * 201)
    with pytest.raises(InputError, match="name has 501 characters"):
        BenchmarkResult("b" * 501, "ms", (1.0,))
    with pytest.raises(InputError, match="unit has 101 characters"):
        BenchmarkResult("w", "u" * 101, (1.0,))
    with pytest.raises(InputError, match="at most 2,000 bytes"):
        Configuration.of({f"k{i}": "v" * 20 for i in range(5000)})
    with pytest.raises(InputError, match="NUL character"):
        Configuration.of({"k": "a\x00"})
    with pytest.raises(InputError, match="at most 200 characters"):
        Machine("m" * 201)
    assert BenchmarkResult("b" * 500, "ms", (1.0,), metric="m" * 200).name == "b" * 500

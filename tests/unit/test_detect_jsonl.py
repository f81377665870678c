"""``detect --input FILE --jsonl`` on arbitrary lines: a result or one error per line, never an exception."""

from __future__ import annotations

import json

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from perfsheriff.cli.main import app
from perfsheriff.errors import InputError
from perfsheriff.service.analysis.detect_jsonl import detect_lines
from perfsheriff.stats.changepoints import DetectionSettings

texts = st.text(max_size=8) | st.sampled_from(["[/]", "[bold]x", "\ud800", "caf\u00e9"])
scalars = st.none() | st.booleans() | st.integers() | st.floats() | texts
json_values = st.recursive(
    scalars, lambda inner: st.lists(inner, max_size=5) | st.dictionaries(st.text(max_size=6), inner, max_size=4)
)
numbers = st.integers(-(10**120), 10**120) | st.floats() | st.sampled_from([10**400, -(10**309), 2**1100])
entries = st.none() | numbers | st.lists(numbers | json_values, max_size=4) | json_values
series_like = st.fixed_dictionaries(
    {},
    optional={
        "id": texts | st.integers() | json_values,
        "values": st.lists(entries, max_size=30) | json_values,
        "timestamps": st.lists(numbers | json_values, max_size=30) | json_values,
        "revisions": st.lists(st.text(max_size=3) | json_values, max_size=30) | json_values,
        "meta": st.fixed_dictionaries({}, optional={"unit": json_values, "lower_is_better": json_values}) | json_values,
    },
)
well_formed = st.fixed_dictionaries(
    {
        "id": texts,
        "values": st.lists(st.floats(0, 1e6) | st.none() | st.lists(st.floats(0, 1e6), max_size=3), max_size=30),
    }
)
lines = (well_formed | series_like).map(json.dumps) | json_values.map(json.dumps) | st.text(max_size=40)


@given(line=lines)
@settings(max_examples=400, deadline=None)
def test_any_line_gives_a_result_or_an_error_naming_the_line(line: str) -> None:
    for item in detect_lines([line], DetectionSettings()):
        if isinstance(item, InputError):
            assert item.where is not None
            assert item.where.startswith("line 1")
        else:
            json.dumps(item, allow_nan=False)  # the output line is valid JSON


@given(batch=st.lists(lines, min_size=1, max_size=4), as_jsonl=st.booleans())
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_the_command_never_shows_a_traceback(batch: list[str], as_jsonl: bool) -> None:
    text = "\n".join(line.replace("\n", " ").replace("\r", " ") for line in batch) + "\n"
    args = ["detect", "--input", "-", *(["--jsonl"] if as_jsonl else [])]
    result = CliRunner().invoke(app, args, input=text.encode("utf-8", "replace"))
    assert result.exit_code in (0, 1), result.exception
    assert result.exception is None or isinstance(result.exception, SystemExit)
    if as_jsonl:
        for out in result.stdout.splitlines():
            json.loads(out)

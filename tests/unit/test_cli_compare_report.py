"""The Markdown of `perfsheriff compare --markdown`: names cannot break the table or ping anyone."""

from __future__ import annotations

import re

from hypothesis import given
from hypothesis import strategies as st

from perfsheriff.cli.compare_report import escape, interval, percent

SPECIAL = set("\\`*_{}[]<>()#+!|~@-")


@given(text=st.text(max_size=60))
def test_escaped_names_hold_no_live_markdown(text: str) -> None:
    escaped = escape(text)
    assert "\n" not in escaped
    assert "\r" not in escaped
    live = re.sub(r"\\.", "", escaped)  # what is left once every escape pair is consumed
    assert not (set(live) & SPECIAL)


def test_a_pipe_and_backticks_are_escaped() -> None:
    assert escape("parse|`json`") == r"parse\|\`json\`"
    assert escape("@team\nnext") == r"\@team next"


def test_unbounded_intervals_and_missing_changes_show_a_dash() -> None:
    assert interval(0.0, float("inf")) == "-"
    assert interval(None, None) == "-"
    assert interval(1.01, 1.05) == "+1.0%..+5.0%"
    assert percent(None) == "-"
    assert percent(-0.2) == "-20.0%"

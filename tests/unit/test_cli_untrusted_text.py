"""Text from other people (server messages, file names, subjects) is printed as text by the CLI."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from perfsheriff.cli import remote
from perfsheriff.cli.context import plain, unmarked

HOSTILE = "\x1b]0;owned\x07\x1b[2J[red]alarm[/] \ud800 done"


def test_the_agents_log_line_shows_markup_and_escapes_as_text(capsys: pytest.CaptureFixture[str]) -> None:
    remote._log(f"server unavailable ({HOSTILE})")
    err = capsys.readouterr().err
    assert "\x1b" not in err
    assert "\x07" not in err
    assert "[red]alarm[/]" in err
    assert "\\ud800" in err


def test_an_upload_error_names_the_file_as_text(capsys: pytest.CaptureFixture[str]) -> None:
    remote._file_error(remote.Path("results [/].json"), "bad\x1b[31m value")
    err = capsys.readouterr().err
    assert "results [/].json: bad" in err
    assert "\x1b" not in err


@given(st.text())
def test_plain_and_unmarked_never_pass_control_characters(text: str) -> None:
    for shown in (plain(text), unmarked(text)):
        assert not any(ord(c) < 32 and c not in "\t\n" for c in shown)
        assert not any(0x7F <= ord(c) <= 0x9F for c in shown)
        shown.encode("utf-8")  # printable on a UTF-8 terminal: no lone surrogate left

"""Composing the author's message from the evidence."""

from __future__ import annotations

import shlex

import pytest

from perfsheriff.errors import InputError
from perfsheriff.notify import Change, CulpritCommit, Evidence, compose, reproduce_commands

GOOD, BAD, SHA, PARENT = "a" * 40, "d" * 40, "c" * 40, "b" * 40


def evidence(*changes: Change, subject: str = "Speed up the parser", email: str = "ada@example.org") -> Evidence:
    culprit = CulpritCommit(SHA, "Ada Lovelace", email, subject, 0.97, parent=PARENT)
    return Evidence(
        7, "ghc", "master", culprit, GOOD, BAD, changes or (Change("T9872", "x86", "", "regression", 0.1, 0.95),)
    )


def test_the_message_names_the_commit_the_benchmarks_the_graph_and_the_commands() -> None:
    message = compose(
        evidence(
            Change("small", "x86", "", "regression", 0.02, 0.8),
            Change("speedup", "arm", "threads=4", "improvement", -0.3, 0.99, series_id="5eed"),
            Change("T9872", "x86", "backend=llvm", "regression", 0.25, 0.99, series_id="3fa2"),
        ),
        base_url="https://perf.example/",
    )
    assert message.subject == "[perfsheriff] ghc master: cccccccccccc regressed T9872 by +25.0%"
    assert message.recipient == "ada@example.org"
    rows = [line for line in message.markdown.splitlines() if line.startswith("| ") and "benchmark" not in line]
    assert rows == [
        "| [T9872](https://perf.example/series/3fa2) | x86 | backend=llvm | +25.0% regression | 99% |",
        "| small | x86 | - | +2.0% regression | 80% |",
        "| [speedup](https://perf.example/series/5eed) | arm | threads=4 | -30.0% improvement | 99% |",
    ]
    assert "[Graphs and the full summary #7](https://perf.example/summaries/7)" in message.markdown
    assert "(confidence 97%)" in message.text
    assert f"perfsheriff compare --base {PARENT} --head {SHA}" in message.text
    assert message.fields["graph_url"] == "https://perf.example/summaries/7"
    assert [c["benchmark"] for c in message.fields["changes"]] == ["T9872", "small", "speedup"]


def test_commit_subjects_cannot_inject_markdown_or_headers() -> None:
    subject = "fix | [click](http://evil) @everyone"
    change = Change("parse\r\nBcc: eve@example.org", "x86", "", "regression", 0.1, 0.9)
    message = compose(evidence(change, subject=subject), base_url="http://p")
    assert "fix \\| \\[click\\]\\(http://evil\\) \\@everyone" in message.markdown
    assert message.subject == "[perfsheriff] ghc master: cccccccccccc regressed parse Bcc: eve@example.org by +10.0%"


@pytest.mark.parametrize(
    "email", ["", "   ", "not-an-address", "1234+ada@users.noreply.github.com", "ada@noreply.github.com"]
)
def test_unreachable_author_addresses_give_no_recipient(email: str) -> None:
    assert compose(evidence(email=email), base_url="http://p").recipient is None


def test_reproduce_commands_are_shell_ready_and_follow_the_benchmark_configuration() -> None:
    commands = reproduce_commands(
        evidence(
            Change("parse file", "x86", "", "regression", 0.2, 0.9),
            Change("parse file", "arm", "", "regression", 0.1, 0.9),  # the same benchmark elsewhere: one command
            Change("throughput", "x86", "", "regression", -0.2, 0.9, metric="ops", configured_as="suite"),
        )
    )
    assert commands[0] == f"perfsheriff compare --base {PARENT} --head {SHA}"
    assert [shlex.split(c)[:6] for c in commands[1:]] == [["perfsheriff", "bisect", "--good", GOOD, "--bad", BAD]] * 2
    assert [shlex.split(c)[6:] for c in commands[1:]] == [
        ["--benchmark", "parse file"],
        ["--benchmark", "suite", "--result", "throughput", "--metric", "ops", "--higher-is-better"],
    ]


def test_long_lists_are_cut_with_a_count() -> None:
    changes = tuple(Change(f"b{i:02d}", "x86", "", "regression", 0.01 * (i + 1), 0.9) for i in range(25))
    message = compose(evidence(*changes), base_url="http://p", max_rows=20)
    assert "… and 5 more." in message.markdown
    assert "... and 5 more." in message.text
    assert len(message.fields["changes"]) == 25


@pytest.mark.parametrize(
    "make",
    [
        lambda: Change("", "x86", "", "regression", 0.1, 0.9),
        lambda: Change("b", "x86", "", "slower", 0.1, 0.9),
        lambda: Change("b", "x86", "", "regression", float("inf"), 0.9),
        lambda: Change("b", "x86", "", "regression", 0.1, 2.0),
        lambda: CulpritCommit("abc", "a", "a@b", "s", 0.9),
        lambda: CulpritCommit(SHA, "a", "a@b", "s", 0.9, parent="HEAD~1"),
        lambda: Evidence(1, "p", "main", CulpritCommit(SHA, "a", "a@b", "s", 0.9), GOOD, BAD, ()),
        lambda: compose(evidence(), base_url="perf.example"),
    ],
)
def test_bad_evidence(make: object) -> None:
    with pytest.raises(InputError):
        make()  # type: ignore[operator]


@pytest.mark.parametrize(
    "name",
    [
        "parse\n```\n![t](https://evil.example/t.png) @everyone [click](https://evil.example)\n```",
        "parse ```` ![t](https://evil.example/t.png)",
        "parse\r\n\r\n# heading @everyone",
    ],
)
def test_a_benchmark_name_cannot_break_out_of_the_reproduce_block(name: str) -> None:
    hostile = evidence(Change(name, "x86", "", "regression", 0.1, 0.9))
    commands = reproduce_commands(hostile)
    lines = compose(hostile, base_url="https://p").markdown.splitlines()
    opening = next(i for i, line in enumerate(lines) if line.startswith("```") and line.endswith("console"))
    fence = lines[opening].removesuffix("console")
    closing = lines.index(fence, opening + 1)
    assert lines[opening + 1 : closing] == list(commands)  # one line each, all inside the block
    assert lines[closing + 1 :] == []
    outside = "\n".join(lines[:opening])
    assert "![t](" not in outside
    assert "[click](" not in outside
    assert "\n# heading" not in outside


def test_a_name_with_a_newline_gives_a_shell_command_of_the_same_name() -> None:
    (_, bisect) = reproduce_commands(evidence(Change("a\nb'c", "x86", "", "regression", 0.1, 0.9)))
    assert bisect.endswith("--benchmark $'a\\nb\\'c'")


def test_the_branch_is_a_code_span_that_backticks_cannot_close() -> None:
    culprit = CulpritCommit(SHA, "Ada", "ada@example.org", "s", 0.9, parent=PARENT)
    change = Change("T1", "x86", "", "regression", 0.1, 0.9)
    message = compose(Evidence(7, "ghc", "a`b ![x](y)", culprit, GOOD, BAD, (change,)), base_url="https://p")
    assert "on ``a`b ![x](y)``:" in message.markdown

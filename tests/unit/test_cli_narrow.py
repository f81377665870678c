"""Tables read whole in a narrow terminal or a CI log: a list of ``column: value`` lines instead of cut cells."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest
from rich.console import Console
from rich.table import Table

from perfsheriff import wire
from perfsheriff.bisect import ProbeVerdict
from perfsheriff.bisect.protocol import BisectOutcome, OutcomeKind, ProbeRecord
from perfsheriff.cli import analysis, context, data, server, tracking
from perfsheriff.discovery import Discovery, Proposal
from perfsheriff.model import Configuration, Machine, Revision
from perfsheriff.roles import Role
from perfsheriff.service.access.tokens import TokenInfo
from perfsheriff.service.analysis.compare import RevisionComparison, SeriesComparison
from perfsheriff.service.intake.ingest import Ingested, Target
from perfsheriff.service.tracking.bisection import BisectReport
from perfsheriff.service.views.series import RevisionPoint, SeriesDetail, SeriesRow
from perfsheriff.stats.compare import Comparison, ComparisonVerdict


def alerts_table() -> Table:
    table = Table(title="2 alerts")
    for column in ("id", "kind", "benchmark", "suspect range", "status"):
        table.add_column(column)
    table.add_row("1", "[red]regression[/]", "parse_large_documents", "e3ed3e4922..5ef1ef2dbf (6 commits)", "confirmed")
    table.add_row("2", "[green]improvement[/]", "render", "2babc5b083..60d80dc53f (4 commits)", "")
    return table


@pytest.mark.parametrize("width", [200, 60])
def test_every_fact_is_printed_whole_at_any_width(monkeypatch: pytest.MonkeyPatch, width: int) -> None:
    screen = Console(width=width, record=True, color_system=None)
    monkeypatch.setattr(context, "console", screen)
    context.print_table(alerts_table())
    text = screen.export_text()
    for fact in ("parse_large_documents", "regression", "improvement", "e3ed3e4922..5ef1ef2dbf (6 commits)"):
        assert fact in text
    assert "…" not in text
    assert max(len(line) for line in text.splitlines()) <= width


def test_a_narrow_terminal_gets_one_block_per_row_and_skips_empty_cells(monkeypatch: pytest.MonkeyPatch) -> None:
    screen = Console(width=60, record=True, color_system=None)
    monkeypatch.setattr(context, "console", screen)
    context.print_table(alerts_table())
    lines = screen.export_text().splitlines()
    assert lines[:3] == ["2 alerts", "- id 1", "    kind: regression"]
    assert "    status: confirmed" in lines
    assert lines[-1] == "    suspect range: 2babc5b083..60d80dc53f (4 commits)"  # row 2 has no status


# Each command's table, printed from realistic rows: values long enough that a squeezed table would cut them;
# each case returns the values that must be printed whole.
SHA = "e3ed3e4922b1c0ffee5ef1ef2dbf60d80dc53f00"
NAME = "parse_large_documents_with_unicode"
SUBJECT = "Parse documents in one pass instead of two"
WHEN = datetime(2026, 12, 7, 9, 30, tzinfo=UTC)


def series_row() -> SeriesRow:
    return SeriesRow(
        "1f8450bc726be1bd", "textkit", "main", NAME, "parsing", "time", "ms", "lower_is_better", "ci-box", "", 20
    )


def ingest_table() -> tuple[str, ...]:
    machine, configuration = Machine("ci-box"), Configuration.parse([])
    target = Target("textkit", 1, "main", 1, SHA, 1, 7, machine, 1, configuration, 1)
    source = "results/criterion/parse_large_documents.json"
    data._print_ingested(target, [Ingested(source, 21, "criterion", 4, 40, False)])
    return (source, "run 21")


def series_table() -> tuple[str, ...]:
    data.print_series_table([series_row()])
    return (NAME, "1f8450bc726be1bd")


def show_table() -> tuple[str, ...]:
    point = RevisionPoint(SHA, 7, "Ada Lovelace-Byron", SUBJECT, 5, 1, 102.0, 1.0, 100.0, 104.0, (100.0,) * 5)
    data.print_series_detail(SeriesDetail(series_row(), [point]))
    return (SUBJECT, "Ada Lovelace-Byron", SHA[:10])


def compare_table() -> tuple[str, ...]:
    comparison = Comparison(
        ComparisonVerdict.INCONCLUSIVE, 5, 5, 104.0, 103.0, 0.99, 0.962, 1.019, -0.01, runs_needed=30
    )
    rows = [SeriesComparison(series_row(), comparison)]
    local = RevisionComparison("5eee56b6f3" + "0" * 30, "100d716dab" + "0" * 30, rows)
    analysis._print_comparison(wire.Comparison.model_validate(local.as_json()))  # as `compare` shows it
    return (NAME, "inconclusive (~30 more runs)")


def init_table() -> tuple[str, ...]:
    proposal = Proposal(NAME, "pytest-benchmark", "pytest", "pytest-benchmark", "10m", ("benchmarks/test_parse.py",))
    tracking._explain(Discovery(Path("project"), (proposal,), scanned=12))
    return (NAME, "benchmarks/test_parse.py")


def probes_table() -> tuple[str, ...]:
    probe = ProbeRecord(SHA, ProbeVerdict.INTERMEDIATE, 12, 0.97, "level between good and bad: a second step")
    outcome = BisectOutcome(OutcomeKind.CULPRIT, (SHA,), 0.97, 24, (probe,), "found")
    culprit = Revision(SHA, (), "Ada", "ada@example.org", WHEN, SUBJECT)
    tracking.print_bisection(BisectReport(outcome, [culprit], 6, "1f8450bc726be1bd"))
    return ("level between good and bad: a second step",)


def tokens_table() -> tuple[str, ...]:
    token = TokenInfo(1, "ci runner on the benchmark box", Role.AGENT, "ci-box", WHEN, WHEN, None)
    server.print_tokens([token])
    return ("ci runner on the benchmark box",)


@pytest.mark.parametrize("width", [80, 60])
@pytest.mark.parametrize(
    "print_rows",
    [ingest_table, series_table, show_table, compare_table, init_table, probes_table, tokens_table],
    ids=lambda f: f.__name__,
)
def test_each_commands_table_is_printed_whole(
    monkeypatch: pytest.MonkeyPatch, print_rows: Callable[[], tuple[str, ...]], width: int
) -> None:
    screen = Console(width=width, record=True, color_system=None)
    for module in (context, data, analysis, tracking, server):
        monkeypatch.setattr(module, "console", screen)
    facts = print_rows()
    text = screen.export_text()
    assert [fact for fact in facts if fact not in text] == []
    assert "…" not in text
    assert max(len(line) for line in text.splitlines()) <= width

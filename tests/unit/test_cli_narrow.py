"""Tables read whole in a narrow terminal or a CI log: a list of ``column: value`` lines instead of cut cells."""

from __future__ import annotations

import pytest
from rich.console import Console
from rich.table import Table

from perfsheriff.cli import context


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

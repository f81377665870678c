"""Every example document in docs/formats.md parses as the format it illustrates."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from perfsheriff.formats import parse

DOC = Path(__file__).resolve().parents[3] / "docs" / "formats.md"
EXAMPLES = re.findall(r"```(json|text)\n(.*?)```", DOC.read_text(), flags=re.DOTALL)


def test_the_page_has_examples() -> None:
    assert len(EXAMPLES) >= 3


@pytest.mark.parametrize(("kind", "example"), EXAMPLES)
def test_doc_example_parses(kind: str, example: str) -> None:
    results = parse("docs/formats.md", example.encode())
    assert results.results
    assert results.format in ({"perfsheriff", "bmf"} if kind == "json" else {"go"})

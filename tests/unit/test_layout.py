"""The layering that import-linter cannot see: services hold no SQL of their own.

``pyproject.toml`` forbids ``perfsheriff.service`` the statement-building submodules of SQLAlchemy, but a
module can build a statement through the top-level package (``sa.select``) or through a table of
``perfsheriff.store.schema`` (``t.jobs.update()``). This test reads each service module's syntax tree and
allows from SQLAlchemy only the names a signature needs (an engine, a connection, a row).
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

SERVICE = Path(__file__).resolve().parents[2] / "src" / "perfsheriff" / "service"
#: What a service may name from SQLAlchemy: types of its arguments and results, and the error a unique index
#: raises (an upload that raced its own retry), nothing that builds SQL.
TYPES = {"Connection", "Engine", "Row", "RowMapping", "IntegrityError"}
STATEMENTS = {"select", "insert", "update", "delete", "text"}


def _problems(source: str) -> list[str]:
    """Each use of SQL in a module's source: a statement, a SQL expression, or a table of the schema."""
    tree = ast.parse(source)
    modules: set[str] = set()  # local names bound to sqlalchemy or one of its submodules
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] == "sqlalchemy":
                    modules.add(alias.asname or alias.name.split(".")[0])
                if alias.name == "perfsheriff.store.schema":
                    found.append(f"line {node.lineno}: imports the tables (perfsheriff.store.schema)")
        elif isinstance(node, ast.ImportFrom) and node.module:
            root = node.module.split(".")[0]
            for alias in node.names:
                if root == "sqlalchemy" and alias.name not in TYPES:
                    found.append(f"line {node.lineno}: imports {alias.name} from {node.module}")
                if node.module == "perfsheriff.store.schema" or (
                    node.module == "perfsheriff.store" and alias.name == "schema"
                ):
                    found.append(f"line {node.lineno}: imports the tables (perfsheriff.store.schema)")
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id in modules:
            if node.attr not in TYPES:
                found.append(f"line {node.lineno}: uses {node.value.id}.{node.attr}")
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr in STATEMENTS:
            owner = node.func.value
            if isinstance(owner, ast.Attribute) and isinstance(owner.value, ast.Name) and owner.value.id == "t":
                found.append(f"line {node.lineno}: calls {owner.attr}.{node.func.attr}() on a table")
    return found


@pytest.mark.parametrize("path", sorted(SERVICE.rglob("*.py")), ids=lambda p: str(p.relative_to(SERVICE)))
def test_services_hold_no_sql(path: Path) -> None:
    assert _problems(path.read_text()) == []


@pytest.mark.parametrize(
    "source",
    [
        "import sqlalchemy as sa\nq = sa.select(1)",
        "import sqlalchemy as sa\nq = sa.text('select 1')",
        "from sqlalchemy import select\n",
        "from sqlalchemy.sql import delete\n",
        "from perfsheriff.store import schema as t\n",
        "from perfsheriff.store.schema import jobs\n",
        "import sqlalchemy as sa\nn = sa.func.count()",
    ],
)
def test_the_check_sees_sql(source: str) -> None:
    assert _problems(source)


def test_the_check_allows_types() -> None:
    source = "import sqlalchemy as sa\nfrom sqlalchemy.engine import Engine\ndef f(c: sa.Connection, e: Engine): ..."
    assert _problems(source) == []


# -- module length ------------------------------------------------------------------------------------------------

PACKAGE = SERVICE.parent
#: A module may pass this many lines only with a written reason at its top.
MAX_LINES = 400
_REASON = re.compile(r"Why one module of about ([\d,]+) lines:|Past (\d+) lines on purpose:")


def _length_problem(source: str, lines: int) -> str | None:
    """What is wrong with a module's length: too long without a reason, or a reason whose figure is stale."""
    if lines <= MAX_LINES:
        return None
    found = _REASON.search(ast.get_docstring(ast.parse(source)) or "")
    if found is None:
        return f"{lines} lines and no 'Why one module of about N lines:' paragraph at its top"
    said = int((found.group(1) or found.group(2)).replace(",", ""))
    if found.group(1) and abs(said - lines) > 0.2 * lines:
        return f"{lines} lines, but its reason says about {said}: the reason may no longer hold"
    return None


@pytest.mark.parametrize("path", sorted(PACKAGE.rglob("*.py")), ids=lambda p: str(p.relative_to(PACKAGE)))
def test_a_long_module_says_why(path: Path) -> None:
    source = path.read_text()
    assert _length_problem(source, len(source.splitlines())) is None


def test_the_length_check_sees_a_long_module_without_reason() -> None:
    assert _length_problem('"""A module."""\n', 401) is not None
    assert _length_problem('"""A module.\n\nWhy one module of about 420 lines: one vocabulary."""\n', 401) is None
    assert _length_problem('"""A module.\n\nWhy one module of about 420 lines: one vocabulary."""\n', 700) is not None
    assert _length_problem('"""A module."""\n', 400) is None

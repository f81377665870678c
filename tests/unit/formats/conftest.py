"""Shared access to the format fixtures under ``tests/fixtures/formats``."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "formats"
CRITERION_ROOT = FIXTURES / "criterion" / "target" / "criterion"


def read_tree(root: Path) -> dict[str, bytes]:
    """A directory as ``parse_tree`` receives it: relative POSIX paths to bytes."""
    return {path.relative_to(root).as_posix(): path.read_bytes() for path in sorted(root.rglob("*")) if path.is_file()}


@pytest.fixture
def fixture() -> Callable[[str], bytes]:
    return lambda name: (FIXTURES / name).read_bytes()

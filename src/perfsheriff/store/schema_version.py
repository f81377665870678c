"""The schema version this code expects: the newest migration, read from the migration files.

Apart from ``database.py`` so that a reader that does not load SQLAlchemy (``sqlite_reads.py``) checks the
same version, the same way.
"""

from __future__ import annotations

import ast
import functools
import re
from pathlib import Path

MIGRATIONS = Path(__file__).with_name("migrations")
# `revision = "0008"` and `down_revision = "0007"` at the top of a migration, as script.py.mako writes them.
_REVISION_LINE = re.compile(r"^(down_revision|revision)\s*(?::[^=]*)?=\s*(.+?)\s*$", re.MULTILINE)


@functools.cache
def head_revision() -> str:
    """The newest migration's revision id, read from the migration files' headers once per process.

    Alembic's ScriptDirectory would import every migration module; reading the two assignments of each
    file gives the same answer (tests/integration/test_store.py compares them) at a fraction of the cost.
    """
    revisions: set[str] = set()
    revised: set[str] = set()
    for path in (MIGRATIONS / "versions").glob("*.py"):
        for name, value in _REVISION_LINE.findall(path.read_text(encoding="utf-8")):
            parsed = ast.literal_eval(value)
            ids = {parsed} if isinstance(parsed, str) else set(parsed or ())
            (revisions if name == "revision" else revised).update(ids)
    heads = revisions - revised
    if len(heads) != 1:
        raise RuntimeError(f"the migrations have {len(heads)} heads, expected one: {sorted(heads)}")
    return heads.pop()

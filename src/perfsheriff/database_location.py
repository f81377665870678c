"""Where the database is, read without building the settings.

:class:`perfsheriff.config.Settings` reads and checks every setting with pydantic-settings, whose import alone
costs a command about 60 ms; ``perfsheriff series`` and ``show`` need one setting. :func:`database_url` resolves
it as ``Settings`` does (an explicit value such as ``--db``, else ``PERFSHERIFF_DATABASE_URL``, its name in any
case as pydantic-settings reads it, else the SQLite file under the current folder) and gives up, returning
None, when the environment sets another setting: the caller then builds ``Settings``, which checks that one
too, so a bad value is refused exactly as before. ``tests/unit/test_config.py`` checks that both agree.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

PREFIX = "PERFSHERIFF_"
#: The fields of ``Settings`` (tests/unit/test_config.py checks this list against them).
SETTINGS = frozenset(
    {"database_url", "max_result_bytes", "max_request_bytes", "public_read", "run_budgets", "api_docs"}
)


def default_url(cwd: Path) -> str:
    """The embedded default: an SQLite file under ``cwd/.perfsheriff``."""
    return f"sqlite:///{(cwd / '.perfsheriff' / 'perfsheriff.db').resolve()}"


def database_url(given: str | None, cwd: Path, environ: Mapping[str, str]) -> str | None:
    """The URL ``Settings(database_url=given).resolved_database_url(cwd)`` gives in ``environ``; None when only
    ``Settings`` can say: the environment sets another setting, or this one under two spellings."""
    found = [(key[len(PREFIX) :].lower(), value) for key, value in environ.items() if key.upper().startswith(PREFIX)]
    named = [(name, value) for name, value in found if name in SETTINGS]
    if any(name != "database_url" for name, _ in named) or len(named) > 1:
        return None
    url = given if given is not None else (named[0][1] if named else None)
    return url or default_url(cwd)

"""Checks shared by the specs and the reader: a located error, a value shown as written, durations."""

from __future__ import annotations

import json
import re

from perfsheriff.errors import ConfigError

_DURATION = re.compile(
    r"(?:(?P<h>\d+(?:\.\d+)?)h)?\s*(?:(?P<m>\d+(?:\.\d+)?)m)?\s*(?:(?P<s>\d+(?:\.\d+)?)s)?", re.IGNORECASE
)


def check(condition: bool, key: str, message: str) -> None:
    """Raise a ConfigError about ``key`` (relative to the value being built) unless ``condition`` holds."""
    if not condition:
        raise ConfigError(message, where=key)


def show(value: object) -> str:
    """Render a TOML value in an error message the way the user wrote it (strings in double quotes)."""
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict):
        return "a table"
    if isinstance(value, list):
        return "an array"
    return str(value)


def parse_duration(value: object) -> float:
    """Seconds from a duration string (``"300s"``, ``"5m"``, ``"1h30m"``) or a number of seconds.

    Units are required in strings: a bare ``"300"`` is ambiguous in a file that
    people read, while ``timeout = 300`` (a TOML number) is plainly seconds.
    """
    expected = 'a duration like "300s" or "5m"'
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise ConfigError(f"expected {expected}, got {show(value)}")
    if isinstance(value, str):
        match = _DURATION.fullmatch(value.strip())
        if not value.strip() or match is None or not any(match.groupdict().values()):
            raise ConfigError(f"expected {expected}, got {show(value)}")
        hours, minutes, seconds = (float(match[part] or 0) for part in ("h", "m", "s"))
        total = hours * 3600 + minutes * 60 + seconds
    else:
        total = float(value)
    if not total > 0:
        raise ConfigError(f"expected a duration greater than zero, got {show(value)}")
    return total

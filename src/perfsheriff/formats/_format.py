"""The registry entry every format module exposes, and the probe used to detect formats.

Detection asks each format in turn whether a file looks like its own;
:class:`Probe` decodes the bytes (text, then JSON) at most once for all of them
and never raises, so a format's ``sniff`` is a few dictionary look-ups.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from perfsheriff.errors import FormatError
from perfsheriff.formats._json import Node, load
from perfsheriff.formats._text import decode_text
from perfsheriff.model import ResultSet


class Probe:
    """A file under detection: its name (a hint only), text and JSON, each decoded lazily."""

    def __init__(self, source: str, data: bytes) -> None:
        self.source = source.replace("\\", "/")
        self.data = data

    @functools.cached_property
    def text(self) -> str | None:
        try:
            return decode_text(self.data)
        except FormatError:
            return None

    @functools.cached_property
    def json(self) -> Node | None:
        if self.text is None or not self.text.lstrip().startswith(("{", "[")):
            return None
        try:
            return load(self.data)
        except FormatError:
            return None

    def json_object(self) -> dict[str, object] | None:
        """The top-level JSON object, or ``None`` when the file is not one."""
        node = self.json
        if node is None or not isinstance(node.value, dict):
            return None
        return node.value


def first_element(value: object) -> object:
    """The first item of a JSON list, or ``None`` (for sniffing a list's shape)."""
    if isinstance(value, list) and value:
        return value[0]
    return None


@dataclass(frozen=True, slots=True)
class Format:
    """One result format: how to recognise it and how to parse it.

    ``parse`` reads one file. ``parse_tree`` is set for formats whose results
    are spread over a directory (Criterion); it receives relative paths.
    """

    name: str
    summary: str
    sniff: Callable[[Probe], bool]
    parse: Callable[[bytes], ResultSet] | None = None
    parse_tree: Callable[[Mapping[str, bytes]], ResultSet] | None = None

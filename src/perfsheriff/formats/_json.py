"""JSON decoding and typed, path-aware access for the JSON result formats.

Parsers walk documents through :class:`Node`, which knows its own JSON path
(``benchmarks[3].stats.data``) so that every error names the exact place and
what was expected there. This keeps the "where" of a :class:`FormatError`
correct without each parser building paths by hand.

``NaN``, ``Infinity`` and ``-Infinity`` are not JSON, yet Python's ``json``
module accepts them. They decode to the :data:`NON_FINITE` marker, so reading
one as a number fails with its path, while formats that give them a meaning
(asv writes ``NaN`` for a skipped benchmark) can test for it.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from typing import NoReturn

from perfsheriff.errors import FormatError
from perfsheriff.formats._text import decode_text


class _NonFinite:
    """The decoded form of the ``NaN`` / ``Infinity`` literals."""

    def __repr__(self) -> str:
        return "NaN"


NON_FINITE = _NonFinite()


def _non_finite(_literal: str) -> _NonFinite:
    return NON_FINITE


def load(data: bytes, origin: str = "", *, line: int | None = None) -> Node:
    """Decode a JSON document; ``origin`` (a file inside a tree, a log line) prefixes every place.

    ``line`` says the document is the rest of that line of a larger text (a
    log), so that a syntax error is reported at the log's line and column.
    """
    text = decode_text(data, origin)
    try:
        value = json.loads(text, parse_constant=_non_finite)
    except json.JSONDecodeError as err:
        where = _join(origin, f"line {err.lineno} column {err.colno}")
        if line is not None:
            where = f"line {line} column {err.colno}"
        raise FormatError(f"expected a JSON document: {err.msg}", where=where) from None
    except ValueError as err:  # e.g. an integer longer than Python's digit limit
        raise FormatError(f"expected a JSON document: {err}", where=_join(origin, "top level")) from None
    except RecursionError:
        raise FormatError(
            "expected a JSON document of sensible depth: nested too deeply", where=_join(origin, "top level")
        ) from None
    return Node(value, "", origin)


def _join(origin: str, place: str) -> str:
    return f"{origin}: {place}" if origin else place


_KINDS: tuple[tuple[type, str], ...] = ((str, "a string"), (list, "a list"), (dict, "an object"))


def describe(value: object) -> str:
    """Name a JSON value's kind for an error message ("got a string")."""
    if value is None or isinstance(value, bool):
        return json.dumps(value)
    if isinstance(value, int | float):
        return "a number" if isinstance(value, int) or math.isfinite(value) else "a non-finite number"
    return next((text for kind, text in _KINDS if isinstance(value, kind)), "NaN or Infinity (not valid JSON)")


@dataclass(frozen=True, slots=True)
class Node:
    """A JSON value together with the path that reached it."""

    value: object
    path: str = ""
    origin: str = ""

    @property
    def where(self) -> str:
        return _join(self.origin, self.path or "top level")

    def fail(self, expected: str) -> NoReturn:
        raise FormatError(f"expected {expected}, got {describe(self.value)}", where=self.where)

    def error(self, message: str) -> FormatError:
        return FormatError(message, where=self.where)

    # --- containers -------------------------------------------------------

    def object(self) -> dict[str, object]:
        if not isinstance(self.value, dict):
            self.fail("an object")
        return self.value

    def is_object(self) -> bool:
        return isinstance(self.value, dict)

    def is_null(self) -> bool:
        return self.value is None

    def is_non_finite(self) -> bool:
        return self.value is NON_FINITE

    def has(self, key: str) -> bool:
        return isinstance(self.value, dict) and key in self.value

    def child(self, key: str) -> Node:
        step = key if key.isidentifier() else f"[{json.dumps(key)}]"
        sep = "." if self.path and step[0] != "[" else ""
        return Node(self.object().get(key), f"{self.path}{sep}{step}", self.origin)

    def at(self, key: str, expected: str = "") -> Node:
        """The required member ``key``; its absence is an error at this object."""
        if key not in self.object():
            what = f" ({expected})" if expected else ""
            raise FormatError(f"expected a key {key!r}{what}, it is missing", where=self.where)
        return self.child(key)

    def get(self, key: str) -> Node | None:
        """The optional member ``key``; ``None`` when absent or null."""
        node = self.child(key)
        return None if node.value is None else node

    def items(self) -> list[tuple[str, Node]]:
        return [(key, self.child(key)) for key in self.object()]

    def elements(self, *, non_empty: bool = False) -> list[Node]:
        if not isinstance(self.value, list):
            self.fail("a list")
        if non_empty and not self.value:
            self.fail("a non-empty list")
        return [Node(item, f"{self.path}[{i}]", self.origin) for i, item in enumerate(self.value)]

    # --- scalars -----------------------------------------------------------

    def number(self) -> float:
        """A finite JSON number; booleans are not numbers here."""
        value = self.value
        if isinstance(value, bool) or not isinstance(value, int | float):
            self.fail("a number")
        try:
            result = float(value)
        except OverflowError:
            self.fail("a number within floating-point range")
        if not math.isfinite(result):
            self.fail("a finite number")
        return result

    def integer(self) -> int:
        if isinstance(self.value, bool) or not isinstance(self.value, int):
            self.fail("an integer")
        return self.value

    def string(self, *, non_empty: bool = False) -> str:
        if not isinstance(self.value, str):
            self.fail("a string")
        if non_empty and not self.value:
            self.fail("a non-empty string")
        return self.value

    def boolean(self) -> bool:
        if not isinstance(self.value, bool):
            self.fail("true or false")
        return self.value

    def numbers(self) -> list[float]:
        """A non-empty list of finite numbers: the shape every sample list has."""
        return [item.number() for item in self.elements(non_empty=True)]

    def scalars(self) -> list[tuple[str, str]]:
        """The string, number and boolean members of an object, as text (for a file's context)."""
        if not isinstance(self.value, dict):
            return []
        out = []
        for key, value in self.value.items():
            if isinstance(value, bool):
                out.append((key, "true" if value else "false"))
            elif isinstance(value, str | int) or (isinstance(value, float) and math.isfinite(value)):
                out.append((key, str(value)))
        return out

"""Collecting a file's results in order, with the place each came from.

:class:`BenchmarkResult` validates its samples and raises :class:`InputError`;
here that error becomes a :class:`FormatError` that names the place in the
file the values came from. Formats whose repetitions arrive as separate
entries (Go's ``-count``, Google Benchmark's repetitions) merge them into one
result's samples with ``merge=True``; elsewhere a repeated benchmark and
metric is an error pointing at both places.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable

from perfsheriff.errors import FormatError, InputError
from perfsheriff.model import BenchmarkResult, Direction, ResultSet


@dataclasses.dataclass(slots=True)
class _Entry:
    where: str
    result: BenchmarkResult


class ResultCollector:
    """Builds a :class:`ResultSet`, turning every validation failure into a located error."""

    def __init__(self, fmt: str, *, merge: bool = False) -> None:
        self._format = fmt
        self._merge = merge
        self._entries: dict[tuple[str, str], _Entry] = {}
        self._context: dict[str, str] = {}

    def add(
        self,
        where: str,
        name: str,
        unit: str,
        samples: Iterable[float],
        *,
        metric: str = "time",
        direction: Direction | None = None,
        suite: str = "",
    ) -> None:
        """Add one benchmark's measurement; ``where`` locates ``samples`` for error messages."""
        try:
            result = BenchmarkResult(name, unit, tuple(samples), metric, direction, suite)
        except InputError as err:
            raise FormatError(err.reason, where=where) from None
        key = (name, metric)
        entry = self._entries.get(key)
        if entry is None:
            self._entries[key] = _Entry(where, result)
            return
        if not self._merge:
            raise FormatError(
                f"benchmark {name!r} (metric {metric!r}) appears twice; first at {entry.where}", where=where
            )
        previous = entry.result
        if (previous.unit, previous.better, previous.suite) != (result.unit, result.better, result.suite):
            raise FormatError(
                f"benchmark {name!r} (metric {metric!r}) repeats with another unit, direction or suite "
                f"than at {entry.where} ({previous.unit!r}, {previous.suite!r})",
                where=where,
            )
        entry.result = dataclasses.replace(previous, samples=previous.samples + result.samples)

    def context(self, pairs: Iterable[tuple[str, str]]) -> None:
        """Record file-level facts (machine, commit, tool version); later values win."""
        self._context.update(pairs)

    def build(self, where: str, expected: str) -> ResultSet:
        """The result set; a file without results is an error at ``where`` saying what was ``expected``."""
        if not self._entries:
            raise FormatError(f"found no benchmark results; expected {expected}", where=where)
        results = tuple(entry.result for entry in self._entries.values())
        return ResultSet(self._format, results, tuple(sorted(self._context.items())))

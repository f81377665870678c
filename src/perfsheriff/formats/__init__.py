"""Result-format parsers: benchmark tools' output files -> :class:`~perfsheriff.model.ResultSet`.

Pure code: the caller reads files and passes bytes (and, for directory
formats such as Criterion, a mapping of relative paths to bytes). Every
problem with the input is a :class:`~perfsheriff.errors.FormatError` whose
``source`` is the file name given and whose ``where`` is the JSON path or line
inside it; any other exception escaping is a bug.

Each format lives in its own module and exposes a :class:`Format` entry;
detection asks them in the order of :data:`FORMAT_NAMES`, most specific first
(BMF and Go, whose shapes are the least distinctive, come last).
``docs/formats.md`` says, per format, what becomes name, metric, unit and
samples.
"""

from __future__ import annotations

from collections.abc import Mapping

from perfsheriff.errors import FormatError
from perfsheriff.formats import (
    asv,
    bmf,
    criterion,
    go,
    google_benchmark,
    hyperfine,
    perfherder,
    perfsheriff,
    pyperf,
    pytest_benchmark,
)
from perfsheriff.formats._format import Format, Probe
from perfsheriff.model import ResultSet

__all__ = ["FORMAT_NAMES", "detect", "parse", "parse_tree"]

_FORMATS: tuple[Format, ...] = (
    perfsheriff.FORMAT,
    pyperf.FORMAT,
    pytest_benchmark.FORMAT,
    google_benchmark.FORMAT,
    asv.FORMAT,
    hyperfine.FORMAT,
    criterion.FORMAT,
    perfherder.FORMAT,
    bmf.FORMAT,
    go.FORMAT,
)
_BY_NAME = {fmt.name: fmt for fmt in _FORMATS}

#: The names accepted by ``--format``, in detection order.
FORMAT_NAMES: tuple[str, ...] = tuple(_BY_NAME)


def detect(source: str, data: bytes) -> str:
    """The name of the format ``data`` is in, from its content (and ``source``'s name as a hint)."""
    probe = Probe(source, data)
    for fmt in _FORMATS:
        if fmt.sniff(probe):
            return fmt.name
    reason = "binary content" if probe.text is None else "content"
    raise FormatError(
        f"cannot recognise the result format from its {reason}; expected one of {', '.join(FORMAT_NAMES)} "
        "(name it with --format)",
        source=source,
        where="top level",
    )


def parse(source: str, data: bytes, fmt: str | None = None) -> ResultSet:
    """Parse one result file; ``fmt=None`` detects the format.

    ``source`` names the file in errors (``-`` for standard input) and, for
    Criterion's ``.../new/sample.json``, supplies the benchmark's directory.
    """
    spec = _lookup(source, fmt if fmt is not None else detect(source, data))
    try:
        if spec.parse_tree is not None:
            return spec.parse_tree({source: data})
        assert spec.parse is not None
        return spec.parse(data)
    except FormatError as err:
        # A tree format prefixes places with the file's path, which is ``source`` here.
        where = (err.where or "").removeprefix(f"{source}: ")
        raise _located(FormatError(err.reason, where=where), source) from None


def parse_tree(source: str, files: Mapping[str, bytes], fmt: str | None = None) -> ResultSet:
    """Parse a directory's files (keys are paths relative to ``source``).

    Criterion reads the whole tree; every other format needs the directory
    to hold exactly one file, which is then parsed as with :func:`parse`.
    """
    if fmt is None and criterion.sample_paths(files):
        fmt = criterion.NAME
    spec = None if fmt is None else _lookup(source, fmt)
    if spec is not None and spec.parse_tree is not None:
        try:
            return spec.parse_tree(files)
        except FormatError as err:
            raise _located(err, source) from None
    if len(files) != 1:
        expected = "a Criterion directory (*/new/sample.json) or " if fmt is None else f"for format {fmt!r}, "
        raise FormatError(
            f"expected {expected}exactly one result file, found {len(files)}", source=source, where="directory"
        )
    ((path, data),) = files.items()
    return parse(f"{source.rstrip('/')}/{path}", data, fmt)


def _lookup(source: str, name: str) -> Format:
    spec = _BY_NAME.get(name)
    if spec is None:
        raise FormatError(
            f"unknown format {name!r}; expected one of {', '.join(FORMAT_NAMES)}", source=source, where="--format"
        )
    return spec


def _located(err: FormatError, source: str) -> FormatError:
    return FormatError(err.reason, source=source, where=err.where or "top level")

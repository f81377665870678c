"""From what a benchmark wrote to one result set: pick the output, parse it, merge repetitions."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from pathlib import Path

from perfsheriff import formats
from perfsheriff.errors import FormatError, InputError
from perfsheriff.model import BenchmarkResult, ResultSet
from perfsheriff.resultfiles import read_result_bytes

STDOUT = "standard output"
#: The most a result folder at ``{output}`` may hold (Criterion's tree of small JSON files).
FOLDER_LIMIT = 256 << 20


def read_results(output: Path, stdout: Path, fmt: str | None) -> ResultSet:
    """Parse the ``{output}`` file if the command wrote it, else its standard output.

    Many tools can only print (``go test -bench``), others write a file and
    print progress; an empty file means "nothing written here". ``fmt=None``
    detects the format. A folder at ``{output}`` (Criterion's ``target/criterion``, copied there) is read
    as one result tree, by the rules of :mod:`perfsheriff.resultfiles`. Raises FormatError (and OSError
    if reading fails).
    """
    if output.is_dir() and not output.is_symlink():
        try:
            tree = read_result_bytes(output, FOLDER_LIMIT, limit_name="a result folder's limit")
        except InputError as err:
            raise FormatError(err.reason, source=err.source or str(output)) from None
        return formats.parse_tree(str(output), dict(tree.files), fmt)
    data = output.read_bytes() if output.is_file() else b""
    source = str(output)
    if not data.strip():
        data, source = stdout.read_bytes(), STDOUT
    if not data.strip():
        raise FormatError(f"no results: the command left {output} empty and printed nothing", source=STDOUT)
    return formats.parse(source, data, fmt)


def merge_repetitions(sets: Sequence[ResultSet]) -> ResultSet:
    """One result set holding every repetition's samples, in order, per benchmark and metric.

    Each repetition is one execution of the command; its samples are kept as
    they are (never averaged), so the detector sees the real spread. A unit
    that changes between repetitions would mix incomparable numbers and is an
    error.
    """
    merged: dict[tuple[str, str], BenchmarkResult] = {}
    context: dict[str, str] = {}
    for result_set in sets:
        for result in result_set.results:
            key = (result.name, result.metric)
            previous = merged.get(key)
            if previous is None:
                merged[key] = result
            elif previous.unit != result.unit:
                raise FormatError(
                    f"{result.name!r} ({result.metric}) changed unit between repetitions: "
                    f"{previous.unit!r}, then {result.unit!r}"
                )
            else:
                merged[key] = dataclasses.replace(previous, samples=previous.samples + result.samples)
        for name, value in result_set.context:
            context.setdefault(name, value)
    return ResultSet(format=sets[0].format, results=tuple(merged.values()), context=tuple(context.items()))

"""pytest-benchmark JSON (``--benchmark-json``, or files saved under ``.benchmarks/``).

The name is the test's ``fullname`` (``tests/test_x.py::test_sort[100]``),
unique across modules where ``name`` is not; ``group`` becomes the suite.
Samples are ``stats.data``: one per round, already divided by the
iterations of the round, in seconds. ``--benchmark-json`` always writes them;
files saved with ``--benchmark-save`` lack them unless
``--benchmark-save-data`` was given, and then the single sample is
``stats.median`` (the one summary that is robust to outliers) and the file's
context gets ``samples=summary-only`` so that users can see the difference.
"""

from __future__ import annotations

from perfsheriff.formats._format import Format, Probe, first_element
from perfsheriff.formats._json import Node, load
from perfsheriff.formats._results import ResultCollector
from perfsheriff.model import ResultSet

NAME = "pytest-benchmark"
UNIT = "s"


def sniff(probe: Probe) -> bool:
    obj = probe.json_object()
    if obj is None or "context" in obj or not isinstance(obj.get("benchmarks"), list):
        return False
    first = first_element(obj.get("benchmarks"))
    return isinstance(obj.get("machine_info"), dict) or (isinstance(first, dict) and "stats" in first)


def parse(data: bytes) -> ResultSet:
    root = load(data)
    collector = ResultCollector(NAME)
    summary_only = False
    for bench in root.at("benchmarks").elements():
        name = bench.get("fullname") or bench.at("name")
        group = bench.get("group")
        stats = bench.at("stats")
        raw = stats.get("data")
        summary_only |= raw is None
        source = raw or stats.at("median", "the raw 'data' or at least the 'median'")
        samples = source.numbers() if raw is not None else [source.number()]
        collector.add(
            source.where, name.string(non_empty=True), UNIT, samples, suite="" if group is None else group.string()
        )
    collector.context(_context(root))
    if summary_only:
        collector.context([("samples", "summary-only")])
    return collector.build(root.child("benchmarks").where, "at least one benchmark in 'benchmarks'")


def _context(root: Node) -> list[tuple[str, str]]:
    pairs = [(key, value) for key, value in root.scalars() if key in {"datetime", "version"}]
    for section in ("machine_info", "commit_info"):
        node = root.get(section)
        if node is not None:
            pairs.extend((f"{section}.{key}", value) for key, value in node.scalars())
    return pairs


FORMAT = Format(NAME, "pytest-benchmark JSON", sniff, parse)

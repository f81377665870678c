"""Where the machines behind a series changed: a pure decision over the setups its runs recorded.

A machine upgraded in place (new CPU, new OS) or a new machine taking over a class breaks a timeline;
the graph marks where, and later (machine generations) the data is rescaled across the boundary.
A kernel update or a new Python is not a new machine: only the hardware and system keys count.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

#: What a machine's hardware and system are, of what a run records (``runner.environment``); a kernel
#: update or a new Python is not a new machine. Python and compiler versions do not count on purpose: the
#: Python a run records is the agent's own, not necessarily the one the benchmark runs, and a project that
#: builds with a new compiler changed its build, which a step should show. When the system is replaced with
#: them (mypy's results: new OS, Python and compiler on the same hardware) the OS changes too and is caught.
HARDWARE_KEYS = ("cpu_model", "cpu_count", "arch", "os")


def setup_boundaries(groups: Sequence[tuple[str, tuple[str, ...], int]]) -> list[dict[str, Any]]:
    """From (machine, setup, first position) groups, the boundaries after the series' first position.

    A machine measuring on a setup that differs in a value known on both sides (an empty value is
    unknown: an upload that did not say) is an upgrade of that machine; a machine first seen after the
    start is a new machine (a new generation often comes under a new name).
    """
    ordered = sorted(groups, key=lambda g: (g[2], g[0], g[1]))
    if not ordered:
        return []
    start = ordered[0][2]
    seen: dict[str, dict[str, str]] = {}
    marks = []
    for machine, setup, position in ordered:
        known = {key: value for key, value in zip(HARDWARE_KEYS, setup, strict=True) if value}
        before = seen.get(machine)
        if before is None:
            seen[machine] = known
            if position > start:
                changed = {key: {"from": None, "to": value} for key, value in known.items()}
                marks.append({"position": position, "machine": machine, "kind": "new machine", "changed": changed})
            continue
        changed = {
            key: {"from": before[key], "to": value}
            for key, value in known.items()
            if key in before and before[key] != value
        }
        before.update(known)
        if changed:
            marks.append({"position": position, "machine": machine, "kind": "upgrade", "changed": changed})
    return marks

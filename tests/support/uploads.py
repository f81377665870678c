"""Result files and bodies of ``POST /api/v1/runs`` for the benchrepo project."""

from __future__ import annotations

import json

from support.benchrepo import BenchProject


def perfsheriff_json(results: dict[str, list[float]], unit: str = "ms") -> str:
    """A result file in perfsheriff's own format: one result per name, with its samples."""
    items = [{"name": name, "unit": unit, "samples": samples} for name, samples in results.items()]
    return json.dumps({"format": "perfsheriff", "version": 1, "results": items})


def upload_body(project: BenchProject, revision: str, values: list[float], **extra: object) -> dict[str, object]:
    return {
        "project": "bench-project",
        "revision": revision,
        "machine": "box",
        "files": {"result.json": perfsheriff_json({"work": values})},
        **extra,
    }

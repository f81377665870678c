"""Read views for the API and the dashboard: plain JSON-ready values, no HTTP."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import sqlalchemy as sa

from perfsheriff.errors import InputError, NotFoundError
from perfsheriff.model import redact_url
from perfsheriff.service.generations.factors import rescaled_points, series_factors
from perfsheriff.service.views.alert_json import alert_json
from perfsheriff.stats.summary import grouped_medians
from perfsheriff.store import alerts as alert_store
from perfsheriff.store import queries, targets
from perfsheriff.store import revisions as stored_revisions
from perfsheriff.store.queries import list_series
from perfsheriff.store.series_rows import SeriesRow

FloatArray = np.ndarray[Any, np.dtype[np.float64]]
IntArray = np.ndarray[Any, np.dtype[np.int64]]

__all__ = ["SeriesData", "alert", "alerts", "list_series", "projects", "revisions", "series_data"]


def projects(conn: sa.Connection) -> list[dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for name, repository, branch in targets.projects_with_branches(conn):
        entry = out.setdefault(name, {"name": name, "repository": redact_url(repository), "branches": []})
        if branch is not None:
            entry["branches"].append(branch)
    return list(out.values())


def revisions(
    conn: sa.Connection, project: str, branch: str | None, *, limit: int, before: int | None
) -> dict[str, Any]:
    """A page of a branch's revisions, newest first; ``before`` continues from a position."""
    found = targets.project(conn, project)
    if found is None:
        raise NotFoundError(f"no project {project!r}").about("project")
    branches = targets.branches(conn, found[0])
    name = branch or ("main" if "main" in branches else next(iter(sorted(branches)), None))
    if name is None or name not in branches:
        raise NotFoundError(f"no branch {branch!r} in project {project!r}").about("branch")
    items = [
        {
            "position": int(r["position"]),
            "sha": r["sha"],
            "first_parent": bool(r["first_parent"]),
            "author": r["author"],
            "time": r["time"].isoformat(),
            "subject": r["message"].split("\n", 1)[0],
        }
        for r in stored_revisions.page(conn, branches[name], limit=limit, before=before)
    ]
    return {"project": project, "branch": name, "revisions": items}


@dataclass(frozen=True, slots=True)
class SeriesData:
    """One series' revisions as arrays: branch position, median, min, max and sample count, and the shas."""

    series: SeriesRow
    positions: np.ndarray[Any, np.dtype[np.int64]]
    medians: np.ndarray[Any, np.dtype[np.float64]]
    mins: np.ndarray[Any, np.dtype[np.float64]]
    maxs: np.ndarray[Any, np.dtype[np.float64]]
    counts: np.ndarray[Any, np.dtype[np.int64]]
    revision_ids: np.ndarray[Any, np.dtype[np.int64]]
    # Across its class's upgrades: each one's factor (GenerationFactor.as_json), and whether the values before
    # a boundary are rescaled into the newest generation's units (raw samples are never changed).
    generations: list[dict[str, Any]] = field(default_factory=list)
    rescaled: bool = False


def _series_fields(conn: sa.Connection, series_id: str) -> dict[str, Any]:
    """The series with this id (or a unique prefix of it), without counting the revisions of every series."""
    prefix = series_id.lower()
    if not 1 <= len(prefix) <= 16 or any(c not in "0123456789abcdef" for c in prefix):
        raise InputError(f"expected a series id (up to 16 hex digits), got {series_id!r}", where="series_id").about(
            "series_id"
        )
    found = queries.series_fields_by_prefix(conn, prefix, limit=6)
    if not found:
        raise NotFoundError(f"no series with id {series_id!r}").about("series_id")
    if len(found) > 1:
        ids = ", ".join(str(row["id"]) for row in found[:5])
        raise InputError(f"series id {series_id!r} is ambiguous ({ids}...): give more digits", where="series_id").about(
            "series_id"
        )
    return found[0]


def _medians(values: FloatArray, offsets: IntArray, sizes: IntArray) -> FloatArray:
    """Each revision's median; when every revision has as many samples (the usual case), without a sort of all."""
    if sizes.size and sizes[0] > 0 and bool((sizes == sizes[0]).all()):
        return np.asarray(np.median(values.reshape(sizes.size, int(sizes[0])), axis=1), dtype=np.float64)
    return grouped_medians(values, offsets)


def series_data(
    conn: sa.Connection, series_id: str, *, start: int | None = None, end: int | None = None, raw: bool = False
) -> SeriesData:
    """A series' per-revision summary along its branch, optionally between two positions; across a machine
    upgrade in the newest generation's units where the factor is known, unless ``raw``."""
    fields = _series_fields(conn, series_id)
    across = None if raw else rescaled_points(conn, fields["id"], fields["machine_class"])
    if across is None:
        points = queries.series_points(conn, fields["id"])
        factors = series_factors(conn, fields["id"], fields["machine_class"])
    else:
        points, factors = across
    offsets = points.offsets
    keep = np.ones(len(points), dtype=bool)
    if start is not None:
        keep &= points.positions >= start
    if end is not None:
        keep &= points.positions <= end
    sizes = np.diff(offsets)
    medians = _medians(points.values, offsets, sizes)
    nonempty = sizes > 0
    starts = offsets[:-1][nonempty]
    mins = np.full(len(points), np.nan)
    maxs = np.full(len(points), np.nan)
    if starts.size:
        mins[nonempty] = np.minimum.reduceat(points.values, starts)
        maxs[nonempty] = np.maximum.reduceat(points.values, starts)
    keep &= nonempty
    return SeriesData(
        series=SeriesRow(**fields, n_revisions=len(points)),
        positions=points.positions[keep],
        medians=medians[keep],
        mins=mins[keep],
        maxs=maxs[keep],
        counts=sizes[keep].astype(np.int64),
        revision_ids=points.revision_ids[keep],
        generations=[f.as_json() for f in factors],
        rescaled=across is not None and any(f.applied for f in factors),
    )


def alerts(conn: sa.Connection, *, benchmark: str | None, kind: str | None, limit: int) -> list[dict[str, Any]]:
    found = alert_store.list_alerts(conn, benchmark=benchmark, kind=kind, newest=limit)
    return [alert_json(row) for row in found]


def alert(conn: sa.Connection, alert_id: int) -> dict[str, Any]:
    found = alert_store.list_alerts(conn, ids=[alert_id])
    if not found:
        raise NotFoundError(f"no alert {alert_id}")
    return alert_json(found[0])

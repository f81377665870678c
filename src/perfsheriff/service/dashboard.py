"""Read views the dashboard and the static report need beyond :mod:`catalog`: plain JSON-ready values.

``series_view`` is the graph's data: the same per-revision summary and
min/max downsampling as ``GET /api/v1/series/{id}``, plus each shown point's
author and subject (for hover) and the series' alerts with their suspect
ranges. ``revision_view`` is one commit with the alerts that concern it, and
``overview`` what the front page shows. None of them runs git. The graph's
data is kept for the last few series read, and read again only when their
samples changed.
"""

from __future__ import annotations

import dataclasses
import math
import re
import threading
from collections import OrderedDict
from collections.abc import Sequence
from typing import Any

import numpy as np
import sqlalchemy as sa

from perfsheriff.service import catalog, jobs
from perfsheriff.service.compare import compare_revisions, resolve_stored_revision
from perfsheriff.stats.downsample import minmax_indices
from perfsheriff.store import alerts as alert_store
from perfsheriff.store import schema as t
from perfsheriff.triage.states import allowed_targets as _allowed_targets
from perfsheriff.triage.states import parse_state

#: How many points a graph asks for unless it says otherwise (about two per pixel of a wide screen).
DEFAULT_POINTS = 3000


def _finite(values: Sequence[float]) -> list[float | None]:
    return [v if math.isfinite(v) else None for v in values]


def _commits(conn: sa.Connection, revision_ids: Sequence[int]) -> dict[int, tuple[str, str, str]]:
    """revision id -> (sha, author, subject), for the ids given only."""
    found: dict[int, tuple[str, str, str]] = {}
    for start in range(0, len(revision_ids), 5000):
        ids: sa.BindParameter[list[int]] = sa.bindparam(
            "ids", list(revision_ids[start : start + 5000]), expanding=True, literal_execute=True
        )
        query = sa.select(t.revisions.c.id, t.revisions.c.sha, t.revisions.c.author, t.revisions.c.message).where(
            t.revisions.c.id.in_(ids)
        )
        for rid, sha, author, message in conn.execute(query):
            found[int(rid)] = (str(sha), str(author), str(message).split("\n", 1)[0])
    return found


def series_alerts(conn: sa.Connection, series_id: str) -> list[dict[str, Any]]:
    """The series' alerts with their suspect range as branch positions (last good, first bad)."""
    good, bad = t.branch_revisions.alias("good"), t.branch_revisions.alias("bad")
    a = t.alerts
    query = (
        sa.select(
            a.c.id, a.c.kind, a.c.relative_change, a.c.confidence, a.c.summary_id, good.c.position, bad.c.position
        )
        .join(t.series, t.series.c.id == a.c.series_id)
        .join(good, sa.and_(good.c.revision_id == a.c.last_good_revision_id, good.c.branch_id == t.series.c.branch_id))
        .join(bad, sa.and_(bad.c.revision_id == a.c.first_bad_revision_id, bad.c.branch_id == t.series.c.branch_id))
        .where(a.c.series_id == series_id)
        .order_by(a.c.id)
    )
    return [
        {
            "id": int(r[0]),
            "kind": str(r[1]),
            "relative_change": float(r[2]),
            "confidence": float(r[3]),
            "summary_id": None if r[4] is None else int(r[4]),
            "last_good_position": int(r[5]),
            "first_bad_position": int(r[6]),
        }
        for r in conn.execute(query)
    ]


class _RecentSeries:
    """The last few series read whole, with the (count, newest id) of their samples when read.

    Zooming and panning a graph asks for ranges of the same series again and again; reading
    100,000 revisions' samples takes most of a second, checking that none was added or removed
    (one index range count) a few milliseconds. Only full series ids are kept. Thread-safe.
    """

    def __init__(self, size: int = 8) -> None:
        self.size = size
        self._items: OrderedDict[str, tuple[tuple[int, int], catalog.SeriesData]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, conn: sa.Connection, series_id: str) -> catalog.SeriesData:
        if not _FULL_ID.fullmatch(series_id):
            return catalog.series_data(conn, series_id)
        query = sa.select(sa.func.count(), sa.func.max(t.samples.c.id)).where(t.samples.c.series_id == series_id)
        count, newest = conn.execute(query).one()
        version = (int(count), int(newest or 0))
        with self._lock:
            found = self._items.get(series_id)
            if found is not None and found[0] == version:
                self._items.move_to_end(series_id)
                return found[1]
        data = catalog.series_data(conn, series_id)
        with self._lock:
            self._items[series_id] = (version, data)
            while len(self._items) > self.size:
                self._items.popitem(last=False)
        return data


_FULL_ID = re.compile("[0-9a-f]{16}")
_RECENT = _RecentSeries()


def _between(data: catalog.SeriesData, start: int | None, end: int | None) -> catalog.SeriesData:
    """The revisions of ``data`` with ``start <= position <= end`` (positions are ascending)."""
    lo = 0 if start is None else int(np.searchsorted(data.positions, start, side="left"))
    hi = data.positions.size if end is None else int(np.searchsorted(data.positions, end, side="right"))
    if lo == 0 and hi == data.positions.size:
        return data
    return dataclasses.replace(
        data,
        positions=data.positions[lo:hi],
        medians=data.medians[lo:hi],
        mins=data.mins[lo:hi],
        maxs=data.maxs[lo:hi],
        counts=data.counts[lo:hi],
        revision_ids=data.revision_ids[lo:hi],
    )


def series_view(
    conn: sa.Connection,
    series_id: str,
    *,
    max_points: int = DEFAULT_POINTS,
    start: int | None = None,
    end: int | None = None,
) -> dict[str, Any]:
    """A series' points between two branch positions, downsampled to ``max_points`` keeping each bucket's extremes."""
    data = _between(_RECENT.get(conn, series_id.lower()), start, end)
    keep = minmax_indices(data.medians, max_points)
    ids = [int(i) for i in data.revision_ids[keep]]
    commits = _commits(conn, ids)
    shown = [commits.get(i, ("", "", "")) for i in ids]
    return {
        "series": dataclasses.asdict(data.series),
        "total_points": int(data.medians.size),
        "downsampled": bool(keep.size < data.medians.size),
        "points": {
            "position": data.positions[keep].tolist(),
            "revision": [c[0] for c in shown],
            "author": [c[1] for c in shown],
            "subject": [c[2] for c in shown],
            "median": _finite(data.medians[keep].tolist()),
            "min": _finite(data.mins[keep].tolist()),
            "max": _finite(data.maxs[keep].tolist()),
            "n": data.counts[keep].tolist(),
        },
        "alerts": series_alerts(conn, str(data.series.id)),
    }


def revision_view(conn: sa.Connection, rev: str) -> dict[str, Any]:
    """One stored commit (by full or abbreviated sha) and the alerts whose suspect range holds it or that blame it."""
    revision_id, sha = resolve_stored_revision(conn, rev)
    row = conn.execute(
        sa.select(t.revisions.c.author, t.revisions.c.author_email, t.revisions.c.time, t.revisions.c.message).where(
            t.revisions.c.id == revision_id
        )
    ).one()
    positions = {
        str(name): int(pos)
        for name, pos in conn.execute(
            sa.select(t.branches.c.name, t.branch_revisions.c.position)
            .join(t.branches, t.branches.c.id == t.branch_revisions.c.branch_id)
            .where(t.branch_revisions.c.revision_id == revision_id)
        )
    }
    culprit_of = {
        int(i)
        for i in conn.execute(sa.select(t.alerts.c.id).where(t.alerts.c.culprit_revision_id == revision_id)).scalars()
    }
    concerned = []
    for found in alert_store.list_alerts(conn):
        position = positions.get(found.branch)
        inside = position is not None and found.last_good_position < position <= found.first_bad_position
        if inside or found.id in culprit_of:
            entry = dataclasses.asdict(found)
            entry["created_at"] = found.created_at.isoformat()
            entry["culprit"] = found.id in culprit_of
            concerned.append(entry)
    return {
        "sha": sha,
        "author": row.author,
        "author_email": row.author_email,
        "time": row.time.isoformat(),
        "subject": str(row.message).split("\n", 1)[0],
        "message": row.message,
        "positions": positions,
        "alerts": concerned,
    }


def overview(conn: sa.Connection, *, latest: int = 20) -> dict[str, Any]:
    """Per project and machine class the series count; the latest alerts; jobs in flight and queue counts."""
    per_class: dict[tuple[str, str], int] = {}
    for row in catalog.list_series(conn):
        key = (row.project, row.machine_class)
        per_class[key] = per_class.get(key, 0) + 1
    counts = jobs.counts(conn)
    classes = sorted({c for c, _ in counts})
    queue = [{"machine_class": c, **{s.value: counts.get((c, s.value), 0) for s in jobs.JobState}} for c in classes]
    running = jobs.list_jobs(conn, states=[jobs.JobState.RUNNING], limit=50)
    return {
        "projects": catalog.projects(conn),
        "machines": [{"project": p, "machine_class": m, "series": n} for (p, m), n in sorted(per_class.items())],
        "latest_alerts": list(reversed(catalog.alerts(conn, benchmark=None, kind=None, limit=latest))),
        "queue": queue,
        "running": [j.as_json() for j in running],
    }


def _plain(value: Any) -> Any:
    """An enum's value, a non-finite float as None, anything else as is."""
    if hasattr(value, "value"):
        return value.value
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def compare_view(conn: sa.Connection, base: str, head: str) -> dict[str, Any]:
    """Every series measured at both revisions with ratio, interval and verdict, and the weighted suite summaries."""
    result = compare_revisions(conn, base, head)
    rows = [
        {
            "series": r.series.id,
            "benchmark": r.series.benchmark,
            "metric": r.series.metric,
            "unit": r.series.unit,
            "machine_class": r.series.machine_class,
            "configuration": r.series.configuration,
            "weight": r.weight,
        }
        | {k: _plain(v) for k, v in dataclasses.asdict(r.comparison).items()}
        for r in result.rows
    ]
    suites = [
        {"metric": g.metric, "machine_class": g.machine_class, "configuration": g.configuration}
        | {k: _plain(v) for k, v in dataclasses.asdict(g.summary).items()}
        for g in result.suites
    ]
    return {"base": result.base, "head": result.head, "series": rows, "suites": suites}


def allowed_targets(state: str) -> list[str]:
    """The states a summary in ``state`` may move to, sorted (for the sheriff's form)."""
    return sorted(s.value for s in _allowed_targets(parse_state(state)))

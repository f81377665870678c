"""Read views the dashboard and the static report need beyond :mod:`catalog`: plain JSON-ready values.

``series_view`` is the graph's data: the same per-revision summary and
min/max downsampling as ``GET /api/v1/series/{id}``, plus each shown point's
author and subject (for hover), the series' alerts with their suspect
ranges and the probes of their bisection, and where the machines behind the
series changed (an upgrade, a new machine). ``revision_view`` is one commit with the alerts that concern it, and
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
from typing import Any, cast

import numpy as np
import sqlalchemy as sa

from perfsheriff.alerts import AlertConfirmation
from perfsheriff.service import catalog, jobs
from perfsheriff.service.alert_json import alert_json
from perfsheriff.service.compare import compare_revisions, resolve_stored_revision
from perfsheriff.stats.compare import ComparisonVerdict
from perfsheriff.stats.downsample import minmax_indices
from perfsheriff.store import alerts as alert_store
from perfsheriff.store import bisections as bisection_store
from perfsheriff.store import schema as t
from perfsheriff.triage.states import State, parse_state
from perfsheriff.triage.states import allowed_targets as _allowed_targets

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
    """The series' alerts with their suspect range as branch positions (last good, first bad), and what
    bisecting them did: each probe's commit, position, verdict and samples, and the culprit's position."""
    good, bad = t.branch_revisions.alias("good"), t.branch_revisions.alias("bad")
    a = t.alerts
    query = (
        sa.select(
            a.c.id,
            a.c.kind,
            a.c.relative_change,
            a.c.confidence,
            a.c.summary_id,
            good.c.position,
            bad.c.position,
            t.series.c.branch_id,
            a.c.details,
            a.c.created_by,
        )
        .join(t.series, t.series.c.id == a.c.series_id)
        .join(good, sa.and_(good.c.revision_id == a.c.last_good_revision_id, good.c.branch_id == t.series.c.branch_id))
        .join(bad, sa.and_(bad.c.revision_id == a.c.first_bad_revision_id, bad.c.branch_id == t.series.c.branch_id))
        .where(a.c.series_id == series_id)
        # A candidate still being confirmed is shown once it is.
        .where(sa.or_(a.c.confirmation.is_(None), a.c.confirmation != AlertConfirmation.CONFIRMING.value))
        .order_by(a.c.id)
    )
    rows = list(conn.execute(query))
    found_bisections = bisection_store.load(conn, alert_ids=[int(r[0]) for r in rows]) if rows else {}
    records = {i: b for i, b in found_bisections.items() if b.state.decided}
    wanted = {p.commit for rec in records.values() for p in rec.probes}
    wanted |= {c for rec in records.values() for c in rec.culprits}
    where = _branch_positions(conn, int(rows[0][7]), sorted(wanted)) if rows and wanted else {}
    found = []
    for r in rows:
        record = records.get(int(r[0]))
        probes = [
            {"commit": p.commit, "position": where.get(p.commit), "verdict": p.verdict, "n_samples": p.n_samples}
            for p in (record.probes if record else ())
        ]
        culprits = [{"commit": c, "position": where.get(c)} for c in (record.culprits if record else ())]
        found.append(
            {
                "id": int(r[0]),
                "kind": str(r[1]),
                "relative_change": float(r[2]),
                "confidence": float(r[3]),
                "summary_id": None if r[4] is None else int(r[4]),
                "last_good_position": int(r[5]),
                "first_bad_position": int(r[6]),
                "probes": probes,
                "culprits": culprits,
                "created_by": r[9],  # who made it by hand; None: perfsheriff found it
            }
        )
    return found


def _branch_positions(conn: sa.Connection, branch_id: int, shas: Sequence[str]) -> dict[str, int]:
    """sha -> branch position, for the commits of ``shas`` that reached the branch (roll-ups' side commits too)."""
    query = (
        sa.select(t.revisions.c.sha, t.branch_revisions.c.position)
        .join(t.branch_revisions, t.branch_revisions.c.revision_id == t.revisions.c.id)
        .where(t.branch_revisions.c.branch_id == branch_id, t.revisions.c.sha.in_(list(shas)))
    )
    return {str(sha): int(position) for sha, position in conn.execute(query)}


#: What a machine's hardware and system are, of what a run records (``runner.environment``); a kernel
#: update or a new Python is not a new machine.
HARDWARE_KEYS = ("cpu_model", "cpu_count", "arch", "os")


def machine_changes(conn: sa.Connection, series_id: str) -> list[dict[str, Any]]:
    """Where the machines behind a series changed: a machine's hardware or system changed, or a new machine
    began to measure it, at the first branch position measured on the new setup (oldest first)."""
    env = t.runs.c.environment
    setup = [env[key].as_string().label(key) for key in HARDWARE_KEYS]
    query = (
        sa.select(t.machines.c.name, *setup, sa.func.min(t.samples.c.position))
        .select_from(t.samples)
        .join(t.runs, t.runs.c.id == t.samples.c.run_id)
        .join(t.machines, t.machines.c.id == t.runs.c.machine_id)
        .where(t.samples.c.series_id == series_id)
        .group_by(t.machines.c.name, *setup)
    )
    groups = [(str(r[0]), tuple(str(v or "") for v in r[1:-1]), int(r[-1])) for r in conn.execute(query)]
    return setup_boundaries(groups)


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


@dataclasses.dataclass(frozen=True, slots=True)
class _Read:
    data: catalog.SeriesData
    machine_changes: list[dict[str, Any]]


def _read(conn: sa.Connection, series_id: str) -> _Read:
    data = catalog.series_data(conn, series_id)
    return _Read(data, machine_changes(conn, str(data.series.id)))


class _Recent:
    """A small thread-safe LRU map."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._items: OrderedDict[Any, Any] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: Any) -> Any:
        with self._lock:
            found = self._items.get(key)
            if found is not None:
                self._items.move_to_end(key)
            return found

    def put(self, key: Any, value: Any) -> None:
        with self._lock:
            self._items[key] = value
            while len(self._items) > self.size:
                self._items.popitem(last=False)


class _RecentSeries:
    """The last few series read whole, with the (count, newest id) of their samples when read.

    Zooming and panning a graph asks for ranges of the same series again and again; reading
    100,000 revisions' samples takes most of a second, checking that none was added or removed
    (one index range count) a few milliseconds. Only full series ids are kept. Thread-safe.
    """

    def __init__(self, size: int = 8) -> None:
        self._recent = _Recent(size)

    def get(self, conn: sa.Connection, series_id: str) -> _Read:
        if not _FULL_ID.fullmatch(series_id):
            return _read(conn, series_id)
        query = sa.select(sa.func.count(), sa.func.max(t.samples.c.id)).where(t.samples.c.series_id == series_id)
        count, newest = conn.execute(query).one()
        version = (int(count), int(newest or 0))
        found = self._recent.get(series_id)
        if found is not None and found[0] == version:
            return cast("_Read", found[1])
        data = _read(conn, series_id)
        self._recent.put(series_id, (version, data))
        return data


_FULL_ID = re.compile("[0-9a-f]{16}")


_RECENT_COMPARISONS = _Recent(16)
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
    read = _RECENT.get(conn, series_id.lower())
    data = _between(read.data, start, end)
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
        "machine_changes": read.machine_changes,
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
        if found.confirmation == AlertConfirmation.CONFIRMING:
            continue  # a candidate is shown once confirmed
        position = positions.get(found.branch)
        inside = position is not None and found.last_good_position < position <= found.first_bad_position
        if inside or found.id in culprit_of:
            concerned.append({**alert_json(found), "culprit": found.id in culprit_of})
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


def overview(conn: sa.Connection, *, latest: int = 20, drifted: int = 10) -> dict[str, Any]:
    """Per project and machine class the series count and the drift since the branch's last release tag;
    the latest alerts; jobs in flight and queue counts."""
    per_class = sa.select(t.projects.c.name, t.series.c.machine_class, sa.func.count()).join(
        t.projects, t.projects.c.id == t.series.c.project_id
    )
    per_class = per_class.group_by(t.projects.c.name, t.series.c.machine_class).order_by(
        t.projects.c.name, t.series.c.machine_class
    )
    counts = jobs.counts(conn)
    classes = sorted({c for c, _ in counts})
    queue = [{"machine_class": c, **{s.value: counts.get((c, s.value), 0) for s in jobs.JobState}} for c in classes]
    running = jobs.list_jobs(conn, states=[jobs.JobState.RUNNING], limit=50)
    return {
        "projects": catalog.projects(conn),
        "machines": [{"project": p, "machine_class": m, "series": int(n)} for p, m, n in conn.execute(per_class)],
        "releases": release_drifts(conn, top=drifted),
        "latest_alerts": list(reversed(catalog.alerts(conn, benchmark=None, kind=None, limit=latest))),
        "queue": queue,
        "running": [j.as_json() for j in running],
    }


def release_drifts(conn: sa.Connection, *, top: int = 10) -> list[dict[str, Any]]:
    """Per project, branch and machine class: the release tag drift is measured from, how many series
    the detection pass measured against it (by verdict), and the ``top`` that drifted most."""
    rd, tag, tagged = t.release_drifts, t.tags, t.revisions.alias("tagged")
    joined = (
        sa.select()
        .select_from(rd)
        .join(t.series, t.series.c.id == rd.c.series_id)
        .join(t.projects, t.projects.c.id == t.series.c.project_id)
        .join(t.branches, t.branches.c.id == t.series.c.branch_id)
        .join(tag, tag.c.id == rd.c.tag_id)
        .join(tagged, tagged.c.id == tag.c.revision_id)
    )
    key = (t.projects.c.name, t.branches.c.name, t.series.c.machine_class, tag.c.name, tagged.c.sha, tagged.c.time)
    groups: dict[tuple[Any, ...], dict[str, Any]] = {}
    for *names, verdict, n in conn.execute(
        joined.add_columns(*key, rd.c.verdict, sa.func.count()).group_by(*key, rd.c.verdict)
    ):
        project, branch, machine_class, tag_name, sha, when = names
        entry = groups.setdefault(
            (project, branch, machine_class),
            {
                "project": project,
                "branch": branch,
                "machine_class": machine_class,
                "tag": tag_name,
                "sha": sha,
                "time": when.isoformat() if when else None,
                "verdicts": {},
                "drifted": [],
            },
        )
        entry["verdicts"][str(verdict)] = int(n)
    moved = (
        joined.add_columns(
            t.projects.c.name,
            t.branches.c.name,
            t.series.c.machine_class,
            t.series.c.id,
            t.benchmarks.c.name,
            t.series.c.metric,
            rd.c.verdict,
            rd.c.relative_change,
            rd.c.ci_low,
            rd.c.ci_high,
            rd.c.points,
        )
        .join(t.benchmarks, t.benchmarks.c.id == t.series.c.benchmark_id)
        .where(rd.c.verdict.in_([ComparisonVerdict.REGRESSION.value, ComparisonVerdict.IMPROVEMENT.value]))
        .order_by(sa.func.abs(rd.c.relative_change).desc(), t.series.c.id)
    )
    for project, branch, machine_class, series_id, benchmark, metric, verdict, change, low, high, n in conn.execute(
        moved
    ):
        group = groups.get((project, branch, machine_class))
        if group is None or len(group["drifted"]) >= top:
            continue
        group["drifted"].append(
            {
                "series_id": series_id,
                "benchmark": benchmark,
                "metric": metric,
                "verdict": verdict,
                "relative_change": change,
                "ci_low": None if low is None else low - 1.0,
                "ci_high": None if high is None else high - 1.0,
                "points": int(n),
            }
        )
    return [groups[k] for k in sorted(groups)]


def compare_view(conn: sa.Connection, base: str, head: str) -> dict[str, Any]:
    """Every series measured at both revisions with ratio, interval and verdict, and the weighted suite summaries.

    Kept for the last few pairs of revisions, and computed again only when samples at either revision
    were added or removed: the page is opened, sorted and reloaded while thousands of series are compared.
    """
    base_id, base_sha = resolve_stored_revision(conn, base)
    head_id, head_sha = resolve_stored_revision(conn, head)
    query = sa.select(sa.func.count(), sa.func.max(t.samples.c.id)).where(
        t.samples.c.revision_id.in_([base_id, head_id])
    )
    count, newest = conn.execute(query).one()
    key, version = (base_id, head_id), (int(count), int(newest or 0))
    found = _RECENT_COMPARISONS.get(key)
    if found is not None and found[0] == version:
        return cast("dict[str, Any]", found[1])
    view = compare_revisions(conn, base_sha, head_sha).as_json()
    _RECENT_COMPARISONS.put(key, (version, view))
    return view


def machine_classes(conn: sa.Connection) -> list[str]:
    """Every machine class some series was measured on, sorted (the summaries page's filter)."""
    query = sa.select(t.series.c.machine_class).distinct().order_by(t.series.c.machine_class)
    return [str(c) for c in conn.execute(query).scalars()]


def triage_states() -> list[str]:
    """Every triage state, in the state machine's order."""
    return [s.value for s in State]


def allowed_targets(state: str) -> list[str]:
    """The states a summary in ``state`` may move to, sorted (for the sheriff's form)."""
    return sorted(s.value for s in _allowed_targets(parse_state(state)))

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
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, cast

import numpy as np
import sqlalchemy as sa

from perfsheriff.alerts import AlertConfirmation
from perfsheriff.machines import HARDWARE_KEYS, setup_boundaries
from perfsheriff.service.analysis.compare import compare_revisions, resolve_stored_revision
from perfsheriff.service.queue import budget_status, jobs
from perfsheriff.service.views import catalog
from perfsheriff.service.views.alert_json import alert_json
from perfsheriff.stats.downsample import minmax_indices
from perfsheriff.store import alerts as alert_store
from perfsheriff.store import bisections as bisection_store
from perfsheriff.store import caches, drifts, revisions, seriesinfo
from perfsheriff.triage.states import State, parse_state
from perfsheriff.triage.states import allowed_targets as _allowed_targets

#: How many points a graph asks for unless it says otherwise (about two per pixel of a wide screen).
DEFAULT_POINTS = 3000


def _finite(values: Sequence[float]) -> list[float | None]:
    return [v if math.isfinite(v) else None for v in values]


def series_alerts(conn: sa.Connection, series_id: str) -> list[dict[str, Any]]:
    """The series' alerts with their suspect range as branch positions (last good, first bad), and what
    bisecting them did: each probe's commit, position, verdict and samples, and the culprit's position."""
    rows = alert_store.shown_on_series(conn, series_id)
    found_bisections = bisection_store.load(conn, alert_ids=[int(r[0]) for r in rows]) if rows else {}
    records = {i: b for i, b in found_bisections.items() if b.state.decided}
    wanted = {p.commit for rec in records.values() for p in rec.probes}
    wanted |= {c for rec in records.values() for c in rec.culprits}
    where = revisions.positions_of_shas(conn, int(rows[0][7]), sorted(wanted)) if rows and wanted else {}
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


def machine_changes(conn: sa.Connection, series_id: str) -> list[dict[str, Any]]:
    """Where the machines behind a series changed: a machine's hardware or system changed, or a new machine
    began to measure it, at the first branch position measured on the new setup (oldest first)."""
    groups = seriesinfo.machine_setups(conn, series_id, HARDWARE_KEYS)
    return setup_boundaries(groups)


@dataclasses.dataclass(frozen=True, slots=True)
class _Read:
    data: catalog.SeriesData
    machine_changes: list[dict[str, Any]]


def _read(conn: sa.Connection, series_id: str, raw: bool = False) -> _Read:
    data = catalog.series_data(conn, series_id, raw=raw)
    return _Read(data, machine_changes(conn, str(data.series.id)))


def _read_cached(conn: sa.Connection, series_id: str, raw: bool = False) -> _Read:
    """The series read whole, kept for the last few series read (per database) until their samples change.

    Zooming and panning a graph asks for ranges of the same series again and again; reading
    100,000 revisions' samples takes most of a second, checking that none was added or removed
    (one index range count) a few milliseconds. Only full series ids are kept.
    """
    if not _FULL_ID.fullmatch(series_id):
        return _read(conn, series_id, raw)
    version = (*seriesinfo.series_version(conn, series_id), *seriesinfo.generations_version(conn))
    key = f"{series_id}:raw" if raw else series_id
    return cast("_Read", caches.series_reads.get(conn.engine, key, version, lambda: _read(conn, series_id, raw)))


_FULL_ID = re.compile("[0-9a-f]{16}")


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
    raw: bool = False,
) -> dict[str, Any]:
    """A series' points between two branch positions, downsampled to ``max_points`` keeping each bucket's extremes;
    across a machine upgrade rescaled into the newest generation's units where the factor is known, unless ``raw``."""
    read = _read_cached(conn, series_id.lower(), raw)
    data = _between(read.data, start, end)
    keep = minmax_indices(data.medians, max_points)
    ids = [int(i) for i in data.revision_ids[keep]]
    commits = revisions.commits(conn, ids)
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
        "rescaled": data.rescaled,
        "generations": data.generations,
    }


def revision_view(conn: sa.Connection, rev: str) -> dict[str, Any]:
    """One stored commit (by full or abbreviated sha) and the alerts whose suspect range holds it or that blame it."""
    revision_id, sha = resolve_stored_revision(conn, rev)
    row = revisions.details(conn, revision_id)
    positions = revisions.positions_by_branch(conn, revision_id)
    culprit_of = alert_store.blaming(conn, revision_id)
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
        "author": row["author"],
        "author_email": row["author_email"],
        "time": row["time"].isoformat(),
        "subject": str(row["message"]).split("\n", 1)[0],
        "message": row["message"],
        "positions": positions,
        "alerts": concerned,
    }


def overview(
    conn: sa.Connection,
    *,
    latest: int = 20,
    drifted: int = 10,
    budgets: Mapping[str, int] | None = None,
    now: datetime | None = None,
) -> dict[str, Any]:
    """Per project and machine class the series count and the drift since the branch's last release tag;
    the latest alerts; jobs in flight and queue counts; the machine-time budget (``budgets``: the
    ``run_budgets`` setting) with what automation spent and what waits for it."""
    counts = jobs.counts(conn)
    classes = sorted({c for c, _ in counts})
    queue = [{"machine_class": c, **{s.value: counts.get((c, s.value), 0) for s in jobs.JobState}} for c in classes]
    running = jobs.list_jobs(conn, states=[jobs.JobState.RUNNING], limit=50)
    return {
        "projects": catalog.projects(conn),
        "machines": [{"project": p, "machine_class": m, "series": n} for p, m, n in seriesinfo.series_per_class(conn)],
        "releases": release_drifts(conn, top=drifted),
        "latest_alerts": list(reversed(catalog.alerts(conn, benchmark=None, kind=None, limit=latest))),
        "queue": queue,
        "running": [j.as_json() for j in running],
        "budget": budget_status.budget_status(conn, budgets or {}, now=now or datetime.now(UTC)),
    }


def release_drifts(conn: sa.Connection, *, top: int = 10) -> list[dict[str, Any]]:
    """Per project, branch and machine class: the release tag drift is measured from, how many series
    the detection pass measured against it (by verdict), and the ``top`` that drifted most."""
    groups: dict[tuple[Any, ...], dict[str, Any]] = {}
    for *names, verdict, n in drifts.verdict_counts(conn):
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
    for project, branch, machine_class, series_id, benchmark, metric, verdict, change, low, high, n in drifts.drifted(
        conn
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
    were added or removed (at any revision once a machine generation is recorded: factors change with them):
    the page is opened, sorted and reloaded while thousands of series are compared.
    """
    base_id, base_sha = resolve_stored_revision(conn, base)
    head_id, head_sha = resolve_stored_revision(conn, head)
    generations = seriesinfo.generations_version(conn)
    # A factor across a machine upgrade changes with baseline runs at any revision.
    newest = seriesinfo.newest_sample_id(conn) if generations[0] else 0
    version = (*seriesinfo.revisions_version(conn, [base_id, head_id]), *generations, newest)
    view = caches.comparisons.get(
        conn.engine, (base_id, head_id), version, lambda: compare_revisions(conn, base_sha, head_sha).as_json()
    )
    return cast("dict[str, Any]", view)


def machine_classes(conn: sa.Connection) -> list[str]:
    """Every machine class some series was measured on, sorted (the summaries page's filter)."""
    return seriesinfo.machine_classes(conn)


def triage_states() -> list[str]:
    """Every triage state, in the state machine's order."""
    return [s.value for s in State]


def allowed_targets(state: str) -> list[str]:
    """The states a summary in ``state`` may move to, sorted (for the sheriff's form)."""
    return sorted(s.value for s in _allowed_targets(parse_state(state)))

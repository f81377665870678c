"""The detection pass over stored series: find changes and drift, persist alerts once.

Stability: each pass analyses the tail of a series (``horizon`` revisions); a
change is recorded as an alert the first time it is seen, and a later pass that
finds the same change within ``min_segment`` revisions of a stored alert of the
same kind adds nothing. So a second run adds nothing, and an alert does not move
or duplicate as new points arrive. A candidate that confirmation did not
reproduce blocks only its own suspect range, so a real change landing next to
it is still found.

Each pass also measures every series' cumulative change since its branch's
newest release tag (the overview's "drift since the last release"), from the
first points after the tag and the newest ones, and keeps the latest figure.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime
from typing import Any, cast

import numpy as np
import sqlalchemy as sa
from numpy.typing import NDArray
from sqlalchemy.engine import Engine

from perfsheriff.alerts import AlertConfirmation, AlertKind
from perfsheriff.errors import InputError
from perfsheriff.gitrepo import GitRepo
from perfsheriff.model import Direction
from perfsheriff.projectfile import DEFAULT_RELEASE_TAGS, Thresholds
from perfsheriff.service.analysis.compare import resolve_stored_revision
from perfsheriff.service.generations.factors import across_generations
from perfsheriff.service.sheriffing import sensitivity
from perfsheriff.service.sheriffing.triage import summarize
from perfsheriff.stats.changepoints import ChangePoint, DetectionSettings, Drift, SeriesVerdict, detect
from perfsheriff.stats.drift import DriftSettings, drift
from perfsheriff.stats.summary import grouped_medians
from perfsheriff.store import alerts as alert_store
from perfsheriff.store import drifts, queries, runsinfo
from perfsheriff.store.queries import SeriesPoints
from perfsheriff.store.series_rows import SeriesRow
from perfsheriff.triage.sensitivity import Sensitivity


@dataclass(frozen=True, slots=True)
class ConfirmScope:
    """The series perfsheriff measures itself (``track``): their new step alerts start as ``confirming``.

    A series is in scope when it is of this machine class and configuration and its runs come from one
    of ``sources`` (``benchmark NAME``: a configured benchmark the tracker can run again).
    """

    machine_class: str
    configuration: str
    sources: frozenset[str]


@dataclass(frozen=True, slots=True)
class DetectionPolicy:
    """Settings for a pass: defaults, overridden per benchmark name and per series id."""

    default: DetectionSettings = field(default_factory=DetectionSettings)
    per_benchmark: Mapping[str, DetectionSettings] = field(default_factory=dict)
    per_series: Mapping[str, DetectionSettings] = field(default_factory=dict)
    drift: DriftSettings | None = field(default_factory=DriftSettings)
    horizon: int = 400
    # Where drift is measured from, per (project, branch): a branch position (a tag's, a date's).
    # Without one, drift counts from the newest step alert, or from the start of the series.
    drift_since: Mapping[tuple[str, str], int] = field(default_factory=dict)
    # Which tags are releases (a regular expression searched in the name; None: measure no release
    # drift), and per (project, branch) the newest one: (tag id, name, position); detect_stored fills it.
    release_tags: str | None = DEFAULT_RELEASE_TAGS
    releases: Mapping[tuple[str, str], tuple[int, str, int]] = field(default_factory=dict)
    # Sensitivity learnt from triage (service.sensitivity), per series id, over the configured thresholds:
    # None loads it at the start of a pass; learn_from_triage=False ignores triage altogether.
    learn_from_triage: bool = True
    learnt: Mapping[str, Sensitivity] | None = None
    # Whose step alerts are candidates to confirm before anyone sees them (None: every alert is published).
    confirm: ConfirmScope | None = None

    def for_series(self, row: SeriesRow) -> DetectionSettings:
        configured = self.per_series.get(row.id) or self.per_benchmark.get(row.benchmark) or self.default
        if not self.learn_from_triage or self.learnt is None:
            return configured
        return sensitivity.adjusted(configured, self.learnt.get(row.id))


def policy_from_thresholds(thresholds: Thresholds, base: DetectionSettings | None = None) -> DetectionPolicy:
    """The detection policy a ``[thresholds]`` table asks for: global, per benchmark, per series."""

    def settings(over: Thresholds, under: DetectionSettings) -> DetectionSettings:
        return replace(
            under,
            min_relative_change=under.min_relative_change
            if over.min_relative_change is None
            else over.min_relative_change,
            min_confidence=under.min_confidence if over.min_confidence is None else over.min_confidence,
            min_probability=under.min_probability if over.min_probability is None else over.min_probability,
        )

    default = settings(thresholds, base or DetectionSettings())
    return DetectionPolicy(
        default=default,
        per_benchmark={name: settings(t, default) for name, t in thresholds.benchmarks},
        per_series={series_id: settings(t, default) for series_id, t in thresholds.series},
        learn_from_triage=thresholds.learn_from_triage,
    )


@dataclass(frozen=True, slots=True)
class DetectionReport:
    series: int
    new_alert_ids: list[int]
    insufficient: int
    held_back: list[str] = field(default_factory=list)  # changes at a machine upgrade's boundary, and why


def detect_stored(
    engine: Engine,
    policy: DetectionPolicy,
    *,
    now: datetime,
    filters: Mapping[str, str | None] | None = None,
    on_series: Callable[[SeriesRow], None] | None = None,
) -> DetectionReport:
    """Run detection over every stored series matching ``filters``, each series in its own transaction,
    then group the new alerts into summaries (``perfsheriff detect`` and the track loop both come here)."""
    with engine.connect() as conn:
        rows = queries.list_series(conn, **(filters or {}))  # type: ignore[arg-type]
        if policy.release_tags is not None and not policy.releases:
            policy = replace(policy, releases=queries.newest_tags(conn, re.compile(policy.release_tags)))
        if policy.learn_from_triage and policy.learnt is None:
            policy = replace(policy, learnt=sensitivity.learnt(conn))
    new_ids: list[int] = []
    held: list[str] = []
    insufficient = 0
    for row in rows:
        with engine.begin() as conn:
            created, analysed = detect_series(conn, row, policy, now=now, held=held)
        new_ids += created
        insufficient += not analysed
        if on_series is not None:
            on_series(row)
    # New alerts (and any older ones in no summary yet) join or form alert summaries for triage.
    summarize(engine, None, now)
    return DetectionReport(len(rows), new_ids, insufficient, held)


def detect_series(
    conn: sa.Connection, row: SeriesRow, policy: DetectionPolicy, *, now: datetime, held: list[str] | None = None
) -> tuple[list[int], bool]:
    """Detect on the tail of one series and store the alerts not seen before; returns (ids, analysed).

    Across a machine upgrade the series is read in the newest generation's units, and a change at the boundary
    that the factor explains, or whose factor is not settled yet, is no alert (why goes to ``held``)."""
    points = queries.series_points(conn, row.id, last_runs=policy.horizon * 4)
    upgraded = across_generations(
        conn, row.id, row.machine_class, from_position=int(points.positions[0]) if len(points) else 0
    )
    if upgraded is not None:
        points = upgraded.points
    if len(points) > policy.horizon:
        points = _last(points, policy.horizon)
    settings = policy.for_series(row)
    direction = Direction(row.direction)
    per_revision = cast("list[Sequence[float]]", [points.samples(i) for i in range(len(points))])
    result = detect(per_revision, direction=direction, settings=settings)
    known = alert_store.existing_alerts(conn, row.id)
    # A candidate confirmation closed blocks its own suspect range only: a real change landing near it is new.
    closed = alert_store.existing_alerts(conn, row.id, closed=True)
    rows = []
    for cp in result.change_points:
        why = None if upgraded is None else upgraded.at_boundary(cp, points.positions)
        if why is not None:
            if held is not None:
                held.append(f"{row.benchmark} {row.metric} ({row.id}): {why}")
            continue
        kind = AlertKind.of_step(cp.is_regression).value
        alert = _alert_row(row, points, cp, kind, now, noise=result.noise)
        good, bad = (int(points.positions[i]) for i in _suspect_ends(cp))
        # Seen before: a stored alert of the kind ends near this change, or its suspect range overlaps this one's.
        seen = any(k == kind and (abs(b - bad) <= settings.min_segment or (g < bad and good < b)) for k, g, b in known)
        if seen or any(k == kind and g < bad and good < b for k, g, b in closed):
            continue
        rows.append(alert)
        known.append((kind, good, bad))
    if rows and _confirmable(conn, row, policy.confirm):
        # Steps only: drift is never re-measured.
        rows = [{**r, "confirmation": AlertConfirmation.CONFIRMING.value} for r in rows]
    for ramp in result.drifts:
        if not any(
            k == AlertKind.DRIFT and good <= int(points.positions[ramp.last]) and b >= int(points.positions[ramp.first])
            for k, good, b in known
        ):
            rows.append(_ramp_row(row, points, ramp, now, noise=result.noise))
            known.append((AlertKind.DRIFT.value, int(points.positions[ramp.first]), int(points.positions[ramp.last])))
    if policy.drift is not None and not result.drifts:
        since = policy.drift_since.get((row.project, row.branch))
        if since is not None and len(points) and since < points.positions[0]:
            # the reference lies before the tail: read it all (rescaled across an upgrade, as the tail was)
            whole = None if upgraded is None else across_generations(conn, row.id, row.machine_class)
            points = queries.series_points(conn, row.id) if whole is None else whole.points
        drift_rows = _drift_rows(
            row, points, known=known, since=since, settings=policy.drift, direction=direction, now=now
        )
        rows += drift_rows
        release = policy.releases.get((row.project, row.branch))
        if release is not None:
            read = (points, upgraded is not None)
            _store_release_drift(conn, row, read, release, settings=policy.drift, direction=direction, now=now)
    return alert_store.insert_alerts(conn, rows), result.verdict is SeriesVerdict.ANALYSED


def _confirmable(conn: sa.Connection, row: SeriesRow, scope: ConfirmScope | None) -> bool:
    if scope is None or (row.machine_class, row.configuration) != (scope.machine_class, scope.configuration):
        return False
    return runsinfo.source_of_series(conn, row.id) in scope.sources


def _medians(points: SeriesPoints) -> NDArray[np.float64]:
    """Each revision's median, all at once (stored samples are finite)."""
    return grouped_medians(points.values, points.offsets)


def _store_release_drift(
    conn: sa.Connection,
    row: SeriesRow,
    tail_read: tuple[SeriesPoints, bool],
    release: tuple[int, str, int],
    *,
    settings: DriftSettings,
    direction: Direction,
    now: datetime,
) -> None:
    """The series' change since the release: the first ``window`` revisions at or after the tag against the newest
    ``window`` (stats.drift); from the tail (``tail_read``: it, and whether rescaled across an upgrade) and as it."""
    tail, rescaled = tail_read
    tag_id, _name, position = release
    if len(tail) and position >= tail.positions[0]:
        start = int(np.searchsorted(tail.positions, position))
        medians, measured = _medians(tail)[start:], len(tail) - start
    else:
        whole = across_generations(conn, row.id, row.machine_class, from_position=position) if rescaled else None
        head = (
            whole.points
            if whole
            else queries.series_points(conn, row.id, first_runs=8 * settings.window, from_position=position)
        )
        before_tail = int(np.searchsorted(head.positions, tail.positions[0])) if len(tail) else len(head)
        medians = np.concatenate([_medians(head)[: min(before_tail, settings.window)], _medians(tail)])
        measured = queries.revisions_measured(conn, row.id, from_position=position)
    result = drift(medians, 0, direction, settings)
    comparison = result.comparison
    values = {
        "series_id": row.id,
        "tag_id": tag_id,
        "verdict": result.verdict.value,
        "relative_change": _finite_or_none(result.relative_change),
        "ci_low": _finite_or_none(comparison.ci_low),
        "ci_high": _finite_or_none(comparison.ci_high),
        "points": int(measured),
        "computed_at": now,
    }
    drifts.replace_release_drift(conn, row.id, values)


def _finite_or_none(value: float | None) -> float | None:
    return value if value is not None and math.isfinite(value) else None


def _last(points: SeriesPoints, count: int) -> SeriesPoints:
    start = len(points) - count
    offset = points.offsets[start]
    return SeriesPoints(
        positions=points.positions[start:],
        revision_ids=points.revision_ids[start:],
        offsets=points.offsets[start:] - offset,
        values=points.values[offset:],
        runs=points.runs[start:],
    )


def _finite(value: float) -> float | None:
    return value if math.isfinite(value) else None


def _alert_row(
    row: SeriesRow, points: SeriesPoints, cp: ChangePoint, kind: str, now: datetime, *, noise: float
) -> dict[str, Any]:
    """The alert of one step. Its suspect range is the change's credible interval over the position
    (``first_possible``..``last_possible``), so bisection starts from every revision the change may be
    at; ``confidence`` is the calibrated probability that the change is real, the rank test's
    ``1 - p`` stays in the details as ``test_confidence``."""
    details = {k: _finite(v) if isinstance(v, float) else v for k, v in asdict(cp).items()}
    details.update(noise=_finite(noise), method="changepoints", test_confidence=_finite(cp.confidence))
    good, bad = _suspect_ends(cp)
    return {
        "series_id": row.id,
        "last_good_revision_id": int(points.revision_ids[good]),
        "first_bad_revision_id": int(points.revision_ids[bad]),
        "kind": kind,
        "relative_change": cp.relative_change if math.isfinite(cp.relative_change) else 0.0,
        "confidence": cp.probability,
        "details": details,
        "created_at": now,
    }


def _suspect_ends(cp: ChangePoint) -> tuple[int, int]:
    """Indices of the last good and the first bad revision of the change's credible interval."""
    first = min(cp.first_possible, cp.index) if cp.first_possible >= 0 else cp.index
    return min(cp.last_before, max(first - 1, 0)), max(cp.last_possible, cp.index)


def _ramp_row(row: SeriesRow, points: SeriesPoints, ramp: Drift, now: datetime, *, noise: float) -> dict[str, Any]:
    """A ``drift`` alert for a gradual change the detector told from a staircase of steps (its whole ramp)."""
    details = {k: _finite(v) if isinstance(v, float) else v for k, v in asdict(ramp).items()}
    details.update(noise=_finite(noise), method="ramp")
    return {
        "series_id": row.id,
        "last_good_revision_id": int(points.revision_ids[ramp.first]),
        "first_bad_revision_id": int(points.revision_ids[ramp.last]),
        "kind": AlertKind.DRIFT.value,
        "relative_change": ramp.relative_change if math.isfinite(ramp.relative_change) else 0.0,
        "confidence": ramp.probability,
        "details": details,
        "created_at": now,
    }


def _drift_rows(
    row: SeriesRow,
    points: SeriesPoints,
    *,
    known: list[tuple[str, int, int]],
    since: int | None,
    settings: DriftSettings,
    direction: Direction,
    now: datetime,
) -> list[dict[str, Any]]:
    """A drift alert when the level moved past the threshold since the reference, without a step alert.

    The reference is the newest step alert's first bad revision, or ``since`` when it is later, or
    the first point; one drift alert is stored per reference.
    """
    steps = [bad for kind, _, bad in known if kind != AlertKind.DRIFT]
    reference = max([*steps, since if since is not None else int(points.positions[0])])
    start = int(np.searchsorted(points.positions, reference))
    if start >= len(points):
        return []
    anchor = int(points.positions[start])
    if any(kind == AlertKind.DRIFT and good == anchor for kind, good, _ in known):
        return []
    if len(points) - start < 2 * settings.window:
        return []  # a drift claim needs two full windows since the reference, not half-windows of a short tail
    medians = _medians(points)
    result = drift(medians, start, direction, settings)
    if not result.alert or result.relative_change is None:
        return []
    comparison = result.comparison
    return [
        {
            "series_id": row.id,
            "last_good_revision_id": int(points.revision_ids[start]),
            "first_bad_revision_id": int(points.revision_ids[-1]),
            "kind": AlertKind.DRIFT.value,
            "relative_change": result.relative_change,
            "confidence": 1.0 - (comparison.p_value if comparison.p_value is not None else 1.0),
            "details": {
                "method": "drift",
                "ci_low": result.ci_low,
                "ci_high": result.ci_high,
                "reference_window": list(result.reference_window or ()),
                "recent_window": list(result.recent_window or ()),
                "is_regression": direction.is_regression(result.relative_change),
            },
            "created_at": now,
        }
    ]


def drift_reference(conn: sa.Connection, since: str, repo: GitRepo | None) -> dict[tuple[str, str], int]:
    """Branch positions of ``--since``: a date, a stored sha (prefix), or a git expression with ``--repo``."""
    try:
        moment = datetime.fromisoformat(since)
    except ValueError:
        moment = None
    if moment is not None:
        when = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
        return queries.branch_positions_at(conn, since=when)
    sha = repo.resolve(since) if repo else resolve_stored_revision(conn, since)[1]
    found = queries.branch_positions_at(conn, sha=sha)
    if not found:
        raise InputError(f"revision {since!r} is on no stored branch", where="--since")
    return found

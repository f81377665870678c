"""Hand-made alerts: a sheriff points out a change the detector did not report.

Perfherder's sheriffs create an alert by hand for a signature and a push when they see a change on a graph
that no alert covers. Here a sheriff names the series, the revision where the new level starts and,
optionally, the last revision before it (the suspect range; default: the previous measured revision), and
perfsheriff measures the change from the stored data as detection measures the changes it finds
(:func:`perfsheriff.stats.changepoints.measure_step`: medians of up to ``window`` revisions a side, stopping
at the series' other step alerts, the rank test, the calibrated probability). The alert records who made it
(``alerts.created_by``), joins or forms a summary as every alert does, with a note by that sheriff, and
makes its series more sensitive (:mod:`perfsheriff.triage.sensitivity`), which the journal says.

Everything happens in one transaction, under the lock that serialises placing alerts into summaries, so
two sheriffs (or a sheriff and a detection pass) cannot make two alerts of one change.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

import numpy as np
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from perfsheriff.alerts import AlertConfirmation, AlertKind
from perfsheriff.errors import ConflictError, InputError, NotFoundError
from perfsheriff.model import Direction
from perfsheriff.service.sheriffing import triage
from perfsheriff.service.views.series import resolve_series
from perfsheriff.stats.changepoints import DetectionSettings, MeasuredStep, measure_step
from perfsheriff.store import alerts as alert_store
from perfsheriff.store import queries
from perfsheriff.store import triage as triage_store
from perfsheriff.store.queries import SeriesPoints
from perfsheriff.store.series_rows import SeriesRow

KINDS = (AlertKind.REGRESSION.value, AlertKind.IMPROVEMENT.value)
_HEX = frozenset("0123456789abcdef")


@dataclass(frozen=True, slots=True)
class Request:
    """What a sheriff asks for: the series (id or prefix), the first revision of the new level, and optionally
    the last revision before the change, the kind they expect and why."""

    series: str
    revision: str
    previous: str | None = None
    kind: str | None = None
    note: str = ""


@dataclass(frozen=True, slots=True)
class Created:
    alert_id: int
    summary_id: int


@dataclass(frozen=True, slots=True)
class _Place:
    """A resolved revision of the series' branch."""

    id: int
    sha: str
    position: int


def create_alert(engine: Engine, request: Request, *, who: str, now: datetime) -> Created:
    """Make an alert by hand (see the module docstring); bad input is an error naming its field."""
    _check(request, who)
    with engine.begin() as conn:
        triage_store.lock_summaries(conn)
        series = _Series.load(conn, request.series)
        bad = series.measured(series.resolve(request.revision, "revision"), "revision")
        good = series.before(bad, request.previous)
        others = alert_store.list_alerts(conn, series_id=series.row.id)
        _not_taken(others, good, bad)
        measured = _measure(series, others, good, bad)
        kind = _kind(series.row, measured, bad, request.kind)
        closed = next((a for a in others if a.kind == kind and a.first_bad_position == bad.position), None)
        if closed is not None:  # standing alerts are refused above; this one did not reproduce
            raise ConflictError(
                f"alert {closed.id} at {bad.sha[:12]} was closed as not reproduced: move its summary back to "
                "investigating rather than making another"
            ).about("revision")
        row = _row(series.row, (good, bad), kind, measured, note=request.note, who=who, now=now)
        (alert_id,) = alert_store.insert_alerts(conn, [row])
        before = triage.sensitivity_of(conn, triage_store.alert_facts(conn, ids=[alert_id]))
        placed = triage.place(conn, [alert_id], now, triage.by_hand(who, request.note))
        summary_id = placed.joins[alert_id]
        triage.journal_sensitivity(conn, summary_id, before, now)
    return Created(alert_id, summary_id)


def _check(request: Request, who: str) -> None:
    if request.kind is not None and request.kind not in KINDS:
        raise InputError(f"expected regression or improvement, got {request.kind!r}", where="kind").about("kind")
    if not who.strip():
        raise InputError("who makes the alert must be named", where="who").about("who")
    triage.check_text(who, triage.MAX_OWNER_CHARS, "who")
    triage.check_text(request.note, triage.MAX_NOTE_CHARS, "note")


@dataclass(frozen=True, slots=True)
class _Series:
    """The series an alert is made for, with its data and its branch's commits."""

    conn: sa.Connection
    row: SeriesRow
    branch_id: int
    points: SeriesPoints

    @classmethod
    def load(cls, conn: sa.Connection, prefix: str) -> _Series:
        row = resolve_series(conn, prefix, field="series_id")
        return cls(conn, row, queries.branch_id_of_series(conn, row.id), queries.series_points(conn, row.id))

    def resolve(self, rev: str, field: str) -> _Place:
        """The commit of the series' branch that ``rev`` (a sha or an abbreviation of one) names."""
        text = rev.strip().lower()
        if not 4 <= len(text) <= 40 or not set(text) <= _HEX:
            raise InputError(f"expected a commit sha (4 to 40 hex digits), got {rev!r}", where=field).about(field)
        found = queries.branch_revisions_by_prefix(self.conn, self.branch_id, text)
        row = self.row
        if not found:
            where = f"branch {row.branch!r} of {row.project!r}"
            raise NotFoundError(f"{field}: no commit {rev!r} on {where}, the history of series {row.id}").about(field)
        if len(found) > 1:
            raise InputError(f"revision {rev!r} is ambiguous: give more digits", where=field).about(field)
        return _Place(*found[0])

    def measured(self, place: _Place, field: str) -> _Place:
        """``place``, which must have data in the series."""
        if not np.any(self.points.positions == place.position):
            series = self.row.id
            raise InputError(
                f"revision {place.sha[:12]} has no data in series {series}: a hand-made alert's ends are measured "
                f"revisions (`perfsheriff show {series}` lists them)",
                where=field,
            ).about(field)
        return place

    def before(self, bad: _Place, previous: str | None) -> _Place:
        """The last good revision: ``previous`` (measured, before ``bad``), else the measured one before ``bad``."""
        if previous is not None:
            good = self.measured(self.resolve(previous, "previous"), "previous")
            if good.position >= bad.position:
                raise InputError(
                    f"{good.sha[:12]} does not come before {bad.sha[:12]} on branch {self.row.branch!r}",
                    where="previous",
                ).about("previous")
            return good
        earlier = np.flatnonzero(self.points.positions < bad.position)
        if not earlier.size:
            raise InputError(
                f"series {self.row.id} has no data before {bad.sha[:12]}: there is no old level to compare with",
                where="revision",
            ).about("revision")
        position = int(self.points.positions[earlier[-1]])
        sha = triage_store.shas_at(self.conn, self.branch_id, [position])[position]
        return _Place(int(self.points.revision_ids[earlier[-1]]), sha, position)


def _not_taken(others: list[alert_store.AlertRow], good: _Place, bad: _Place) -> None:
    """A standing step alert of the series whose suspect range meets this one's is the same change."""
    for other in others:
        if other.kind is AlertKind.DRIFT or other.confirmation is AlertConfirmation.NOT_REPRODUCED:
            continue
        if other.first_bad_position == bad.position or (
            other.last_good_position < bad.position and good.position < other.first_bad_position
        ):
            raise ConflictError(
                f"alert {other.id} ({other.kind} {other.relative_change:+.1%}, {other.last_good[:10]}.."
                f"{other.first_bad[:10]}) covers this change already"
            ).about("revision")


def _measure(series: _Series, others: list[alert_store.AlertRow], good: _Place, bad: _Place) -> MeasuredStep:
    """The change between the revisions up to ``good`` and those from ``bad`` on, each side stopping at the
    series' neighbouring step alerts (as the detector's windows stop at neighbouring changes)."""
    standing = [o for o in others if o.kind is not AlertKind.DRIFT]
    steps = [o.first_bad_position for o in standing if o.confirmation is not AlertConfirmation.NOT_REPRODUCED]
    start = max((p for p in steps if p <= good.position), default=-1)
    stop = min((p for p in steps if p > bad.position), default=int(np.iinfo(np.int64).max))
    window, points = DetectionSettings().window, series.points
    before = np.flatnonzero((points.positions >= start) & (points.positions <= good.position))[-window:]
    after = np.flatnonzero((points.positions >= bad.position) & (points.positions < stop))[:window]
    samples = cast("list[Sequence[float]]", [points.samples(int(i)) for i in (*before, *after)])
    measured = measure_step(samples, len(before), direction=Direction(series.row.direction))
    if measured is None:  # stored samples are finite: both sides have some
        raise InputError(f"series {series.row.id} has no data on one side of {bad.sha[:12]}", where="revision")
    return measured


def _kind(row: SeriesRow, measured: MeasuredStep, bad: _Place, asked: str | None) -> str:
    point = measured.point
    if not np.isfinite(point.relative_change):
        raise InputError(
            f"the level before {bad.sha[:12]} is 0 in series {row.id}: a relative change cannot be measured",
            where="revision",
        ).about("revision")
    if point.relative_change == 0:
        raise InputError(
            f"the data shows no change at {bad.sha[:12]} in series {row.id} (median {point.before:g} both sides)",
            where="revision",
        ).about("revision")
    kind = AlertKind.of_step(point.is_regression).value
    if asked is not None and asked != kind:
        shown = f"{point.relative_change:+.1%}: median {point.before:g} -> {point.after:g} {row.unit}"
        raise InputError(f"the data shows {_a(kind)} at {bad.sha[:12]} ({shown}), not {_a(asked)}", where="kind").about(
            "kind"
        )
    return kind


def _a(kind: str) -> str:
    return f"an {kind}" if kind == AlertKind.IMPROVEMENT else f"a {kind}"


def _row(
    row: SeriesRow,
    ends: tuple[_Place, _Place],
    kind: str,
    measured: MeasuredStep,
    *,
    note: str,
    who: str,
    now: datetime,
) -> dict[str, Any]:
    good, bad = ends
    point = measured.point
    details = {
        "method": "hand-made",
        "note": note,
        "before": point.before,
        "after": point.after,
        "before_spread": point.before_spread,
        "after_spread": point.after_spread,
        "n_before": point.n_before,
        "n_after": point.n_after,
        "noise": measured.noise,
        "test_confidence": point.confidence,
        "is_regression": point.is_regression,
    }
    return {
        "series_id": row.id,
        "last_good_revision_id": good.id,
        "first_bad_revision_id": bad.id,
        "kind": kind,
        "relative_change": point.relative_change,
        "confidence": point.probability,
        "details": details,
        "created_at": now,
        "created_by": who.strip(),
    }

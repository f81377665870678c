"""Each series' factor across each upgrade of its machine class, and the series in the newest generation's units.

A run belongs to the generation whose ``starts_at`` is the latest at or before the run's recording time. For
an upgrade, the old generation's samples at the baseline revisions (every revision both generations measured)
and the new generation's go to ``stats.generations.estimate_scale``. The timeline is rescaled run by run, not
by position: a baseline revision holds samples of both generations, and only the old ones are multiplied.
Raw samples are never changed.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import numpy as np
import sqlalchemy as sa

from perfsheriff.errors import InputError
from perfsheriff.stats.changepoints import ChangePoint
from perfsheriff.stats.generations import (
    MIN_REVISIONS,
    ScaleEstimate,
    TooUncertain,
    estimate_scale,
    explained_by_rescaling,
)
from perfsheriff.store import generations as store
from perfsheriff.store.queries import SeriesPoints


@dataclass(frozen=True, slots=True)
class GenerationFactor:
    """One upgrade of a series' class, seen from the series: its factor ``new / old``, or why there is none yet.

    ``boundary``: the first branch position after the last one the old generation measured (None when the
    new generation measured nothing past it yet); ``common``: revisions measured on both generations.
    """

    label: str
    previous_label: str
    ordinal: int
    starts_at: datetime
    baseline_asked: int
    common: int
    boundary: int | None
    result: ScaleEstimate | TooUncertain | None
    pending: str | None = None

    @property
    def applied(self) -> ScaleEstimate | None:
        return self.result if isinstance(self.result, ScaleEstimate) else None

    def describe(self) -> str:
        """One line: the factor with its interval, or why it is not applied."""
        if isinstance(self.result, ScaleEstimate):
            r = self.result
            return f"x{r.factor:.4f} [{r.low:.4f}, {r.high:.4f}] from {len(r.revisions)} revisions"
        if isinstance(self.result, TooUncertain):
            return f"too uncertain: about {self.result.more_revisions} more revisions ({self.result.reason})"
        return f"pending: {self.pending}"

    def as_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "generation": self.label,
            "previous": self.previous_label,
            "ordinal": self.ordinal,
            "starts_at": self.starts_at.isoformat(),
            "baseline_revisions_asked": self.baseline_asked,
            "baseline_revisions_measured": self.common,
            "boundary_position": self.boundary,
            "state": "applied" if self.applied else ("too uncertain" if self.result else "pending"),
            "factor": None,
            "low": None,
            "high": None,
            "more_revisions": None,
            "reason": self.pending,
        }
        if self.result is not None:
            out.update(factor=self.result.factor, low=self.result.low, high=self.result.high)
            out["low"] = None if self.result.low == 0.0 else self.result.low
            out["high"] = None if math.isinf(self.result.high) else self.result.high
        if isinstance(self.result, TooUncertain):
            out.update(more_revisions=self.result.more_revisions, reason=self.result.reason)
        return out


#: A generation that has measured nothing after the old one's last revision: all its runs are baseline runs.
_NO_BOUNDARY = 2**62


@dataclass(frozen=True, slots=True)
class _Rows:
    positions: list[int]
    revision_ids: list[int]
    shas: list[str]
    generation: list[int]  # 0: the implicit first
    values: list[np.ndarray[Any, np.dtype[np.float64]]]


@dataclass(frozen=True, slots=True)
class AcrossGenerations:
    """A series read for detection across its class's upgrades: :func:`rescaled_points` and its factors."""

    machine_class: str
    points: SeriesPoints
    factors: list[GenerationFactor]

    def at_boundary(self, change: ChangePoint, positions: Sequence[int] | np.ndarray[Any, Any]) -> str | None:
        """Why ``change`` raises no alert, or None (not at an upgrade's boundary, or a real change there).

        ``change`` indexes ``positions``, the branch positions detection read. A change at a boundary is
        explained by the factor's own error (``explained_by_rescaling``), or held back while the factor is
        pending or too uncertain (the machines' step is still in the values)."""
        first = change.first_possible if change.first_possible >= 0 else change.last_before + 1
        last = change.last_possible if change.last_possible >= 0 else change.index
        for factor in self.factors:
            if factor.boundary is None:
                continue
            index = int(np.searchsorted(positions, factor.boundary))
            if not first <= index <= last:
                continue
            where = f"the upgrade of {self.machine_class} to {factor.label}"
            if factor.applied is None:
                return f"held back at {where}: its factor is {factor.describe()}"
            if explained_by_rescaling(change, index, factor.applied):
                return f"explained at {where} by the factor's interval ({factor.describe()})"
        return None


def across_generations(
    conn: sa.Connection, series_id: str, machine_class: str, *, from_position: int = 0
) -> AcrossGenerations | None:
    """:func:`rescaled_points` for detection; None when the class was never upgraded."""
    found = rescaled_points(conn, series_id, machine_class, from_position=from_position)
    return None if found is None else AcrossGenerations(machine_class, *found)


def series_factors(conn: sa.Connection, series_id: str, machine_class: str) -> list[GenerationFactor]:
    """The factor of the series across each recorded upgrade of its class, oldest first ([] if none)."""
    generations = store.generations(conn, machine_class)
    if not generations:
        return []
    return _factors(generations, _read(conn, series_id, generations))


def rescaled_points(
    conn: sa.Connection, series_id: str, machine_class: str, *, from_position: int = 0
) -> tuple[SeriesPoints, list[GenerationFactor]] | None:
    """The series (from ``from_position``) with every run in the newest generation's units where the factors
    allow, and the factors; None when its class was never upgraded. A generation whose factor, or a later
    one's, is not applied keeps its raw values (units of its own: detection holds alerts at that boundary)."""
    generations = store.generations(conn, machine_class)
    if not generations:
        return None
    rows = _read(conn, series_id, generations)
    factors = _factors(generations, rows)
    multipliers = [1.0] * (len(generations) + 1)  # per generation: into the newest one's units; 0: unknown
    for g in range(len(generations) - 1, -1, -1):  # newest boundary first, then the older ones
        applied = factors[g].applied
        multipliers[g] = multipliers[g + 1] * applied.factor if applied and multipliers[g + 1] else 0.0
    # A generation's baseline runs (before its boundary) join the timeline only where the older generation's
    # values are rescaled: beside raw old values they would be a step of the machines inside old history.
    baseline_before = [-1] + [
        (f.boundary if f.boundary is not None else _NO_BOUNDARY) if not multipliers[g] else -1
        for g, f in enumerate(factors)
    ]
    positions: list[int] = []
    revision_ids: list[int] = []
    offsets = [0]
    chunks: list[np.ndarray[Any, np.dtype[np.float64]]] = []
    runs: list[int] = []
    for position, revision_id, generation, values in zip(
        rows.positions, rows.revision_ids, rows.generation, rows.values, strict=True
    ):
        if position < from_position or position < baseline_before[generation]:
            continue
        scale = multipliers[generation] or 1.0
        if not positions or positions[-1] != position:
            positions.append(position)
            revision_ids.append(revision_id)
            offsets.append(offsets[-1])
            runs.append(0)
        chunks.append(values * scale)
        offsets[-1] += len(values)
        runs[-1] += 1
    points = SeriesPoints(
        positions=np.array(positions, dtype=np.int64),
        revision_ids=np.array(revision_ids, dtype=np.int64),
        offsets=np.array(offsets, dtype=np.int64),
        values=np.concatenate(chunks) if chunks else np.zeros(0),
        runs=np.array(runs, dtype=np.int64),
    )
    return points, factors


def _read(conn: sa.Connection, series_id: str, generations: Sequence[sa.RowMapping]) -> _Rows:
    starts = [g["starts_at"] for g in generations]
    rows = _Rows([], [], [], [], [])
    for position, revision_id, sha, created, blob in store.series_samples_by_run_time(conn, series_id):
        rows.positions.append(position)
        rows.revision_ids.append(revision_id)
        rows.shas.append(sha)
        rows.generation.append(sum(1 for s in starts if s <= created))
        rows.values.append(np.frombuffer(blob, dtype="<f8"))
    return rows


def _factors(generations: Sequence[sa.RowMapping], rows: _Rows) -> list[GenerationFactor]:
    out = []
    for index, generation in enumerate(generations, start=1):
        old: dict[str, list[float]] = {}
        new: dict[str, list[float]] = {}
        old_last = new_last = -1
        for position, sha, g, values in zip(rows.positions, rows.shas, rows.generation, rows.values, strict=True):
            if g == index - 1:
                old.setdefault(sha, []).extend(values.tolist())
                old_last = max(old_last, position)
            elif g == index:
                new.setdefault(sha, []).extend(values.tolist())
                new_last = max(new_last, position)
        common = sum(1 for sha in old if sha in new)
        boundary = old_last + 1 if old_last >= 0 and new_last > old_last else None
        result: ScaleEstimate | TooUncertain | None = None
        pending = None
        if common < MIN_REVISIONS:
            pending = (
                f"{common} of {generation['baseline_revisions']} baseline revisions measured on "
                f"{generation['label']} so far"
            )
        else:
            try:
                result = estimate_scale(old, new)
            except InputError as exc:  # a sample of 0 or below: no log ratio
                pending = str(exc)
        out.append(
            GenerationFactor(
                str(generation["label"]),
                str(generation["previous_label"]),
                int(generation["ordinal"]),
                generation["starts_at"],
                int(generation["baseline_revisions"]),
                common,
                boundary,
                result,
                pending,
            )
        )
    return out


@dataclass(frozen=True, slots=True)
class RevisionSamples:
    """A revision's samples of a series in the newest generation's units: measured by ``generation`` and
    multiplied by ``factor`` (None: measured by the newest, as they are), ``low``..``high`` its interval (the
    product of the ends across several upgrades)."""

    values: np.ndarray[Any, np.dtype[np.float64]]
    generation: str
    newest: str
    factor: float | None = None
    low: float | None = None
    high: float | None = None

    def as_json(self) -> dict[str, Any]:
        return {"generation": self.generation, "factor": self.factor, "low": self.low, "high": self.high}


def revision_samples(
    conn: sa.Connection, series_id: str, machine_class: str, revision_ids: Sequence[int]
) -> dict[int, RevisionSamples | str] | None:
    """Each revision's samples in the newest generation's units, or why they cannot be (a factor on the way
    pending or too uncertain); None when the class was never upgraded, a revision the series lacks is left out.

    Of a revision measured by several generations (a baseline revision) only the newest one's runs count: they
    need no factor, or the fewest."""
    generations = store.generations(conn, machine_class)
    if not generations:
        return None
    rows = _read(conn, series_id, generations)
    factors = _factors(generations, rows)
    labels = [str(generations[0]["previous_label"])] + [str(g["label"]) for g in generations]
    out: dict[int, RevisionSamples | str] = {}
    for wanted in revision_ids:
        runs = [(g, v) for r, g, v in zip(rows.revision_ids, rows.generation, rows.values, strict=True) if r == wanted]
        if not runs:
            continue
        by = max(g for g, _ in runs)
        values = np.concatenate([v for g, v in runs if g == by])
        factor = low = high = 1.0
        for upgrade in factors[by:]:  # into each later generation in turn
            if upgrade.applied is None:
                out[wanted] = (
                    f"measured on {labels[by]} of {machine_class}, and the factor into {upgrade.label} is "
                    f"{upgrade.describe()}"
                )
                break
            factor, low, high = factor * upgrade.applied.factor, low * upgrade.applied.low, high * upgrade.applied.high
        else:
            if by == len(generations):
                out[wanted] = RevisionSamples(values, labels[by], labels[-1])
            else:
                out[wanted] = RevisionSamples(values * factor, labels[by], labels[-1], factor, low, high)
    return out

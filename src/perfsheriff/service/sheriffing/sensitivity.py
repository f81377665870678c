"""Sensitivity learnt from triage, per series: loaded for each detection pass, journaled when it changes.

The rule is :mod:`perfsheriff.triage.sensitivity` (pure); this module reads the triaged and hand-made step
alerts of the series, applies the rule's result over the configured thresholds, and says in words what a
sheriff's decision (or hand-made alert) changed, for the summary's journal.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, replace
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from perfsheriff.store import triage as store
from perfsheriff.triage.sensitivity import COUNTING_STATES, Sensitivity, learnt_by_series

if TYPE_CHECKING:  # a type only: `show` reads the learnt sensitivity without loading scipy for detection
    from perfsheriff.stats.changepoints import DetectionSettings


def learnt(conn: sa.Connection, series_ids: Sequence[str] | None = None) -> dict[str, Sensitivity]:
    """The learnt sensitivity of each series with a triaged or hand-made step alert (of ``series_ids``, or all)."""
    return learnt_by_series(store.triaged_step_alerts(conn, COUNTING_STATES, series_ids=series_ids))


def adjusted(settings: DetectionSettings, sensitivity: Sensitivity | None) -> DetectionSettings:
    """The configured settings with the learnt ``min_relative_change`` in place of the configured one."""
    if sensitivity is None or sensitivity.is_default:
        return settings
    return replace(settings, min_relative_change=sensitivity.apply(settings.min_relative_change))


@dataclass(frozen=True, slots=True)
class Change:
    """A series whose learnt sensitivity a triage decision changed."""

    series_id: str
    label: str
    old: Sensitivity
    new: Sensitivity

    def sentence(self) -> str:
        direction = "less" if self.new.key > self.old.key else "more"
        return (
            f"series {self.series_id} ({self.label}) is now {direction} sensitive: it alerts on changes beyond "
            f"{self.new.describe()}; before: {self.old.describe()}"
        )


def changes(
    conn: sa.Connection, before: Mapping[str, Sensitivity], labels: Mapping[str, str]
) -> tuple[str, dict[str, Any]] | None:
    """The journal note (text, details) for the series whose sensitivity moved since ``before``; None if none."""
    after = learnt(conn, sorted(before))
    moved = []
    for series_id in sorted(before):
        old, new = before[series_id], after.get(series_id, Sensitivity())
        if old.key != new.key:
            moved.append(Change(series_id, labels.get(series_id, ""), old, new))
    if not moved:
        return None
    text = "sensitivity learnt from triage: " + "; ".join(change.sentence() for change in moved)
    details = {"sensitivity": [{"series_id": c.series_id, "old": asdict(c.old), "new": asdict(c.new)} for c in moved]}
    return text, details

"""Sensitivity learnt from triage, per series: loaded for each detection pass, journaled when it changes.

The rule is :mod:`perfsheriff.triage.sensitivity` (pure); this module reads the triaged and hand-made step
alerts of the series, applies the rule's result over the configured thresholds, and says in words what a
sheriff's decision (or hand-made alert) changed, for the summary's journal.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, replace
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from perfsheriff.store import triage as store
from perfsheriff.triage import State
from perfsheriff.triage.sensitivity import CONFIRMED, REJECTED, Judged, Sensitivity, judged, learn
from perfsheriff.triage.states import OPEN_STATES

if TYPE_CHECKING:  # a type only: `show` reads the learnt sensitivity without loading scipy for detection
    from perfsheriff.stats.changepoints import DetectionSettings

# Open summaries count for their hand-made alerts only (judged() says which alerts a state decides).
_COUNTING = sorted(s.value for s in CONFIRMED | REJECTED | OPEN_STATES)


def learnt(conn: sa.Connection, series_ids: Sequence[str] | None = None) -> dict[str, Sensitivity]:
    """The learnt sensitivity of each series with a triaged or hand-made step alert (of ``series_ids``, or all)."""
    history: dict[str, list[Judged]] = defaultdict(list)
    for series_id, state, change, handmade in store.triaged_step_alerts(conn, _COUNTING, series_ids=series_ids):
        verdict = judged(State(state), change, handmade=handmade)
        if verdict is not None:
            history[series_id].append(verdict)
    return {series_id: learn(alerts) for series_id, alerts in history.items()}


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

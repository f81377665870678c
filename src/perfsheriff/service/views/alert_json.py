"""An alert as JSON: the one rendering behind the CLI, the API, the dashboard and ``detect --jsonl``.

Each output keeps the fields it always had, named by a field list:

- a stored alert (``perfsheriff alerts --json``, ``GET /api/v1/alerts``, the dashboard's latest alerts):
  every field of :class:`~perfsheriff.store.alerts.AlertRow`, its bisection inside ``details["bisection"]``
  as it was stored there before bisections had a table (:func:`bisection_json`);
- an alert of a summary (:data:`SUMMARY_FIELDS`, ``/api/v1/summaries`` and ``perfsheriff triage``);
- a change found in a JSON-lines series (:data:`JSONL_FIELDS`), with no database behind it.
"""

from __future__ import annotations

import dataclasses
import enum
import math
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from perfsheriff.alerts import Bisection

#: The fields of an alert in a summary, in order.
SUMMARY_FIELDS = (
    "id",
    "series_id",
    "benchmark",
    "machine_class",
    "configuration",
    "kind",
    "relative_change",
    "confidence",
    "severity",
    "last_good",
    "first_bad",
    "last_good_position",
    "first_bad_position",
    "culprit",
    "culprit_confidence",
    "bisection",  # the outcome's name once decided, "failed" when the benchmark could not serve it, else None
    "bisection_reason",  # why it named no culprit, or failed; None otherwise
    "created_at",
    "created_by",  # who made it by hand; None: perfsheriff found it
)

#: The fields of a change found in a JSON-lines series, in order (the revisions' only when it has them).
JSONL_FIELDS = (
    "index",
    "last_good_index",
    "kind",
    "relative_change",
    "confidence",
    "test_confidence",
    "range",
    "before",
    "after",
    "before_spread",
    "after_spread",
    "n_before",
    "n_after",
)
JSONL_REVISION_FIELDS = ("last_good_revision", "first_bad_revision", "suspect_revisions")


def alert_json(
    alert: Any,
    *,
    fields: Sequence[str] | None = None,
    given: Mapping[str, Any] | None = None,
    nonfinite_as_null: bool = False,
) -> dict[str, Any]:
    """``alert`` (a dataclass) as a JSON-ready object.

    ``fields``: the names to render, in order, each taken from ``given`` when it is there, else from the
    alert's attribute of that name; None renders every field of a stored alert (see the module docstring).
    Datetimes become ISO 8601 text, enums their values; ``nonfinite_as_null``: NaN and infinities become null.
    """
    values = dict(given or {})
    if fields is None:
        fields = [f.name for f in dataclasses.fields(alert) if f.name != "bisection"]
        bisection = getattr(alert, "bisection", None)
        if isinstance(bisection, Bisection) and bisection.state.decided:
            values.setdefault("details", {**alert.details, "bisection": bisection_json(bisection)})
    out = {name: _plain(values[name] if name in values else getattr(alert, name)) for name in fields}
    if nonfinite_as_null:
        out = {k: (None if isinstance(v, float) and not math.isfinite(v) else v) for k, v in out.items()}
    return out


def bisection_json(bisection: Bisection) -> dict[str, Any]:
    """A decided bisection as every output has shown it (and as ``alerts.details["bisection"]`` held it)."""
    record: dict[str, Any] = {
        "kind": bisection.state.value,
        "culprits": list(bisection.culprits),
        "confidence": bisection.confidence,
        "runs_spent": bisection.runs_spent,
        "range_size": bisection.range_size,
        "reason": bisection.reason,
        "probes": [dataclasses.asdict(p) for p in bisection.probes],
    }
    if bisection.reused_from is not None:
        record["reused_from_alert"] = bisection.reused_from
    return record


def _plain(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, tuple):
        return list(value)
    return value

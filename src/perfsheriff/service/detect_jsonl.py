"""Detection over JSON lines, for evaluation and for people's own data (no database).

Input: one object per line, ``{"id": ..., "values": [...], "timestamps": [...],
"revisions": [...], "meta": {"lower_is_better": true, "unit": "ms", ...}}``, where
each entry of ``values`` is a number or a list of samples (``null`` or an empty
list: an untested revision). Output: one object per series, ``{"id": ...,
"verdict": ..., "change_points": [i, ...], "alerts": [{...}]}`` with ``i`` the
index of the first point of the new level. A line that cannot be read yields an
error naming the line and the series id; the other lines still get results.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass
from typing import Any

from perfsheriff.errors import InputError
from perfsheriff.model import Direction, unit_info
from perfsheriff.stats.changepoints import ChangePoint, DetectionSettings, Drift, detect


@dataclass(frozen=True, slots=True)
class JsonlSeries:
    id: str
    values: list[list[float]]
    revisions: list[str] | None
    timestamps: list[int] | None
    direction: Direction


def _number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _samples(entry: object, index: int, unit: str) -> list[float]:
    if entry is None:
        return []
    items = entry if isinstance(entry, list) else [entry]
    out = []
    for item in items:
        if not _number(item):
            raise InputError(f"values[{index}] must be a number or a list of numbers, got {item!r}")
        value = float(item)  # type: ignore[arg-type]
        if math.isfinite(value) and value < 0 and unit_info(unit).non_negative:
            raise InputError(f"values[{index}] is {value}, but measurements in {unit!r} cannot be negative")
        out.append(value)
    return out


def _optional_list(record: dict[str, Any], key: str, length: int) -> list[Any] | None:
    value = record.get(key)
    if value is None:
        return None
    if not isinstance(value, list):
        raise InputError(f"'{key}' must be a list")
    if len(value) != length:
        raise InputError(f"'{key}' has {len(value)} entries but 'values' has {length}")
    return value


def parse_record(record: object) -> JsonlSeries:
    """Validate one decoded line; raises :class:`InputError` saying what was expected."""
    if not isinstance(record, dict):
        raise InputError("expected a JSON object with 'id' and 'values'")
    series_id = record.get("id")
    if not isinstance(series_id, str | int) or isinstance(series_id, bool):
        raise InputError("'id' must be a string")
    values = record.get("values")
    if not isinstance(values, list):
        raise InputError("'values' must be a list", where=f"series {series_id}")
    meta = record.get("meta") or {}
    if not isinstance(meta, dict):
        raise InputError("'meta' must be an object", where=f"series {series_id}")
    unit = str(meta.get("unit", ""))
    lower = meta.get("lower_is_better", unit_info(unit).direction is Direction.LOWER_IS_BETTER)
    if not isinstance(lower, bool):
        raise InputError("'meta.lower_is_better' must be true or false", where=f"series {series_id}")
    try:
        samples = [_samples(entry, i, unit) for i, entry in enumerate(values)]
        revisions = _optional_list(record, "revisions", len(values))
        timestamps = _optional_list(record, "timestamps", len(values))
    except InputError as exc:
        raise InputError(exc.reason, where=f"series {series_id}") from None
    direction = Direction.LOWER_IS_BETTER if lower else Direction.HIGHER_IS_BETTER
    return JsonlSeries(str(series_id), samples, revisions, timestamps, direction)


def alert_json(cp: ChangePoint, series: JsonlSeries) -> dict[str, Any]:
    """Everything known about one change, JSON-ready (non-finite numbers become null)."""
    detail: dict[str, Any] = {
        "index": cp.index,
        "last_good_index": cp.last_before,
        "kind": "regression" if cp.is_regression else "improvement",
        "relative_change": cp.relative_change,
        "confidence": cp.probability,
        "test_confidence": cp.confidence,
        "range": [cp.first_possible, cp.last_possible],
        "before": cp.before,
        "after": cp.after,
        "before_spread": cp.before_spread,
        "after_spread": cp.after_spread,
        "n_before": cp.n_before,
        "n_after": cp.n_after,
    }
    if series.revisions is not None:
        detail["last_good_revision"] = series.revisions[cp.last_before]
        detail["first_bad_revision"] = series.revisions[cp.index]
        detail["suspect_revisions"] = series.revisions[cp.last_before + 1 : cp.index + 1]
    return {k: (None if isinstance(v, float) and not math.isfinite(v) else v) for k, v in detail.items()}


def drift_json(ramp: Drift) -> dict[str, Any]:
    """A gradual change (a ramp the detector told from a staircase of steps), JSON-ready."""
    detail = asdict(ramp)
    detail["kind"] = "drift"
    return {k: (None if isinstance(v, float) and not math.isfinite(v) else v) for k, v in detail.items()}


def detect_lines(lines: Iterable[str], settings: DetectionSettings) -> Iterator[dict[str, Any] | InputError]:
    """Yield a result object per series, or an :class:`InputError` for a line that cannot be used."""
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        where = f"line {number}"
        try:
            record = json.loads(line, parse_constant=_reject_constant)
            series = parse_record(record)
        except json.JSONDecodeError as exc:
            yield InputError(f"not valid JSON ({exc.msg} at column {exc.colno})", where=where)
            continue
        except InputError as exc:
            yield InputError(exc.reason, where=f"{where}, {exc.where}" if exc.where else where)
            continue
        result = detect(series.values, direction=series.direction, settings=settings)
        yield {
            "id": series.id,
            "verdict": result.verdict.value,
            "n_points": result.n_points,
            "n_dropped": result.n_dropped,
            "change_points": [cp.index for cp in result.change_points],
            "ranges": [[cp.first_possible, cp.last_possible] for cp in result.change_points],
            "alerts": [alert_json(cp, series) for cp in result.change_points],
            "drifts": [drift_json(d) for d in result.drifts],
        }


def _reject_constant(name: str) -> float:
    """NaN and Infinity are not JSON; Python's decoder accepts them unless told otherwise."""
    raise InputError(f"{name} is not a JSON number; leave the revision out or use null")

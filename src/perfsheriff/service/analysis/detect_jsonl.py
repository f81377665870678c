"""Detection over JSON lines, for evaluation and for people's own data (no database).

Input: one object per line, ``{"id": ..., "values": [...], "timestamps": [...],
"revisions": [...], "meta": {"lower_is_better": true, "unit": "ms", ...}}``, where
each entry of ``values`` is a number or a list of samples (``null`` or an empty
list: an untested revision). Output: one object per series, ``{"id": ...,
"verdict": ..., "change_points": [i, ...], "alerts": [{...}]}`` with ``i`` the
index of the first point of the new level. A line that cannot be read yields an
error naming the line, the series id and the field; the other lines still get
results. Every problem of a line is an :class:`InputError`, never another exception.
"""

from __future__ import annotations

import dataclasses
import json
import math
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from perfsheriff.alerts import AlertKind
from perfsheriff.errors import InputError
from perfsheriff.model import Direction, unit_info
from perfsheriff.service.views.alert_json import JSONL_FIELDS, JSONL_REVISION_FIELDS, alert_json
from perfsheriff.stats.changepoints import ChangePoint, DetectionSettings, Drift, detect

#: The largest series a line may hold: a million revisions (4-6 s and 0.6 GB, read and analysed) ...
MAX_REVISIONS = 1_000_000
#: ... and ten million samples in all.
MAX_SAMPLES = 10_000_000
#: Larger magnitudes are refused: no measurement is that large, and sums of such values overflow.
MAX_MAGNITUDE = 1e100

Points = list[list[float]] | npt.NDArray[np.float64]


@dataclass(frozen=True, slots=True)
class JsonlSeries:
    id: str
    values: Points
    revisions: list[str | int] | None
    timestamps: list[float] | None
    direction: Direction


def _number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _measurement(item: object, field: str, unit: str) -> float:
    if not _number(item):
        expected = "a number" if field.count("[") == 2 else "a number, a list of numbers or null"
        raise InputError(f"{field} must be {expected}, got {_shown(item)}")
    if isinstance(item, float) and not math.isfinite(item):
        raise InputError(f"{field} is not a finite number (NaN, Infinity or beyond 1.8e308); use null if untested")
    if abs(item) > MAX_MAGNITUDE:  # type: ignore[arg-type]
        raise InputError(f"{field} is {_shown(item)}, beyond the largest magnitude accepted ({MAX_MAGNITUDE:g})")
    value = float(item)  # type: ignore[arg-type]
    if value < 0 and unit_info(unit).non_negative:
        raise InputError(f"{field} is {value}, but measurements in {unit!r} cannot be negative")
    return value


def _samples(entry: object, index: int, unit: str) -> list[float]:
    if entry is None:
        return []
    if isinstance(entry, list):
        return [_measurement(item, f"values[{index}][{j}]", unit) for j, item in enumerate(entry)]
    return [_measurement(entry, f"values[{index}]", unit)]


def _points(values: list[Any], unit: str) -> Points:
    """The samples of each revision; one flat array when every revision has exactly one number (less memory)."""
    if all(_number(v) for v in values):
        return np.array([_measurement(v, f"values[{i}]", unit) for i, v in enumerate(values)], dtype=np.float64)
    samples = [_samples(entry, i, unit) for i, entry in enumerate(values)]
    total = sum(len(s) for s in samples)
    if total > MAX_SAMPLES:
        raise InputError(f"'values' holds {total} samples; at most {MAX_SAMPLES} are accepted per series")
    return samples


def _optional_list(record: dict[str, Any], key: str, length: int) -> list[Any] | None:
    value = record.get(key)
    if value is None:
        return None
    if not isinstance(value, list):
        raise InputError(f"'{key}' must be a list")
    if len(value) != length:
        raise InputError(f"'{key}' has {len(value)} entries but 'values' has {length}")
    return value


def _revisions(record: dict[str, Any], length: int) -> list[str | int] | None:
    revisions = _optional_list(record, "revisions", length)
    for i, revision in enumerate(revisions or ()):
        if not isinstance(revision, str | int) or isinstance(revision, bool):
            raise InputError(f"revisions[{i}] must be a string (a commit id), got {_shown(revision)}")
    return revisions


def _timestamps(record: dict[str, Any], length: int) -> list[float] | None:
    timestamps = _optional_list(record, "timestamps", length)
    for i, stamp in enumerate(timestamps or ()):
        if stamp is None:
            continue
        if not _number(stamp) or not 0 <= stamp <= MAX_MAGNITUDE:
            raise InputError(f"timestamps[{i}] must be a time in seconds since 1970 (>= 0), got {_shown(stamp)}")
    return timestamps


def _shown(value: object) -> str:
    """A value for an error message: short, whatever the value."""
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) > MAX_MAGNITUDE:
        return f"an integer of {len(str(abs(value)))} digits" if value.bit_length() < 14_000 else "a huge integer"
    text = json.dumps(value) if not isinstance(value, list | dict) else type(value).__name__.replace("dict", "object")
    return text if len(text) <= 40 else text[:37] + "..."


def _series_id(record: dict[str, Any]) -> str:
    if "id" not in record:
        raise InputError("'id' is missing")
    series_id = record["id"]
    if not isinstance(series_id, str | int) or isinstance(series_id, bool):
        raise InputError(f"'id' must be a string, got {_shown(series_id)}")
    return str(series_id)


def _direction(record: dict[str, Any]) -> tuple[str, Direction]:
    meta = record.get("meta") or {}
    if not isinstance(meta, dict):
        raise InputError("'meta' must be an object")
    unit = meta.get("unit", "")
    if not isinstance(unit, str):
        raise InputError(f"'meta.unit' must be a string, got {_shown(unit)}")
    lower = meta.get("lower_is_better", unit_info(unit).direction is Direction.LOWER_IS_BETTER)
    if not isinstance(lower, bool):
        raise InputError("'meta.lower_is_better' must be true or false")
    return unit, Direction.LOWER_IS_BETTER if lower else Direction.HIGHER_IS_BETTER


def parse_record(record: object) -> JsonlSeries:
    """Validate one decoded line; raises :class:`InputError` naming the field and what was expected."""
    if not isinstance(record, dict):
        raise InputError("expected a JSON object with 'id' and 'values'")
    series_id = _series_id(record)
    try:
        values = record.get("values")
        if not isinstance(values, list):
            raise InputError("'values' is missing" if values is None else "'values' must be a list")
        if len(values) > MAX_REVISIONS:
            raise InputError(f"'values' has {len(values)} revisions; at most {MAX_REVISIONS} are accepted per series")
        unit, direction = _direction(record)
        points = _points(values, unit)
        revisions = _revisions(record, len(values))
        timestamps = _timestamps(record, len(values))
    except InputError as exc:
        raise InputError(exc.reason, where=f"series {series_id}") from None
    return JsonlSeries(series_id, points, revisions, timestamps, direction)


def change_json(cp: ChangePoint, series: JsonlSeries) -> dict[str, Any]:
    """Everything known about one change, JSON-ready (non-finite numbers become null)."""
    given: dict[str, Any] = {
        "last_good_index": cp.last_before,
        "kind": AlertKind.of_step(cp.is_regression),
        "confidence": cp.probability,
        "test_confidence": cp.confidence,
        "range": [cp.first_possible, cp.last_possible],
    }
    fields: tuple[str, ...] = JSONL_FIELDS
    if series.revisions is not None:
        given["last_good_revision"] = series.revisions[cp.last_before]
        given["first_bad_revision"] = series.revisions[cp.index]
        given["suspect_revisions"] = series.revisions[cp.last_before + 1 : cp.index + 1]
        fields += JSONL_REVISION_FIELDS
    return alert_json(cp, fields=fields, given=given, nonfinite_as_null=True)


def drift_json(ramp: Drift) -> dict[str, Any]:
    """A gradual change (a ramp the detector told from a staircase of steps), JSON-ready."""
    fields = (*(f.name for f in dataclasses.fields(ramp)), "kind")
    return alert_json(ramp, fields=fields, given={"kind": AlertKind.DRIFT}, nonfinite_as_null=True)


def detect_lines(lines: Iterable[str], settings: DetectionSettings) -> Iterator[dict[str, Any] | InputError]:
    """Yield a result object per series, or an :class:`InputError` for a line that cannot be used."""
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        where = f"line {number}"
        try:
            series = read_line(line)
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
            "alerts": [change_json(cp, series) for cp in result.change_points],
            "drifts": [drift_json(d) for d in result.drifts],
        }


def read_line(line: str) -> JsonlSeries:
    """Decode and validate one line; every problem is an :class:`InputError` (never another exception).

    ``NaN`` and ``Infinity`` (not JSON, but Python's decoder takes them) decode to floats so that the
    field holding them can be named; :func:`parse_record` refuses them there.
    """
    try:
        line.encode("utf-8")
    except UnicodeEncodeError:  # text read with surrogateescape: the line's bytes were not UTF-8
        raise InputError("not UTF-8 text") from None
    try:
        record = json.loads(line)
    except json.JSONDecodeError as exc:
        raise InputError(f"not valid JSON ({exc.msg} at column {exc.colno})") from None
    except ValueError as exc:  # an integer of more digits than Python converts (sys.get_int_max_str_digits)
        raise InputError(f"not usable JSON ({str(exc).split(':')[0]})") from None
    except RecursionError:
        raise InputError("not usable JSON (arrays or objects nested too deeply)") from None
    return parse_record(record)

"""Domain values of perfsheriff: frozen, validated, free of I/O.

The words follow ``DESIGN.md``: a *series* is project + branch + benchmark +
metric + machine class + configuration, identified by a stable hash (like
Perfherder's signatures); a *run* executes a benchmark at a revision on a
machine and yields *samples* (repetitions) per series.

Why one module of about 430 lines: it is the one vocabulary every layer imports, and its parts check
each other (a result's samples by its unit, a unit's direction by the results that carry it).
"""

from __future__ import annotations

import enum
import functools
import hashlib
import json
import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime

from perfsheriff.errors import InputError

#: Limits of what is stored, the same on SQLite and PostgreSQL (which refuses longer values in its
#: columns, and index entries beyond about 2,700 bytes): ids are 64-bit integers; names as below, in
#: characters (four bytes each at most in UTF-8); a configuration's ``k=v,k=v`` text in UTF-8 bytes.
MAX_ID = 2**63 - 1
MAX_POSITION = 2**31 - 1  # a revision's position along its branch
MAX_NAME_CHARS = 200  # machines, machine classes, metrics, configuration keys and values
MAX_BENCHMARK_CHARS = 500  # benchmark names and suites
MAX_UNIT_CHARS = 100
MAX_CONFIGURATION_BYTES = 2000

_USERINFO = re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://)[^/\s@'\"]+@")


def redact_url(text: str) -> str:
    """``text`` with the user and password of every URL in it replaced by ``***``.

    A repository may be configured as ``https://user:token@host/x.git``: what is shown or logged (the
    API, the dashboard, git's error messages) must never carry the credentials.
    """
    return _USERINFO.sub(r"\1***@", text)


class Direction(enum.StrEnum):
    """Which way is better for a measurement."""

    LOWER_IS_BETTER = "lower_is_better"
    HIGHER_IS_BETTER = "higher_is_better"

    def is_regression(self, relative_change: float) -> bool:
        """The one place that decides the sign of a regression.

        ``relative_change`` is ``(after - before) / before``; a rise is a
        regression when lower is better, a fall when higher is better.
        """
        if self is Direction.LOWER_IS_BETTER:
            return relative_change > 0
        return relative_change < 0


class RunStatus(enum.StrEnum):
    """Outcome of one run. Only ``ok`` runs contribute samples."""

    OK = "ok"
    FAILED = "failed"  # build or benchmark error: the commit is unusable, not "bad"
    TIMEOUT = "timeout"
    INFRA = "infra"  # the machine failed, not the code: retried, kept apart


class JobState(enum.StrEnum):
    """Where a queued benchmark run is: waiting, held under a lease by an agent, answered, or given up."""

    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"


class JobReason(enum.StrEnum):
    """Why a job exists; the order here is the order agents take them in.

    Routine runs of new pushes go first: they are what the machines are for, and a bad week of alerts must
    not starve them (Mozilla's rule for its shared pools). Then what decides whether anyone is told
    (confirmation), then what fills history in, then bisection, whose probes come one after another anyway;
    last the baseline of a machine upgrade, which can wait for idle machines (its factor settles the timeline
    across the upgrade, nothing else waits for it).
    Everything but routine runs also draws on the machine class's run budget (``scheduling.RunBudget``).
    """

    ROUTINE = "routine"
    CONFIRM = "confirm"  # retriggers and backfills that confirm a candidate alert before anyone sees it
    BACKFILL = "backfill"
    BISECT = "bisect"
    BASELINE = "baseline"  # old revisions measured again on a machine class's new generation (a rescaling factor)

    @property
    def priority(self) -> int:
        return {
            JobReason.ROUTINE: 40,
            JobReason.CONFIRM: 30,
            JobReason.BACKFILL: 20,
            JobReason.BISECT: 10,
            JobReason.BASELINE: 5,
        }[self]


class Dimension(enum.StrEnum):
    TIME = "time"
    SIZE = "size"
    RATE = "rate"  # something per second: higher is better
    COUNT = "count"
    RATIO = "ratio"
    OTHER = "other"


@dataclass(frozen=True, slots=True)
class UnitInfo:
    """What perfsheriff knows about a unit string, for validation and display.

    ``factor`` converts a value in this unit to the dimension's base unit
    (seconds, bytes, per second); units stay as the tool gave them in storage.
    """

    dimension: Dimension
    factor: float
    direction: Direction
    non_negative: bool


_LOWER = Direction.LOWER_IS_BETTER
_HIGHER = Direction.HIGHER_IS_BETTER

# The closed vocabulary of known units. Keys are lower-cased.
_UNITS: dict[str, UnitInfo] = {}


def _register(names: Iterable[str], info: UnitInfo) -> None:
    for name in names:
        _UNITS[name] = info


_register(("s", "sec", "secs", "second", "seconds"), UnitInfo(Dimension.TIME, 1.0, _LOWER, True))
_register(("ms", "msec", "millisecond", "milliseconds"), UnitInfo(Dimension.TIME, 1e-3, _LOWER, True))
_register(("us", "µs", "usec", "microsecond", "microseconds"), UnitInfo(Dimension.TIME, 1e-6, _LOWER, True))
_register(("ns", "nsec", "nanosecond", "nanoseconds", "ns/op"), UnitInfo(Dimension.TIME, 1e-9, _LOWER, True))
_register(("min", "minute", "minutes"), UnitInfo(Dimension.TIME, 60.0, _LOWER, True))
_register(("b", "byte", "bytes", "b/op"), UnitInfo(Dimension.SIZE, 1.0, _LOWER, True))
_register(("kb", "kib", "kilobytes"), UnitInfo(Dimension.SIZE, 1024.0, _LOWER, True))
_register(("mb", "mib", "megabytes"), UnitInfo(Dimension.SIZE, 1024.0**2, _LOWER, True))
_register(("gb", "gib", "gigabytes"), UnitInfo(Dimension.SIZE, 1024.0**3, _LOWER, True))
_register(
    ("ops/s", "op/s", "ops/sec", "operations/second", "items/s", "items_per_second", "runs/s", "hz", "1/s"),
    UnitInfo(Dimension.RATE, 1.0, _HIGHER, True),
)
_register(("bytes/s", "b/s", "bytes_per_second"), UnitInfo(Dimension.RATE, 1.0, _HIGHER, True))
_register(("elements/s", "bits/s", "frames/s", "fps"), UnitInfo(Dimension.RATE, 1.0, _HIGHER, True))
_register(("mb/s",), UnitInfo(Dimension.RATE, 1e6, _HIGHER, True))
_register(
    ("count", "integer", "instructions", "cycles", "allocs/op", "allocations", "iterations"),
    UnitInfo(Dimension.COUNT, 1.0, _LOWER, True),
)
_register(("%", "percent", "ratio"), UnitInfo(Dimension.RATIO, 1.0, _LOWER, False))
_register(("score",), UnitInfo(Dimension.OTHER, 1.0, _HIGHER, False))


def unit_info(unit: str) -> UnitInfo:
    """Look ``unit`` up in the vocabulary; unknown units are "other", lower is better.

    Unknown units are accepted (tools invent their own), but nothing is assumed
    about them beyond the direction a format states explicitly.
    """
    return _UNITS.get(unit.strip().lower(), UnitInfo(Dimension.OTHER, 1.0, _LOWER, False))


def default_direction(unit: str) -> Direction:
    return unit_info(unit).direction


def _require(condition: bool, message: str) -> None:
    if not condition:
        raise InputError(message)


#: A benchmark's tag (``[[benchmarks]] tags``, ``--fail-on 'TAG:suite>2%'``): ASCII letters, digits, ``-_.``.
TAG_NAME = re.compile(r"[A-Za-z0-9._-]{1,100}")


def is_tag_name(text: str) -> bool:
    """Whether ``text`` may name a benchmark tag (see :data:`TAG_NAME`); tags are compared case-sensitively."""
    return TAG_NAME.fullmatch(text) is not None


SHA_HEX = frozenset("0123456789abcdef")


@dataclass(frozen=True, slots=True)
class Revision:
    """A commit. ``parents`` are full shas, the first parent first."""

    sha: str
    parents: tuple[str, ...]
    author: str
    author_email: str
    time: datetime
    message: str

    def __post_init__(self) -> None:
        valid = len(self.sha) == 40 and set(self.sha) <= SHA_HEX
        _require(valid, f"sha must be 40 lower-case hex digits, got {self.sha!r}")
        _require(self.time.tzinfo is not None, "revision time must be timezone-aware")

    @property
    def subject(self) -> str:
        return self.message.split("\n", 1)[0]


@dataclass(frozen=True, slots=True)
class Push:
    """The commits that landed on a branch together (a roll-up's members).

    ``tip`` is the first-parent commit the branch moved to, ``base`` the
    previous first-parent tip (``None`` for the root). ``commits`` lists
    ``git rev-list base..tip`` oldest first; it always ends with ``tip``.
    """

    tip: str
    base: str | None
    commits: tuple[str, ...]

    def __post_init__(self) -> None:
        _require(bool(self.commits) and self.commits[-1] == self.tip, "a push's commits must end with its tip")


def _canonical_config(items: Mapping[str, str] | Iterable[tuple[str, str]]) -> tuple[tuple[str, str], ...]:
    pairs = items.items() if isinstance(items, Mapping) else items
    out = tuple(sorted((str(k), str(v)) for k, v in pairs))
    keys = [k for k, _ in out]
    _require(len(set(keys)) == len(keys), "configuration keys must be unique")
    for key, value in out:
        _require(bool(key) and "=" not in key, f"configuration key {key!r} must be non-empty and contain no '='")
        _require(
            storable_text(key) and storable_text(value),
            f"configuration {key!r} holds a NUL character or a lone surrogate",
        )
        _require(
            len(key) <= MAX_NAME_CHARS and len(value) <= MAX_NAME_CHARS,
            f"configuration keys and values have at most {MAX_NAME_CHARS} characters ({key[:40]!r}...)",
        )
    size = len(",".join(f"{k}={v}" for k, v in out).encode())
    _require(
        size <= MAX_CONFIGURATION_BYTES,
        f"a configuration is at most {MAX_CONFIGURATION_BYTES:,} bytes as k=v,k=v; this one has {len(out):,} keys "
        f"and {size:,} bytes",
    )
    return out


@dataclass(frozen=True, slots=True)
class Configuration:
    """key=value settings of a run (platform, backend, threads...), order-free."""

    items: tuple[tuple[str, str], ...] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "items", _canonical_config(self.items))

    @classmethod
    def of(cls, mapping: Mapping[str, str] | None = None) -> Configuration:
        return cls(tuple((mapping or {}).items()))

    @classmethod
    def parse(cls, assignments: Iterable[str]) -> Configuration:
        """Parse ``key=value`` strings as given on a command line."""
        pairs = []
        for text in assignments:
            key, sep, value = text.partition("=")
            if not sep or not key.strip():
                raise InputError(f"expected key=value, got {text!r}", where="--config")
            pairs.append((key.strip(), value.strip()))
        return cls(tuple(pairs))

    def as_dict(self) -> dict[str, str]:
        return dict(self.items)

    def __str__(self) -> str:
        return ",".join(f"{k}={v}" for k, v in self.items)


@dataclass(frozen=True, slots=True)
class Machine:
    """Where a benchmark ran. Series are keyed by ``machine_class`` (defaults to the name)."""

    name: str
    machine_class: str = ""
    fingerprint: str = ""
    generation: int = 1

    def __post_init__(self) -> None:
        _require(bool(self.name.strip()), "machine name must not be empty")
        if not self.machine_class:
            object.__setattr__(self, "machine_class", self.name)
        for what, value in (("machine name", self.name), ("machine class", self.machine_class)):
            _require(storable_text(value), f"{what} {value!r} holds a NUL character or a lone surrogate")
            _require(len(value) <= MAX_NAME_CHARS, f"a {what} has at most {MAX_NAME_CHARS} characters")
        _require(self.generation >= 1, "machine generation must be >= 1")


@dataclass(frozen=True, slots=True)
class SeriesKey:
    """The identity of a series; ``id`` is a stable hash of all its fields."""

    project: str
    branch: str
    benchmark: str
    metric: str
    machine_class: str
    configuration: Configuration = field(default_factory=Configuration)

    def __post_init__(self) -> None:
        for name in ("project", "branch", "benchmark", "metric", "machine_class"):
            _require(bool(getattr(self, name)), f"series {name} must not be empty")

    @property
    def id(self) -> str:
        """First 16 hex digits of SHA-256 over the canonical JSON of the fields.

        Stable across versions and processes: changing it orphans stored series.
        """
        return series_id(
            (self.project, self.branch, self.benchmark, self.metric, self.machine_class, self.configuration.items)
        )


SeriesFields = tuple[str, str, str, str, str, tuple[tuple[str, str], ...]]


@functools.lru_cache(maxsize=65536)
def series_id(fields: SeriesFields) -> str:
    """The stable hash behind :attr:`SeriesKey.id` (cached: ingestion computes it for every result).

    ``fields`` are project, branch, benchmark, metric, machine class and configuration items.
    """
    project, branch, benchmark, metric, machine_class, configuration = fields
    canonical = json.dumps(
        [project, branch, benchmark, metric, machine_class, [list(pair) for pair in configuration]],
        separators=(",", ":"),
        ensure_ascii=False,
    )
    return hashlib.sha256(canonical.encode()).hexdigest()[:16]


def check_samples(samples: Iterable[float], unit: str, *, what: str = "samples") -> tuple[float, ...]:
    """Validate measurements: finite, and non-negative where the unit demands it."""
    values = tuple(float(v) for v in samples)
    _require(bool(values), f"{what} must not be empty")
    non_negative = unit_info(unit).non_negative
    for value in values:
        _require(math.isfinite(value), f"{what} must be finite numbers, got {value!r}")
        _require(not (non_negative and value < 0), f"{what} in unit {unit!r} must be >= 0, got {value!r}")
    return values


@dataclass(frozen=True, slots=True)
class BenchmarkResult:
    """What a result file says about one benchmark and metric: every repetition kept.

    ``name`` stays exactly as the tool wrote it; ``unit`` too.
    """

    name: str
    unit: str
    samples: tuple[float, ...]
    metric: str = "time"
    direction: Direction | None = None
    suite: str = ""

    def __post_init__(self) -> None:
        _require(bool(self.name), "benchmark name must not be empty")
        _require(bool(self.metric), "metric must not be empty")
        limits = {"name": MAX_BENCHMARK_CHARS, "unit": MAX_UNIT_CHARS, "metric": MAX_NAME_CHARS}
        for field_name in ("name", "unit", "metric", "suite"):
            value = getattr(self, field_name)
            shown = self.name if len(self.name) <= 60 else f"{self.name[:60]}..."
            _require(
                storable_text(value), f"benchmark {shown!r}: its {field_name} holds a NUL character or a lone surrogate"
            )
            limit = limits.get(field_name, MAX_BENCHMARK_CHARS)
            _require(
                len(value) <= limit,
                f"benchmark {shown!r}: its {field_name} has {len(value):,} characters; the limit is {limit}",
            )
        object.__setattr__(self, "samples", check_samples(self.samples, self.unit, what=f"values of {self.name!r}"))
        if self.direction is None:
            object.__setattr__(self, "direction", default_direction(self.unit))

    @property
    def better(self) -> Direction:
        assert self.direction is not None  # set in __post_init__
        return self.direction


@dataclass(frozen=True, slots=True)
class ResultSet:
    """A parsed result file: its format, its benchmarks, and any context it carried."""

    format: str
    results: tuple[BenchmarkResult, ...]
    context: tuple[tuple[str, str], ...] = ()

    def __post_init__(self) -> None:
        _require(bool(self.results), "the file contains no benchmark results")
        keys = [(r.name, r.metric) for r in self.results]
        _require(len(set(keys)) == len(keys), "a benchmark and metric appear twice in one file")
        _require(
            all(storable_text(key) and storable_text(value) for key, value in self.context),
            "the file's context holds a NUL character or a lone surrogate",
        )


def storable_text(text: str) -> bool:
    """Text a database can store. A JSON escape (``\\u0000``, ``\\ud800``) makes what no UTF-8 file's
    bytes hold: PostgreSQL refuses NUL in text, and a lone surrogate is not UTF-8 at all."""
    if "\x00" in text:
        return False
    try:
        text.encode()
    except UnicodeEncodeError:
        return False
    return True


_TIME_STEPS = ((1.0, "s"), (1e-3, "ms"), (1e-6, "µs"), (1e-9, "ns"))
_SIZE_STEPS = ((1024.0**3, "GiB"), (1024.0**2, "MiB"), (1024.0, "KiB"), (1.0, "B"))


def format_value(value: float, unit: str) -> str:
    """Render ``value`` (in ``unit``) for people: time and sizes get a readable prefix.

    Storage keeps the tool's own unit; only display is normalised.
    """
    info = unit_info(unit)
    if not math.isfinite(value):
        return str(value)
    steps = {Dimension.TIME: _TIME_STEPS, Dimension.SIZE: _SIZE_STEPS}.get(info.dimension)
    if steps is None or value == 0:
        return f"{value:.4g} {unit}".rstrip()
    base = value * info.factor
    for factor, label in steps:
        if abs(base) >= factor:
            return f"{base / factor:.4g} {label}"
    factor, label = steps[-1]
    return f"{base / factor:.4g} {label}"

"""The loaded file as frozen dataclasses; each checks its own values, so specs built in code are checked too."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from perfsheriff.errors import ConfigError, NotFoundError
from perfsheriff.formats import FORMAT_NAMES
from perfsheriff.model import Configuration, is_tag_name
from perfsheriff.projectfile._checks import check, show
from perfsheriff.projectfile.notify import Notify
from perfsheriff.scheduling import ScheduleMode

#: The file name perfsheriff looks for in a repository.
DEFAULT_FILE_NAME = "perfsheriff.toml"
DEFAULT_TIMEOUT_S = 30 * 60.0
#: A release tag's name holds a version: ``v1.2``, ``9.0.1``, ``ghc-9.2.1-release``, ``release-2026.05``.
DEFAULT_RELEASE_TAGS = r"[0-9]+\.[0-9]+"
# A git URL: scheme://..., or scp-like user@host:path. Anything else is a local path.
_URL = re.compile(r"^[a-z][a-z0-9+.-]*://|^[\w.-]+@[\w.-]+:", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class Project:
    """``[project]``: the repository, the branches whose history is tracked, and which tags are releases
    (a regular expression searched in the tag's name; drift is measured since the newest)."""

    name: str
    repository: str
    branches: tuple[str, ...]
    release_tags: str = DEFAULT_RELEASE_TAGS

    def __post_init__(self) -> None:
        check(bool(self.name.strip()), "name", "must not be empty")
        check(bool(self.repository.strip()), "repository", "must not be empty")
        check(bool(self.branches), "branches", "must name at least one branch")
        check(all(b.strip() for b in self.branches), "branches", "branch names must not be empty")
        check(len(set(self.branches)) == len(self.branches), "branches", "a branch is listed twice")
        try:
            re.compile(self.release_tags)
        except re.error as exc:
            raise ConfigError(f"not a regular expression: {exc}", where="release_tags") from None

    @property
    def repository_is_url(self) -> bool:
        """Whether ``repository`` is a URL to clone rather than a local path."""
        return is_url(self.repository)


@dataclass(frozen=True, slots=True)
class BenchmarkSpec:
    """``[[benchmarks]]``: one command that measures the project at a revision.

    ``timeout`` is in seconds and bounds the whole run (setup and every
    repetition); ``env`` holds extra environment variables as sorted pairs.
    """

    name: str
    command: str
    format: str | None = None
    setup: str | None = None
    timeout: float = DEFAULT_TIMEOUT_S
    repetitions: int = 1
    env: tuple[tuple[str, str], ...] = ()
    weight: float = 1.0
    tags: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        check(bool(self.name.strip()), "name", "must not be empty")
        check(bool(self.command.strip()), "command", "must not be empty")
        expected = f"expected one of {', '.join(FORMAT_NAMES)}, got {show(self.format)}"
        check(self.format is None or self.format in FORMAT_NAMES, "format", expected)
        check(self.setup is None or bool(self.setup.strip()), "setup", "must not be empty (leave it out instead)")
        check(self.timeout > 0, "timeout", "must be greater than zero")
        check(self.repetitions >= 1, "repetitions", f"expected an integer >= 1, got {self.repetitions}")
        check(self.weight > 0, "weight", f"expected a number > 0, got {self.weight:g}")
        for i, tag in enumerate(self.tags):
            check(is_tag_name(tag), f"tags[{i}]", f'a tag is ASCII letters, digits, "-", "_" and ".", got {show(tag)}')
        object.__setattr__(self, "env", tuple(sorted(self.env)))
        for key, _ in self.env:
            check(bool(key) and "=" not in key and "\0" not in key, f"env.{key}", "not a valid variable name")

    @property
    def environment(self) -> dict[str, str]:
        return dict(self.env)


@dataclass(frozen=True, slots=True)
class MachineSpec:
    """``[[machines]]``: a machine (or machine class) and the configuration its runs carry."""

    name: str
    machine_class: str = ""
    config: Configuration = field(default_factory=Configuration)

    def __post_init__(self) -> None:
        check(bool(self.name.strip()), "name", "must not be empty")
        if not self.machine_class:
            object.__setattr__(self, "machine_class", self.name)


@dataclass(frozen=True, slots=True)
class Thresholds:
    """``[thresholds]``: overrides for the detector; ``None`` keeps its default.

    ``benchmarks`` and ``series`` hold overrides for one benchmark name or one
    series id (``[thresholds.benchmarks.parse]``, ``[thresholds.series.3fa2...]``);
    a series override wins over a benchmark's, which wins over the global values.
    """

    min_relative_change: float | None = None
    min_confidence: float | None = None
    min_probability: float | None = None
    benchmarks: tuple[tuple[str, Thresholds], ...] = ()
    series: tuple[tuple[str, Thresholds], ...] = ()
    # Adjust each series' min_relative_change by what sheriffs decided about its alerts (global only).
    learn_from_triage: bool = True

    def __post_init__(self) -> None:
        change, confidence = self.min_relative_change, self.min_confidence
        check(change is None or change >= 0, "min_relative_change", "expected a number >= 0")
        check(confidence is None or 0 <= confidence <= 1, "min_confidence", "expected a number from 0 to 1")
        probability = self.min_probability
        check(probability is None or 0 <= probability <= 1, "min_probability", "expected a number from 0 to 1")


@dataclass(frozen=True, slots=True)
class Budgets:
    """``[budgets]``: how much machine time automation may spend (Perfherder's sheriffing limits)."""

    runs_per_alert: int = 30
    alerts_per_summary: int = 5
    infra_retries: int = 2

    def __post_init__(self) -> None:
        check(self.runs_per_alert >= 1, "runs_per_alert", "expected an integer >= 1")
        check(self.alerts_per_summary >= 1, "alerts_per_summary", "expected an integer >= 1")
        check(self.infra_retries >= 0, "infra_retries", "expected an integer >= 0")


@dataclass(frozen=True, slots=True)
class Schedule:
    """``[schedule]``: ``mode``, and ``every`` (n) for ``every-n-pushes`` only."""

    mode: ScheduleMode = ScheduleMode.PUSH
    every: int | None = None

    def __post_init__(self) -> None:
        if self.mode is ScheduleMode.EVERY_N_PUSHES:
            check(self.every is not None and self.every >= 1, "every", 'mode "every-n-pushes" needs every >= 1')
        else:
            check(self.every is None, "every", 'only meaningful with mode = "every-n-pushes"')


@dataclass(frozen=True, slots=True)
class ProjectFile:
    """A loaded ``perfsheriff.toml``.

    ``source`` names the file in messages; ``config_dir`` is its folder, which
    relative paths resolve against and ``{config_dir}`` expands to.
    """

    source: str
    config_dir: Path
    project: Project
    benchmarks: tuple[BenchmarkSpec, ...] = ()
    machines: tuple[MachineSpec, ...] = ()
    thresholds: Thresholds = field(default_factory=Thresholds)
    budgets: Budgets = field(default_factory=Budgets)
    schedule: Schedule = field(default_factory=Schedule)
    notify: Notify = field(default_factory=Notify)

    def benchmark(self, name: str) -> BenchmarkSpec:
        for spec in self.benchmarks:
            if spec.name == name:
                return spec
        raise NotFoundError(f"no benchmark named {name!r} in {self.source}")


def is_url(repository: str) -> bool:
    """Whether a ``repository`` value is a URL (``https://``, ``ssh://``, ``git@host:path``)."""
    return _URL.match(repository) is not None

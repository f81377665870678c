"""``perfsheriff.toml``: what a project measures, where, and how often.

The file is read once with :mod:`tomllib` into frozen dataclasses. Reading is
strict, because a typo that is silently ignored costs a night of machine time:
unknown keys are errors, and every error is a
:class:`~perfsheriff.errors.ConfigError` that names the file and the key path
(``perfsheriff.toml, benchmarks[0].timeout: expected a duration like "300s"
or "5m", got "soon"``), or the line for TOML that does not parse.

Two layers share the work so each check lives once: the readers here check
TOML *types* and know the key path; the dataclasses' ``__post_init__`` check
*values* (so a spec built in code, e.g. from a job an agent received, is
validated too) and say which field was wrong, which the loader prefixes with
the section's path. ``docs/configuration.md`` documents every key.
"""

from __future__ import annotations

import enum
import json
import re
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

from perfsheriff.errors import ConfigError, NotFoundError
from perfsheriff.formats import FORMAT_NAMES
from perfsheriff.model import Configuration

#: The file name perfsheriff looks for in a repository.
DEFAULT_FILE_NAME = "perfsheriff.toml"
DEFAULT_TIMEOUT_S = 30 * 60.0

_DURATION = re.compile(
    r"(?:(?P<h>\d+(?:\.\d+)?)h)?\s*(?:(?P<m>\d+(?:\.\d+)?)m)?\s*(?:(?P<s>\d+(?:\.\d+)?)s)?", re.IGNORECASE
)
_TOML_POSITION = re.compile(r"\s*\(at (?:line (?P<line>\d+), column (?P<column>\d+)|(?P<end>end of document))\)$")
# A git URL: scheme://..., or scp-like user@host:path. Anything else is a local path.
_URL = re.compile(r"^[a-z][a-z0-9+.-]*://|^[\w.-]+@[\w.-]+:", re.IGNORECASE)

T = TypeVar("T")


#: A release tag's name holds a version: ``v1.2``, ``9.0.1``, ``ghc-9.2.1-release``, ``release-2026.05``.
DEFAULT_RELEASE_TAGS = r"[0-9]+\.[0-9]+"


def _check(condition: bool, key: str, message: str) -> None:
    """Raise a ConfigError about ``key`` (relative to the value being built) unless ``condition`` holds."""
    if not condition:
        raise ConfigError(message, where=key)


def _show(value: object) -> str:
    """Render a TOML value in an error message the way the user wrote it (strings in double quotes)."""
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict):
        return "a table"
    if isinstance(value, list):
        return "an array"
    return str(value)


def parse_duration(value: object) -> float:
    """Seconds from a duration string (``"300s"``, ``"5m"``, ``"1h30m"``) or a number of seconds.

    Units are required in strings: a bare ``"300"`` is ambiguous in a file that
    people read, while ``timeout = 300`` (a TOML number) is plainly seconds.
    """
    expected = 'a duration like "300s" or "5m"'
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise ConfigError(f"expected {expected}, got {_show(value)}")
    if isinstance(value, str):
        match = _DURATION.fullmatch(value.strip())
        if not value.strip() or match is None or not any(match.groupdict().values()):
            raise ConfigError(f"expected {expected}, got {_show(value)}")
        hours, minutes, seconds = (float(match[part] or 0) for part in ("h", "m", "s"))
        total = hours * 3600 + minutes * 60 + seconds
    else:
        total = float(value)
    if not total > 0:
        raise ConfigError(f"expected a duration greater than zero, got {_show(value)}")
    return total


@dataclass(frozen=True, slots=True)
class Project:
    """``[project]``: the repository, the branches whose history is tracked, and which tags are releases
    (a regular expression searched in the tag's name; drift is measured since the newest)."""

    name: str
    repository: str
    branches: tuple[str, ...]
    release_tags: str = DEFAULT_RELEASE_TAGS

    def __post_init__(self) -> None:
        _check(bool(self.name.strip()), "name", "must not be empty")
        _check(bool(self.repository.strip()), "repository", "must not be empty")
        _check(bool(self.branches), "branches", "must name at least one branch")
        _check(all(b.strip() for b in self.branches), "branches", "branch names must not be empty")
        _check(len(set(self.branches)) == len(self.branches), "branches", "a branch is listed twice")
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
        _check(bool(self.name.strip()), "name", "must not be empty")
        _check(bool(self.command.strip()), "command", "must not be empty")
        expected = f"expected one of {', '.join(FORMAT_NAMES)}, got {_show(self.format)}"
        _check(self.format is None or self.format in FORMAT_NAMES, "format", expected)
        _check(self.setup is None or bool(self.setup.strip()), "setup", "must not be empty (leave it out instead)")
        _check(self.timeout > 0, "timeout", "must be greater than zero")
        _check(self.repetitions >= 1, "repetitions", f"expected an integer >= 1, got {self.repetitions}")
        _check(self.weight > 0, "weight", f"expected a number > 0, got {self.weight:g}")
        object.__setattr__(self, "env", tuple(sorted(self.env)))
        for key, _ in self.env:
            _check(bool(key) and "=" not in key and "\0" not in key, f"env.{key}", "not a valid variable name")

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
        _check(bool(self.name.strip()), "name", "must not be empty")
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
        _check(change is None or change >= 0, "min_relative_change", "expected a number >= 0")
        _check(confidence is None or 0 <= confidence <= 1, "min_confidence", "expected a number from 0 to 1")
        probability = self.min_probability
        _check(probability is None or 0 <= probability <= 1, "min_probability", "expected a number from 0 to 1")


@dataclass(frozen=True, slots=True)
class Budgets:
    """``[budgets]``: how much machine time automation may spend (Perfherder's sheriffing limits)."""

    runs_per_alert: int = 30
    alerts_per_summary: int = 5
    infra_retries: int = 2

    def __post_init__(self) -> None:
        _check(self.runs_per_alert >= 1, "runs_per_alert", "expected an integer >= 1")
        _check(self.alerts_per_summary >= 1, "alerts_per_summary", "expected an integer >= 1")
        _check(self.infra_retries >= 0, "infra_retries", "expected an integer >= 0")


class ScheduleMode(enum.StrEnum):
    """Which revisions ``track`` measures."""

    PUSH = "push"  # the tip of every push
    COMMIT = "commit"  # every commit, roll-up members included
    EVERY_N_PUSHES = "every-n-pushes"  # the tip of every n-th push
    NIGHTLY = "nightly"  # the branch tip, once a day


@dataclass(frozen=True, slots=True)
class Schedule:
    """``[schedule]``: ``mode``, and ``every`` (n) for ``every-n-pushes`` only."""

    mode: ScheduleMode = ScheduleMode.PUSH
    every: int | None = None

    def __post_init__(self) -> None:
        if self.mode is ScheduleMode.EVERY_N_PUSHES:
            _check(self.every is not None and self.every >= 1, "every", 'mode "every-n-pushes" needs every >= 1')
        else:
            _check(self.every is None, "every", 'only meaningful with mode = "every-n-pushes"')


_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_CHANNEL_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,39}")
#: Channel names the fixed tables use; a webhook may not take one (names are de-duplication keys).
_FIXED_CHANNELS = ("github", "gitlab", "email")


#: How the tokens of known services begin (GitHub, GitLab, perfsheriff, Slack, OpenAI-style keys, AWS keys).
_TOKEN_PREFIXES = (
    "ghp_", "gho_", "ghu_", "ghs_", "ghr_", "github_pat_", "glpat-", "gldt-", "glrt-", "psf_", "xoxb-", "xoxp-",
    "xapp-", "sk-", "AKIA",
)  # fmt: skip


def _check_env(value: str | None, key: str) -> None:
    """``*_env`` keys name an environment variable: the secret itself never sits in the file.

    A value that looks like a pasted token is refused without being repeated, so that neither this error
    nor a later delivery error ("variable ... is not set") shows it.
    """
    if value is not None and value.startswith(_TOKEN_PREFIXES):
        raise ConfigError(
            "this looks like a token, not the name of an environment variable: put the token in a variable "
            "(e.g. PERFSHERIFF_GITHUB_TOKEN) and name the variable here",
            where=key,
        )
    _check(value is None or _ENV_NAME.fullmatch(value) is not None, key, "expected an environment variable name")


def _check_http(value: str | None, key: str) -> None:
    ok = value is None or (value.startswith(("http://", "https://")) and len(value) > len("https://"))
    _check(ok, key, "expected an http(s) URL")


@dataclass(frozen=True, slots=True)
class GitHubNotify:
    """``[notify.github]``: comment on the pull request (or commit) of ``owner/repo`` that brought the culprit."""

    owner: str
    repo: str
    api_url: str = "https://api.github.com"
    token_env: str = "PERFSHERIFF_GITHUB_TOKEN"  # noqa: S105 - the name of a variable, not a secret

    def __post_init__(self) -> None:
        _check(bool(self.owner.strip()), "owner", "must not be empty")
        _check(bool(self.repo.strip()), "repo", "must not be empty")
        _check_http(self.api_url, "api_url")
        _check_env(self.token_env, "token_env")


@dataclass(frozen=True, slots=True)
class GitLabNotify:
    """``[notify.gitlab]``: a note on the merge request (or commit) in ``project`` (a path or numeric id)."""

    project: str
    url: str = "https://gitlab.com"
    token_env: str = "PERFSHERIFF_GITLAB_TOKEN"  # noqa: S105 - the name of a variable, not a secret

    def __post_init__(self) -> None:
        _check(bool(self.project.strip()), "project", "must not be empty")
        _check_http(self.url, "url")
        _check_env(self.token_env, "token_env")


@dataclass(frozen=True, slots=True)
class WebhookNotify:
    """``[[notify.webhooks]]``: a JSON POST to ``url``, or to the URL in the variable ``url_env`` (a secret)."""

    name: str
    url_env: str | None = None
    url: str | None = None
    token_env: str | None = None

    def __post_init__(self) -> None:
        _check(_CHANNEL_NAME.fullmatch(self.name) is not None, "name", "expected 1 to 40 letters, digits, . _ -")
        _check(self.name not in _FIXED_CHANNELS, "name", f"{_show(self.name)} is the name of another channel")
        _check((self.url_env is None) != (self.url is None), "url_env", "set exactly one of url_env and url")
        _check_env(self.url_env, "url_env")
        _check_http(self.url, "url")
        _check_env(self.token_env, "token_env")


@dataclass(frozen=True, slots=True)
class EmailNotify:
    """``[notify.email]``: mail from ``sender`` through ``host:port`` to the author and ``recipients``."""

    host: str
    sender: str
    port: int = 587
    starttls: bool = True
    username: str | None = None
    password_env: str = "PERFSHERIFF_SMTP_PASSWORD"  # noqa: S105 - the name of a variable, not a secret
    recipients: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        _check(bool(self.host.strip()), "host", "must not be empty")
        _check("@" in self.sender.strip(" @"), "sender", f"expected an e-mail address, got {_show(self.sender)}")
        _check(1 <= self.port <= 65535, "port", f"expected a port from 1 to 65535, got {self.port}")
        _check(self.username is None or bool(self.username.strip()), "username", "must not be empty")
        _check_env(self.password_env, "password_env")
        for i, address in enumerate(self.recipients):
            _check("@" in address.strip(" @"), f"recipients[{i}]", f"expected an e-mail address, got {_show(address)}")


@dataclass(frozen=True, slots=True)
class Notify:
    """``[notify]``: telling a culprit's author, and through which channels (none by default).

    ``base_url`` is where perfsheriff's pages are served (graph links point
    there); ``burst``/``per_hour`` rate-limit each channel, ``retries`` is the
    number of attempts per message and channel. Secrets are named, not given:
    every ``*_env`` key holds the name of an environment variable.
    """

    base_url: str | None = None
    min_confidence: float = 0.9
    burst: int = 10
    per_hour: float = 30.0
    retries: int = 4
    github: GitHubNotify | None = None
    gitlab: GitLabNotify | None = None
    webhooks: tuple[WebhookNotify, ...] = ()
    email: EmailNotify | None = None

    def __post_init__(self) -> None:
        _check_http(self.base_url, "base_url")
        _check(0 <= self.min_confidence <= 1, "min_confidence", "expected a number from 0 to 1")
        _check(self.burst >= 1, "burst", "expected an integer >= 1")
        _check(self.per_hour > 0 and self.per_hour != float("inf"), "per_hour", "expected a number > 0")
        _check(self.retries >= 1, "retries", "expected an integer >= 1")

    @property
    def enabled(self) -> bool:
        """Whether any channel is configured."""
        return bool(self.github or self.gitlab or self.webhooks or self.email)


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


def load(path: Path) -> ProjectFile:
    """Read and validate the configuration file at ``path``."""
    source = str(path)
    try:
        text = path.read_bytes().decode("utf-8")
    except OSError as err:
        raise ConfigError(f"cannot read the file: {err.strerror or err}", source=source) from None
    except UnicodeDecodeError:
        raise ConfigError("the file is not UTF-8 text", source=source) from None
    return loads(text, source=source, config_dir=path.absolute().parent)


def loads(text: str, *, source: str, config_dir: Path) -> ProjectFile:
    """Validate configuration ``text``; ``source`` names it in errors, ``config_dir`` anchors relative paths."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:
        raise _toml_error(err, source) from None
    root = _Table(data, "", source)
    root.only("project", "benchmarks", "machines", "thresholds", "budgets", "schedule", "notify")
    project = _project(root.table("project", required=True), config_dir)
    benchmarks = tuple(_benchmark(t) for t in root.tables("benchmarks"))
    _check_unique([b.name for b in benchmarks], root, "benchmarks")
    machines = tuple(_machine(t) for t in root.tables("machines"))
    _check_unique([m.name for m in machines], root, "machines")
    return ProjectFile(
        source=source,
        config_dir=config_dir,
        project=project,
        benchmarks=benchmarks,
        machines=machines,
        thresholds=_thresholds(root.table("thresholds")),
        budgets=_budgets(root.table("budgets")),
        schedule=_schedule(root.table("schedule")),
        notify=_notify(root.table("notify")),
    )


def _toml_error(err: tomllib.TOMLDecodeError, source: str) -> ConfigError:
    """tomllib puts the position at the end of its message; move it to ``where``."""
    message = str(err)
    match = _TOML_POSITION.search(message)
    if match is None:
        return ConfigError(f"invalid TOML: {message}", source=source)
    where = "end of file" if match["end"] else f"line {match['line']}, column {match['column']}"
    reason = message[: match.start()]
    return ConfigError(f"invalid TOML: {reason[:1].lower()}{reason[1:]}", source=source, where=where)


class _Table:
    """One TOML table being read: its key path for messages, and typed getters that check each key."""

    def __init__(self, data: Mapping[str, object], path: str, source: str) -> None:
        self.data = data
        self.path = path
        self.source = source

    def where(self, key: str) -> str:
        return f"{self.path}.{key}" if self.path else key

    def error(self, key: str, message: str) -> ConfigError:
        return ConfigError(message, source=self.source, where=self.where(key) if key else self.path)

    def only(self, *allowed: str) -> None:
        """Refuse keys outside ``allowed``: a misspelt key must not be silently ignored."""
        for key in self.data:
            if key in allowed:
                continue
            secret = [a for a in allowed if a.endswith("_env") and a.removesuffix("_env") == key]
            if secret:  # the value is not repeated: it may be the secret itself
                raise self.error(key, f"secrets do not go in the file: set {secret[0]} to the name of a variable")
            raise self.error(key, f"unknown key; expected one of {', '.join(allowed)}")

    def build(self, make: Callable[[], T]) -> T:
        """Construct a value; its field-level ConfigError gets this table's path and the file name."""
        try:
            return make()
        except ConfigError as err:
            if err.source is not None:  # already located by a getter of this table
                raise
            raise self.error(err.where or "", err.reason) from None

    def _get(self, key: str, kind: type | tuple[type, ...], expected: str, required: bool) -> object:
        if key not in self.data:
            if required:
                raise self.error(key, f"missing; expected {expected}")
            return None
        value = self.data[key]
        if isinstance(value, bool) and bool not in (kind if isinstance(kind, tuple) else (kind,)):
            raise self.error(key, f"expected {expected}, got {_show(value)}")
        if not isinstance(value, kind):
            raise self.error(key, f"expected {expected}, got {_show(value)}")
        return value

    def string(self, key: str, *, required: bool = False) -> str | None:
        value = self._get(key, str, "a string", required)
        return value if isinstance(value, str) else None

    def integer(self, key: str) -> int | None:
        value = self._get(key, int, "an integer", False)
        return value if isinstance(value, int) else None

    def string_or_integer(self, key: str, *, required: bool = False) -> str | None:
        """A name or a numeric id (GitLab projects are either), as a string."""
        value = self._get(key, (str, int), "a string or an integer", required)
        return str(value) if isinstance(value, (str, int)) else None

    def boolean(self, key: str) -> bool | None:
        value = self._get(key, bool, "true or false", False)
        return value if isinstance(value, bool) else None

    def number(self, key: str) -> float | None:
        value = self._get(key, (int, float), "a number", False)
        return float(value) if isinstance(value, (int, float)) else None

    def duration(self, key: str) -> float | None:
        if key not in self.data:
            return None
        try:
            return parse_duration(self.data[key])
        except ConfigError as err:
            raise self.error(key, err.reason) from None

    def strings(self, key: str) -> tuple[str, ...] | None:
        value = self._get(key, list, "an array of strings", False)
        if not isinstance(value, list):
            return None
        for i, item in enumerate(value):
            if not isinstance(item, str):
                raise self.error(f"{key}[{i}]", f"expected a string, got {_show(item)}")
        return tuple(value)

    def assignments(self, key: str) -> tuple[tuple[str, str], ...]:
        """A table of ``name = value``; numbers are accepted and kept as written (``THREADS = 4``)."""
        value = self._get(key, dict, "a table of strings", False)
        if not isinstance(value, dict):
            return ()
        pairs = []
        for name, item in value.items():
            if isinstance(item, bool) or not isinstance(item, (str, int, float)):
                raise self.error(f"{key}.{name}", f"expected a string, got {_show(item)}")
            pairs.append((name, str(item)))
        return tuple(pairs)

    def table(self, key: str, *, required: bool = False) -> _Table:
        value = self._get(key, dict, f"a [{key}] table", required)
        return _Table(value if isinstance(value, dict) else {}, self.where(key), self.source)

    def tables(self, key: str) -> list[_Table]:
        """An array of tables (``[[key]]``), each with its index in the path."""
        value = self._get(key, list, f"[[{key}]] tables", False)
        found = []
        for i, item in enumerate(value if isinstance(value, list) else []):
            if not isinstance(item, dict):
                raise self.error(f"{key}[{i}]", f"expected a table, got {_show(item)}")
            found.append(_Table(item, f"{self.where(key)}[{i}]", self.source))
        return found


def _check_unique(names: list[str], root: _Table, key: str) -> None:
    """Names identify benchmarks and machines in series and jobs, so each may appear once."""
    for i, name in enumerate(names):
        if name in names[:i]:
            raise root.error(f"{key}[{i}].name", f"{_show(name)} is already used by another entry")


def _project(table: _Table, config_dir: Path) -> Project:
    table.only("name", "repository", "branch", "branches", "release_tags")
    branch, branches = table.string("branch"), table.strings("branches")
    if (branch is None) == (branches is None):
        raise table.error("", 'set exactly one of branch = "main" or branches = ["main", ...]')
    name = table.string("name", required=True) or ""
    repository = table.string("repository", required=True) or ""
    if repository.strip() and not is_url(repository):
        repository = str((config_dir / Path(repository).expanduser()).resolve())
    return table.build(
        lambda: Project(
            name=name,
            repository=repository,
            branches=(branch,) if branch is not None else branches or (),
            release_tags=table.string("release_tags") or DEFAULT_RELEASE_TAGS,
        )
    )


def _benchmark(table: _Table) -> BenchmarkSpec:
    table.only("name", "command", "format", "setup", "timeout", "repetitions", "env", "weight", "tags")
    name = table.string("name", required=True) or ""
    command = table.string("command", required=True) or ""
    fmt, setup = table.string("format"), table.string("setup")
    timeout, repetitions, weight = table.duration("timeout"), table.integer("repetitions"), table.number("weight")
    env, tags = table.assignments("env"), table.strings("tags") or ()
    return table.build(
        lambda: BenchmarkSpec(
            name=name,
            command=command,
            format=fmt,
            setup=setup,
            timeout=DEFAULT_TIMEOUT_S if timeout is None else timeout,
            repetitions=1 if repetitions is None else repetitions,
            env=env,
            weight=1.0 if weight is None else weight,
            tags=tags,
        )
    )


def _machine(table: _Table) -> MachineSpec:
    table.only("name", "class", "config")
    name = table.string("name", required=True) or ""
    machine_class = table.string("class") or ""
    pairs = table.assignments("config")
    return table.build(lambda: MachineSpec(name=name, machine_class=machine_class, config=_configuration(pairs)))


def _configuration(pairs: tuple[tuple[str, str], ...]) -> Configuration:
    """Configuration's own checks speak of "configuration keys"; here they are keys of ``config``."""
    for key, _ in pairs:
        _check(bool(key.strip()) and "=" not in key, f"config.{key}", "a key must be non-empty and contain no '='")
    return Configuration(pairs)


def _thresholds(table: _Table, *, nested: bool = True) -> Thresholds:
    table.only(
        "min_relative_change",
        "min_confidence",
        "min_probability",
        *(("benchmarks", "series", "learn_from_triage") if nested else ()),
    )
    change, confidence = table.number("min_relative_change"), table.number("min_confidence")
    probability = table.number("min_probability")
    per = {key: _named_thresholds(table.table(key)) for key in ("benchmarks", "series")} if nested else {}
    learn = table.boolean("learn_from_triage") if nested else None
    return table.build(
        lambda: Thresholds(
            min_relative_change=change,
            min_confidence=confidence,
            min_probability=probability,
            benchmarks=per.get("benchmarks", ()),
            series=per.get("series", ()),
            learn_from_triage=learn is not False,
        )
    )


def _named_thresholds(table: _Table) -> tuple[tuple[str, Thresholds], ...]:
    """``[thresholds.benchmarks.NAME]`` tables: one override per name."""
    return tuple((name, _thresholds(table.table(name), nested=False)) for name in table.data)


def _budgets(table: _Table) -> Budgets:
    table.only("runs_per_alert", "alerts_per_summary", "infra_retries")
    defaults = Budgets()
    runs, alerts, retries = (table.integer(k) for k in ("runs_per_alert", "alerts_per_summary", "infra_retries"))
    return table.build(
        lambda: Budgets(
            runs_per_alert=defaults.runs_per_alert if runs is None else runs,
            alerts_per_summary=defaults.alerts_per_summary if alerts is None else alerts,
            infra_retries=defaults.infra_retries if retries is None else retries,
        )
    )


def _schedule(table: _Table) -> Schedule:
    table.only("mode", "every")
    mode = table.string("mode") or ScheduleMode.PUSH.value
    modes = [m.value for m in ScheduleMode]
    if mode not in modes:
        raise table.error("mode", f"expected one of {', '.join(modes)}, got {_show(mode)}")
    every = table.integer("every")
    return table.build(lambda: Schedule(mode=ScheduleMode(mode), every=every))


def _notify(table: _Table) -> Notify:
    table.only("base_url", "min_confidence", "burst", "per_hour", "retries", "github", "gitlab", "webhooks", "email")
    defaults = Notify()
    base_url, confidence = table.string("base_url"), table.number("min_confidence")
    burst, per_hour, retries = table.integer("burst"), table.number("per_hour"), table.integer("retries")
    github = _github(table.table("github")) if "github" in table.data else None
    gitlab = _gitlab(table.table("gitlab")) if "gitlab" in table.data else None
    webhooks = tuple(_webhook(t) for t in table.tables("webhooks"))
    _check_unique([w.name for w in webhooks], table, "webhooks")
    email = _email(table.table("email")) if "email" in table.data else None
    return table.build(
        lambda: Notify(
            base_url=base_url,
            min_confidence=defaults.min_confidence if confidence is None else confidence,
            burst=defaults.burst if burst is None else burst,
            per_hour=defaults.per_hour if per_hour is None else per_hour,
            retries=defaults.retries if retries is None else retries,
            github=github,
            gitlab=gitlab,
            webhooks=webhooks,
            email=email,
        )
    )


def _github(table: _Table) -> GitHubNotify:
    table.only("owner", "repo", "api_url", "token_env")
    owner, repo = table.string("owner", required=True) or "", table.string("repo", required=True) or ""
    api_url, token_env = table.string("api_url"), table.string("token_env")
    defaults = GitHubNotify("-", "-")
    return table.build(
        lambda: GitHubNotify(
            owner=owner,
            repo=repo,
            api_url=api_url or defaults.api_url,
            token_env=defaults.token_env if token_env is None else token_env,
        )
    )


def _gitlab(table: _Table) -> GitLabNotify:
    table.only("project", "url", "token_env")
    project = table.string_or_integer("project", required=True)
    url, token_env = table.string("url"), table.string("token_env")
    defaults = GitLabNotify("-")
    return table.build(
        lambda: GitLabNotify(
            project=project or "",
            url=url or defaults.url,
            token_env=defaults.token_env if token_env is None else token_env,
        )
    )


def _webhook(table: _Table) -> WebhookNotify:
    table.only("name", "url_env", "url", "token_env")
    name = table.string("name", required=True) or ""
    url_env, url, token_env = table.string("url_env"), table.string("url"), table.string("token_env")
    return table.build(lambda: WebhookNotify(name=name, url_env=url_env, url=url, token_env=token_env or None))


def _email(table: _Table) -> EmailNotify:
    table.only("host", "port", "starttls", "sender", "username", "password_env", "recipients")
    host, sender = table.string("host", required=True) or "", table.string("sender", required=True) or ""
    port, starttls, username = table.integer("port"), table.boolean("starttls"), table.string("username")
    password_env, recipients = table.string("password_env"), table.strings("recipients") or ()
    defaults = EmailNotify("-", "-@-")
    return table.build(
        lambda: EmailNotify(
            host=host,
            sender=sender,
            port=defaults.port if port is None else port,
            starttls=defaults.starttls if starttls is None else starttls,
            username=username,
            password_env=defaults.password_env if password_env is None else password_env,
            recipients=recipients,
        )
    )


def example_config() -> str:
    """A commented ``perfsheriff.toml`` for ``perfsheriff init``; a test checks it loads as written."""
    return _EXAMPLE


_EXAMPLE = """\
# perfsheriff.toml: what perfsheriff measures, where, and how often.
# Every key is described in perfsheriff's docs/configuration.md. Unknown keys are errors.

[project]
name = "my-project"
# The git repository: a path (relative to this file's folder) or a URL to clone.
repository = "."
# The branch whose history is tracked; several: branches = ["main", "release"].
branch = "main"
# Tags whose name this regular expression finds are releases; drift is shown since the newest.
release_tags = '^v[0-9]+\\.[0-9]+'

# One [[benchmarks]] table per command. Commands run with /bin/sh in a clean checkout
# of the revision being measured (a git worktree, also the working directory).
# Placeholders, shell-quoted when substituted:
#   {worktree}    that checkout
#   {config_dir}  the folder of this file
#   {output}      the file to write results to (also in $PERFSHERIFF_OUTPUT);
#                 when the command leaves it empty, its standard output is parsed instead.
[[benchmarks]]
name = "startup"
# Runs once per revision before the repetitions; a failure marks the revision unusable.
setup = "python3 -m pip install --quiet --editable ."
command = "python3 -m pyperf command --quiet --output {output} -- python3 -c pass"
# Result format: asv, bmf, criterion, go, google-benchmark, hyperfine, perfherder,
# perfsheriff, pyperf, pytest-benchmark. Leave it out to detect it from the output.
format = "pyperf"
# The longest the whole run (setup and every repetition) may take: "300s", "5m", "1h30m".
timeout = "10m"
# How many times the command runs; the samples of all repetitions are kept together.
repetitions = 1
# Weight in summaries: real-world benchmarks above micro-benchmarks.
weight = 1.0
tags = ["real-world"]

[benchmarks.env]
PYTHONHASHSEED = "0"

# Where benchmarks run. Results are compared only within one machine class and config.
[[machines]]
name = "bench-1"
class = "linux-x86_64"
config = { python = "3.12" }

# Detector overrides; leave them out to keep perfsheriff's defaults.
# [thresholds]
# min_relative_change = 0.02
# min_confidence = 0.99
# min_probability = 0.5               # report only changes at least this likely to be real
# learn_from_triage = true             # adjust each series by what sheriffs decide (docs/triage.md)
# [thresholds.benchmarks.startup]      # for one benchmark (or [thresholds.series.SERIES_ID])
# min_relative_change = 0.05

# How much machine time automation may spend.
[budgets]
runs_per_alert = 30
alerts_per_summary = 5
infra_retries = 2

# Which revisions to measure: "push" (each push's tip), "commit" (every commit),
# "every-n-pushes" (with every = n) or "nightly" (the tip, once a day).
[schedule]
mode = "push"

# Tell the author of a culprit, once per summary. Secrets stay in the environment:
# *_env keys name the variables that hold them.
# [notify]
# base_url = "https://perf.example.org"   # graph links in messages point here
# min_confidence = 0.9
# [notify.github]
# owner = "my-org"
# repo = "my-project"
# token_env = "PERFSHERIFF_GITHUB_TOKEN"
"""

"""Reading the TOML: typed getters that know each key's path, one reader per section."""

from __future__ import annotations

import re
import tomllib
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TypeVar

from perfsheriff.errors import ConfigError
from perfsheriff.model import Configuration
from perfsheriff.projectfile._checks import check, parse_duration, show
from perfsheriff.projectfile.notify import EmailNotify, GitHubNotify, GitLabNotify, Notify, WebhookNotify
from perfsheriff.projectfile.spec import (
    DEFAULT_RELEASE_TAGS,
    DEFAULT_TIMEOUT_S,
    BenchmarkSpec,
    Budgets,
    MachineSpec,
    Project,
    ProjectFile,
    Schedule,
    Thresholds,
    is_url,
)
from perfsheriff.scheduling import ScheduleMode

_TOML_POSITION = re.compile(r"\s*\(at (?:line (?P<line>\d+), column (?P<column>\d+)|(?P<end>end of document))\)$")

T = TypeVar("T")


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
            raise self.error(key, f"expected {expected}, got {show(value)}")
        if not isinstance(value, kind):
            raise self.error(key, f"expected {expected}, got {show(value)}")
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
                raise self.error(f"{key}[{i}]", f"expected a string, got {show(item)}")
        return tuple(value)

    def assignments(self, key: str) -> tuple[tuple[str, str], ...]:
        """A table of ``name = value``; numbers are accepted and kept as written (``THREADS = 4``)."""
        value = self._get(key, dict, "a table of strings", False)
        if not isinstance(value, dict):
            return ()
        pairs = []
        for name, item in value.items():
            if isinstance(item, bool) or not isinstance(item, (str, int, float)):
                raise self.error(f"{key}.{name}", f"expected a string, got {show(item)}")
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
                raise self.error(f"{key}[{i}]", f"expected a table, got {show(item)}")
            found.append(_Table(item, f"{self.where(key)}[{i}]", self.source))
        return found


def _check_unique(names: list[str], root: _Table, key: str) -> None:
    """Names identify benchmarks and machines in series and jobs, so each may appear once."""
    for i, name in enumerate(names):
        if name in names[:i]:
            raise root.error(f"{key}[{i}].name", f"{show(name)} is already used by another entry")


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
        check(bool(key.strip()) and "=" not in key, f"config.{key}", "a key must be non-empty and contain no '='")
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
        raise table.error("mode", f"expected one of {', '.join(modes)}, got {show(mode)}")
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

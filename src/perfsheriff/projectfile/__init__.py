"""``perfsheriff.toml``: what a project measures, where, and how often.

The file is read once with :mod:`tomllib` into frozen dataclasses. Reading is
strict, because a typo that is silently ignored costs a night of machine time:
unknown keys are errors, and every error is a
:class:`~perfsheriff.errors.ConfigError` that names the file and the key path
(``perfsheriff.toml, benchmarks[0].timeout: expected a duration like "300s"
or "5m", got "soon"``), or the line for TOML that does not parse.

Two layers share the work so each check lives once: the readers (``reading``) check
TOML *types* and know the key path; the dataclasses' ``__post_init__`` (``spec``, ``notify``) check
*values* (so a spec built in code, e.g. from a job an agent received, is
validated too) and say which field was wrong, which the loader prefixes with
the section's path. ``docs/configuration.md`` documents every key.
"""

from perfsheriff.projectfile._checks import parse_duration
from perfsheriff.projectfile.example import example_config
from perfsheriff.projectfile.notify import EmailNotify, GitHubNotify, GitLabNotify, Notify, WebhookNotify
from perfsheriff.projectfile.reading import load, loads
from perfsheriff.projectfile.spec import (
    DEFAULT_FILE_NAME,
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

__all__ = [
    "DEFAULT_FILE_NAME",
    "DEFAULT_RELEASE_TAGS",
    "DEFAULT_TIMEOUT_S",
    "BenchmarkSpec",
    "Budgets",
    "EmailNotify",
    "GitHubNotify",
    "GitLabNotify",
    "MachineSpec",
    "Notify",
    "Project",
    "ProjectFile",
    "Schedule",
    "ScheduleMode",
    "Thresholds",
    "WebhookNotify",
    "example_config",
    "is_url",
    "load",
    "loads",
    "parse_duration",
]

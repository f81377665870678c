"""``[notify]``: the channels that tell a culprit's author, with secrets named, never given."""

from __future__ import annotations

import re
from dataclasses import dataclass

from perfsheriff.errors import ConfigError
from perfsheriff.projectfile._checks import check, show

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
    check(value is None or _ENV_NAME.fullmatch(value) is not None, key, "expected an environment variable name")


def _check_http(value: str | None, key: str) -> None:
    ok = value is None or (value.startswith(("http://", "https://")) and len(value) > len("https://"))
    check(ok, key, "expected an http(s) URL")


@dataclass(frozen=True, slots=True)
class GitHubNotify:
    """``[notify.github]``: comment on the pull request (or commit) of ``owner/repo`` that brought the culprit."""

    owner: str
    repo: str
    api_url: str = "https://api.github.com"
    token_env: str = "PERFSHERIFF_GITHUB_TOKEN"  # noqa: S105 - the name of a variable, not a secret

    def __post_init__(self) -> None:
        check(bool(self.owner.strip()), "owner", "must not be empty")
        check(bool(self.repo.strip()), "repo", "must not be empty")
        _check_http(self.api_url, "api_url")
        _check_env(self.token_env, "token_env")


@dataclass(frozen=True, slots=True)
class GitLabNotify:
    """``[notify.gitlab]``: a note on the merge request (or commit) in ``project`` (a path or numeric id)."""

    project: str
    url: str = "https://gitlab.com"
    token_env: str = "PERFSHERIFF_GITLAB_TOKEN"  # noqa: S105 - the name of a variable, not a secret

    def __post_init__(self) -> None:
        check(bool(self.project.strip()), "project", "must not be empty")
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
        check(_CHANNEL_NAME.fullmatch(self.name) is not None, "name", "expected 1 to 40 letters, digits, . _ -")
        check(self.name not in _FIXED_CHANNELS, "name", f"{show(self.name)} is the name of another channel")
        check((self.url_env is None) != (self.url is None), "url_env", "set exactly one of url_env and url")
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
        check(bool(self.host.strip()), "host", "must not be empty")
        check("@" in self.sender.strip(" @"), "sender", f"expected an e-mail address, got {show(self.sender)}")
        check(1 <= self.port <= 65535, "port", f"expected a port from 1 to 65535, got {self.port}")
        check(self.username is None or bool(self.username.strip()), "username", "must not be empty")
        _check_env(self.password_env, "password_env")
        for i, address in enumerate(self.recipients):
            check("@" in address.strip(" @"), f"recipients[{i}]", f"expected an e-mail address, got {show(address)}")


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
        check(0 <= self.min_confidence <= 1, "min_confidence", "expected a number from 0 to 1")
        check(self.burst >= 1, "burst", "expected an integer >= 1")
        check(self.per_hour > 0 and self.per_hour != float("inf"), "per_hour", "expected a number > 0")
        check(self.retries >= 1, "retries", "expected an integer >= 1")

    @property
    def enabled(self) -> bool:
        """Whether any channel is configured."""
        return bool(self.github or self.gitlab or self.webhooks or self.email)

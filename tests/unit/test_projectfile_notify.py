"""``[notify]`` in perfsheriff.toml: defaults, every key documented, and errors that name the key."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import pytest

from perfsheriff import projectfile
from perfsheriff.errors import ConfigError
from perfsheriff.projectfile import EmailNotify, GitHubNotify, GitLabNotify, Notify, WebhookNotify, loads

DOCS = Path(__file__).resolve().parents[2] / "docs" / "configuration.md"
TRIAGE_DOCS = Path(__file__).resolve().parents[2] / "docs" / "triage.md"
HEAD = '[project]\nname = "demo"\nrepository = "/r"\nbranch = "main"\n\n'


def parse(text: str) -> Notify:
    return loads(HEAD + text, source="perfsheriff.toml", config_dir=Path("/configs")).notify


def error_of(text: str) -> str:
    with pytest.raises(ConfigError) as caught:
        parse(text)
    return str(caught.value)


def test_no_notify_table_means_nobody_is_told() -> None:
    notify = parse("")
    assert notify == Notify()
    assert not notify.enabled
    assert notify.min_confidence == 0.9


def test_every_channel_with_its_defaults() -> None:
    notify = parse(
        """
[notify]
base_url = "https://perf.example.org"
min_confidence = 0.95
burst = 3
per_hour = 6
retries = 2

[notify.github]
owner = "ghc"
repo = "ghc"

[notify.gitlab]
project = 1234

[[notify.webhooks]]
name = "perf-channel"
url_env = "HOOK_URL"

[[notify.webhooks]]
name = "internal"
url = "http://127.0.0.1:9000/hook"
token_env = "HOOK_TOKEN"

[notify.email]
host = "smtp.example.org"
sender = "perfsheriff@example.org"
starttls = false
recipients = ["perf@example.org"]
"""
    )
    assert notify.enabled
    assert (notify.base_url, notify.min_confidence, notify.burst, notify.per_hour, notify.retries) == (
        "https://perf.example.org",
        0.95,
        3,
        6.0,
        2,
    )
    assert notify.github == GitHubNotify("ghc", "ghc", "https://api.github.com", "PERFSHERIFF_GITHUB_TOKEN")
    assert notify.gitlab == GitLabNotify("1234", "https://gitlab.com", "PERFSHERIFF_GITLAB_TOKEN")
    assert notify.webhooks == (
        WebhookNotify("perf-channel", url_env="HOOK_URL"),
        WebhookNotify("internal", url="http://127.0.0.1:9000/hook", token_env="HOOK_TOKEN"),
    )
    assert notify.email == EmailNotify(
        "smtp.example.org",
        "perfsheriff@example.org",
        587,
        False,
        None,
        "PERFSHERIFF_SMTP_PASSWORD",
        ("perf@example.org",),
    )


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[notify]\nmin_confidence = 1.5", "notify.min_confidence: expected a number from 0 to 1"),
        ('[notify]\nmin_confidence = "high"', 'notify.min_confidence: expected a number, got "high"'),
        ('[notify]\nbase_url = "perf.example.org"', "notify.base_url: expected an http(s) URL"),
        ("[notify]\nburst = 0", "notify.burst: expected an integer >= 1"),
        ("[notify]\nper_hour = 0", "notify.per_hour: expected a number > 0"),
        ("[notify]\nretries = 0", "notify.retries: expected an integer >= 1"),
        ("[notify]\nchannels = []", "notify.channels: unknown key; expected one of base_url, min_confidence"),
        ('[notify.github]\nowner = "o"', "notify.github.repo: missing; expected a string"),
        ('[notify.github]\nowner = ""\nrepo = "r"', "notify.github.owner: must not be empty"),
        ('[notify.github]\nowner = "o"\nrepo = "r"\napi_url = "api"', "notify.github.api_url: expected an http(s) URL"),
        (
            '[notify.github]\nowner = "o"\nrepo = "r"\ntoken_env = "MY TOKEN"',
            "notify.github.token_env: expected an environment variable name",
        ),
        ('[notify.gitlab]\nurl = "https://gitlab.example"', "notify.gitlab.project: missing"),
        ("[notify.gitlab]\nproject = 1.5", "notify.gitlab.project: expected a string or an integer, got 1.5"),
        ('[[notify.webhooks]]\nurl_env = "X"', "notify.webhooks[0].name: missing"),
        ('[[notify.webhooks]]\nname = "chat"', "notify.webhooks[0].url_env: set exactly one of url_env and url"),
        (
            '[[notify.webhooks]]\nname = "chat"\nurl_env = "X"\nurl = "https://h"',
            "notify.webhooks[0].url_env: set exactly one of url_env and url",
        ),
        ('[[notify.webhooks]]\nname = "github"\nurl_env = "X"', 'notify.webhooks[0].name: "github" is the name of'),
        ('[[notify.webhooks]]\nname = "a b"\nurl_env = "X"', "notify.webhooks[0].name: expected 1 to 40 letters"),
        (
            '[[notify.webhooks]]\nname = "a"\nurl_env = "X"\n[[notify.webhooks]]\nname = "a"\nurl_env = "Y"',
            'notify.webhooks[1].name: "a" is already used by another entry',
        ),
        ('[notify.email]\nhost = "h"', "notify.email.sender: missing"),
        (
            '[notify.email]\nhost = "h"\nsender = "nobody"',
            'notify.email.sender: expected an e-mail address, got "nobody"',
        ),
        ('[notify.email]\nhost = "h"\nsender = "a@b"\nport = 0', "notify.email.port: expected a port from 1 to 65535"),
        (
            '[notify.email]\nhost = "h"\nsender = "a@b"\nstarttls = "yes"',
            "notify.email.starttls: expected true or false",
        ),
        (
            '[notify.email]\nhost = "h"\nsender = "a@b"\nrecipients = ["team"]',
            'notify.email.recipients[0]: expected an e-mail address, got "team"',
        ),
    ],
)
def test_errors_name_the_key(text: str, message: str) -> None:
    error = error_of(text)
    assert error.startswith("perfsheriff.toml, ")
    assert message in error


@pytest.mark.parametrize(
    ("table", "key", "pointer"),
    [
        ('[notify.github]\nowner = "o"\nrepo = "r"', "token", "token_env"),
        ('[notify.gitlab]\nproject = "p"', "token", "token_env"),
        ('[notify.email]\nhost = "h"\nsender = "a@b"', "password", "password_env"),
    ],
)
def test_a_secret_in_the_file_is_refused_without_repeating_it(table: str, key: str, pointer: str) -> None:
    error = error_of(f'{table}\n{key} = "ghp_s3cr3t"')
    assert f"{key}: secrets do not go in the file: set {pointer} to the name of a variable" in error
    assert "s3cr3t" not in error


def test_every_notify_key_is_documented() -> None:
    text = DOCS.read_text()
    for cls in (Notify, GitHubNotify, GitLabNotify, WebhookNotify, EmailNotify):
        for field in dataclasses.fields(cls):
            assert f"`{field.name}`" in text, f"{cls.__name__}.{field.name} is missing from docs/configuration.md"
    for table in ("[notify]", "[notify.github]", "[notify.gitlab]", "[[notify.webhooks]]", "[notify.email]"):
        assert f"`{table}`" in text


def test_the_example_in_the_triage_docs_loads() -> None:
    [block] = re.findall(r"```toml\n(.*?)```", TRIAGE_DOCS.read_text(), re.DOTALL)
    notify = parse(block)
    assert notify.enabled
    assert notify.github is not None
    assert notify.email is not None


def test_values_built_in_code_are_checked_too() -> None:
    with pytest.raises(ConfigError, match="min_confidence"):
        projectfile.Notify(min_confidence=-0.1)


@pytest.mark.parametrize(
    ("table", "value"),
    [
        ('[notify.github]\nowner = "o"\nrepo = "r"\ntoken_env', "ghp_" + "a1B2" * 9),
        ('[notify.github]\nowner = "o"\nrepo = "r"\ntoken_env', "github_pat_11AAAA_bbbb"),
        ('[notify.gitlab]\nurl = "https://gitlab.example"\nproject = "a/b"\ntoken_env', "glpat-abcdefghij0123456789"),
        ('[[notify.webhooks]]\nname = "chat"\nurl_env = "X"\ntoken_env', "psf_" + "c" * 43),
        ('[[notify.webhooks]]\nname = "chat"\nurl_env', "xoxb-1234-abcd"),
    ],
)
def test_a_pasted_token_in_an_env_key_is_refused_without_showing_it(table: str, value: str) -> None:
    refused = error_of(f'{table} = "{value}"\n')
    assert "looks like a token" in refused
    assert value not in refused

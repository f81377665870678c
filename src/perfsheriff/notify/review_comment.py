"""One comment per pull or merge request, edited in place on every push: the CI bot's convention.

A CI job that comments on each push would bury the discussion under tables; rustc-perf's bot and
most benchmark bots keep one comment and edit it. The comment carries a hidden marker,
``<!-- perfsheriff:KEY -->`` (one comment per key, e.g. per machine), found again by listing the
request's comments. A marked comment the token may not edit (a copy a reviewer pasted, another
bot's) is left alone and a new one is made.

GitHub: ``GET/POST /repos/{owner}/{repo}/issues/{number}/comments`` and
``PATCH /repos/{owner}/{repo}/issues/comments/{id}``. GitLab: ``GET/POST
/projects/{id}/merge_requests/{iid}/notes`` and ``PUT .../notes/{note_id}``. Tokens go in headers
only and never appear in errors.
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import httpx

from perfsheriff.errors import ConfigError
from perfsheriff.notify.channel import DeliveryError
from perfsheriff.notify.restapi import DEFAULT_TIMEOUT, call, check_base_url, make_client, redacted_logs

GITHUB_API = "https://api.github.com"
GITLAB_API = "https://gitlab.com/api/v4"
#: Both services refuse longer comments (GitHub: 65,536 characters; GitLab: 1,000,000).
MAX_CHARS = 65_000
#: Pages of 100 comments read at most while looking for the marked one (a very long discussion).
MAX_PAGES = 20
_KEY = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,39}")


class Service(enum.StrEnum):
    GITHUB = "github"
    GITLAB = "gitlab"


@dataclass(frozen=True, slots=True)
class ReviewTarget:
    """A pull request (GitHub: ``owner/repo`` and its number) or merge request (GitLab: project id or path, iid)."""

    service: Service
    api_url: str
    repository: str
    number: int
    token: str

    def __post_init__(self) -> None:
        if not self.token.strip():
            raise ConfigError(f"{self.service}: a token is required")
        if self.number < 1:
            raise ConfigError(f"{self.service}: the request number must be a positive integer")
        if self.service is Service.GITHUB and not re.fullmatch(r"[\w.-]+/[\w.-]+", self.repository):
            raise ConfigError(f"github: expected the repository as OWNER/NAME, got {self.repository!r}")
        if self.service is Service.GITLAB and not self.repository.strip():
            raise ConfigError("gitlab: the project (id or path) must not be empty")
        check_base_url(self.api_url, f"{self.service}: the API URL")


@dataclass(frozen=True, slots=True)
class Posted:
    """What happened: ``created`` or ``updated``, and the comment's id."""

    action: str
    comment_id: int


def marker(key: str) -> str:
    if not _KEY.fullmatch(key):
        raise ConfigError("the comment key must be 1 to 40 letters, digits, '.', '_' or '-'", where="--key")
    return f"<!-- perfsheriff:{key} -->"


def with_marker(body: str, key: str) -> str:
    """``body`` cut to what the services accept, with the marker that finds the comment again."""
    mark = marker(key)
    room = MAX_CHARS - len(mark) - 64
    if len(body) > room:
        body = body[:room].rstrip() + "\n\n*(cut: the full table is in the job's output)*"
    return f"{body.rstrip()}\n\n{mark}\n"


def post_or_update(target: ReviewTarget, body: str, key: str, *, timeout: float = DEFAULT_TIMEOUT) -> Posted:
    """Edit the request's comment marked ``key``, or create it; any failure is a DeliveryError."""
    text = with_marker(body, key)
    api = _GitHub(target) if target.service is Service.GITHUB else _GitLab(target)
    secrets = (target.token,)
    with redacted_logs(secrets), make_client(api.headers, timeout, target.api_url.rstrip("/")) as client:
        for comment_id in reversed(api.marked(client, marker(key))):
            try:
                api.edit(client, comment_id, text)
            except DeliveryError as err:
                if err.status in {403, 404}:
                    continue  # not ours to edit
                raise
            return Posted("updated", comment_id)
        return Posted("created", api.create(client, text))


class _GitHub:
    def __init__(self, target: ReviewTarget) -> None:
        owner, name = target.repository.split("/", 1)
        self.base = f"/repos/{quote(owner, safe='')}/{quote(name, safe='')}"
        self.number = target.number
        self.secrets = (target.token,)
        self.headers = {
            "Authorization": f"Bearer {target.token}",
            "Accept": "application/vnd.github+json",
            "X-GitHub-Api-Version": "2022-11-28",
        }

    def marked(self, client: httpx.Client, mark: str) -> list[int]:
        return _marked_pages(
            lambda page: self._call(
                client, "GET", f"{self.base}/issues/{self.number}/comments?per_page=100&page={page}", "listing comments"
            ),
            mark,
        )

    def edit(self, client: httpx.Client, comment_id: int, text: str) -> None:
        url = f"{self.base}/issues/comments/{comment_id}"
        self._call(client, "PATCH", url, f"editing comment {comment_id}", {"body": text})

    def create(self, client: httpx.Client, text: str) -> int:
        url = f"{self.base}/issues/{self.number}/comments"
        made = self._call(client, "POST", url, f"commenting on pull request #{self.number}", {"body": text})
        return _id_of(made, "github")

    def _call(self, client: httpx.Client, method: str, url: str, what: str, payload: Any = None) -> Any:
        return call(client, method, url, channel="github", what=what, secrets=self.secrets, payload=payload)


class _GitLab:
    def __init__(self, target: ReviewTarget) -> None:
        self.base = f"/projects/{quote(target.repository, safe='')}/merge_requests/{target.number}/notes"
        self.number = target.number
        self.secrets = (target.token,)
        self.headers = {"PRIVATE-TOKEN": target.token}

    def marked(self, client: httpx.Client, mark: str) -> list[int]:
        return _marked_pages(
            lambda page: self._call(
                client, "GET", f"{self.base}?per_page=100&page={page}&sort=asc&order_by=created_at", "listing notes"
            ),
            mark,
            skip_system=True,
        )

    def edit(self, client: httpx.Client, comment_id: int, text: str) -> None:
        self._call(client, "PUT", f"{self.base}/{comment_id}", f"editing note {comment_id}", {"body": text})

    def create(self, client: httpx.Client, text: str) -> int:
        made = self._call(client, "POST", self.base, f"commenting on merge request !{self.number}", {"body": text})
        return _id_of(made, "gitlab")

    def _call(self, client: httpx.Client, method: str, url: str, what: str, payload: Any = None) -> Any:
        return call(client, method, url, channel="gitlab", what=what, secrets=self.secrets, payload=payload)


def _marked_pages(page_of: Any, mark: str, *, skip_system: bool = False) -> list[int]:
    """Ids of the comments holding ``mark``, oldest first, over up to :data:`MAX_PAGES` pages of 100."""
    found: list[int] = []
    for page in range(1, MAX_PAGES + 1):
        comments = page_of(page)
        if not isinstance(comments, list):
            raise DeliveryError("the comment list answered an unexpected shape", retryable=False)
        for comment in comments:
            if not isinstance(comment, dict) or (skip_system and comment.get("system")):
                continue
            body = comment.get("body")
            if isinstance(body, str) and mark in body and isinstance(comment.get("id"), int):
                found.append(comment["id"])
        if len(comments) < 100:
            break
    return found


def _id_of(made: Any, channel: str) -> int:
    if not isinstance(made, dict) or not isinstance(made.get("id"), int):
        raise DeliveryError(f"{channel}: the new comment answered an unexpected shape", retryable=False)
    comment_id: int = made["id"]
    return comment_id

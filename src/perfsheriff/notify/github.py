"""Tell a culprit's author on GitHub: a comment on the pull request that brought the commit, else on the commit.

A pull request comment reaches the author and the reviewers where they
discussed the change; a commit comment is the fallback for direct pushes.
``GET /repos/{owner}/{repo}/commits/{sha}/pulls`` finds the pull request
(a merged one first, as it is the one that landed the commit).
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from perfsheriff.errors import ConfigError
from perfsheriff.notify.channel import DeliveryError
from perfsheriff.notify.compose import Message
from perfsheriff.notify.restapi import DEFAULT_TIMEOUT, call, check_base_url, make_client, redacted_logs

GITHUB_API = "https://api.github.com"


class GitHubChannel:
    """Comments on ``owner/repo`` through the REST API at ``base_url`` (GitHub Enterprise: ``https://host/api/v3``)."""

    def __init__(
        self,
        *,
        token: str,
        owner: str,
        repo: str,
        base_url: str = GITHUB_API,
        name: str = "github",
        timeout: float = DEFAULT_TIMEOUT,
    ) -> None:
        if not token.strip():
            raise ConfigError(f"{name}: a token is required")
        if not owner.strip() or not repo.strip():
            raise ConfigError(f"{name}: owner and repo must not be empty")
        self._name = name
        self._token = token
        self._repo = f"{owner}/{repo}"
        self._repo_path = f"/repos/{quote(owner, safe='')}/{quote(repo, safe='')}"
        self._base_url = check_base_url(base_url, f"{name}: base_url")
        self._timeout = timeout

    @property
    def name(self) -> str:
        return self._name

    def __repr__(self) -> str:
        return f"GitHubChannel(name={self._name!r}, repo={self._repo!r}, base_url={self._base_url!r})"

    def send(self, message: Message) -> None:
        sha = message.culprit_sha
        headers = {
            "Authorization": f"Bearer {self._token}",
            "Accept": "application/vnd.github+json",
            "X-GitHub-Api-Version": "2022-11-28",
        }
        secrets = (self._token,)
        body = {"body": message.markdown}
        with redacted_logs(secrets), make_client(headers, self._timeout, self._base_url) as client:
            pulls = call(
                client,
                "GET",
                f"{self._repo_path}/commits/{sha}/pulls",
                channel=self._name,
                what=f"looking up the pull requests of {sha[:12]}",
                secrets=secrets,
            )
            number = _pull_request(pulls, self._name)
            if number is None:
                url, what = f"{self._repo_path}/commits/{sha}/comments", f"commenting on commit {sha[:12]}"
            else:
                url, what = f"{self._repo_path}/issues/{number}/comments", f"commenting on pull request #{number}"
            call(client, "POST", url, channel=self._name, what=what, secrets=secrets, payload=body)


def _pull_request(pulls: Any, channel: str) -> int | None:
    """The number of the pull request to comment on: the first merged one, else the first, else none."""
    if not isinstance(pulls, list) or not all(isinstance(p, dict) and isinstance(p.get("number"), int) for p in pulls):
        raise DeliveryError(f"{channel}: the pull request lookup answered an unexpected shape", retryable=False)
    if not pulls:
        return None
    merged = [p for p in pulls if p.get("merged_at")]
    number: int = (merged or pulls)[0]["number"]
    return number

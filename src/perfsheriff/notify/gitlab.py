"""Tell a culprit's author on GitLab: a note on the merge request that brought the commit, else a commit comment.

``GET /api/v4/projects/{id}/repository/commits/{sha}/merge_requests`` finds the
merge request (a merged one first). ``project`` is the numeric id or the path
(``group/project``), URL-encoded here as GitLab wants.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from perfsheriff.errors import ConfigError
from perfsheriff.notify.channel import DeliveryError
from perfsheriff.notify.compose import Message
from perfsheriff.notify.restapi import DEFAULT_TIMEOUT, call, check_base_url, make_client, redacted_logs

GITLAB_URL = "https://gitlab.com"


class GitLabChannel:
    """Notes on ``project`` through the REST API of the GitLab instance at ``base_url``."""

    def __init__(
        self,
        *,
        token: str,
        project: str | int,
        base_url: str = GITLAB_URL,
        name: str = "gitlab",
        timeout: float = DEFAULT_TIMEOUT,
    ) -> None:
        if not token.strip():
            raise ConfigError(f"{name}: a token is required")
        if not str(project).strip():
            raise ConfigError(f"{name}: project must not be empty")
        self._name = name
        self._token = token
        self._project = quote(str(project), safe="")
        self._base_url = check_base_url(base_url, f"{name}: base_url") + "/api/v4"
        self._timeout = timeout

    @property
    def name(self) -> str:
        return self._name

    def __repr__(self) -> str:
        return f"GitLabChannel(name={self._name!r}, project={self._project!r}, base_url={self._base_url!r})"

    def send(self, message: Message) -> None:
        sha = message.culprit_sha
        secrets = (self._token,)
        project = f"/projects/{self._project}"
        with (
            redacted_logs(secrets),
            make_client({"Authorization": f"Bearer {self._token}"}, self._timeout, self._base_url) as client,
        ):
            requests = call(
                client,
                "GET",
                f"{project}/repository/commits/{sha}/merge_requests",
                channel=self._name,
                what=f"looking up the merge requests of {sha[:12]}",
                secrets=secrets,
            )
            found = _merge_request(requests, self._name)
            if found is None:
                url, what = f"{project}/repository/commits/{sha}/comments", f"commenting on commit {sha[:12]}"
                payload = {"note": message.markdown}
            else:
                target, iid = found
                url, what = f"/projects/{target}/merge_requests/{iid}/notes", f"adding a note to merge request !{iid}"
                payload = {"body": message.markdown}
            call(client, "POST", url, channel=self._name, what=what, secrets=secrets, payload=payload)


def _merge_request(requests: Any, channel: str) -> tuple[str, int] | None:
    """(project id, iid) of the merge request to note on: the first merged one, else the first, else none.

    A merge request lives in its target project (``project_id``), which for a
    commit seen through a fork differs from the configured one.
    """
    if not isinstance(requests, list) or not all(
        isinstance(r, dict) and isinstance(r.get("iid"), int) for r in requests
    ):
        raise DeliveryError(f"{channel}: the merge request lookup answered an unexpected shape", retryable=False)
    if not requests:
        return None
    merged = [r for r in requests if r.get("state") == "merged"]
    chosen = (merged or requests)[0]
    project = chosen.get("project_id")
    if not isinstance(project, int):
        raise DeliveryError(f"{channel}: the merge request lookup gave no project id", retryable=False)
    return str(project), chosen["iid"]

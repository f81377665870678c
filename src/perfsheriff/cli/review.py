"""``perfsheriff comment``: a table (``compare --markdown``) on a pull or merge request, one comment edited in place."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Annotated

import typer

from perfsheriff.cli.context import console, user_errors
from perfsheriff.errors import ConfigError, InputError
from perfsheriff.notify.review_comment import GITHUB_API, GITLAB_API, ReviewTarget, Service, post_or_update

#: The most Markdown read from the file or standard input.
MAX_INPUT_BYTES = 1 << 20


def comment(
    file: Annotated[
        str, typer.Argument(help="The Markdown to post, e.g. from `perfsheriff compare --markdown`; - reads stdin.")
    ] = "-",
    github_pr: Annotated[int | None, typer.Option("--github-pr", help="The GitHub pull request's number.")] = None,
    gitlab_mr: Annotated[int | None, typer.Option("--gitlab-mr", help="The GitLab merge request's IID.")] = None,
    repository: Annotated[
        str | None,
        typer.Option(
            "--repository",
            help="GitHub: OWNER/NAME (default: $GITHUB_REPOSITORY); GitLab: the project's id or path "
            "(default: $CI_PROJECT_ID).",
        ),
    ] = None,
    api_url: Annotated[
        str | None,
        typer.Option(help="The API's base URL (default: $GITHUB_API_URL or $CI_API_V4_URL, else the public service)."),
    ] = None,
    token_env: Annotated[
        str | None,
        typer.Option(help="The variable holding the token (default: GITHUB_TOKEN, or GITLAB_TOKEN); never printed."),
    ] = None,
    key: Annotated[str, typer.Option(help="One comment per key: a second table (another machine) gets its own.")] = (
        "compare"
    ),
    link: Annotated[
        str | None, typer.Option(help="A URL added under the table, e.g. the dashboard's compare view.")
    ] = (None),
) -> None:
    """Post Markdown on a pull request (--github-pr) or merge request (--gitlab-mr) as one comment, edited in place.

    The comment carries a hidden marker; the next run finds it and edits it instead of adding another.
    """
    with user_errors():
        target = _target(github_pr, gitlab_mr, repository, api_url, token_env)
        body = _read_body(file)
        if link is not None:
            if not link.startswith(("http://", "https://")):
                raise InputError("expected an http(s) URL", where="--link")
            body = f"{body.rstrip()}\n\n[Details in perfsheriff]({link})\n"
        posted = post_or_update(target, body, key)
    where = f"pull request #{target.number}" if target.service is Service.GITHUB else f"merge request !{target.number}"
    console.print(f"{posted.action} comment {posted.comment_id} on {where}", markup=False, highlight=False)


def _target(
    github_pr: int | None, gitlab_mr: int | None, repository: str | None, api_url: str | None, token_env: str | None
) -> ReviewTarget:
    if (github_pr is None) == (gitlab_mr is None):
        raise InputError("give one of --github-pr and --gitlab-mr", where="--github-pr/--gitlab-mr")
    if github_pr is not None:
        service, number, variables = Service.GITHUB, github_pr, ("GITHUB_REPOSITORY", "GITHUB_API_URL", "GITHUB_TOKEN")
        default_api = GITHUB_API
    else:
        assert gitlab_mr is not None
        service, number, variables = Service.GITLAB, gitlab_mr, ("CI_PROJECT_ID", "CI_API_V4_URL", "GITLAB_TOKEN")
        default_api = GITLAB_API
    repository = repository or os.environ.get(variables[0], "")
    if not repository:
        raise InputError(f"name the repository with --repository (or set {variables[0]})", where="--repository")
    variable = token_env or variables[2]
    token = os.environ.get(variable, "")
    if not token.strip():
        raise ConfigError(f"set {variable} to a token that may comment (or name another variable with --token-env)")
    url = api_url or os.environ.get(variables[1]) or default_api
    return ReviewTarget(service, url, repository, number, token)


def _read_body(file: str) -> str:
    source = "standard input" if file == "-" else file
    try:
        data = sys.stdin.buffer.read(MAX_INPUT_BYTES + 1) if file == "-" else _read_file(Path(file))
    except OSError as err:
        raise InputError(f"cannot read it: {err.strerror or err}", source=source) from None
    if len(data) > MAX_INPUT_BYTES:
        raise InputError(f"more than {MAX_INPUT_BYTES} bytes: post a summary, not a log", source=source)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise InputError("not UTF-8 text", source=source) from None
    if not text.strip():
        raise InputError("nothing to post: the Markdown is empty", source=source)
    return text


def _read_file(path: Path) -> bytes:
    with path.open("rb") as handle:
        return handle.read(MAX_INPUT_BYTES + 1)


def register(app: typer.Typer) -> None:
    app.command()(comment)

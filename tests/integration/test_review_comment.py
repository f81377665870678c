"""``perfsheriff comment`` in a real process against local stand-ins for GitHub and GitLab: one comment, edited."""

from __future__ import annotations

from pathlib import Path

from support.cli import assert_one_error_line, run_cli
from support.fakeservers import FakeService, Reply

TOKEN = "ghp_" + "s3cret" * 6
TABLE = "| benchmark | change |\n|---|---|\n| parse | +4.2 % |\n"
MARKER = "<!-- perfsheriff:compare -->"
LIST = "/repos/octo/parser/issues/5/comments?per_page=100&page={}"


def post(tmp_path: Path, service: FakeService, *args: str, token: str = TOKEN, table: str = TABLE) -> object:
    (tmp_path / "table.md").write_text(table)
    env = {"GITHUB_TOKEN": token, "GITHUB_API_URL": service.url, "GITHUB_REPOSITORY": "octo/parser"}
    return run_cli("comment", str(tmp_path / "table.md"), *args, cwd=tmp_path, env=env)


def test_the_first_push_creates_the_comment_and_the_next_edits_it(tmp_path: Path) -> None:
    with FakeService() as github:
        github.on("GET", LIST.format(1), Reply(200, []), Reply(200, [{"id": 77, "body": f"old table\n\n{MARKER}\n"}]))
        github.on("POST", "/repos/octo/parser/issues/5/comments", Reply(201, {"id": 77}))
        github.on("PATCH", "/repos/octo/parser/issues/comments/77", Reply(200, {"id": 77}))
        first = post(tmp_path, github, "--github-pr", "5", "--link", "https://perf.example.org/compare?base=a&head=b")
        second = post(tmp_path, github, "--github-pr", "5", table="| parse | +0.1 % |\n")
        assert github.unexpected == []
    assert first.returncode == 0, first.stderr  # type: ignore[attr-defined]
    assert "created comment 77 on pull request #5" in first.stdout  # type: ignore[attr-defined]
    assert "updated comment 77 on pull request #5" in second.stdout  # type: ignore[attr-defined]
    (created,) = github.calls("POST", "/repos/octo/parser/issues/5/comments")
    assert created.body["body"].startswith(TABLE)
    assert "[Details in perfsheriff](https://perf.example.org/compare?base=a&head=b)" in created.body["body"]
    assert created.body["body"].rstrip().endswith(MARKER)
    assert created.headers["authorization"] == f"Bearer {TOKEN}"
    (edited,) = github.calls("PATCH", "/repos/octo/parser/issues/comments/77")
    assert edited.body["body"] == f"| parse | +0.1 % |\n\n{MARKER}\n"


def test_the_marked_comment_is_found_on_a_later_page_and_another_key_gets_its_own(tmp_path: Path) -> None:
    chatter = [{"id": i, "body": "looks good"} for i in range(100)]
    other_key = {"id": 500, "body": "arm64 table\n<!-- perfsheriff:arm64 -->"}
    with FakeService() as github:
        github.on("GET", LIST.format(1), Reply(200, chatter))
        github.on("GET", LIST.format(2), Reply(200, [other_key, {"id": 501, "body": MARKER}]))
        github.on("PATCH", "/repos/octo/parser/issues/comments/501", Reply(200, {"id": 501}))
        github.on("POST", "/repos/octo/parser/issues/5/comments", Reply(201, {"id": 502}))
        updated = post(tmp_path, github, "--github-pr", "5")
        own = post(tmp_path, github, "--github-pr", "5", "--key", "x86")
        assert github.unexpected == []
    assert "updated comment 501" in updated.stdout  # type: ignore[attr-defined]
    assert "created comment 502" in own.stdout  # type: ignore[attr-defined]
    (created,) = github.calls("POST", "/repos/octo/parser/issues/5/comments")
    assert "<!-- perfsheriff:x86 -->" in created.body["body"]


def test_a_marked_comment_it_may_not_edit_is_left_alone(tmp_path: Path) -> None:
    with FakeService() as github:
        github.on("GET", LIST.format(1), Reply(200, [{"id": 9, "body": f"a reviewer quoting the bot {MARKER}"}]))
        github.on("PATCH", "/repos/octo/parser/issues/comments/9", Reply(403, {"message": "Resource not accessible"}))
        github.on("POST", "/repos/octo/parser/issues/5/comments", Reply(201, {"id": 10}))
        result = post(tmp_path, github, "--github-pr", "5")
    assert "created comment 10" in result.stdout  # type: ignore[attr-defined]


def test_gitlab_notes_are_edited_with_put_and_system_notes_ignored(tmp_path: Path) -> None:
    notes = "/projects/group%2Fparser/merge_requests/12/notes"
    listing = f"{notes}?per_page=100&page=1&sort=asc&order_by=created_at"
    with FakeService() as gitlab:
        system = {"id": 1, "body": f"changed the description {MARKER}", "system": True}
        gitlab.on("GET", listing, Reply(200, [system, {"id": 2, "body": MARKER, "system": False}]))
        gitlab.on("PUT", f"{notes}/2", Reply(200, {"id": 2}))
        (tmp_path / "table.md").write_text(TABLE)
        env = {"GITLAB_TOKEN": "glpat-abcdef", "CI_API_V4_URL": gitlab.url, "CI_PROJECT_ID": "group/parser"}
        result = run_cli("comment", "table.md", "--gitlab-mr", "12", cwd=tmp_path, env=env)
        assert gitlab.unexpected == []
    assert result.returncode == 0, result.stderr
    assert "updated comment 2 on merge request !12" in result.stdout
    (put,) = gitlab.calls("PUT", f"{notes}/2")
    assert put.headers["private-token"] == "glpat-abcdef"


def test_a_refusal_is_one_line_that_never_shows_the_token(tmp_path: Path) -> None:
    with FakeService() as github:
        github.on("GET", LIST.format(1), Reply(401, {"message": f"Bad credentials for {TOKEN}"}))
        result = post(tmp_path, github, "--github-pr", "5")
    assert_one_error_line(result, "github: listing comments answered 401")
    assert TOKEN not in result.stderr + result.stdout  # type: ignore[attr-defined]


def test_bad_input_is_named_before_anything_is_sent(tmp_path: Path) -> None:
    with FakeService() as github:
        no_token = post(tmp_path, github, "--github-pr", "5", token="")
        both = post(tmp_path, github, "--github-pr", "5", "--gitlab-mr", "3")
        empty = post(tmp_path, github, "--github-pr", "5", table="  \n")
        bad_key = post(tmp_path, github, "--github-pr", "5", "--key", "no spaces")
        assert github.requests == []
    assert_one_error_line(no_token, "set GITHUB_TOKEN to a token that may comment")
    assert_one_error_line(both, "give one of --github-pr and --gitlab-mr")
    assert_one_error_line(empty, "nothing to post")
    assert_one_error_line(bad_key, "--key")

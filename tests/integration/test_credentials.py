"""Credentials in a repository URL are never shown: not by the API, not in git's error messages."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa

from perfsheriff.errors import GitError
from perfsheriff.gitrepo import GitRepo
from perfsheriff.store import schema as t
from support.benchrepo import BenchProject
from support.liveserver import LiveServer

SECRET_URL = "https://perf-bot:s3cret-token@127.0.0.1:9/private/x.git"


def test_the_api_shows_repository_urls_without_their_credentials(
    server: LiveServer, project: BenchProject, engine_url: str
) -> None:
    engine = sa.create_engine(engine_url)
    with engine.begin() as conn:
        conn.execute(t.projects.update().values(repository=SECRET_URL))
    engine.dispose()
    sheriff = server.token("sheriff")
    agent = server.token("agent", machine="box", machine_class="test-class")
    job = {"project": "bench-project", "revision": project.tips[1], "benchmark": "work", "machine_class": "test-class"}
    with server.client(sheriff) as http:
        assert http.post("/api/v1/jobs", json=job).status_code == 201
    with server.client() as http:
        for path in ("/api/v1/projects", "/api/v1/jobs", "/"):
            shown = http.get(path)
            assert shown.status_code == 200
            assert "s3cret" not in shown.text, path
        assert http.get("/api/v1/projects").json()["projects"][0]["repository"] == (
            "https://***@127.0.0.1:9/private/x.git"
        )
    with server.client(agent) as http:  # the agent that claims the job clones it, credentials and all
        claimed = http.post("/api/v1/jobs/claim", json={"machine": "box"}).json()["job"]
        assert claimed["repository"] == SECRET_URL


def test_a_failed_clone_does_not_show_the_credentials(tmp_path: Path) -> None:
    with pytest.raises(GitError) as failed:
        GitRepo.mirror(SECRET_URL, tmp_path / "mirror")
    assert "s3cret" not in str(failed.value)
    assert "https://***@127.0.0.1:9/private/x.git" in str(failed.value)

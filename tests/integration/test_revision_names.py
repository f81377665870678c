"""Revisions named as people name them (branch, tag, HEAD, ~N, ^N), resolved from what is stored: no git needed."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy.engine import Engine

from perfsheriff.errors import InputError, NotFoundError
from perfsheriff.gitrepo import GitRepo
from perfsheriff.model import Configuration, Machine
from perfsheriff.service.analysis.compare import compare_revisions, resolve_stored_revision
from perfsheriff.service.intake import ingest
from support.measured import Project


@pytest.fixture
def measured(engine: Engine, tmp_path: Path) -> tuple[Project, list[str]]:
    project = Project(engine, tmp_path / "project")
    shas = project.measure(4, parse=10.0, render=5.0)
    project.repo.git("tag", "v1.0", shas[1])
    shas += project.measure(2, parse=12.0, render=5.0)  # importing this history stores the tag as well
    return project, shas


def sha_of(engine: Engine, text: str) -> str:
    with engine.connect() as conn:
        return resolve_stored_revision(conn, text)[1]


def test_branches_tags_head_and_ancestry_resolve_to_stored_commits(
    engine: Engine, measured: tuple[Project, list[str]]
) -> None:
    _, shas = measured
    assert sha_of(engine, "main") == shas[-1]
    assert sha_of(engine, "HEAD") == shas[-1]  # one branch tracked
    assert sha_of(engine, "main~2") == shas[-3]
    assert sha_of(engine, "HEAD^") == shas[-2]
    assert sha_of(engine, "main~1^^0") == shas[-3]  # as git reads it: ~1, then ^, then ^0 (itself)
    assert sha_of(engine, "v1.0") == shas[1]
    assert sha_of(engine, "v1.0~1") == shas[0]
    assert sha_of(engine, shas[2][:8]) == shas[2]
    with engine.connect() as conn:
        result = compare_revisions(conn, "main~1", "main")
    assert (result.base, result.head) == (shas[-2], shas[-1])


def test_what_cannot_be_resolved_says_why(engine: Engine, measured: tuple[Project, list[str]]) -> None:
    _, shas = measured
    with pytest.raises(NotFoundError, match="no branch, tag or stored revision named 'nowhere'"):
        sha_of(engine, "nowhere~2")
    with pytest.raises(NotFoundError, match="has no such parent stored"):
        sha_of(engine, f"main~{len(shas)}")
    with pytest.raises(NotFoundError, match="has no such parent stored"):
        sha_of(engine, "main^2")  # a commit with one parent
    with pytest.raises(InputError, match="expected a commit sha, a branch or a tag"):
        sha_of(engine, "main ~1")
    with pytest.raises(InputError, match="at most"):
        sha_of(engine, "main~99999999")
    with pytest.raises(InputError, match="expected a commit sha, a branch or a tag"):
        sha_of(engine, "main~" + "9" * 5000)  # more digits than an int is read from: refused, never a 500


def test_head_is_refused_when_several_branches_are_tracked(engine: Engine, measured: tuple[Project, list[str]]) -> None:
    project, _ = measured
    project.repo.branch("release")
    sha = project.repo.commit("release fix")
    ingest.prepare_target(
        engine, GitRepo(project.repo.path), revision=sha, machine=Machine("box"), configuration=Configuration.of({}),
        branch="release",
    )  # fmt: skip
    assert sha_of(engine, "release") == sha
    with pytest.raises(InputError, match="HEAD is ambiguous with 2 branches tracked"):
        sha_of(engine, "HEAD~1")

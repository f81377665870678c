"""Projects known to the server: registered from a perfsheriff.toml, with their branches' history."""

from __future__ import annotations

from sqlalchemy.engine import Engine

from perfsheriff.gitrepo import GitRepo
from perfsheriff.projectfile import ProjectFile
from perfsheriff.service.intake.history import import_history
from perfsheriff.store import records


def register_project(engine: Engine, project_file: ProjectFile, repo: GitRepo) -> int:
    """Create the project (if new) and import the history of each tracked branch; returns its id."""
    project = project_file.project
    with engine.begin() as conn:
        project_id = records.project_id(
            conn, project.name, project.repository if project.repository_is_url else str(repo.path)
        )
        for branch in project.branches:
            import_history(conn, repo, project_id, branch)
        specs = project_file.benchmarks
        weights, tags = {s.name: s.weight for s in specs}, {s.name: s.tags for s in specs}
        records.configure_benchmarks(conn, project_id, weights, tags)
    return project_id

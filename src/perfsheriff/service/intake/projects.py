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
        records.set_benchmark_weights(conn, project_id, {spec.name: spec.weight for spec in project_file.benchmarks})
    return project_id

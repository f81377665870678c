"""A tracker wired like ``perfsheriff track``, with a fixed clock, and what tests read back from its database."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from perfsheriff import projectfile
from perfsheriff.runner import Runner
from perfsheriff.service.tracking.track import Tracker, choose_machine, open_repository
from perfsheriff.store import alerts as alert_store
from perfsheriff.store import schema as t

NOW = datetime(2024, 3, 1, 12, 0, tzinfo=UTC)


def make_tracker(engine: Engine, config: Path, workdir: Path, *, backfill: int = 20) -> Tracker:
    """Wired like ``perfsheriff track`` (cli/tracking.py's ``tracker``), with a fixed clock."""
    project_file = projectfile.load(config)
    spec = choose_machine(project_file, None, "fallback-host")
    repo = open_repository(project_file, workdir.absolute())
    runner = Runner(
        repo,
        workdir.absolute() / "runner",
        project_file.config_dir,
        spec.name,
        infra_retries=project_file.budgets.infra_retries,
    )
    return Tracker(engine, project_file, repo, runner, spec, backfill=backfill, now=lambda: NOW)


def runs_by_revision(engine: Engine) -> dict[str, list[tuple[str, int]]]:
    """sha -> [(status, samples stored)] for every run, in insertion order."""
    query = (
        sa.select(t.revisions.c.sha, t.runs.c.status, sa.func.count(t.samples.c.id))
        .join(t.revisions, t.revisions.c.id == t.runs.c.revision_id)
        .outerjoin(t.samples, t.samples.c.run_id == t.runs.c.id)
        .group_by(t.runs.c.id, t.revisions.c.sha, t.runs.c.status)
        .order_by(t.runs.c.id)
    )
    out: dict[str, list[tuple[str, int]]] = {}
    with engine.connect() as conn:
        for sha, status, n in conn.execute(query):
            out.setdefault(sha, []).append((status, int(n)))
    return out


def count_runs(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(sa.select(sa.func.count()).select_from(t.runs)).scalar_one())


def stored_alerts(engine: Engine) -> list[alert_store.AlertRow]:
    with engine.connect() as conn:
        return alert_store.list_alerts(conn)

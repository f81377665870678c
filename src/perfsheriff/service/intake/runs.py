"""Recording what the runner measured: ok runs with their samples, failures without."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

import sqlalchemy as sa

from perfsheriff.errors import NotFoundError
from perfsheriff.runner import RunOutcome
from perfsheriff.service.intake.ingest import Target, insert_run, store_result_set
from perfsheriff.store import records


def target_at(conn: sa.Connection, target: Target, sha: str) -> Target:
    """The same project, branch, machine and configuration, at another commit of the branch."""
    ids = records.revision_ids(conn, target.project_id, [sha])
    if sha not in ids:
        raise NotFoundError(f"revision {sha[:12]} is not stored: import the branch history first")
    position = records.branch_position(conn, target.branch_id, ids[sha])
    if position is None:
        raise NotFoundError(f"revision {sha[:12]} is not on branch {target.branch!r}")
    return replace(target, revision=sha, revision_id=ids[sha], position=position)


def record_outcome(conn: sa.Connection, target: Target, outcome: RunOutcome, *, benchmark: str, now: datetime) -> int:
    """Store one runner outcome at ``target``'s revision; returns the run id.

    A run of a configured benchmark has no content hash: measuring the same
    commit again is a retrigger, not a duplicate.
    """
    source = f"benchmark {benchmark}"
    if outcome.results is not None:
        stored = store_result_set(
            conn, target, outcome.results, source=source, content_hash=None, now=now, environment=outcome.environment
        )
        return stored.run_id
    error = (outcome.error or "")[:2000] + (f"\n{outcome.log_tail}" if outcome.log_tail else "")
    return insert_run(
        conn, target, outcome.status, now=now, source=source, environment=outcome.environment, error=error
    )

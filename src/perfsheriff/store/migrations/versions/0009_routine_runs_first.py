"""routine runs first: the jobs still queued take their reason's new priority

Routine runs of new pushes now go before confirmation, backfills and bisection (``JobReason.priority``), so a
machine class's run budget can hold automation back without ever delaying them. Only the ``priority`` column of
jobs changes; downgrading restores the old order (bisection first).

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

_jobs = sa.table("jobs", sa.column("reason", sa.String), sa.column("priority", sa.Integer))
_NEW = {"routine": 40, "confirm": 30, "backfill": 20, "bisect": 10}
_OLD = {"bisect": 30, "confirm": 25, "backfill": 20, "routine": 10}


def _prioritise(priorities: dict[str, int]) -> None:
    for reason, priority in priorities.items():
        op.execute(sa.update(_jobs).where(_jobs.c.reason == reason).values(priority=priority))


def upgrade() -> None:
    _prioritise(_NEW)


def downgrade() -> None:
    _prioritise(_OLD)

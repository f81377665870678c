"""bisections: one row per alert in a table of their own, moved out of ``alerts.details["bisection"]``

Each existing record becomes a row in its decided state (the record's ``kind``), with the alert's range as
its ends; the key leaves ``details``. Downgrading writes the decided ones back into ``details``.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-07
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")

_alerts = sa.table(
    "alerts",
    sa.column("id", sa.Integer),
    sa.column("details", sa.JSON),
    sa.column("last_good_revision_id", sa.Integer),
    sa.column("first_bad_revision_id", sa.Integer),
)
_revisions = sa.table("revisions", sa.column("id", sa.Integer), sa.column("sha", sa.String))
_DECIDED = ("culprit", "two_culprits", "not_reproduced", "undecided")


def upgrade() -> None:
    bisections = op.create_table(
        "bisections",
        sa.Column("alert_id", Id, nullable=False),
        sa.Column("good", sa.String(length=40), nullable=False),
        sa.Column("bad", sa.String(length=40), nullable=False),
        sa.Column("state", sa.String(length=20), nullable=False),
        sa.Column("range_size", sa.Integer(), nullable=False),
        sa.Column("runs_spent", sa.Integer(), nullable=False),
        sa.Column("culprits", sa.JSON(), nullable=False),
        sa.Column("confidence", sa.Float(), nullable=True),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("probes", sa.JSON(), nullable=False),
        sa.Column("reused_from_alert_id", Id, nullable=True),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["alert_id"], ["alerts.id"], name=op.f("fk_bisections_alert_id_alerts"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["reused_from_alert_id"],
            ["alerts.id"],
            name=op.f("fk_bisections_reused_from_alert_id_alerts"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("alert_id", name=op.f("pk_bisections")),
    )
    op.create_index(op.f("ix_bisections_state"), "bisections", ["state"], unique=False)
    conn = op.get_bind()
    good, bad = _revisions.alias("good"), _revisions.alias("bad")
    query = (
        sa.select(_alerts.c.id, _alerts.c.details, good.c.sha, bad.c.sha)
        .join(good, good.c.id == _alerts.c.last_good_revision_id)
        .join(bad, bad.c.id == _alerts.c.first_bad_revision_id)
        .order_by(_alerts.c.id)
    )
    for alert_id, details, good_sha, bad_sha in conn.execute(query).all():
        record = (details or {}).get("bisection")
        if not isinstance(record, dict):
            continue
        conn.execute(sa.insert(bisections).values(_row(alert_id, good_sha, bad_sha, record)))
        rest = {k: v for k, v in details.items() if k != "bisection"}
        conn.execute(sa.update(_alerts).where(_alerts.c.id == alert_id).values(details=rest))


def _row(alert_id: int, good: str, bad: str, record: dict[str, Any]) -> dict[str, Any]:
    kind = str(record.get("kind"))
    via = record.get("reused_from_alert")
    return {
        "alert_id": alert_id,
        "good": good,
        "bad": bad,
        "state": kind if kind in _DECIDED else "failed",
        "range_size": int(record.get("range_size") or 0),
        "runs_spent": int(record.get("runs_spent") or 0),
        "culprits": [str(s) for s in record.get("culprits") or []],
        "confidence": record.get("confidence"),
        "reason": str(record.get("reason") or ""),
        "probes": [
            {
                "commit": str(p.get("commit")),
                "verdict": str(p.get("verdict", "")),
                "n_samples": int(p.get("n_samples") or 0),
                "reason": str(p.get("reason") or ""),
            }
            for p in record.get("probes") or []
        ],
        "reused_from_alert_id": int(via) if via else None,
    }


def downgrade() -> None:
    conn = op.get_bind()
    bisections = sa.table(
        "bisections",
        *(sa.column(name) for name in ("alert_id", "state", "range_size", "runs_spent", "confidence", "reason")),
        sa.column("culprits", sa.JSON),
        sa.column("probes", sa.JSON),
        sa.column("reused_from_alert_id", sa.Integer),
    )
    query = (
        sa.select(bisections, _alerts.c.details)
        .join(_alerts, _alerts.c.id == bisections.c.alert_id)
        .where(bisections.c.state.in_(_DECIDED))
    )
    for row in conn.execute(query).all():
        record: dict[str, Any] = {
            "kind": row.state,
            "culprits": list(row.culprits),
            "confidence": row.confidence,
            "runs_spent": row.runs_spent,
            "range_size": row.range_size,
            "reason": row.reason,
            "probes": list(row.probes),
        }
        if row.reused_from_alert_id is not None:
            record["reused_from_alert"] = row.reused_from_alert_id
        details = {**(row.details or {}), "bisection": record}
        conn.execute(sa.update(_alerts).where(_alerts.c.id == row.alert_id).values(details=details))
    op.drop_index(op.f("ix_bisections_state"), table_name="bisections")
    op.drop_table("bisections")

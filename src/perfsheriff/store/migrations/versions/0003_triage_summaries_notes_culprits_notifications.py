"""triage: summary ranges, drift and upstream; note states and kinds; culprits; patch ids; notifications

Summaries of 0001 were a placeholder no release wrote to, but a database may hold
some: their range is filled from their alerts (a summary without alerts gets the
nominal range (0, 1]), ``updated_at`` from ``created_at``, and older notes become
comments without states.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-30
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")

# Fills the new columns of existing summaries: the range is the hull of their alerts' suspect ranges in
# positions of the summary's branch, (0, 1] for a summary without alerts.
_FILL_SUMMARIES = """
UPDATE alert_summaries SET
    updated_at = created_at,
    drift = EXISTS (SELECT 1 FROM alerts a WHERE a.summary_id = alert_summaries.id AND a.kind = 'drift'),
    last_good_position = COALESCE((
        SELECT MIN(br.position) FROM alerts a
        JOIN branch_revisions br
            ON br.revision_id = a.last_good_revision_id AND br.branch_id = alert_summaries.branch_id
        WHERE a.summary_id = alert_summaries.id), 0),
    first_bad_position = COALESCE((
        SELECT MAX(br.position) FROM alerts a
        JOIN branch_revisions br
            ON br.revision_id = a.first_bad_revision_id AND br.branch_id = alert_summaries.branch_id
        WHERE a.summary_id = alert_summaries.id), 1)
"""


def upgrade() -> None:
    _create_notifications()
    with op.batch_alter_table("alert_summaries", schema=None) as batch_op:
        batch_op.add_column(sa.Column("updated_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("drift", sa.Boolean(), nullable=True))
        batch_op.add_column(sa.Column("last_good_position", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("first_bad_position", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("culprit_sha", sa.String(length=40), nullable=True))
        batch_op.add_column(sa.Column("upstream_summary_id", Id, nullable=True))
    op.execute(_FILL_SUMMARIES)
    with op.batch_alter_table("alert_summaries", schema=None) as batch_op:
        for name, type_ in (
            ("updated_at", sa.DateTime(timezone=True)),
            ("drift", sa.Boolean()),
            ("last_good_position", sa.Integer()),
            ("first_bad_position", sa.Integer()),
        ):
            batch_op.alter_column(name, existing_type=type_, nullable=False)
        batch_op.create_index(batch_op.f("ix_alert_summaries_branch_id_state"), ["branch_id", "state"], unique=False)
        batch_op.create_foreign_key(
            batch_op.f("fk_alert_summaries_upstream_summary_id_alert_summaries"),
            "alert_summaries",
            ["upstream_summary_id"],
            ["id"],
            ondelete="SET NULL",
        )

    with op.batch_alter_table("alerts", schema=None) as batch_op:
        batch_op.add_column(sa.Column("culprit_revision_id", Id, nullable=True))
        batch_op.add_column(sa.Column("culprit_confidence", sa.Float(), nullable=True))
        batch_op.create_index(batch_op.f("ix_alerts_summary_id"), ["summary_id"], unique=False)
        batch_op.create_foreign_key(
            batch_op.f("fk_alerts_culprit_revision_id_revisions"),
            "revisions",
            ["culprit_revision_id"],
            ["id"],
            ondelete="SET NULL",
        )

    with op.batch_alter_table("notes", schema=None) as batch_op:
        batch_op.add_column(sa.Column("kind", sa.String(length=20), nullable=True))
        batch_op.add_column(sa.Column("from_state", sa.String(length=20), nullable=True))
        batch_op.add_column(sa.Column("to_state", sa.String(length=20), nullable=True))
    op.execute("UPDATE notes SET kind = 'comment'")
    with op.batch_alter_table("notes", schema=None) as batch_op:
        batch_op.alter_column("kind", existing_type=sa.String(length=20), nullable=False)

    with op.batch_alter_table("revisions", schema=None) as batch_op:
        batch_op.add_column(sa.Column("patch_id", sa.String(length=40), nullable=True))


def _create_notifications() -> None:
    op.create_table(
        "notifications",
        sa.Column("id", Id, autoincrement=True, nullable=False),
        sa.Column("summary_id", Id, nullable=False),
        sa.Column("channel", sa.String(length=40), nullable=False),
        sa.Column("key", sa.String(length=200), nullable=False),
        sa.Column("outcome", sa.String(length=20), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["summary_id"],
            ["alert_summaries.id"],
            name=op.f("fk_notifications_summary_id_alert_summaries"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_notifications")),
        sa.UniqueConstraint("key", name=op.f("uq_notifications_key")),
    )
    with op.batch_alter_table("notifications", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_notifications_summary_id"), ["summary_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("revisions", schema=None) as batch_op:
        batch_op.drop_column("patch_id")

    with op.batch_alter_table("notes", schema=None) as batch_op:
        batch_op.drop_column("to_state")
        batch_op.drop_column("from_state")
        batch_op.drop_column("kind")

    with op.batch_alter_table("alerts", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("fk_alerts_culprit_revision_id_revisions"), type_="foreignkey")
        batch_op.drop_index(batch_op.f("ix_alerts_summary_id"))
        batch_op.drop_column("culprit_confidence")
        batch_op.drop_column("culprit_revision_id")

    with op.batch_alter_table("alert_summaries", schema=None) as batch_op:
        batch_op.drop_constraint(
            batch_op.f("fk_alert_summaries_upstream_summary_id_alert_summaries"), type_="foreignkey"
        )
        batch_op.drop_index(batch_op.f("ix_alert_summaries_branch_id_state"))
        batch_op.drop_column("upstream_summary_id")
        batch_op.drop_column("culprit_sha")
        batch_op.drop_column("first_bad_position")
        batch_op.drop_column("last_good_position")
        batch_op.drop_column("drift")
        batch_op.drop_column("updated_at")

    with op.batch_alter_table("notifications", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_notifications_summary_id"))
    op.drop_table("notifications")

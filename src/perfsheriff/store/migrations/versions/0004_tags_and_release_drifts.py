"""tags of tracked branches, and each series' drift since its branch's newest release tag

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-30
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "tags",
        sa.Column("id", Id, autoincrement=True, nullable=False),
        sa.Column("project_id", Id, nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("revision_id", Id, nullable=False),
        sa.ForeignKeyConstraint(
            ["project_id"], ["projects.id"], name=op.f("fk_tags_project_id_projects"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["revision_id"], ["revisions.id"], name=op.f("fk_tags_revision_id_revisions"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_tags")),
        sa.UniqueConstraint("project_id", "name", name=op.f("uq_tags_project_id_name")),
    )
    op.create_table(
        "release_drifts",
        sa.Column("series_id", sa.String(length=16), nullable=False),
        sa.Column("tag_id", Id, nullable=False),
        sa.Column("verdict", sa.String(length=20), nullable=False),
        sa.Column("relative_change", sa.Float(), nullable=True),
        sa.Column("ci_low", sa.Float(), nullable=True),
        sa.Column("ci_high", sa.Float(), nullable=True),
        sa.Column("points", sa.Integer(), nullable=False),
        sa.Column("computed_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["series_id"], ["series.id"], name=op.f("fk_release_drifts_series_id_series"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["tag_id"], ["tags.id"], name=op.f("fk_release_drifts_tag_id_tags"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("series_id", name=op.f("pk_release_drifts")),
    )
    with op.batch_alter_table("release_drifts", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_release_drifts_tag_id"), ["tag_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("release_drifts", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_release_drifts_tag_id"))
    op.drop_table("release_drifts")
    op.drop_table("tags")

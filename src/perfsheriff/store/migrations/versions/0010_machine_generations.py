"""machine generations: where a machine class was upgraded, and how many baseline revisions it asked for

A new table, ``machine_generations``; nothing else changes. Downgrading drops it (baseline jobs already queued
stay, as ordinary jobs).

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "machine_generations",
        sa.Column("id", Id, autoincrement=True, nullable=False),
        sa.Column("machine_class", sa.String(length=200), nullable=False),
        sa.Column("ordinal", sa.Integer(), nullable=False),
        sa.Column("label", sa.String(length=200), nullable=False),
        sa.Column("previous_label", sa.String(length=200), nullable=False),
        sa.Column("starts_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("baseline_revisions", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_machine_generations")),
        sa.UniqueConstraint("machine_class", "ordinal", name=op.f("uq_machine_generations_machine_class_ordinal")),
    )


def downgrade() -> None:
    op.drop_table("machine_generations")

"""outcome_targets: programme outcome targets (permits, omzet growth, new jobs) per programme, agency, cohort

Revision ID: 0012_outcome_targets
Revises: 0004_participation
Create Date: 2026-11-30 03:10:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import storage.base

revision: str = "0012_outcome_targets"
down_revision: str | Sequence[str] | None = "0004_participation"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

UTC_DATETIME = storage.base.UtcDateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "outcome_targets",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("scope", sa.String(length=10), nullable=False),
        sa.Column("key", sa.String(length=200), nullable=False),
        sa.Column("measure", sa.String(length=20), nullable=False),
        sa.Column("target", sa.Integer(), nullable=False),
        sa.Column("updated_at", UTC_DATETIME, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_outcome_targets")),
        sa.UniqueConstraint("scope", "key", "measure", name=op.f("uq_outcome_targets_scope_key_measure")),
    )


def downgrade() -> None:
    op.drop_table("outcome_targets")

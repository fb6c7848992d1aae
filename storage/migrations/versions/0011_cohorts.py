"""cohorts: start and end dates of each angkatan, and a pause

Revision ID: 0011_cohorts
Revises: 0001_core
Create Date: 2026-11-30 02:20:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011_cohorts"
down_revision: str | Sequence[str] | None = "0001_core"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "cohorts",
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("starts_on", sa.Date(), nullable=False),
        sa.Column("ends_on", sa.Date(), nullable=False),
        sa.Column("paused_from", sa.Date(), nullable=True),
        sa.Column("paused_until", sa.Date(), nullable=True),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_cohorts")),
    )


def downgrade() -> None:
    op.drop_table("cohorts")

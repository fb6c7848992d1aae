"""participant outcomes: each participant's first and latest sent report (permits, omzet, workers), kept as reports are sent

Revision ID: 0030_participant_outcomes
Revises: 0012_trained_index
Create Date: 2026-11-30 06:40:00

Backfilled here from the sent monthly reports, so an existing database has the rows at upgrade
(≈700,000 reports at 100,000 participants: a few seconds).
"""
from collections.abc import Sequence

import sqlalchemy as sa
import storage.base
from alembic import op

from storage.outcomes import refresh_participant_outcomes

revision: str = "0030_participant_outcomes"
down_revision: str | Sequence[str] | None = "0012_trained_index"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "participant_outcomes",
        sa.Column("participant_id", sa.Integer(), nullable=False),
        sa.Column("first_month", sa.String(length=7), nullable=False),
        sa.Column("last_month", sa.String(length=7), nullable=False),
        sa.Column("last_sent_at", storage.base.UtcDateTime(timezone=True), nullable=False),
        sa.Column("nib", sa.Integer(), nullable=False),
        sa.Column("pirt", sa.Integer(), nullable=False),
        sa.Column("halal", sa.Integer(), nullable=False),
        sa.Column("lainnya", sa.Integer(), nullable=False),
        sa.Column("first_omzet", sa.BigInteger(), nullable=True),
        sa.Column("last_omzet", sa.BigInteger(), nullable=True),
        sa.Column("first_workers", sa.Integer(), nullable=True),
        sa.Column("last_workers", sa.Integer(), nullable=True),
        sa.PrimaryKeyConstraint("participant_id", name=op.f("pk_participant_outcomes")),
    )
    for statement in refresh_participant_outcomes():
        op.execute(statement)


def downgrade() -> None:
    op.drop_table("participant_outcomes")

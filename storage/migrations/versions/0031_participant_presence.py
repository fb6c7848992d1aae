"""participant presence: when each participant was first recorded hadir or terlambat, kept as presensi is written

Revision ID: 0031_participant_presence
Revises: 0030_participant_outcomes
Create Date: 2026-11-30 06:45:00

Backfilled here from the presensi (≈4 M rows at 100,000 participants: a few seconds).
"""
from collections.abc import Sequence

import sqlalchemy as sa
import storage.base
from alembic import op

from storage.outcomes import refresh_participant_presence

revision: str = "0031_participant_presence"
down_revision: str | Sequence[str] | None = "0030_participant_outcomes"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "participant_presence",
        sa.Column("participant_id", sa.Integer(), nullable=False),
        sa.Column("first_present_at", storage.base.UtcDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("participant_id", name=op.f("pk_participant_presence")),
    )
    for statement in refresh_participant_presence():
        op.execute(statement)


def downgrade() -> None:
    op.drop_table("participant_presence")

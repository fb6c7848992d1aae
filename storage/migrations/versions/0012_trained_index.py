"""trained index: whether a participant attended a session by a date, read from the index alone (targets)

Revision ID: 0012_trained_index
Revises: 0012_outcome_index
Create Date: 2026-11-30 03:45:00
"""
from collections.abc import Sequence

from alembic import op

revision: str = "0012_trained_index"
down_revision: str | Sequence[str] | None = "0012_outcome_index"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = "0002_activities"


def upgrade() -> None:
    op.create_index("ix_attendance_trained", "attendance", ["participant_id", "status", "created_at"])


def downgrade() -> None:
    op.drop_index("ix_attendance_trained", table_name="attendance")

"""outcome index: each participant's first and latest sent monthly report, read from the index alone

Revision ID: 0012_outcome_index
Revises: 0012_outcome_targets
Create Date: 2026-11-30 03:30:00
"""
from collections.abc import Sequence

from alembic import op

revision: str = "0012_outcome_index"
down_revision: str | Sequence[str] | None = "0012_outcome_targets"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = "0002_activities"


def upgrade() -> None:
    op.create_index("ix_monthly_reports_outcomes", "monthly_reports", ["participant_id", "month", "submitted_at"])


def downgrade() -> None:
    op.drop_index("ix_monthly_reports_outcomes", table_name="monthly_reports")

"""console: indexes for the desk pages at 100,000 participants: the monthly reports' roll and omzet trend
from the index alone, and the participants on the roster before a report's deadline counted from the index

Revision ID: 0026_console_desk_indexes
Revises: 0025_mentor_month_figures
Create Date: 2026-11-30 04:20:00
"""
from collections.abc import Sequence

from alembic import op

revision: str = "0026_console_desk_indexes"
down_revision: str | Sequence[str] | None = "0025_mentor_month_figures"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = ("0002_activities",)


def upgrade() -> None:
    op.create_index("ix_monthly_reports_sent", "monthly_reports", ["month", "submitted_at", "omzet", "participant_id"],
                    unique=False)
    op.create_index("ix_people_roster_since", "people", ["role", "is_active", "created_at"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_people_roster_since", table_name="people")
    op.drop_index("ix_monthly_reports_sent", table_name="monthly_reports")

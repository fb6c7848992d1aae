"""console: mentor_month_snapshots and mentor_month_figures, the monthly mentor performance stored per month
(the kinerja job and the console's background refresh write them; /console/pendamping reads one page)

Revision ID: 0025_mentor_month_figures
Revises: 0023_console_lists
Create Date: 2026-11-30 04:10:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import storage.base

revision: str = "0025_mentor_month_figures"
down_revision: str | Sequence[str] | None = "0023_console_lists"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

UTC_DATETIME = storage.base.UtcDateTime(timezone=True)
COUNTS = ("participants", "questions", "answered", "within_deadline", "late", "rating_total", "ratings", "sessions",
          "present", "recorded", "reviewed", "reports_due", "reports_sent", "at_risk", "recovered")
SHARES = ("response_median", "within_pct", "rating_average", "attendance_pct", "review_median")


def upgrade() -> None:
    op.create_table(
        "mentor_month_snapshots",
        sa.Column("month", sa.String(length=7), nullable=False),
        sa.Column("computed_at", UTC_DATETIME, nullable=False),
        sa.Column("mentors", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("month", name=op.f("pk_mentor_month_snapshots")),
    )
    op.create_table(
        "mentor_month_figures",
        sa.Column("month", sa.String(length=7), nullable=False),
        sa.Column("mentor_id", sa.Integer(), nullable=False),
        sa.Column("rank", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        *(sa.Column(name, sa.Integer(), nullable=False) for name in COUNTS),
        *(sa.Column(name, sa.Float(), nullable=True) for name in SHARES),
        sa.Column("omzet_before", sa.BigInteger(), nullable=False),
        sa.Column("omzet_after", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(["mentor_id"], ["people.id"], name=op.f("fk_mentor_month_figures_mentor_id_people")),
        sa.PrimaryKeyConstraint("month", "mentor_id", name=op.f("pk_mentor_month_figures")),
    )
    op.create_index("ix_mentor_month_figures_rank", "mentor_month_figures", ["month", "rank"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_mentor_month_figures_rank", table_name="mentor_month_figures")
    op.drop_table("mentor_month_figures")
    op.drop_table("mentor_month_snapshots")

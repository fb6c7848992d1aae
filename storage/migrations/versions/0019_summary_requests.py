"""summary_requests: `ringkasan` asked for in chat, figured by a background job

Revision ID: 0019_summary_requests
Revises: 0004_participation
Create Date: 2026-11-30 03:15:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import storage.base

revision: str = "0019_summary_requests"
down_revision: str | Sequence[str] | None = "0004_participation"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

UTC_DATETIME = storage.base.UtcDateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "summary_requests",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("person_id", sa.Integer(), nullable=False),
        sa.Column("week", sa.String(length=8), nullable=False),
        sa.Column("address", sa.JSON(), nullable=False),
        sa.Column("requested_at", UTC_DATETIME, nullable=False),
        sa.Column("done_at", UTC_DATETIME, nullable=True),
        sa.ForeignKeyConstraint(["person_id"], ["people.id"], name=op.f("fk_summary_requests_person_id_people")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_summary_requests")),
    )
    op.create_index("ix_summary_requests_waiting", "summary_requests", ["done_at", "id"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_summary_requests_waiting", table_name="summary_requests")
    op.drop_table("summary_requests")

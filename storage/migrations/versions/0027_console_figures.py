"""console: console_figures, the overview's programme-wide figures as last computed (shown after a restart
while they are computed again in the background)

Revision ID: 0027_console_figures
Revises: 0026_console_desk_indexes
Create Date: 2026-11-30 04:30:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import storage.base

revision: str = "0027_console_figures"
down_revision: str | Sequence[str] | None = "0026_console_desk_indexes"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

UTC_DATETIME = storage.base.UtcDateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "console_figures",
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("computed_at", UTC_DATETIME, nullable=False),
        sa.Column("value", sa.JSON(), nullable=True),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_console_figures")),
    )


def downgrade() -> None:
    op.drop_table("console_figures")

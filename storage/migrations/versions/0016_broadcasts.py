"""broadcasts: announcements (siaran) to a group of participants; outbox rows found by ref

Revision ID: 0016_broadcasts
Revises: 0001_core
Create Date: 2026-11-30 03:20:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import storage.base

revision: str = "0016_broadcasts"
down_revision: str | Sequence[str] | None = "0001_core"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

UTC_DATETIME = storage.base.UtcDateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "broadcasts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("sender_id", sa.Integer(), nullable=True),
        sa.Column("scope", sa.String(length=20), nullable=False),
        sa.Column("scope_value", sa.String(length=200), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("attachments", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("source", sa.String(length=8), nullable=False),
        sa.Column("created_at", UTC_DATETIME, nullable=False),
        sa.Column("send_at", UTC_DATETIME, nullable=False),
        sa.Column("queued_at", UTC_DATETIME, nullable=True),
        sa.Column("finished_at", UTC_DATETIME, nullable=True),
        sa.Column("cancelled_at", UTC_DATETIME, nullable=True),
        sa.Column("recipients", sa.Integer(), nullable=False),
        sa.Column("skipped", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(["sender_id"], ["people.id"], name=op.f("fk_broadcasts_sender_id_people")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_broadcasts")),
    )
    op.create_index("ix_broadcasts_due", "broadcasts", ["status", "send_at"], unique=False)
    op.create_index(op.f("ix_broadcasts_sender_id"), "broadcasts", ["sender_id"], unique=False)
    op.create_index("ix_outbox_ref", "outbox", ["ref"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_outbox_ref", table_name="outbox")
    op.drop_index(op.f("ix_broadcasts_sender_id"), table_name="broadcasts")
    op.drop_index("ix_broadcasts_due", table_name="broadcasts")
    op.drop_table("broadcasts")

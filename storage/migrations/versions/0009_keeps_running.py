"""runtime: inbound set aside after repeated failures, outbox claims and parts, loop and job pulses

Revision ID: 0009_keeps_running
Revises: 0001_core
Create Date: 2026-12-02 09:00:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import storage.base

revision: str = "0009_keeps_running"
down_revision: str | Sequence[str] | None = "0001_core"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

UTC_DATETIME = storage.base.UtcDateTime(timezone=True)


def upgrade() -> None:
    with op.batch_alter_table("inbox", schema=None) as batch_op:
        batch_op.add_column(sa.Column("attempts", sa.Integer(), server_default="0", nullable=False))
        batch_op.add_column(sa.Column("next_attempt_at", UTC_DATETIME, nullable=True))
        batch_op.add_column(sa.Column("failed_at", UTC_DATETIME, nullable=True))
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.add_column(sa.Column("claimed_by", sa.String(length=100), nullable=True))
        batch_op.add_column(sa.Column("claimed_at", UTC_DATETIME, nullable=True))
        batch_op.add_column(sa.Column("parts_sent", sa.Integer(), server_default="0", nullable=False))
    op.create_table(
        "loop_pulses",
        sa.Column("holder", sa.String(length=100), nullable=False),
        sa.Column("loop", sa.String(length=40), nullable=False),
        sa.Column("started_at", UTC_DATETIME, nullable=False),
        sa.Column("beat_at", UTC_DATETIME, nullable=False),
        sa.Column("last_pass_at", UTC_DATETIME, nullable=True),
        sa.Column("failures", sa.Integer(), server_default="0", nullable=False),
        sa.Column("last_error", sa.String(length=500), nullable=True),
        sa.Column("last_error_at", UTC_DATETIME, nullable=True),
        sa.PrimaryKeyConstraint("holder", "loop", name=op.f("pk_loop_pulses")),
    )
    op.create_table(
        "job_pulses",
        sa.Column("job_id", sa.String(length=40), nullable=False),
        sa.Column("holder", sa.String(length=100), nullable=False),
        sa.Column("started_at", UTC_DATETIME, nullable=False),
        sa.Column("finished_at", UTC_DATETIME, nullable=True),
        sa.Column("ok", sa.Boolean(), nullable=True),
        sa.Column("messages", sa.Integer(), server_default="0", nullable=False),
        sa.Column("error", sa.String(length=500), nullable=True),
        sa.Column("last_ok_at", UTC_DATETIME, nullable=True),
        sa.PrimaryKeyConstraint("job_id", name=op.f("pk_job_pulses")),
    )


def downgrade() -> None:
    op.drop_table("job_pulses")
    op.drop_table("loop_pulses")
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.drop_column("parts_sent")
        batch_op.drop_column("claimed_at")
        batch_op.drop_column("claimed_by")
    with op.batch_alter_table("inbox", schema=None) as batch_op:
        batch_op.drop_column("failed_at")
        batch_op.drop_column("next_attempt_at")
        batch_op.drop_column("attempts")

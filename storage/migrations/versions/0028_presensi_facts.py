"""presensi facts: each participant's run of alpa at the end of their closed sessions (and its sessions), kept as presensi is written

Revision ID: 0028_presensi_facts
Revises: 0026_participation_facts
Create Date: 2026-11-30 06:10:00

Backfilled here from the presensi of closed sessions, so an existing database has the facts at upgrade
(≈4 M presensi rows at 100,000 participants: a few seconds).
"""
from collections.abc import Sequence

import sqlalchemy as sa
import storage.base
from alembic import op

from storage.activities import refresh_presensi_facts

revision: str = "0028_presensi_facts"
down_revision: str | Sequence[str] | None = "0026_participation_facts"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "presensi_facts",
        sa.Column("participant_id", sa.Integer(), nullable=False),
        sa.Column("alpa_run", sa.Integer(), nullable=False),
        sa.Column("alpa_run_from", storage.base.UtcDateTime(timezone=True), nullable=True),
        sa.Column("last_session_at", storage.base.UtcDateTime(timezone=True), nullable=False),
        sa.Column("last_closed_at", storage.base.UtcDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("participant_id", name=op.f("pk_presensi_facts")),
    )
    op.create_table(
        "presensi_alpa_runs",
        sa.Column("participant_id", sa.Integer(), nullable=False),
        sa.Column("starts_at", storage.base.UtcDateTime(timezone=True), nullable=False),
        sa.Column("meeting_id", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("participant_id", "starts_at", "meeting_id", name=op.f("pk_presensi_alpa_runs")),
    )
    for statement in refresh_presensi_facts():
        op.execute(statement)


def downgrade() -> None:
    op.drop_table("presensi_alpa_runs")
    op.drop_table("presensi_facts")

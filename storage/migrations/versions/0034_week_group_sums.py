"""participation week groups: the rest of the digest's sums kept with the counts (sessions, tugas, scores)

The weekly digest summed a closed week's 100,000 stored scores per cohort and mentor each Monday (0.2 s
of SQLite's time at 100,000 participants); the week's job now keeps these sums as it stores the scores,
beside the counts it kept already. Rows kept before this revision have them NULL and are summed from
the scores as before (no backfill: only the week a digest reports is read).

Revision ID: 0034_week_group_sums
Revises: 0028_presensi_facts
Create Date: 2026-11-30 08:50:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0034_week_group_sums"
down_revision: str | Sequence[str] | None = "0028_presensi_facts"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

COLUMNS = ("first_participant", "sessions_expected", "sessions_present", "tugas_due", "tugas_on_time", "score_tenths")


def upgrade() -> None:
    for name in COLUMNS:
        op.add_column("participation_week_groups", sa.Column(name, sa.Integer(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("participation_week_groups") as batch:
        for name in reversed(COLUMNS):
            batch.drop_column(name)

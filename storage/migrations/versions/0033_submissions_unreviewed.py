"""submissions: the ones not yet reviewed, indexed apart (a partial index on reviewed_at IS NULL)

A mentor's queue of tugas to review (the weekly digest's summaries count it for every mentor) looked for
the few unreviewed submissions by reading all of them: 1.6 M rows at 100,000 participants, 0.13 s of
SQLite's time each digest, and growing with every week. This index holds only those still waiting.

Revision ID: 0033_submissions_unreviewed
Revises: 0002_activities
Create Date: 2026-11-30 08:50:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0033_submissions_unreviewed"
down_revision: str | Sequence[str] | None = "0002_activities"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

UNREVIEWED = sa.text("reviewed_at IS NULL")


def upgrade() -> None:
    op.create_index("ix_submissions_unreviewed", "submissions", ["participant_id"], unique=False,
                    postgresql_where=UNREVIEWED, sqlite_where=UNREVIEWED)


def downgrade() -> None:
    op.drop_index("ix_submissions_unreviewed", table_name="submissions")

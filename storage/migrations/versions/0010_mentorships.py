"""mentorships: who mentored whom, as dated periods; an open period for every participant with a mentor

Revision ID: 0010_mentorships
Revises: 0001_core
Create Date: 2026-11-30 02:15:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import storage.base

revision: str = "0010_mentorships"
down_revision: str | Sequence[str] | None = "0001_core"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

UTC_DATETIME = storage.base.UtcDateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "mentorships",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("participant_id", sa.Integer(), nullable=False),
        sa.Column("mentor_id", sa.Integer(), nullable=False),
        sa.Column("started_at", UTC_DATETIME, nullable=False),
        sa.Column("ended_at", UTC_DATETIME, nullable=True),
        sa.ForeignKeyConstraint(["mentor_id"], ["people.id"], name=op.f("fk_mentorships_mentor_id_people")),
        sa.ForeignKeyConstraint(["participant_id"], ["people.id"], name=op.f("fk_mentorships_participant_id_people")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_mentorships")),
    )
    op.create_index(op.f("ix_mentorships_mentor_id"), "mentorships", ["mentor_id"], unique=False)
    op.create_index(op.f("ix_mentorships_participant_id"), "mentorships", ["participant_id"], unique=False)
    # Participants already mentored: their period runs from when they joined the roster.
    op.execute("INSERT INTO mentorships (participant_id, mentor_id, started_at) "
               "SELECT id, mentor_id, created_at FROM people WHERE role = 'peserta' AND mentor_id IS NOT NULL")


def downgrade() -> None:
    op.drop_index(op.f("ix_mentorships_participant_id"), table_name="mentorships")
    op.drop_index(op.f("ix_mentorships_mentor_id"), table_name="mentorships")
    op.drop_table("mentorships")

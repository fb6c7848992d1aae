"""participant_notes: mentors' notes on their participants (chat `catatan 0812… teks` and the console)

Revision ID: 0024_participant_notes
Revises: 0001_core
Create Date: 2026-11-30 03:35:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import storage.base

revision: str = "0024_participant_notes"
down_revision: str | Sequence[str] | None = "0001_core"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

UTC_DATETIME = storage.base.UtcDateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "participant_notes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("participant_id", sa.Integer(), nullable=False),
        sa.Column("author_id", sa.Integer(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("created_at", UTC_DATETIME, nullable=False),
        sa.ForeignKeyConstraint(["participant_id"], ["people.id"],
                                name=op.f("fk_participant_notes_participant_id_people")),
        sa.ForeignKeyConstraint(["author_id"], ["people.id"], name=op.f("fk_participant_notes_author_id_people")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_participant_notes")),
    )
    op.create_index("ix_participant_notes_participant", "participant_notes", ["participant_id", "id"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_participant_notes_participant", table_name="participant_notes")
    op.drop_table("participant_notes")

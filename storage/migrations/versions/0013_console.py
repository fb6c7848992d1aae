"""console: one-time sign-in codes and browser sessions of the web console; people by role and name

Revision ID: 0013_console
Revises: 0001_core
Create Date: 2026-11-30 03:10:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import storage.base

revision: str = "0013_console"
down_revision: str | Sequence[str] | None = "0001_core"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

UTC_DATETIME = storage.base.UtcDateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "console_codes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("ticket_hash", sa.String(length=64), nullable=False),
        sa.Column("person_id", sa.Integer(), nullable=False),
        sa.Column("code_hash", sa.String(length=64), nullable=False),
        sa.Column("created_at", UTC_DATETIME, nullable=False),
        sa.Column("expires_at", UTC_DATETIME, nullable=False),
        sa.Column("wrong_tries", sa.Integer(), nullable=False),
        sa.Column("used_at", UTC_DATETIME, nullable=True),
        sa.ForeignKeyConstraint(["person_id"], ["people.id"], name=op.f("fk_console_codes_person_id_people")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_console_codes")),
        sa.UniqueConstraint("ticket_hash", name=op.f("uq_console_codes_ticket_hash")),
    )
    op.create_index(op.f("ix_console_codes_person_id"), "console_codes", ["person_id"], unique=False)
    op.create_table(
        "console_sessions",
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("person_id", sa.Integer(), nullable=False),
        sa.Column("csrf", sa.String(length=64), nullable=False),
        sa.Column("created_at", UTC_DATETIME, nullable=False),
        sa.Column("expires_at", UTC_DATETIME, nullable=False),
        sa.Column("ended_at", UTC_DATETIME, nullable=True),
        sa.ForeignKeyConstraint(["person_id"], ["people.id"], name=op.f("fk_console_sessions_person_id_people")),
        sa.PrimaryKeyConstraint("token_hash", name=op.f("pk_console_sessions")),
    )
    op.create_index(op.f("ix_console_sessions_person_id"), "console_sessions", ["person_id"], unique=False)
    op.create_index("ix_people_role_name", "people", ["role", "name"], unique=False)  # the console's lists by name


def downgrade() -> None:
    op.drop_index("ix_people_role_name", table_name="people")
    op.drop_index(op.f("ix_console_sessions_person_id"), table_name="console_sessions")
    op.drop_table("console_sessions")
    op.drop_index(op.f("ix_console_codes_person_id"), table_name="console_codes")
    op.drop_table("console_codes")

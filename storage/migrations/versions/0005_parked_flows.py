"""conversation: forms and drafts parked when a person turns to something else

Revision ID: 0005_parked_flows
Revises: 0001_core
Create Date: 2026-11-30 01:20:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import storage.base

revision: str = "0005_parked_flows"
down_revision: str | Sequence[str] | None = "0001_core"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

UTC_DATETIME = storage.base.UtcDateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "parked_flows",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("person_id", sa.Integer(), nullable=False),
        sa.Column("flow", sa.String(length=40), nullable=False),
        sa.Column("data", sa.JSON(), nullable=False),
        sa.Column("parked_at", UTC_DATETIME, nullable=False),
        sa.Column("offered_at", UTC_DATETIME, nullable=True),
        sa.ForeignKeyConstraint(["person_id"], ["people.id"], name=op.f("fk_parked_flows_person_id_people")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_parked_flows")),
    )
    op.create_index(op.f("ix_parked_flows_person_id"), "parked_flows", ["person_id"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_parked_flows_person_id"), table_name="parked_flows")
    op.drop_table("parked_flows")

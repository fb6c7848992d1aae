"""people: consent history with text version and channel, deactivation and erasure times

Revision ID: 0006_privacy
Revises: 0001_core
Create Date: 2026-12-02 10:00:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import storage.base

revision: str = "0006_privacy"
down_revision: str | Sequence[str] | None = "0001_core"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

UTC_DATETIME = storage.base.UtcDateTime(timezone=True)


def upgrade() -> None:
    with op.batch_alter_table("people", schema=None) as batch_op:
        batch_op.add_column(sa.Column("consent_version", sa.String(length=40), nullable=True))
        batch_op.add_column(sa.Column("consent_channel", sa.String(length=16), nullable=True))
        batch_op.add_column(sa.Column("deactivated_at", UTC_DATETIME, nullable=True))
        batch_op.add_column(sa.Column("erased_at", UTC_DATETIME, nullable=True))
    # Consents given before texts were versioned were given to an unknown text: they are asked again once.
    op.execute("UPDATE people SET consent_version = 'legacy' WHERE consent_given IS TRUE")
    op.create_table(
        "consent_records",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("person_id", sa.Integer(), nullable=False),
        sa.Column("at", UTC_DATETIME, nullable=False),
        sa.Column("given", sa.Boolean(), nullable=False),
        sa.Column("action", sa.String(length=16), nullable=False),
        sa.Column("version", sa.String(length=40), nullable=False),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.ForeignKeyConstraint(["person_id"], ["people.id"], name=op.f("fk_consent_records_person_id_people")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_consent_records")),
    )
    op.create_index(op.f("ix_consent_records_person_id"), "consent_records", ["person_id"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_consent_records_person_id"), table_name="consent_records")
    op.drop_table("consent_records")
    with op.batch_alter_table("people", schema=None) as batch_op:
        batch_op.drop_column("erased_at")
        batch_op.drop_column("deactivated_at")
        batch_op.drop_column("consent_channel")
        batch_op.drop_column("consent_version")

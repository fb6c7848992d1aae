"""consultation desk: FAQ, ratings, deadline steps, absences, escalations

Revision ID: 0003_consultation
Revises: 0001_core
Create Date: 2026-11-23 20:00:00

New columns on existing tables are added with plain ALTER TABLE ADD COLUMN (no batch
recreate): rebuilding `people` or `tickets` on SQLite would drop a table other rows point at,
which fails with foreign keys enforced on a database that holds data.
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import storage.base

revision: str = "0003_consultation"
down_revision: str | Sequence[str] | None = "0001_core"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _add_reference(table: str, column: str, name: str) -> None:
    """Add a nullable integer column referencing people.id, portable to SQLite and PostgreSQL."""
    if op.get_bind().dialect.name == "sqlite":
        # SQLite keeps no name for a column-level constraint; the naming convention applies elsewhere.
        op.execute(f"ALTER TABLE {table} ADD COLUMN {column} INTEGER REFERENCES people (id)")
        return
    op.add_column(table, sa.Column(column, sa.Integer(), nullable=True))
    op.create_foreign_key(name, table, "people", [column], ["id"])


def upgrade() -> None:
    _add_reference("people", "backup_mentor_id", "fk_people_backup_mentor_id_people")
    _add_reference("tickets", "expert_id", "fk_tickets_expert_id_people")
    op.add_column("tickets", sa.Column("reassignments", sa.Integer(), server_default="0", nullable=False))
    op.add_column("tickets", sa.Column("escalations", sa.Integer(), server_default="0", nullable=False))
    op.add_column("tickets", sa.Column("rating_requested_at", storage.base.UtcDateTime(timezone=True),
                                       nullable=True))
    op.create_index(op.f("ix_tickets_expert_id"), "tickets", ["expert_id"], unique=False)

    op.create_table(
        "faq_entries",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("topic", sa.String(length=50), nullable=False),
        sa.Column("question", sa.Text(), nullable=False),
        sa.Column("answer", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("source_ticket_id", sa.Integer(), nullable=True),
        sa.Column("source_message_id", sa.Integer(), nullable=True),
        sa.Column("proposed_by_id", sa.Integer(), nullable=False),
        sa.Column("proposed_at", storage.base.UtcDateTime(timezone=True), nullable=False),
        sa.Column("reviewed_by_id", sa.Integer(), nullable=True),
        sa.Column("reviewed_at", storage.base.UtcDateTime(timezone=True), nullable=True),
        sa.Column("times_offered", sa.Integer(), nullable=False),
        sa.Column("times_helpful", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["proposed_by_id"], ["people.id"],
                                name=op.f("fk_faq_entries_proposed_by_id_people")),
        sa.ForeignKeyConstraint(["reviewed_by_id"], ["people.id"],
                                name=op.f("fk_faq_entries_reviewed_by_id_people")),
        sa.ForeignKeyConstraint(["source_message_id"], ["ticket_messages.id"],
                                name=op.f("fk_faq_entries_source_message_id_ticket_messages")),
        sa.ForeignKeyConstraint(["source_ticket_id"], ["tickets.id"],
                                name=op.f("fk_faq_entries_source_ticket_id_tickets")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_faq_entries")),
        sa.UniqueConstraint("source_message_id", name=op.f("uq_faq_entries_source_message_id")),
    )
    op.create_index(op.f("ix_faq_entries_status"), "faq_entries", ["status"], unique=False)

    op.create_table(
        "ticket_ratings",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("ticket_id", sa.Integer(), nullable=False),
        sa.Column("participant_id", sa.Integer(), nullable=False),
        sa.Column("mentor_id", sa.Integer(), nullable=False),
        sa.Column("expert_id", sa.Integer(), nullable=True),
        sa.Column("score", sa.Integer(), nullable=False),
        sa.Column("comment", sa.Text(), nullable=False),
        sa.Column("rated_at", storage.base.UtcDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["expert_id"], ["people.id"], name=op.f("fk_ticket_ratings_expert_id_people")),
        sa.ForeignKeyConstraint(["mentor_id"], ["people.id"], name=op.f("fk_ticket_ratings_mentor_id_people")),
        sa.ForeignKeyConstraint(["participant_id"], ["people.id"],
                                name=op.f("fk_ticket_ratings_participant_id_people")),
        sa.ForeignKeyConstraint(["ticket_id"], ["tickets.id"], name=op.f("fk_ticket_ratings_ticket_id_tickets")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ticket_ratings")),
        sa.UniqueConstraint("ticket_id", name=op.f("uq_ticket_ratings_ticket_id")),
    )
    op.create_index(op.f("ix_ticket_ratings_mentor_id"), "ticket_ratings", ["mentor_id"], unique=False)
    op.create_index(op.f("ix_ticket_ratings_rated_at"), "ticket_ratings", ["rated_at"], unique=False)

    op.create_table(
        "ticket_sla_steps",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("ticket_id", sa.Integer(), nullable=False),
        sa.Column("step", sa.String(length=16), nullable=False),
        sa.Column("mentor_id", sa.Integer(), nullable=False),
        sa.Column("at", storage.base.UtcDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["mentor_id"], ["people.id"], name=op.f("fk_ticket_sla_steps_mentor_id_people")),
        sa.ForeignKeyConstraint(["ticket_id"], ["tickets.id"], name=op.f("fk_ticket_sla_steps_ticket_id_tickets")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ticket_sla_steps")),
        sa.UniqueConstraint("ticket_id", "step", name=op.f("uq_ticket_sla_steps_ticket_id_step")),
    )

    op.create_table(
        "mentor_absences",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("mentor_id", sa.Integer(), nullable=False),
        sa.Column("backup_id", sa.Integer(), nullable=False),
        sa.Column("starts_on", sa.Date(), nullable=False),
        sa.Column("ends_on", sa.Date(), nullable=False),
        sa.Column("move_open", sa.Boolean(), nullable=False),
        sa.Column("moved_at", storage.base.UtcDateTime(timezone=True), nullable=True),
        sa.Column("created_by_id", sa.Integer(), nullable=True),
        sa.Column("created_at", storage.base.UtcDateTime(timezone=True), nullable=False),
        sa.Column("cancelled_at", storage.base.UtcDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["backup_id"], ["people.id"], name=op.f("fk_mentor_absences_backup_id_people")),
        sa.ForeignKeyConstraint(["created_by_id"], ["people.id"],
                                name=op.f("fk_mentor_absences_created_by_id_people")),
        sa.ForeignKeyConstraint(["mentor_id"], ["people.id"], name=op.f("fk_mentor_absences_mentor_id_people")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_mentor_absences")),
    )
    op.create_index(op.f("ix_mentor_absences_mentor_id"), "mentor_absences", ["mentor_id"], unique=False)

    op.create_table(
        "ticket_escalations",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("ticket_id", sa.Integer(), nullable=False),
        sa.Column("from_id", sa.Integer(), nullable=False),
        sa.Column("expert_id", sa.Integer(), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("at", storage.base.UtcDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["expert_id"], ["people.id"],
                                name=op.f("fk_ticket_escalations_expert_id_people")),
        sa.ForeignKeyConstraint(["from_id"], ["people.id"], name=op.f("fk_ticket_escalations_from_id_people")),
        sa.ForeignKeyConstraint(["ticket_id"], ["tickets.id"],
                                name=op.f("fk_ticket_escalations_ticket_id_tickets")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ticket_escalations")),
    )
    op.create_index(op.f("ix_ticket_escalations_ticket_id"), "ticket_escalations", ["ticket_id"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_ticket_escalations_ticket_id"), table_name="ticket_escalations")
    op.drop_table("ticket_escalations")
    op.drop_index(op.f("ix_mentor_absences_mentor_id"), table_name="mentor_absences")
    op.drop_table("mentor_absences")
    op.drop_table("ticket_sla_steps")
    op.drop_index(op.f("ix_ticket_ratings_rated_at"), table_name="ticket_ratings")
    op.drop_index(op.f("ix_ticket_ratings_mentor_id"), table_name="ticket_ratings")
    op.drop_table("ticket_ratings")
    op.drop_index(op.f("ix_faq_entries_status"), table_name="faq_entries")
    op.drop_table("faq_entries")
    op.drop_index(op.f("ix_tickets_expert_id"), table_name="tickets")
    is_sqlite = op.get_bind().dialect.name == "sqlite"
    with op.batch_alter_table("tickets") as batch_op:
        if not is_sqlite:
            batch_op.drop_constraint("fk_tickets_expert_id_people", type_="foreignkey")
        batch_op.drop_column("rating_requested_at")
        batch_op.drop_column("escalations")
        batch_op.drop_column("reassignments")
        batch_op.drop_column("expert_id")
    with op.batch_alter_table("people") as batch_op:
        if not is_sqlite:
            batch_op.drop_constraint("fk_people_backup_mentor_id_people", type_="foreignkey")
        batch_op.drop_column("backup_mentor_id")

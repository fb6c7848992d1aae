"""participation: weekly scores, nudge ladder, job runs, targets, scheduler lease

Revision ID: 0004_participation
Revises: 0001_core
Create Date: 2026-11-23 20:30:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import storage.base

revision: str = "0004_participation"
down_revision: str | Sequence[str] | None = "0001_core"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

UTC_DATETIME = storage.base.UtcDateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "participation_scores",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("week", sa.String(length=8), nullable=False),
        sa.Column("participant_id", sa.Integer(), nullable=False),
        sa.Column("mentor_id", sa.Integer(), nullable=True),
        sa.Column("cohort", sa.String(length=100), nullable=False),
        sa.Column("score", sa.Float(), nullable=False),
        sa.Column("is_active", sa.Boolean(), nullable=False),
        sa.Column("is_dropping", sa.Boolean(), nullable=False),
        sa.Column("sessions_expected", sa.Integer(), nullable=False),
        sa.Column("sessions_hadir", sa.Integer(), nullable=False),
        sa.Column("sessions_terlambat", sa.Integer(), nullable=False),
        sa.Column("sessions_izin", sa.Integer(), nullable=False),
        sa.Column("sessions_alpa", sa.Integer(), nullable=False),
        sa.Column("alpa_streak", sa.Integer(), nullable=False),
        sa.Column("tugas_due", sa.Integer(), nullable=False),
        sa.Column("tugas_on_time", sa.Integer(), nullable=False),
        sa.Column("tugas_missing", sa.Integer(), nullable=False),
        sa.Column("report_sent", sa.Boolean(), nullable=True),
        sa.Column("questions", sa.Integer(), nullable=False),
        sa.Column("silent_days", sa.Integer(), nullable=False),
        sa.Column("nudges_ignored", sa.Integer(), nullable=False),
        sa.Column("reasons", sa.JSON(), nullable=False),
        sa.Column("computed_at", UTC_DATETIME, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_participation_scores")),
        sa.UniqueConstraint("week", "participant_id", name=op.f("uq_participation_scores_week_participant_id")),
    )
    op.create_table(
        "nudge_log",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("participant_id", sa.Integer(), nullable=False),
        sa.Column("period", sa.String(length=16), nullable=False),
        sa.Column("step", sa.String(length=16), nullable=False),
        sa.Column("sent_at", UTC_DATETIME, nullable=False),
        sa.Column("reasons", sa.JSON(), nullable=False),
        sa.Column("resolved_at", UTC_DATETIME, nullable=True),
        sa.Column("resolution", sa.String(length=16), nullable=True),
        sa.ForeignKeyConstraint(["participant_id"], ["people.id"], name=op.f("fk_nudge_log_participant_id_people")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_nudge_log")),
        sa.UniqueConstraint("participant_id", "period", "step", name=op.f("uq_nudge_log_participant_id_period_step")),
    )
    op.create_index("ix_nudge_log_open", "nudge_log", ["resolved_at", "step"], unique=False)
    op.create_index(op.f("ix_nudge_log_sent_at"), "nudge_log", ["sent_at"], unique=False)
    op.create_table(
        "job_runs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("job_id", sa.String(length=40), nullable=False),
        sa.Column("period", sa.String(length=20), nullable=False),
        sa.Column("started_at", UTC_DATETIME, nullable=False),
        sa.Column("detail", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_job_runs")),
        sa.UniqueConstraint("job_id", "period", name=op.f("uq_job_runs_job_id_period")),
    )
    op.create_table(
        "programme_targets",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("target_participants", sa.Integer(), nullable=False),
        sa.Column("trained_before", sa.Integer(), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("updated_at", UTC_DATETIME, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_programme_targets")),
        sa.UniqueConstraint("name", name=op.f("uq_programme_targets_name")),
    )
    op.create_table(
        "agencies",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("programme_id", sa.Integer(), nullable=True),
        sa.Column("code", sa.String(length=40), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("target_participants", sa.Integer(), nullable=False),
        sa.Column("trained_before", sa.Integer(), nullable=False),
        sa.Column("updated_at", UTC_DATETIME, nullable=False),
        sa.ForeignKeyConstraint(["programme_id"], ["programme_targets.id"],
                                name=op.f("fk_agencies_programme_id_programme_targets")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_agencies")),
        sa.UniqueConstraint("code", name=op.f("uq_agencies_code")),
    )
    op.create_table(
        "scheduler_leases",
        sa.Column("name", sa.String(length=40), nullable=False),
        sa.Column("holder", sa.String(length=100), nullable=False),
        sa.Column("acquired_at", UTC_DATETIME, nullable=False),
        sa.Column("expires_at", UTC_DATETIME, nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_scheduler_leases")),
    )
    op.create_index(op.f("ix_people_cohort"), "people", ["cohort"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_people_cohort"), table_name="people")
    op.drop_table("scheduler_leases")
    op.drop_table("agencies")
    op.drop_table("programme_targets")
    op.drop_table("job_runs")
    op.drop_index(op.f("ix_nudge_log_sent_at"), table_name="nudge_log")
    op.drop_index("ix_nudge_log_open", table_name="nudge_log")
    op.drop_table("nudge_log")
    op.drop_table("participation_scores")

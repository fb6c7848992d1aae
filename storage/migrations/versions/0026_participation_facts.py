"""participation facts: per-week group counts and per-participant baselines, kept as scores are stored

Revision ID: 0026_participation_facts
Revises: 0019_summary_requests
Create Date: 2026-11-30 04:05:00

Backfilled here from the stored scores, so an existing database gets the facts at upgrade: every
stored week's group counts, and the baselines for the week after the latest stored one.
"""
from collections.abc import Sequence
from datetime import date, timedelta

import sqlalchemy as sa
from alembic import op

from storage.participation import baselines_backfill, week_groups_backfill

revision: str = "0026_participation_facts"
down_revision: str | Sequence[str] | None = "0019_summary_requests"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BASELINE_SPAN = 4  # ParticipationRules.nudge_baseline_weeks' default; another setting is averaged until the next digest


def _shift(week: str, weeks: int) -> str:
    year, number = (int(part) for part in week.split("-W"))
    iso = (date.fromisocalendar(year, number, 1) + timedelta(weeks=weeks)).isocalendar()
    return f"{iso[0]}-W{iso[1]:02d}"


def upgrade() -> None:
    op.create_table(
        "participation_week_groups",
        sa.Column("week", sa.String(length=8), nullable=False),
        sa.Column("cohort", sa.String(length=100), nullable=False),
        sa.Column("mentor_key", sa.Integer(), nullable=False),
        sa.Column("active", sa.Integer(), nullable=False),
        sa.Column("participants", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("week", "cohort", "mentor_key", name=op.f("pk_participation_week_groups")),
    )
    op.create_table(
        "participant_baselines",
        sa.Column("participant_id", sa.Integer(), nullable=False),
        sa.Column("week", sa.String(length=8), nullable=False),
        sa.Column("span", sa.Integer(), nullable=False),
        sa.Column("average", sa.Float(), nullable=False),
        sa.Column("weeks", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("participant_id", name=op.f("pk_participant_baselines")),
    )
    op.execute(week_groups_backfill())
    latest = op.get_bind().execute(sa.text("SELECT MAX(week) FROM participation_scores")).scalar()
    if latest:
        target = _shift(latest, 1)
        op.execute(baselines_backfill(target, [_shift(target, -n) for n in range(1, BASELINE_SPAN + 1)]))


def downgrade() -> None:
    op.drop_table("participant_baselines")
    op.drop_table("participation_week_groups")

"""activities: sessions, presensi, tugas, submissions, reminders, monthly reports

Revision ID: 0002_activities
Revises: 0001_core
Create Date: 2026-11-23 19:46:43.621653
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import storage.base


revision: str = '0002_activities'
down_revision: str | Sequence[str] | None = '0001_core'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('assignments',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('title', sa.String(length=200), nullable=False),
    sa.Column('description', sa.Text(), nullable=False),
    sa.Column('cohort', sa.String(length=100), nullable=False),
    sa.Column('mentor_id', sa.Integer(), nullable=True),
    sa.Column('created_by_id', sa.Integer(), nullable=True),
    sa.Column('due_at', storage.base.UtcDateTime(timezone=True), nullable=False),
    sa.Column('cutoff_at', storage.base.UtcDateTime(timezone=True), nullable=True),
    sa.Column('created_at', storage.base.UtcDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['created_by_id'], ['people.id'], name=op.f('fk_assignments_created_by_id_people')),
    sa.ForeignKeyConstraint(['mentor_id'], ['people.id'], name=op.f('fk_assignments_mentor_id_people')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_assignments'))
    )
    with op.batch_alter_table('assignments', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_assignments_cohort'), ['cohort'], unique=False)
        batch_op.create_index(batch_op.f('ix_assignments_due_at'), ['due_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_assignments_mentor_id'), ['mentor_id'], unique=False)
    op.create_table('meetings',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('title', sa.String(length=200), nullable=False),
    sa.Column('cohort', sa.String(length=100), nullable=False),
    sa.Column('mentor_id', sa.Integer(), nullable=True),
    sa.Column('created_by_id', sa.Integer(), nullable=True),
    sa.Column('starts_at', storage.base.UtcDateTime(timezone=True), nullable=False),
    sa.Column('ends_at', storage.base.UtcDateTime(timezone=True), nullable=False),
    sa.Column('place', sa.String(length=300), nullable=False),
    sa.Column('link', sa.String(length=500), nullable=False),
    sa.Column('checkin_code', sa.String(length=12), nullable=False),
    sa.Column('checkin_opens_at', storage.base.UtcDateTime(timezone=True), nullable=False),
    sa.Column('checkin_closes_at', storage.base.UtcDateTime(timezone=True), nullable=False),
    sa.Column('late_after_at', storage.base.UtcDateTime(timezone=True), nullable=False),
    sa.Column('checkin_opened_by_id', sa.Integer(), nullable=True),
    sa.Column('checkin_closed_at', storage.base.UtcDateTime(timezone=True), nullable=True),
    sa.Column('is_cancelled', sa.Boolean(), nullable=False),
    sa.Column('created_at', storage.base.UtcDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['checkin_opened_by_id'], ['people.id'], name=op.f('fk_meetings_checkin_opened_by_id_people')),
    sa.ForeignKeyConstraint(['created_by_id'], ['people.id'], name=op.f('fk_meetings_created_by_id_people')),
    sa.ForeignKeyConstraint(['mentor_id'], ['people.id'], name=op.f('fk_meetings_mentor_id_people')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_meetings'))
    )
    with op.batch_alter_table('meetings', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_meetings_cohort'), ['cohort'], unique=False)
        batch_op.create_index(batch_op.f('ix_meetings_mentor_id'), ['mentor_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_meetings_starts_at'), ['starts_at'], unique=False)
    op.create_table('monthly_reports',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('participant_id', sa.Integer(), nullable=False),
    sa.Column('month', sa.String(length=7), nullable=False),
    sa.Column('omzet', sa.BigInteger(), nullable=True),
    sa.Column('workers', sa.Integer(), nullable=True),
    sa.Column('customers', sa.Integer(), nullable=True),
    sa.Column('permits', sa.JSON(), nullable=False),
    sa.Column('main_problem', sa.Text(), nullable=False),
    sa.Column('draft', sa.JSON(), nullable=False),
    sa.Column('form_step', sa.String(length=16), nullable=False),
    sa.Column('submitted_at', storage.base.UtcDateTime(timezone=True), nullable=True),
    sa.Column('created_at', storage.base.UtcDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', storage.base.UtcDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['participant_id'], ['people.id'], name=op.f('fk_monthly_reports_participant_id_people')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_monthly_reports')),
    sa.UniqueConstraint('participant_id', 'month', name=op.f('uq_monthly_reports_participant_id_month'))
    )
    with op.batch_alter_table('monthly_reports', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_monthly_reports_month'), ['month'], unique=False)
        batch_op.create_index(batch_op.f('ix_monthly_reports_participant_id'), ['participant_id'], unique=False)
    op.create_table('reminder_log',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('purpose', sa.String(length=40), nullable=False),
    sa.Column('subject_id', sa.Integer(), nullable=False),
    sa.Column('person_id', sa.Integer(), nullable=False),
    sa.Column('period', sa.String(length=40), nullable=False),
    sa.Column('sent_at', storage.base.UtcDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['person_id'], ['people.id'], name=op.f('fk_reminder_log_person_id_people')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_reminder_log')),
    sa.UniqueConstraint('purpose', 'subject_id', 'person_id', 'period', name=op.f('uq_reminder_log_purpose_subject_id_person_id_period'))
    )
    with op.batch_alter_table('reminder_log', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_reminder_log_person_id'), ['person_id'], unique=False)
    op.create_table('attendance',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('meeting_id', sa.Integer(), nullable=False),
    sa.Column('participant_id', sa.Integer(), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('source', sa.String(length=16), nullable=False),
    sa.Column('checked_in_at', storage.base.UtcDateTime(timezone=True), nullable=True),
    sa.Column('recorded_by_id', sa.Integer(), nullable=True),
    sa.Column('created_at', storage.base.UtcDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', storage.base.UtcDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['meeting_id'], ['meetings.id'], name=op.f('fk_attendance_meeting_id_meetings')),
    sa.ForeignKeyConstraint(['participant_id'], ['people.id'], name=op.f('fk_attendance_participant_id_people')),
    sa.ForeignKeyConstraint(['recorded_by_id'], ['people.id'], name=op.f('fk_attendance_recorded_by_id_people')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_attendance')),
    sa.UniqueConstraint('meeting_id', 'participant_id', name=op.f('uq_attendance_meeting_id_participant_id'))
    )
    with op.batch_alter_table('attendance', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_attendance_meeting_id'), ['meeting_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_attendance_participant_id'), ['participant_id'], unique=False)
    op.create_table('extensions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('assignment_id', sa.Integer(), nullable=False),
    sa.Column('participant_id', sa.Integer(), nullable=False),
    sa.Column('due_at', storage.base.UtcDateTime(timezone=True), nullable=False),
    sa.Column('granted_by_id', sa.Integer(), nullable=True),
    sa.Column('created_at', storage.base.UtcDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['assignment_id'], ['assignments.id'], name=op.f('fk_extensions_assignment_id_assignments')),
    sa.ForeignKeyConstraint(['granted_by_id'], ['people.id'], name=op.f('fk_extensions_granted_by_id_people')),
    sa.ForeignKeyConstraint(['participant_id'], ['people.id'], name=op.f('fk_extensions_participant_id_people')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_extensions')),
    sa.UniqueConstraint('assignment_id', 'participant_id', name=op.f('uq_extensions_assignment_id_participant_id'))
    )
    with op.batch_alter_table('extensions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_extensions_assignment_id'), ['assignment_id'], unique=False)
    op.create_table('leave_requests',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('meeting_id', sa.Integer(), nullable=False),
    sa.Column('participant_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.Column('attachments', sa.JSON(), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('decided_by_id', sa.Integer(), nullable=True),
    sa.Column('decided_at', storage.base.UtcDateTime(timezone=True), nullable=True),
    sa.Column('created_at', storage.base.UtcDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['decided_by_id'], ['people.id'], name=op.f('fk_leave_requests_decided_by_id_people')),
    sa.ForeignKeyConstraint(['meeting_id'], ['meetings.id'], name=op.f('fk_leave_requests_meeting_id_meetings')),
    sa.ForeignKeyConstraint(['participant_id'], ['people.id'], name=op.f('fk_leave_requests_participant_id_people')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_leave_requests'))
    )
    with op.batch_alter_table('leave_requests', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_leave_requests_meeting_id'), ['meeting_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_leave_requests_participant_id'), ['participant_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_leave_requests_status'), ['status'], unique=False)
    op.create_table('submissions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('assignment_id', sa.Integer(), nullable=False),
    sa.Column('participant_id', sa.Integer(), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('text', sa.Text(), nullable=False),
    sa.Column('attachments', sa.JSON(), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('is_late', sa.Boolean(), nullable=False),
    sa.Column('submitted_at', storage.base.UtcDateTime(timezone=True), nullable=False),
    sa.Column('reviewed_by_id', sa.Integer(), nullable=True),
    sa.Column('reviewed_at', storage.base.UtcDateTime(timezone=True), nullable=True),
    sa.Column('review_comment', sa.Text(), nullable=False),
    sa.ForeignKeyConstraint(['assignment_id'], ['assignments.id'], name=op.f('fk_submissions_assignment_id_assignments')),
    sa.ForeignKeyConstraint(['participant_id'], ['people.id'], name=op.f('fk_submissions_participant_id_people')),
    sa.ForeignKeyConstraint(['reviewed_by_id'], ['people.id'], name=op.f('fk_submissions_reviewed_by_id_people')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_submissions')),
    sa.UniqueConstraint('assignment_id', 'participant_id', 'version', name=op.f('uq_submissions_assignment_id_participant_id_version'))
    )
    with op.batch_alter_table('submissions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_submissions_assignment_id'), ['assignment_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_submissions_participant_id'), ['participant_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_submissions_status'), ['status'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('submissions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_submissions_status'))
        batch_op.drop_index(batch_op.f('ix_submissions_participant_id'))
        batch_op.drop_index(batch_op.f('ix_submissions_assignment_id'))
    op.drop_table('submissions')
    with op.batch_alter_table('leave_requests', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_leave_requests_status'))
        batch_op.drop_index(batch_op.f('ix_leave_requests_participant_id'))
        batch_op.drop_index(batch_op.f('ix_leave_requests_meeting_id'))
    op.drop_table('leave_requests')
    with op.batch_alter_table('extensions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_extensions_assignment_id'))
    op.drop_table('extensions')
    with op.batch_alter_table('attendance', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_attendance_participant_id'))
        batch_op.drop_index(batch_op.f('ix_attendance_meeting_id'))
    op.drop_table('attendance')
    with op.batch_alter_table('reminder_log', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_reminder_log_person_id'))
    op.drop_table('reminder_log')
    with op.batch_alter_table('monthly_reports', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_monthly_reports_participant_id'))
        batch_op.drop_index(batch_op.f('ix_monthly_reports_month'))
    op.drop_table('monthly_reports')
    with op.batch_alter_table('meetings', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_meetings_starts_at'))
        batch_op.drop_index(batch_op.f('ix_meetings_mentor_id'))
        batch_op.drop_index(batch_op.f('ix_meetings_cohort'))
    op.drop_table('meetings')
    with op.batch_alter_table('assignments', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_assignments_mentor_id'))
        batch_op.drop_index(batch_op.f('ix_assignments_due_at'))
        batch_op.drop_index(batch_op.f('ix_assignments_cohort'))
    op.drop_table('assignments')

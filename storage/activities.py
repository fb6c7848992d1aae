"""Programme activities: sessions and presensi, tugas and submissions, monthly reports.

Audience of a Meeting or an Assignment: when `mentor_id` is set, the participants whose
Person.mentor_id is that mentor (a kelompok); otherwise every active participant whose
Person.cohort equals `cohort` (an angkatan).
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    BigInteger,
    ColumnElement,
    Delete,
    ForeignKey,
    Index,
    Insert,
    String,
    Text,
    UniqueConstraint,
    case,
    delete,
    func,
    insert,
    or_,
    select,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from storage.base import Base


class AttendanceStatus(StrEnum):
    """Presensi statuses as the programme names them."""

    HADIR = "hadir"
    TERLAMBAT = "terlambat"
    IZIN = "izin"
    SAKIT = "sakit"
    ALPA = "alpa"


class LeaveStatus(StrEnum):
    """Where an izin/sakit request stands."""

    PENDING = "pending"
    APPROVED = "approved"
    REJECTED = "rejected"


class SubmissionStatus(StrEnum):
    """State of one submission version ("belum" is the absence of any submission)."""

    TERKIRIM = "terkirim"
    TERLAMBAT = "terlambat"
    DITERIMA = "diterima"
    PERLU_REVISI = "perlu_revisi"


class Meeting(Base):
    """A session (pertemuan) for a cohort or a mentor's group, with its check-in window."""

    __tablename__ = "meetings"

    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(String(200))
    cohort: Mapped[str] = mapped_column(String(100), default="", index=True)
    mentor_id: Mapped[int | None] = mapped_column(ForeignKey("people.id"), index=True)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("people.id"))
    starts_at: Mapped[datetime] = mapped_column(index=True)
    ends_at: Mapped[datetime]
    place: Mapped[str] = mapped_column(String(300), default="")
    link: Mapped[str] = mapped_column(String(500), default="")
    checkin_code: Mapped[str] = mapped_column(String(12))
    # The window: code check-in from opens to closes; after late_after_at a check-in is terlambat.
    # checkin_opened_by_id: a mentor opened check-in for remote attendance, so the one-tap button works too.
    checkin_opens_at: Mapped[datetime]
    checkin_closes_at: Mapped[datetime]
    late_after_at: Mapped[datetime]
    checkin_opened_by_id: Mapped[int | None] = mapped_column(ForeignKey("people.id"))
    checkin_closed_at: Mapped[datetime | None]
    is_cancelled: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime]


class Attendance(Base):
    """One participant's presensi for one meeting; corrections are logged in AuditEntry."""

    __tablename__ = "attendance"
    __table_args__ = (UniqueConstraint("meeting_id", "participant_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    meeting_id: Mapped[int] = mapped_column(ForeignKey("meetings.id"), index=True)
    participant_id: Mapped[int] = mapped_column(ForeignKey("people.id"), index=True)
    status: Mapped[str] = mapped_column(String(16))
    source: Mapped[str] = mapped_column(String(16), default="code")
    checked_in_at: Mapped[datetime | None]
    recorded_by_id: Mapped[int | None] = mapped_column(ForeignKey("people.id"))
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class LeaveRequest(Base):
    """A participant's izin or sakit request for a meeting, decided by the mentor."""

    __tablename__ = "leave_requests"

    id: Mapped[int] = mapped_column(primary_key=True)
    meeting_id: Mapped[int] = mapped_column(ForeignKey("meetings.id"), index=True)
    participant_id: Mapped[int] = mapped_column(ForeignKey("people.id"), index=True)
    kind: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str] = mapped_column(Text, default="")
    attachments: Mapped[list[Any]] = mapped_column(default=list)
    status: Mapped[str] = mapped_column(String(16), default=LeaveStatus.PENDING, index=True)
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("people.id"))
    decided_at: Mapped[datetime | None]
    created_at: Mapped[datetime]


class Assignment(Base):
    """A tugas for a cohort or a mentor's group; submissions after cutoff_at are refused."""

    __tablename__ = "assignments"

    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    cohort: Mapped[str] = mapped_column(String(100), default="", index=True)
    mentor_id: Mapped[int | None] = mapped_column(ForeignKey("people.id"), index=True)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("people.id"))
    due_at: Mapped[datetime] = mapped_column(index=True)
    cutoff_at: Mapped[datetime | None]
    created_at: Mapped[datetime]


class Submission(Base):
    """One version of a participant's work on a tugas; a resubmission is a new row."""

    __tablename__ = "submissions"
    __table_args__ = (
        UniqueConstraint("assignment_id", "participant_id", "version"),
        # The few still waiting for review (mentors' queues), without reading every submission.
        Index("ix_submissions_unreviewed", "participant_id", postgresql_where=text("reviewed_at IS NULL"),
              sqlite_where=text("reviewed_at IS NULL")),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    assignment_id: Mapped[int] = mapped_column(ForeignKey("assignments.id"), index=True)
    participant_id: Mapped[int] = mapped_column(ForeignKey("people.id"), index=True)
    version: Mapped[int] = mapped_column(default=1)
    text: Mapped[str] = mapped_column(Text, default="")
    attachments: Mapped[list[Any]] = mapped_column(default=list)
    status: Mapped[str] = mapped_column(String(16), default=SubmissionStatus.TERKIRIM, index=True)
    is_late: Mapped[bool] = mapped_column(default=False)
    submitted_at: Mapped[datetime]
    reviewed_by_id: Mapped[int | None] = mapped_column(ForeignKey("people.id"))
    reviewed_at: Mapped[datetime | None]
    review_comment: Mapped[str] = mapped_column(Text, default="")


class Extension(Base):
    """A later deadline for one participant on one tugas, granted by a mentor."""

    __tablename__ = "extensions"
    __table_args__ = (UniqueConstraint("assignment_id", "participant_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    assignment_id: Mapped[int] = mapped_column(ForeignKey("assignments.id"), index=True)
    participant_id: Mapped[int] = mapped_column(ForeignKey("people.id"))
    due_at: Mapped[datetime]
    granted_by_id: Mapped[int | None] = mapped_column(ForeignKey("people.id"))
    created_at: Mapped[datetime]


class ReminderLog(Base):
    """A reminder or alert already sent; the unique key makes scheduled jobs idempotent.

    purpose: e.g. "meeting_day_before", "tugas_due", "tugas_overdue", "report_prompt";
    subject_id: the meeting/assignment id (0 when none); person_id: who was reminded, or for
    an alert to a mentor, the participant it is about; period: what repeats (a month, a count).
    """

    __tablename__ = "reminder_log"
    __table_args__ = (UniqueConstraint("purpose", "subject_id", "person_id", "period"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    purpose: Mapped[str] = mapped_column(String(40))
    subject_id: Mapped[int] = mapped_column(default=0)
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id"), index=True)
    period: Mapped[str] = mapped_column(String(40), default="")
    sent_at: Mapped[datetime]


class MonthlyReport(Base):
    """A participant's laporan bulanan for one month ("2026-03").

    The value columns hold the last confirmed answers (submitted_at set); `draft` and
    `form_step` hold a form in progress, so it can be left and resumed where it stopped.
    """

    __tablename__ = "monthly_reports"
    __table_args__ = (UniqueConstraint("participant_id", "month"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    participant_id: Mapped[int] = mapped_column(ForeignKey("people.id"), index=True)
    month: Mapped[str] = mapped_column(String(7), index=True)
    omzet: Mapped[int | None] = mapped_column(BigInteger)
    workers: Mapped[int | None]
    customers: Mapped[int | None]
    permits: Mapped[list[Any]] = mapped_column(default=list)
    main_problem: Mapped[str] = mapped_column(Text, default="")
    draft: Mapped[dict[str, Any]] = mapped_column(default=dict)
    form_step: Mapped[str] = mapped_column(String(16), default="")
    submitted_at: Mapped[datetime | None]
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class PresensiFacts(Base):
    """One participant's run of alpa at the end of their closed sessions, kept as presensi is written.

    Over the participant's presensi in closed, not cancelled sessions: `alpa_run` counts the sessions after
    their latest non-alpa one (hadir, terlambat, izin, sakit), each also a PresensiAlpaRun row, and
    `alpa_run_from` is when the first of those started; `last_session_at` and `last_closed_at` are the
    latest start and close counted. Rewritten (refresh_presensi_facts) in the transaction of every write
    that changes them: a check-in or correction on a closed session (handlers.activities.attendance.
    upsert_attendance) and a session's close (attendance_jobs.close_meeting); meetings are never moved or
    cancelled once created. The daily nudge scan reads the streak of alpa here instead of sorting four weeks
    of presensi (handlers.participation.queries.alpa_streak): a participant without a row, or a row newer
    than the moment scanned, is counted from the presensi.
    """

    __tablename__ = "presensi_facts"

    participant_id: Mapped[int] = mapped_column(primary_key=True)
    alpa_run: Mapped[int] = mapped_column(default=0)
    alpa_run_from: Mapped[datetime | None]
    last_session_at: Mapped[datetime]
    last_closed_at: Mapped[datetime]


class PresensiAlpaRun(Base):
    """A session of a participant's current run of alpa (PresensiFacts.alpa_run): the scan counts those inside
    its window by the primary key when the run began before it."""

    __tablename__ = "presensi_alpa_runs"

    participant_id: Mapped[int] = mapped_column(primary_key=True)
    starts_at: Mapped[datetime] = mapped_column(primary_key=True)
    meeting_id: Mapped[int] = mapped_column(primary_key=True)


def refresh_presensi_facts(participants: Any | None = None) -> list[Delete | Insert]:
    """DELETEs and INSERT…SELECTs (SQLite and PostgreSQL) that recompute the facts and runs of `participants`
    (a list of ids or a SELECT of them; None: everyone, the migration's backfill) from their presensi."""
    def chosen(column: Any) -> ColumnElement[bool]:
        condition: ColumnElement[bool] = (column.in_(participants) if participants is not None
                                          else column.is_not(None))
        return condition

    def recent() -> tuple[Any, Any]:
        closed = (select(Attendance.participant_id.label("pid"), Meeting.id.label("meeting_id"),
                         Meeting.starts_at.label("starts_at"), Meeting.checkin_closed_at.label("closed_at"),
                         Attendance.status.label("status"))
                  .join(Meeting, Meeting.id == Attendance.meeting_id)
                  .where(chosen(Attendance.participant_id), Meeting.is_cancelled.is_(False),
                         Meeting.checkin_closed_at.is_not(None))).cte("closed")
        present = case((closed.c.status != AttendanceStatus.ALPA.value, closed.c.starts_at))
        latest = (select(closed.c.pid, func.max(present).label("present_at"),
                         func.max(closed.c.starts_at).label("session_at"), func.max(closed.c.closed_at).label("closed_at"))
                  .group_by(closed.c.pid)).cte("latest")
        return closed, latest

    closed, latest = recent()
    in_run = or_(latest.c.present_at.is_(None), closed.c.starts_at > latest.c.present_at)
    facts = (select(latest.c.pid, func.sum(case((in_run, 1), else_=0)), func.min(case((in_run, closed.c.starts_at))),
                    latest.c.session_at, latest.c.closed_at)
             .join(closed, closed.c.pid == latest.c.pid)
             .group_by(latest.c.pid, latest.c.session_at, latest.c.closed_at))
    closed, latest = recent()  # a statement of its own needs its own CTEs
    in_run = or_(latest.c.present_at.is_(None), closed.c.starts_at > latest.c.present_at)
    runs = (select(closed.c.pid, closed.c.starts_at, closed.c.meeting_id)
            .join(latest, latest.c.pid == closed.c.pid).where(in_run))
    return [delete(PresensiFacts).where(chosen(PresensiFacts.participant_id)),
            delete(PresensiAlpaRun).where(chosen(PresensiAlpaRun.participant_id)),
            insert(PresensiFacts).from_select(["participant_id", "alpa_run", "alpa_run_from", "last_session_at",
                                               "last_closed_at"], facts),
            insert(PresensiAlpaRun).from_select(["participant_id", "starts_at", "meeting_id"], runs)]

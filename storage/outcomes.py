"""Programme outcome targets: permits, omzet growth and new jobs, for the programme, an agency or a cohort."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    ColumnElement,
    Delete,
    Index,
    Insert,
    Select,
    String,
    UniqueConstraint,
    and_,
    case,
    cast,
    delete,
    func,
    insert,
    select,
)
from sqlalchemy.orm import Mapped, aliased, mapped_column

from storage.activities import Attendance, AttendanceStatus, MonthlyReport
from storage.base import Base


class OutcomeTarget(Base):
    """One target: scope "programme" (key: its name), "agency" (key: its code) or "cohort" (key: its name).

    measure: nib, pirt, halal, lainnya (participants holding the permit), jobs (new jobs) or
    omzet (growth from baseline, in percent). Replaced as a whole by `klinik target FILE`.
    """

    __tablename__ = "outcome_targets"
    __table_args__ = (UniqueConstraint("scope", "key", "measure"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    scope: Mapped[str] = mapped_column(String(10))
    key: Mapped[str] = mapped_column(String(200))
    measure: Mapped[str] = mapped_column(String(20))
    target: Mapped[int]
    updated_at: Mapped[datetime]


# Outcomes read each participant's first and latest sent report (programme_outcomes) from this index alone,
# not from 700,000 rows of a large programme's year.
Index("ix_monthly_reports_outcomes", MonthlyReport.participant_id, MonthlyReport.month, MonthlyReport.submitted_at)
# Targets count a participant as trained once they attended a session by the digest's end
# (handlers.participation.queries.participants_by_agency): one probe of this index per participant.
Index("ix_attendance_trained", Attendance.participant_id, Attendance.status, Attendance.created_at)


PERMIT_CODES = ("nib", "pirt", "halal", "lainnya")  # the codes the report form stores


class ParticipantOutcome(Base):
    """A participant's outcome facts from their sent monthly reports: the first and latest month, the latest
    report's permits (1/0), omzet and workers in both. Kept as a report is sent or corrected
    (`refresh_participant_outcomes`, same transaction) so the digest sums these rows, not a year of reports;
    `last_sent_at` (the latest first sending of any of their reports) says from which moment the row holds."""

    __tablename__ = "participant_outcomes"

    participant_id: Mapped[int] = mapped_column(primary_key=True)
    first_month: Mapped[str] = mapped_column(String(7))
    last_month: Mapped[str] = mapped_column(String(7))
    last_sent_at: Mapped[datetime]
    nib: Mapped[int]
    pirt: Mapped[int]
    halal: Mapped[int]
    lainnya: Mapped[int]
    first_omzet: Mapped[int | None] = mapped_column(BigInteger)
    last_omzet: Mapped[int | None] = mapped_column(BigInteger)
    first_workers: Mapped[int | None]
    last_workers: Mapped[int | None]


OUTCOME_COLUMNS = ("participant_id", "first_month", "last_month", "last_sent_at", *PERMIT_CODES,
                   "first_omzet", "last_omzet", "first_workers", "last_workers")


def outcome_facts(participants: Any | None = None, end: datetime | None = None) -> Select[Any]:
    """A SELECT of OUTCOME_COLUMNS per participant (of `participants`, ids or a SELECT of them; None: everyone)
    from their reports sent (before `end`, when given)."""
    sent: list[ColumnElement[bool]] = [MonthlyReport.submitted_at.is_not(None)]
    if participants is not None:
        sent.append(MonthlyReport.participant_id.in_(participants))
    if end is not None:
        sent.append(MonthlyReport.submitted_at < end)
    per = (select(MonthlyReport.participant_id.label("pid"), func.min(MonthlyReport.month).label("first"),
                  func.max(MonthlyReport.month).label("last"), func.max(MonthlyReport.submitted_at).label("sent_at"))
           .where(*sent).group_by(MonthlyReport.participant_id).subquery())
    first, last = aliased(MonthlyReport), aliased(MonthlyReport)
    # The latest report's permits: the form starts from last month's, so they are every permit held
    # (one removed was a correction). The list is JSON: its text holds each code in quotes on both engines.
    listed = cast(last.permits, String)
    return (select(per.c.pid, per.c.first, per.c.last, per.c.sent_at,
                   *[case((listed.like(f'%"{code}"%'), 1), else_=0) for code in PERMIT_CODES],
                   first.omzet, last.omzet, first.workers, last.workers)
            .join(first, and_(first.participant_id == per.c.pid, first.month == per.c.first))
            .join(last, and_(last.participant_id == per.c.pid, last.month == per.c.last)))


def refresh_participant_outcomes(participants: Any | None = None) -> list[Delete | Insert]:
    """The DELETE and INSERT…SELECT (SQLite and PostgreSQL) that recompute the kept outcome rows of
    `participants` (ids or a SELECT of them; None: everyone, the migration's backfill) from their sent reports."""
    chosen = (ParticipantOutcome.participant_id.in_(participants) if participants is not None
              else ParticipantOutcome.participant_id.is_not(None))
    return [delete(ParticipantOutcome).where(chosen),
            insert(ParticipantOutcome).from_select(list(OUTCOME_COLUMNS), outcome_facts(participants))]


PRESENT = (AttendanceStatus.HADIR, AttendanceStatus.TERLAMBAT)


class ParticipantPresence(Base):
    """When a participant's earliest presensi hadir or terlambat was recorded: with the default of one session
    to count as trained, targets count those with `first_present_at` before the digest's end from these rows
    instead of probing presensi per participant. Kept as presensi changes (`refresh_participant_presence`)."""

    __tablename__ = "participant_presence"

    participant_id: Mapped[int] = mapped_column(primary_key=True)
    first_present_at: Mapped[datetime]


def refresh_participant_presence(participants: Any | None = None) -> list[Delete | Insert]:
    """The DELETE and INSERT…SELECT that recompute the presence rows of `participants` (ids or a SELECT of
    them; None: everyone, the migration's backfill) from their presensi."""
    chosen = (ParticipantPresence.participant_id.in_(participants) if participants is not None
              else ParticipantPresence.participant_id.is_not(None))
    present = [Attendance.status.in_(PRESENT)]
    if participants is not None:
        present.append(Attendance.participant_id.in_(participants))
    first = (select(Attendance.participant_id, func.min(Attendance.created_at))
             .where(*present).group_by(Attendance.participant_id))
    return [delete(ParticipantPresence).where(chosen),
            insert(ParticipantPresence).from_select(["participant_id", "first_present_at"], first)]

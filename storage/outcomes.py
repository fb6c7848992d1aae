"""Programme outcome targets: permits, omzet growth and new jobs, for the programme, an agency or a cohort."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from storage.activities import Attendance, MonthlyReport
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

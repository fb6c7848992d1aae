"""The monthly mentor performance (`kinerja`) stored per month, so the console's mentor pages read rows
instead of computing every mentor's month (handlers/reports/month_figures.py writes them)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Float, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from storage.base import Base


class MentorMonthSnapshot(Base):
    """A month's figures were computed at this moment for this many mentors (present even with none)."""

    __tablename__ = "mentor_month_snapshots"

    month: Mapped[str] = mapped_column(String(7), primary_key=True)  # "2026-11"
    computed_at: Mapped[datetime]
    mentors: Mapped[int]


class MentorMonthFigure(Base):
    """One mentor's month as `kinerja` computes it (handlers/reports/performance.py), with its rank."""

    __tablename__ = "mentor_month_figures"

    month: Mapped[str] = mapped_column(String(7), primary_key=True)
    mentor_id: Mapped[int] = mapped_column(ForeignKey("people.id"), primary_key=True)
    rank: Mapped[int]
    name: Mapped[str] = mapped_column(String(200))
    participants: Mapped[int]
    questions: Mapped[int]
    answered: Mapped[int]
    within_deadline: Mapped[int]
    late: Mapped[int]
    response_median: Mapped[float | None] = mapped_column(Float)
    within_pct: Mapped[float | None] = mapped_column(Float)
    rating_total: Mapped[int]
    ratings: Mapped[int]
    rating_average: Mapped[float | None] = mapped_column(Float)
    sessions: Mapped[int]
    present: Mapped[int]
    recorded: Mapped[int]
    attendance_pct: Mapped[float | None] = mapped_column(Float)
    reviewed: Mapped[int]
    review_median: Mapped[float | None] = mapped_column(Float)
    reports_due: Mapped[int]
    reports_sent: Mapped[int]
    at_risk: Mapped[int]
    recovered: Mapped[int]
    omzet_before: Mapped[int] = mapped_column(BigInteger)
    omzet_after: Mapped[int] = mapped_column(BigInteger)


# The table's pages: a month in ranking order, one page at a time (other sorts sort one month's rows).
Index("ix_mentor_month_figures_rank", MentorMonthFigure.month, MentorMonthFigure.rank)

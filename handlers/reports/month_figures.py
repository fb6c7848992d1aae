"""The monthly mentor performance stored per month (mentor_month_figures): written by the monthly `kinerja`
job for the month it sends and by the console's background refresh for the month shown, read one page
(or one mentor) at a time. The figures are performance.py's, unchanged; this module only keeps them."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Protocol

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import MentorMonthFigure, MentorMonthSnapshot, Mentorship, Person


class MonthFigures(Protocol):
    """What is stored of a mentor's month (performance.MentorMonth)."""

    mentor_id: int
    name: str
    participants: int
    questions: int
    answered: int
    within: int
    late: int
    rating_total: int
    ratings: int
    sessions: int
    present: int
    recorded: int
    reviewed: int
    reports_due: int
    reports_sent: int
    at_risk: int
    recovered: int
    omzet_before: int
    omzet_after: int

    @property
    def response_median(self) -> float | None: ...

    @property
    def within_pct(self) -> float | None: ...

    @property
    def rating_average(self) -> float | None: ...

    @property
    def attendance_pct(self) -> float | None: ...

    @property
    def review_median(self) -> float | None: ...


async def store_month_figures(session: AsyncSession, month: str, months: Sequence[MonthFigures],
                              now: datetime) -> None:
    """Replace the month's stored figures with these (in ranking order); the caller commits."""
    await session.execute(delete(MentorMonthFigure).where(MentorMonthFigure.month == month))
    await session.execute(delete(MentorMonthSnapshot).where(MentorMonthSnapshot.month == month))
    session.add(MentorMonthSnapshot(month=month, computed_at=now, mentors=len(months)))
    session.add_all(MentorMonthFigure(
        month=month, mentor_id=m.mentor_id, rank=rank, name=m.name, participants=m.participants,
        questions=m.questions, answered=m.answered, within_deadline=m.within, late=m.late,
        response_median=m.response_median, within_pct=m.within_pct, rating_total=m.rating_total, ratings=m.ratings,
        rating_average=m.rating_average, sessions=m.sessions, present=m.present, recorded=m.recorded,
        attendance_pct=m.attendance_pct, reviewed=m.reviewed, review_median=m.review_median,
        reports_due=m.reports_due, reports_sent=m.reports_sent, at_risk=m.at_risk, recovered=m.recovered,
        omzet_before=m.omzet_before, omzet_after=m.omzet_after) for rank, m in enumerate(months, start=1))
    await session.flush()


async def month_snapshot(session: AsyncSession, month: str) -> MentorMonthSnapshot | None:
    """When the month's figures were stored and for how many mentors (None: never)."""
    return await session.get(MentorMonthSnapshot, month, populate_existing=True)


async def month_figure(session: AsyncSession, month: str, mentor_id: int) -> MentorMonthFigure | None:
    """One mentor's stored month."""
    return (await session.execute(select(MentorMonthFigure).where(
        MentorMonthFigure.month == month, MentorMonthFigure.mentor_id == mentor_id))).scalar_one_or_none()


async def groups_changed_at(session: AsyncSession) -> datetime | None:
    """When who belongs to which mentor last changed: the newest mentor change or the newest person on the
    roster (two reads of the newest row by id); a stored month computed before it is out of date."""
    moved = (await session.execute(select(Mentorship.started_at).order_by(Mentorship.id.desc()).limit(1)))
    added = (await session.execute(select(Person.created_at).order_by(Person.id.desc()).limit(1)))
    found = [moment for moment in (moved.scalar_one_or_none(), added.scalar_one_or_none()) if moment is not None]
    return max(found, default=None)

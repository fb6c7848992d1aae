"""Cohorts (angkatan) with their dates: when the programme runs for them and when it rests."""

from __future__ import annotations

from datetime import date

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from storage.base import Base


class Cohort(Base):
    """One angkatan: served from starts_on to ends_on (alumni after), silent from paused_from to paused_until."""

    __tablename__ = "cohorts"

    name: Mapped[str] = mapped_column(String(100), primary_key=True)  # as in Person.cohort
    starts_on: Mapped[date]
    ends_on: Mapped[date]  # last day of the programme; the day after, its participants are alumni
    paused_from: Mapped[date | None]  # first day of a pause (holiday, Ramadan schedule)
    paused_until: Mapped[date | None]  # last day of the pause

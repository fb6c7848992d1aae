"""Cohort life cycle read by several features: who is alumni (cohort ended) and who rests (cohort paused)."""

from __future__ import annotations

from datetime import date, datetime, time
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, and_, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import Cohort, Person


def is_resting(day: date) -> ColumnElement[bool]:
    """SQL condition on Cohort: ended before `day`, or paused on it."""
    return or_(Cohort.ends_on < day, and_(Cohort.paused_from <= day, Cohort.paused_until >= day))


def is_served(day: date) -> ColumnElement[bool]:
    """SQL condition on Person: their cohort is neither ended nor paused on `day` (no cohort row: served)."""
    return Person.cohort.not_in(select(Cohort.name).where(is_resting(day)))


def is_current(day: date) -> ColumnElement[bool]:
    """SQL condition on Person: their cohort has not ended by `day` (paused cohorts still count)."""
    return Person.cohort.not_in(select(Cohort.name).where(Cohort.ends_on < day))


async def resting_participants(session: AsyncSession, day: date) -> set[int]:
    """Ids of participants whose cohort has ended or is paused on `day`."""
    query = select(Person.id).where(Person.cohort.in_(select(Cohort.name).where(is_resting(day))))
    return set((await session.execute(query)).scalars())


def local_day(now: datetime, zone: ZoneInfo) -> date:
    """The programme-time day of a moment."""
    return now.astimezone(zone).date()


async def is_alumnus(session: AsyncSession, person: Person, day: date) -> bool:
    """True when the person's cohort ended before `day`."""
    if not person.cohort:
        return False
    ends_on = await session.scalar(select(Cohort.ends_on).where(Cohort.name == person.cohort))
    return ends_on is not None and ends_on < day


async def pause_ends(session: AsyncSession, day: date, zone: ZoneInfo) -> dict[str, datetime]:
    """Cohorts whose pause is over by `day`: the moment it ended (silence before it does not count)."""
    query = select(Cohort.name, Cohort.paused_until).where(Cohort.paused_until.is_not(None), Cohort.paused_until < day)
    return {name: datetime.combine(until, time.max, zone) for name, until in (await session.execute(query))
            if until is not None}


async def list_cohorts(session: AsyncSession) -> list[Cohort]:
    """Every cohort with dates, by start."""
    return list((await session.execute(select(Cohort).order_by(Cohort.starts_on, Cohort.name))).scalars())


async def set_cohort(session: AsyncSession, name: str, starts_on: date, ends_on: date) -> Cohort:
    """Create or update a cohort's start and end (its pause is kept)."""
    cohort = await session.get(Cohort, name)
    if cohort is None:
        cohort = Cohort(name=name, starts_on=starts_on, ends_on=ends_on)
        session.add(cohort)
    else:
        cohort.starts_on, cohort.ends_on = starts_on, ends_on
    await session.flush()
    return cohort


async def pause_cohort(session: AsyncSession, name: str, paused_from: date | None,
                       paused_until: date | None) -> Cohort | None:
    """Set (or with None, clear) a known cohort's pause; None when the cohort has no dates yet."""
    cohort = await session.get(Cohort, name)
    if cohort is not None:
        cohort.paused_from, cohort.paused_until = paused_from, paused_until
        await session.flush()
    return cohort

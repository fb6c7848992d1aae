"""Scheduled jobs that run once per period, at a local time, never in quiet hours.

The scheduler ticks often; a body asks `is_quiet`, `is_due_…` and `already_ran`, so a run missed
while the process was down (or skipped in quiet hours) happens once at the next tick, and a
JobRun row written in the job's own transaction stops a second run, even from another process.
"""

from __future__ import annotations

from datetime import datetime, time, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from handlers.kernel.config import Config
from handlers.kernel.rules import SharedRules
from storage.models import JobRun, Person

CHUNK = 500  # bounds IN (...) lists: SQLite and asyncpg cap the number of bound parameters


def is_quiet(now: datetime, config: Config) -> bool:
    """True inside a quiet period (programme zone); a period may run past midnight."""
    local = now.astimezone(config.timezone)
    clock, today = local.time(), local.weekday()
    for weekday, start, end in config.rules(SharedRules).quiet_hours:
        if start <= end:
            if (weekday is None or weekday == today) and start <= clock < end:
                return True
            continue
        if clock >= start and (weekday is None or weekday == today):
            return True
        if clock < end and (weekday is None or weekday == (today - 1) % 7):
            return True
    return False


def is_due_today(now: datetime, at: time, config: Config) -> bool:
    """The local clock has reached today's run time."""
    return now.astimezone(config.timezone).time() >= at


def weekly_moment(now: datetime, weekday: int, at: time, config: Config) -> datetime:
    """This week's run time: the weekday (0=Monday) at the local clock time, programme zone."""
    local = now.astimezone(config.timezone)
    monday = local.date() - timedelta(days=local.weekday())
    day = monday + timedelta(days=weekday)
    return datetime.combine(day, at, tzinfo=config.timezone)


async def already_ran(session: AsyncSession, job_id: str, period: str) -> bool:
    """True when the job was done for this period."""
    query = select(JobRun.id).where(JobRun.job_id == job_id, JobRun.period == period)
    return (await session.execute(query)).first() is not None


def record_run(session: AsyncSession, job_id: str, period: str, now: datetime, detail: dict[str, Any]) -> None:
    """Mark the period done in the job's transaction (the unique key refuses a twin run)."""
    session.add(JobRun(job_id=job_id, period=period, started_at=now, detail=detail))


async def load_people(session: AsyncSession, ids: list[int]) -> dict[int, Person]:
    """People by id in a few queries (also warms the session, so the outbox finds them cheaply)."""
    unique = sorted(set(ids))
    found: dict[int, Person] = {}
    for start in range(0, len(unique), CHUNK):
        query = select(Person).where(Person.id.in_(unique[start:start + CHUNK]))
        found.update((person.id, person) for person in (await session.execute(query)).scalars())
    # The identity map holds objects weakly: keep them for the job's session so that writing the
    # outbox (which looks each recipient up) finds them in memory instead of a query per message.
    session.info.setdefault("recipients", {}).update(found)
    return found

"""A job that grew the process gives the freed memory back (glibc keeps freed heap pages otherwise)."""

import weakref
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from handlers.kernel.config import Config
from handlers.kernel.messages import Address, Channel, Outgoing
from scheduler import runner
from scheduler.jobs import Job
from storage.models import OutboxMessage

NOW = datetime(2026, 3, 9, 7, tzinfo=ZoneInfo("Asia/Jakarta"))


async def nothing(session: AsyncSession, now: datetime, config: Config) -> list[Outgoing]:
    return []


@pytest.mark.parametrize(("grown_mb", "released"), [(40.0, 1), (runner.RELEASE_AFTER_MB - 1, 0)])
async def test_memory_is_released_after_a_job_that_grew_the_process(
        sessions: async_sessionmaker[AsyncSession], monkeypatch: pytest.MonkeyPatch, grown_mb: float,
        released: int) -> None:
    sizes, calls = iter([120.0, 120.0 + grown_mb]), []
    monkeypatch.setattr(runner, "resident_mb", lambda: next(sizes))
    monkeypatch.setattr(runner, "release_memory", lambda: calls.append(1))

    await runner.run_job(Job("digest_like", nothing, {"minute": "*/15"}), sessions, Config(), NOW)

    assert len(calls) == released


class Made(list[Outgoing]):
    """A job's messages that can be watched (a list subclass takes weak references)."""


async def test_what_the_job_made_is_gone_before_the_release(
        sessions: async_sessionmaker[AsyncSession], monkeypatch: pytest.MonkeyPatch) -> None:
    made: list[weakref.ref[Made]] = []

    async def digest_like(session: AsyncSession, now: datetime, config: Config) -> list[Outgoing]:
        messages = Made()
        made.append(weakref.ref(messages))
        return messages

    sizes, still_there = iter([120.0, 160.0]), []
    monkeypatch.setattr(runner, "resident_mb", lambda: next(sizes))
    monkeypatch.setattr(runner, "release_memory", lambda: still_there.append(made[0]() is not None))

    await runner.run_job(Job("digest_like", digest_like, {"minute": "*/15"}), sessions, Config(), NOW)

    assert still_there == [False]  # released after the job's messages, not while run_job held them


def test_release_and_size_work_on_this_platform() -> None:
    runner.release_memory()

    assert runner.resident_mb() > 10


async def test_a_jobs_messages_are_written_as_rows_in_order_without_an_orm_object_each(
        sessions: async_sessionmaker[AsyncSession], monkeypatch: pytest.MonkeyPatch) -> None:
    created: list[object] = []
    original = OutboxMessage.__init__

    def watched(self: OutboxMessage, **values: object) -> None:
        created.append(self)
        original(self, **values)

    monkeypatch.setattr(OutboxMessage, "__init__", watched)

    async def reminders(session: AsyncSession, now: datetime, config: Config) -> list[Outgoing]:
        return [Outgoing(text=f"Pengingat {n}: laporan bulanan ditunggu ya", to=Address(Channel.WHATSAPP, f"+62812{n:07d}"))
                for n in range(50)]

    queued = await runner.run_job(Job("reminders_like", reminders, {"minute": "*/15"}), sessions, Config(), NOW)

    async with sessions() as session:
        rows = (await session.execute(select(OutboxMessage).order_by(OutboxMessage.id))).scalars().all()
    assert queued == 50
    assert [row.address for row in rows] == [f"+62812{n:07d}" for n in range(50)]
    assert created == []  # loading the rows back builds them without __init__

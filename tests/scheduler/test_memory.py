"""A job that grew the process gives the freed memory back (glibc keeps freed heap pages otherwise)."""

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from handlers.kernel.config import Config
from handlers.kernel.messages import Outgoing
from scheduler import runner
from scheduler.jobs import Job

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


def test_release_and_size_work_on_this_platform() -> None:
    runner.release_memory()

    assert runner.resident_mb() > 10

"""Leader election: one holder at a time, renewal by the holder, takeover after expiry or release."""

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from storage.participation import acquire_lease, release_lease

NOW = datetime(2026, 3, 4, 9, tzinfo=ZoneInfo("Asia/Jakarta"))


async def take(sessions: async_sessionmaker[AsyncSession], holder: str, now: datetime) -> bool:
    async with sessions.begin() as session:
        return await acquire_lease(session, holder, now, ttl=60)


async def test_only_one_process_holds_the_lease(sessions: async_sessionmaker[AsyncSession]) -> None:
    assert [await take(sessions, "a", NOW), await take(sessions, "b", NOW + timedelta(seconds=30))] == [True, False]


async def test_holder_renews_and_keeps_it(sessions: async_sessionmaker[AsyncSession]) -> None:
    await take(sessions, "a", NOW)

    renewed = await take(sessions, "a", NOW + timedelta(seconds=50))

    assert [renewed, await take(sessions, "b", NOW + timedelta(seconds=100))] == [True, False]


async def test_another_takes_over_when_the_holder_dies(sessions: async_sessionmaker[AsyncSession]) -> None:
    await take(sessions, "a", NOW)

    assert [await take(sessions, "b", NOW + timedelta(seconds=61)), await take(sessions, "a", NOW + timedelta(seconds=62))] == [True, False]


async def test_released_lease_is_free_at_once(sessions: async_sessionmaker[AsyncSession]) -> None:
    await take(sessions, "a", NOW)
    async with sessions.begin() as session:
        await release_lease(session, "a", NOW + timedelta(seconds=1))

    assert await take(sessions, "b", NOW + timedelta(seconds=2)) is True

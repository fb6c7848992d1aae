"""`ringkasan` on demand: answered at once, the figures follow from the background job, once."""

from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from handlers.kernel.config import Config
from handlers.kernel.messages import Channel
from handlers.kernel.outbox import message_of
from storage.models import Person, SummaryRequest
from tests.conftest import JAKARTA
from tests.support.driver import Driver

PREPARING = "⏳ Ringkasan 2026-W10 sedang disiapkan… Kami kirim di sini begitu siap."


@pytest.fixture
def config(tmp_path: Path) -> Config:
    return Config(timezone=JAKARTA, coordinator_contact="Dinas KUKM (021-000)", media_dir=str(tmp_path / "media"))


async def waiting(sessions: async_sessionmaker[AsyncSession]) -> int:
    async with sessions() as session:
        query = select(func.count()).select_from(SummaryRequest).where(SummaryRequest.done_at.is_(None))
        return int((await session.execute(query)).scalar_one())


async def test_ringkasan_answers_at_once_and_the_figures_follow_from_the_job(
        sessions: async_sessionmaker[AsyncSession], config: Config, driver: Driver, coordinator: Person,
        participant: Person) -> None:
    driver.config = config
    await driver.say(coordinator, "ringkasan xyz")

    assert await driver.received(coordinator) == ["Tulis minggunya seperti ini: *ringkasan 2026-W10*, atau "
                                                  "*ringkasan* saja untuk minggu ini."]
    await driver.say(coordinator, "ringkasan")
    assert await driver.received(coordinator) == [PREPARING]

    queued = await driver.run_job("summary_requests")

    figures = [message_of(row) for row in await driver.outbox(coordinator)][2:]  # after the two answers
    assert queued == 2
    assert figures[0].text.startswith("📊 *Ringkasan mingguan Klinik Bisnis*\n2–8 Mar 2026 (s.d. 4 Mar, 09.00 WIB)")
    assert [a.kind for part in figures for a in part.attachments][-1] == "document"  # the workbook
    assert await waiting(sessions) == 0


async def test_asking_again_while_it_is_prepared_sends_it_once(
        sessions: async_sessionmaker[AsyncSession], config: Config, driver: Driver, coordinator: Person) -> None:
    driver.config = config
    await driver.say(coordinator, "ringkasan")
    await driver.say(coordinator, "ringkasan 2026-w10")

    assert await driver.received(coordinator) == [
        PREPARING, "⏳ Ringkasan 2026-W10 masih disiapkan. Sebentar lagi kami kirim di sini."]
    assert await waiting(sessions) == 1
    assert (await driver.run_job("summary_requests"), await driver.run_job("summary_requests")) == (2, 0)


async def test_a_mentor_gets_the_group_summary_on_the_chat_they_asked_from(
        config: Config, driver: Driver, mentor: Person, participant: Person) -> None:
    driver.config = config
    await driver.say(mentor, "/ringkasan", channel=Channel.TELEGRAM)
    await driver.run_job("summary_requests")

    preparing, summary = await driver.outbox(mentor)
    assert (preparing.channel, summary.channel) == ("telegram", "telegram")
    assert message_of(summary).text.startswith("📋 *Ringkasan mingguan kelompok Anda* — 2–8 Mar 2026")

"""The nudge ladder: participant, then mentor, then the coordinator's list; once, never at night."""

from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from handlers.kernel.config import Config
from handlers.kernel.job_runs import is_quiet
from handlers.kernel.outbox import message_of
from handlers.participation.rules import ParticipationRules
from scheduler.jobs import JOBS, Job
from scheduler.runner import run_job
from storage.models import JobRun, NudgeLog, Person
from tests.support.driver import Driver
from tests.support.programme import Programme

JAKARTA = ZoneInfo("Asia/Jakarta")
NUDGE = ("Halo Sari 👋 Apa kabar usahanya? Di Klinik Bisnis masih ada yang menunggu Anda:\n"
         "• sesi berikutnya — kami tunggu kehadiran Anda\n\n"
         "Ada kendala? Balas saja pesan ini, pendamping Anda siap membantu.")
MENTOR_ALERT = ("⚠️ Peserta berikut belum membalas pengingat dalam 3 hari. Mohon hubungi langsung:\n"
                "• Sari Wulandari — alpa 2 sesi berturut-turut")


def at(day: int, hour: int = 9, minute: int = 0) -> datetime:
    return datetime(2026, 3, day, hour, minute, tzinfo=JAKARTA)


def job(job_id: str) -> Job:
    return next(j for j in JOBS if j.id == job_id)


async def run(sessions: async_sessionmaker[AsyncSession], config: Config, now: datetime,
              job_id: str = "participation_nudges") -> int:
    return await run_job(job(job_id), sessions, config, now)


@pytest.fixture
def config(tmp_path: Path) -> Config:
    """The shared test settings, with digest files kept out of the working tree."""
    return Config(timezone=JAKARTA, coordinator_contact="Dinas KUKM (021-000)", media_dir=str(tmp_path / "media"))


@pytest.fixture
async def absent(sessions: async_sessionmaker[AsyncSession], participant: Person) -> Person:
    """Sari wrote on Sunday, then missed Monday's and Tuesday's sessions of her angkatan."""
    programme = Programme(sessions)
    await programme.set_person(participant, created_at=at(1, 8), last_inbound_at=at(1, 20))
    await programme.meeting(at(2, 10), cohort="Angkatan 1")
    await programme.meeting(at(3, 10), cohort="Angkatan 1")
    return participant


async def ladder(sessions: async_sessionmaker[AsyncSession]) -> list[tuple[str, str | None]]:
    async with sessions() as session:
        rows = await session.execute(select(NudgeLog.step, NudgeLog.resolution).order_by(NudgeLog.id))
        return [tuple(row) for row in rows]


async def test_dropping_participant_is_nudged_once_then_mentor_then_at_risk_digest(
        sessions: async_sessionmaker[AsyncSession], config: Config, driver: Driver, absent: Person,
        mentor: Person, coordinator: Person) -> None:
    await run(sessions, config, at(4))
    assert await driver.received(absent) == [NUDGE]
    assert await driver.received(mentor) == []

    await run(sessions, config, at(7))
    assert await driver.received(mentor) == [MENTOR_ALERT]
    assert await driver.received(absent) == []

    await run(sessions, config, at(10))
    await run(sessions, config, at(16, 7), "weekly_digest")

    assert await ladder(sessions) == [("nudge", None), ("mentor", None), ("coordinator", None)]
    digest = (await driver.received(coordinator))[0]
    assert ("⚠️ Peserta berisiko: 1\n• Sari Wulandari (Angkatan 1) — alpa 2 sesi berturut-turut; "
            "tidak ada pesan 14 hari; 1 pengingat tidak dibalas") in digest


async def test_nudge_carries_the_approved_whatsapp_template(
        sessions: async_sessionmaker[AsyncSession], config: Config, driver: Driver, absent: Person) -> None:
    await run(sessions, config, at(4))

    row = await driver.last(absent)
    assert (row.channel, message_of(row).template) == ("whatsapp", "nudge")
    assert message_of(row).template_vars == {"1": "Sari", "2": "sesi berikutnya — kami tunggu kehadiran Anda"}


async def test_participant_who_replies_gets_no_more_steps(
        sessions: async_sessionmaker[AsyncSession], config: Config, driver: Driver, absent: Person,
        mentor: Person) -> None:
    await run(sessions, config, at(4))
    driver.clock.now = at(4, 12)
    await driver.say(absent, "Maaf Bu, saya sakit minggu ini")
    await driver.received(mentor)

    for day in (5, 7, 8):
        await run(sessions, config, at(day))

    assert await driver.received(mentor) == []
    assert [text for text in await driver.received(absent) if "Apa kabar" in text] == [NUDGE]
    assert await ladder(sessions) == [("nudge", "replied")]


async def test_recovered_participant_is_not_escalated(
        sessions: async_sessionmaker[AsyncSession], config: Config, driver: Driver, absent: Person,
        mentor: Person) -> None:
    await run(sessions, config, at(4))
    await Programme(sessions).meeting(at(5, 10), cohort="Angkatan 1", present={absent: "hadir"})

    await run(sessions, config, at(7))

    assert await driver.received(mentor) == []
    assert await ladder(sessions) == [("nudge", "recovered")]


@pytest.mark.parametrize(("moment", "quiet"), [
    (at(4, 20, 59), False), (at(4, 21), True), (at(5, 6, 59), True), (at(5, 7), False),
    (at(6, 11, 29), False), (at(6, 11, 30), True), (at(6, 12, 59), True), (at(6, 13), False),
    (at(5, 12), False),
])
def test_quiet_hours_are_nights_and_friday_prayer(config: Config, moment: datetime, quiet: bool) -> None:
    assert is_quiet(moment, config) is quiet


async def test_quiet_hours_defer_the_run_to_the_next_tick(
        sessions: async_sessionmaker[AsyncSession], config: Config, driver: Driver, absent: Person) -> None:
    for moment in (at(6, 8), at(6, 11, 45), at(6, 22)):
        await run(sessions, config, moment)
    assert await driver.received(absent) == []

    await run(sessions, config, at(7, 7, 15))
    await run(sessions, config, at(7, 9))

    assert await driver.received(absent) == [NUDGE]
    async with sessions() as session:
        assert list((await session.execute(select(JobRun.period))).scalars()) == ["2026-03-07"]


async def test_job_run_twice_sends_once(
        sessions: async_sessionmaker[AsyncSession], config: Config, driver: Driver, absent: Person) -> None:
    await run(sessions, config, at(4))
    await run(sessions, config, at(4))
    async with sessions.begin() as session:  # as if the JobRun row were lost: the ladder key still holds
        await session.execute(JobRun.__table__.delete())
    await run(sessions, config, at(4, 10))
    await run(sessions, config, at(5))

    assert await driver.received(absent) == [NUDGE]


async def test_daily_cap_nudges_lowest_scores_first(
        sessions: async_sessionmaker[AsyncSession], driver: Driver, absent: Person, mentor: Person) -> None:
    other = await driver.add_person(role="peserta", name="Joko", phone="+6281200000002", mentor_id=mentor.id,
                                    cohort="Angkatan 1", last_inbound_at=at(1, 20))
    await Programme(sessions).set_person(other, created_at=at(1, 8))
    await Programme(sessions).meeting(at(3, 14), cohort="Angkatan 1", present={other: "hadir"})
    capped = Config(timezone=JAKARTA, rule_groups=(ParticipationRules(nudge_max_per_run=1, nudge_score_threshold=90),))

    await run(sessions, capped, at(4))

    assert (len(await driver.received(absent)), len(await driver.received(other))) == (1, 0)

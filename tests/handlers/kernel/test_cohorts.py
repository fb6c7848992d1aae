"""Cohort life cycle: alumni after the end date, and pauses, silence nudges and reminders."""

from datetime import date, datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from handlers.activities.attendance_jobs import send_session_reminders
from handlers.activities.report_views import prompt_monthly_reports
from handlers.activities.session_form import create_meeting
from handlers.kernel.cohorts import pause_cohort, set_cohort
from handlers.kernel.config import Config
from handlers.kernel.messages import Channel
from handlers.kernel.rules import SharedRules
from handlers.participation.nudges import run_nudge_ladder
from storage.models import Person, Role
from tests.conftest import JAKARTA
from tests.support.driver import Driver
from tests.support.programme import Programme


def at(month: int, day: int, hour: int = 9) -> datetime:
    return datetime(2026, month, day, hour, tzinfo=JAKARTA)


async def cohort(sessions: async_sessionmaker[AsyncSession], name: str, ends_on: date,
                 paused: tuple[date, date] | None = None) -> None:
    async with sessions.begin() as session:
        await set_cohort(session, name, date(2026, 1, 5), ends_on)
        if paused is not None:
            await pause_cohort(session, name, *paused)


async def other(driver: Driver, mentor: Person) -> Person:
    """A participant of the still running Angkatan 2."""
    return await driver.add_person(role=Role.PESERTA, name="Dewi Lestari", phone="+6281200000002",
                                   mentor_id=mentor.id, cohort="Angkatan 2", preferred_channel=Channel.WHATSAPP.value)


async def nudged(driver: Driver, now: datetime) -> list[int | None]:
    async with driver.sessions.begin() as session:
        return [m.person_id for m in await run_nudge_ladder(session, now, driver.config)]


async def absent_twice(driver: Driver, *people: Person) -> None:
    """Wrote on Sunday 1 March, then missed Monday's and Tuesday's sessions of their cohort."""
    programme = Programme(driver.sessions)
    for person in people:
        await programme.set_person(person, created_at=at(3, 1, 8), last_inbound_at=at(3, 1, 20))
        await programme.meeting(at(3, 2, 10), cohort=person.cohort)
        await programme.meeting(at(3, 3, 10), cohort=person.cohort)


async def test_alumni_get_no_nudge_while_an_active_cohort_does(driver: Driver, participant: Person,
                                                               mentor: Person) -> None:
    dewi = await other(driver, mentor)
    await absent_twice(driver, participant, dewi)
    await cohort(driver.sessions, "Angkatan 1", date(2026, 3, 3))
    await cohort(driver.sessions, "Angkatan 2", date(2026, 6, 30))

    assert await nudged(driver, at(3, 4)) == [dewi.id]


async def test_paused_cohort_gets_no_nudge_during_the_pause(driver: Driver, participant: Person,
                                                            mentor: Person) -> None:
    dewi = await other(driver, mentor)
    await absent_twice(driver, participant, dewi)
    await cohort(driver.sessions, "Angkatan 1", date(2026, 6, 30), paused=(date(2026, 3, 4), date(2026, 3, 10)))

    assert await nudged(driver, at(3, 4)) == [dewi.id]


async def test_silence_during_a_pause_does_not_nudge_the_day_after(driver: Driver, participant: Person,
                                                                    mentor: Person) -> None:
    dewi = await other(driver, mentor)
    programme = Programme(driver.sessions)
    for person in (participant, dewi):  # last wrote 10 February; three weeks of silence by 3 March
        await programme.set_person(person, created_at=at(1, 10), last_inbound_at=at(2, 10, 20))
    await cohort(driver.sessions, "Angkatan 1", date(2026, 6, 30), paused=(date(2026, 2, 12), date(2026, 3, 2)))

    assert await nudged(driver, at(3, 3)) == [dewi.id]


async def test_session_reminders_skip_alumni_and_paused_cohorts(driver: Driver, participant: Person,
                                                                mentor: Person) -> None:
    dewi = await other(driver, mentor)
    async with driver.sessions.begin() as session:
        starts = driver.clock.now + timedelta(hours=20)
        await create_meeting(session, title="Kelas HPP", cohort="", mentor_id=mentor.id, starts_at=starts,
                             ends_at=starts + timedelta(hours=2), place="Aula Dinas", link="",
                             created_by_id=mentor.id, now=driver.clock.now - timedelta(days=2), config=driver.config)
    await cohort(driver.sessions, "Angkatan 1", date(2026, 3, 1))

    async def reminded(now: datetime) -> list[int | None]:
        async with driver.sessions.begin() as session:
            return [m.person_id for m in await send_session_reminders(session, now, driver.config)]

    assert await reminded(driver.clock.now) == [dewi.id]
    await cohort(driver.sessions, "Angkatan 2", date(2026, 6, 30), paused=(date(2026, 3, 4), date(2026, 3, 6)))
    assert await reminded(driver.clock.now + timedelta(hours=19, minutes=5)) == []


async def test_monthly_report_prompt_skips_alumni(driver: Driver, participant: Person, mentor: Person) -> None:
    dewi = await other(driver, mentor)
    await cohort(driver.sessions, "Angkatan 1", date(2026, 3, 20))

    async with driver.sessions.begin() as session:
        prompts = await prompt_monthly_reports(session, at(3, 25, 10), driver.config)

    assert [m.person_id for m in prompts] == [dewi.id]


async def test_alumni_may_ask_when_the_rule_allows(driver: Driver, participant: Person, mentor: Person) -> None:
    await cohort(driver.sessions, "Angkatan 1", date(2026, 3, 1))

    await driver.say(participant, "Bagaimana cara daftar NIB?")
    await driver.say(participant, "1")

    assert (await driver.received(participant))[-1] == (
        "✅ Pertanyaan Anda diterima sebagai *#1*. Pendamping Anda, Budi Santoso, akan menjawab di sini.")
    assert len(await driver.received(mentor)) == 1


async def test_alumni_are_told_kindly_when_the_rule_refuses(driver: Driver, participant: Person,
                                                            mentor: Person, config: Config) -> None:
    driver.config = config.with_rules(SharedRules(alumni_may_ask=False))
    await cohort(driver.sessions, "Angkatan 1", date(2026, 3, 1))

    await driver.say(participant, "Bagaimana cara menghitung HPP keripik saya?")

    assert await driver.received(mentor) == []
    assert await driver.received(participant) == [
        "Terima kasih, Sari Wulandari, sudah menjadi bagian dari Klinik Bisnis 🙏 Program pendampingan angkatan "
        "Anda sudah selesai, jadi pertanyaan baru tidak lagi diteruskan ke pendamping. Untuk keperluan lanjutan, "
        "silakan hubungi Dinas KUKM (021-000). Semoga usaha Anda terus berkembang!"]

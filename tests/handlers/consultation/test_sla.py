"""Answer deadlines in working hours: remind, alert, hand over — each once, skipping weekends and holidays."""

from datetime import datetime

import pytest
from sqlalchemy import select

from handlers.consultation.ticket_figures import (
    mentor_first_response_medians,
    ticket_figures,
    unanswered_by_age,
)
from handlers.consultation.worktime import (
    add_working_hours,
    calendar_of,
    national_holidays,
    working_hours_between,
)
from handlers.kernel.config import Config
from handlers.kernel.messages import Channel
from handlers.kernel.outbox import message_of
from scheduler.jobs import JOBS
from scheduler.runner import run_job
from storage.models import Person, Role, Ticket, TicketSlaStep
from tests.conftest import JAKARTA
from tests.support.driver import Driver

TG = Channel.TELEGRAM


def at(day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, 3, day, hour, minute, tzinfo=JAKARTA)


async def tick(driver: Driver, moment: datetime) -> None:
    """Run the deadline job at a moment."""
    driver.clock.now = moment
    job = next(job for job in JOBS if job.id == "answer_deadlines")
    await run_job(job, driver.sessions, driver.config, moment)


async def ask(driver: Driver, participant: Person, moment: datetime) -> None:
    driver.clock.now = moment
    await driver.say(participant, "pinjem modal buat oven")
    await driver.press(participant, "tp:permodalan")


@pytest.fixture
async def backup(driver: Driver, mentor: Person) -> Person:
    person = await driver.add_person(role=Role.PENDAMPING, name="Andi Wijaya", phone="+6281100000009")
    async with driver.sessions.begin() as session:
        stored = await session.get(Person, mentor.id)
        assert stored is not None
        stored.backup_mentor_id = person.id
    return person


def test_working_hours_skip_weekend(config: Config) -> None:
    calendar = calendar_of(config)

    assert working_hours_between(at(6, 15), at(9, 9), calendar) == 2.0  # Fri 15–16, Mon 08–09
    assert add_working_hours(at(4, 9), 24, calendar) == at(9, 9)


def test_working_hours_skip_nyepi_and_cuti_bersama(config: Config) -> None:
    calendar = calendar_of(config)

    # 18 Mar cuti bersama, 19 Nyepi, 20 cuti bersama, 21–22 weekend (Idulfitri), 23–24 cuti bersama
    assert working_hours_between(at(17, 12), at(25, 12), calendar) == 8.0
    assert add_working_hours(at(13, 10), 24, calendar) == at(25, 10)


def test_national_holidays_are_the_packages_own_with_one_country_loaded() -> None:
    import holidays  # the package's documented way, for comparison

    for year in (2025, 2026, 2027):
        assert national_holidays("ID", year) == frozenset(holidays.country_holidays("ID", years=year).keys())
    assert national_holidays("MY", 2026) == frozenset(holidays.country_holidays("MY", years=2026).keys())
    with pytest.raises(NotImplementedError):
        national_holidays("XX", 2026)  # no such country: the package's own error


def test_outside_hours_count_nothing(config: Config) -> None:
    calendar = calendar_of(config)

    assert working_hours_between(at(4, 17), at(5, 7), calendar) == 0.0
    assert add_working_hours(at(4, 20), 1, calendar) == at(5, 9)


async def test_whole_chain_over_a_weekend(driver: Driver, participant: Person, mentor: Person, backup: Person,
                                          coordinator: Person) -> None:
    await ask(driver, participant, at(4, 9))
    await driver.received(participant)
    await tick(driver, at(5, 8, 59))
    assert await driver.received(mentor) == ["❓ Pertanyaan baru *#1* dari Sari Wulandari (Keripik Sari) — Permodalan:"
                                             "\n\npinjem modal buat oven\n\nBalas pesan ini, atau pilih *Jawab*."]

    await tick(driver, at(5, 9))
    await tick(driver, at(5, 9, 10))
    assert await driver.received(mentor) == [
        "⏰ Pengingat: pertanyaan #1 dari Sari Wulandari (Permodalan) belum dijawab selama 8 jam kerja."]

    await tick(driver, at(6, 9))
    alerts = await driver.received(coordinator)
    assert [text.split("\n\n")[0] for text in alerts] == [
        "⚠️ Pertanyaan #1 dari Sari Wulandari (Permodalan) belum dijawab oleh Budi Santoso selama 16 jam kerja."]

    await tick(driver, at(8, 23))  # Sunday night: still 23 working hours
    await tick(driver, at(9, 9))
    await tick(driver, at(9, 9, 10))
    assert await driver.received(participant) == ["Pertanyaan #1 Anda kini dijawab oleh pendamping Andi Wijaya."]
    assert (await driver.received(backup))[0].startswith("📥 Pertanyaan *#1* dari Sari Wulandari (Keripik Sari)")
    assert await driver.received(mentor) == ["Pertanyaan #1 dialihkan ke Andi Wijaya."]
    assert await driver.received(coordinator) == []


async def test_chain_skips_holidays_and_cuti_bersama(driver: Driver, participant: Person, mentor: Person,
                                                     backup: Person, coordinator: Person) -> None:
    await ask(driver, participant, at(13, 10))
    for moment in (at(16, 10), at(17, 10), at(18, 12), at(20, 12), at(23, 12), at(24, 15), at(25, 9, 50)):
        await tick(driver, moment)

    async with driver.sessions() as session:
        steps = (await session.execute(select(TicketSlaStep.step, TicketSlaStep.at).order_by(TicketSlaStep.id))).all()
        ticket = await session.get(Ticket, 1)
    assert [(step, moment.astimezone(JAKARTA)) for step, moment in steps] == [
        ("remind", at(16, 10)), ("alert", at(17, 10))]
    assert ticket is not None
    assert ticket.mentor_id == mentor.id

    await tick(driver, at(25, 10))
    async with driver.sessions() as session:
        ticket = await session.get(Ticket, 1)
    assert ticket is not None
    assert (ticket.mentor_id, ticket.reassignments) == (backup.id, 1)


async def test_without_backup_coordinators_pick_who_answers(driver: Driver, participant: Person, mentor: Person,
                                                            coordinator: Person) -> None:
    other = await driver.add_person(role=Role.PENDAMPING, name="Citra", phone="+6281100000003")
    await ask(driver, participant, at(4, 9))
    await tick(driver, at(9, 9))

    pick = await driver.last(coordinator)
    assert message_of(pick).text.startswith("⚠️ Pertanyaan #1 belum dijawab oleh Budi Santoso selama 24 jam kerja dan "
                                           "belum ada pendamping cadangan.")
    await driver.say(coordinator, str(len(message_of(pick).buttons)))

    assert (await driver.received(participant))[-1] == "Pertanyaan #1 Anda kini dijawab oleh pendamping Citra."
    assert (await driver.received(coordinator))[-1] == "#1 dialihkan ke Citra."
    assert (await driver.received(other))[0].startswith("📥 Pertanyaan *#1*")


async def test_answered_ticket_gets_no_steps(driver: Driver, participant: Person, mentor: Person,
                                             coordinator: Person) -> None:
    await ask(driver, participant, at(4, 9))
    await driver.say(mentor, "jawab 1 Coba KUR mikro.", channel=TG)
    await driver.received(mentor)

    await tick(driver, at(10, 9))

    assert await driver.received(mentor) == []
    assert await driver.received(coordinator) == []


async def test_late_job_takes_every_due_step_once(driver: Driver, participant: Person, mentor: Person,
                                                  backup: Person, coordinator: Person) -> None:
    await ask(driver, participant, at(4, 9))

    await tick(driver, at(10, 9))
    await tick(driver, at(10, 9))

    async with driver.sessions() as session:
        steps = (await session.execute(select(TicketSlaStep.step).order_by(TicketSlaStep.id))).scalars().all()
    assert steps == ["remind", "alert", "handover"]
    assert len(await driver.received(coordinator)) == 1


async def test_figures_in_working_hours(driver: Driver, participant: Person, mentor: Person) -> None:
    dewi = await driver.add_person(role=Role.PESERTA, name="Dewi", phone="+6281200000002", mentor_id=mentor.id)
    await ask(driver, participant, at(4, 9))
    driver.clock.now = at(5, 10)
    await driver.say(mentor, "jawab 1 Coba KUR mikro.", channel=TG)
    driver.clock.now = at(6, 8, 30)
    await driver.press(participant, "close:1")
    await ask(driver, dewi, at(6, 9))

    async with driver.sessions() as session:
        figures = await ticket_figures(session, since=at(1, 0), until=at(31, 0), config=driver.config)
        medians = await mentor_first_response_medians(session, since=at(1, 0), until=at(31, 0), config=driver.config)
        buckets = await unanswered_by_age(session, now=at(9, 9), config=driver.config)

    assert [(f.ticket_id, f.first_response_hours, f.resolution_hours, f.reassignments, f.escalations)
            for f in figures] == [(1, 9.0, 15.5, 0, 0), (2, None, None, 0, 0)]
    assert medians == {mentor.id: 9.0}
    assert [(b.from_hours, b.to_hours, b.count) for b in buckets] == [
        (0, 8, 0), (8, 16, 1), (16, 24, 0), (24, None, 0)]

"""Figures that agree: one at-risk list for coordinators and mentors, report counts right after reports arrive."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from handlers.kernel.config import Config
from handlers.kernel.messages import Channel
from scheduler.jobs import JOBS
from scheduler.runner import run_job
from storage.models import NudgeLog, Person, Role
from tests.support.driver import Driver
from tests.support.programme import Programme

JAKARTA = ZoneInfo("Asia/Jakarta")


def at(day: int, hour: int = 10, month: int = 3) -> datetime:
    return datetime(2026, month, day, hour, tzinfo=JAKARTA)


@pytest.fixture
def config(tmp_path: Path) -> Config:
    return Config(timezone=JAKARTA, coordinator_contact="Dinas KUKM (021-000)", media_dir=str(tmp_path / "media"))


async def slipping_programme(sessions: async_sessionmaker[AsyncSession], driver: Driver, mentor: Person,
                             participant: Person) -> Person:
    """Week 2026-W10: Sari is active; Joko's nudges reached the coordinator; Rudi and Tono went quiet
    without any nudge yet (Tono is with another mentor, Dewi)."""
    programme = Programme(sessions)
    dewi = await driver.add_person(role=Role.PENDAMPING, name="Dewi Lestari", phone="+6281100000002",
                                   telegram_chat_id="5002", preferred_channel=Channel.TELEGRAM.value)
    joko = await driver.add_person(role=Role.PESERTA, name="Joko Susilo", phone="+6281200000002",
                                   mentor_id=mentor.id, cohort="Angkatan 1")
    rudi = await driver.add_person(role=Role.PESERTA, name="Rudi Hartono", phone="+6281200000003",
                                   mentor_id=mentor.id, cohort="Angkatan 1")
    tono = await driver.add_person(role=Role.PESERTA, name="Tono", phone="+6281200000004", mentor_id=dewi.id,
                                   cohort="Angkatan 2")
    for person, last in ((participant, at(4)), (joko, at(10, month=2)), (rudi, at(15, month=2)),
                         (tono, at(12, month=2))):
        await programme.set_person(person, created_at=at(1, 9, month=2), last_inbound_at=last)
    await programme.add(*[NudgeLog(participant_id=joko.id, period="2026-W10", step=step, sent_at=sent)
                          for step, sent in (("nudge", at(2, 9)), ("mentor", at(5, 9)), ("coordinator", at(8, 9)))])
    return dewi


async def test_coordinator_and_mentors_read_one_at_risk_list(
        sessions: async_sessionmaker[AsyncSession], config: Config, driver: Driver, mentor: Person,
        participant: Person, coordinator: Person) -> None:
    dewi = await slipping_programme(sessions, driver, mentor, participant)

    await run_job(next(j for j in JOBS if j.id == "weekly_digest"), sessions, config, at(9, 7))

    digest = (await driver.received(coordinator))[0]
    budi, dewis = (await driver.received(mentor))[0], (await driver.received(dewi))[0]
    assert "⚠️ Peserta berisiko: 3\n• Joko Susilo (Angkatan 1)" in digest  # the one the ladder escalated first
    assert "• Rudi Hartono (Angkatan 1)" in digest
    assert "• Tono (Angkatan 2)" in digest
    assert "Perlu perhatian (2):\n• Joko Susilo — " in budi
    assert "• Rudi Hartono — " in budi
    assert "Perlu perhatian (1):\n• Tono — " in dewis
    assert "Tidak ada peserta berisiko" not in digest


async def test_on_demand_summaries_agree_with_the_digest(
        sessions: async_sessionmaker[AsyncSession], config: Config, driver: Driver, mentor: Person,
        participant: Person, coordinator: Person) -> None:
    await slipping_programme(sessions, driver, mentor, participant)
    driver.config, driver.clock.now = config, at(6, 15)

    await driver.say(coordinator, "ringkasan")
    await driver.say(mentor, "ringkasan", channel=Channel.TELEGRAM)
    await driver.run_job("summary_requests")  # the figures follow from the background job

    assert "⚠️ Peserta berisiko: 3\n" in (await driver.received(coordinator))[1]
    assert "Perlu perhatian (2):" in (await driver.received(mentor))[-1]


async def send_february_report(driver: Driver, person: Person) -> None:
    for text in ("laporan", "3,5 juta", "2", "40", "selesai", "tidak ada"):
        await driver.say(person, text)
    await driver.press(person, "rep:ok")


async def test_two_reports_just_sent_are_counted_for_mentor_and_coordinator(
        config: Config, driver: Driver, mentor: Person, participant: Person, coordinator: Person) -> None:
    # 4 March: the February report is open until 5 March; both joined the roster today.
    driver.config = config
    dewi = await driver.add_person(role=Role.PESERTA, name="Dewi", phone="+6281200000002", mentor_id=mentor.id,
                                   cohort="Angkatan 1")
    await send_february_report(driver, participant)
    await send_february_report(driver, dewi)

    await driver.say(mentor, "laporan", channel=Channel.TELEGRAM)
    await driver.say(coordinator, "ringkasan")
    await driver.run_job("summary_requests")  # the figures follow from the background job

    assert (await driver.received(mentor))[-1].startswith("📊 *Laporan Februari 2026*: 2 dari 2 peserta sudah lapor.")
    assert "📄 Laporan bulanan terkirim: 2 dari 2" in (await driver.received(coordinator))[1]


async def test_participant_who_has_not_reported_yet_is_counted_as_owing(
        config: Config, driver: Driver, mentor: Person, participant: Person, coordinator: Person) -> None:
    driver.config = config
    await driver.add_person(role=Role.PESERTA, name="Dewi", phone="+6281200000002", mentor_id=mentor.id,
                            cohort="Angkatan 1")
    await send_february_report(driver, participant)

    await driver.say(mentor, "laporan", channel=Channel.TELEGRAM)
    await driver.say(coordinator, "ringkasan")
    await driver.run_job("summary_requests")  # the figures follow from the background job

    mentor_view = (await driver.received(mentor))[-1]
    assert mentor_view.startswith("📊 *Laporan Februari 2026*: 1 dari 2 peserta sudah lapor.")
    assert mentor_view.endswith("⏳ Belum lapor: Dewi")
    assert "📄 Laporan bulanan terkirim: 1 dari 2" in (await driver.received(coordinator))[1]

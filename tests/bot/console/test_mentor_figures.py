"""/console/pendamping reads the month's stored figures (mentor_month_figures): the same table `kinerja`
computes for that month (performance.mentor_months, fixed clock), one page at a time, sortable, renewed a
minute later for the running month, and the monthly job stores the month it sends."""

from __future__ import annotations

import asyncio
import html
import re
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.console.mentors import MentorPages
from handlers.activities.money import format_rupiah
from handlers.activities.report_views import report_roll, roll_counts
from handlers.kernel.config import Config
from handlers.kernel.dates import month_of
from handlers.kernel.i18n import t
from handlers.reports.performance import HEADER, mentor_months, performance_rows
from storage.models import (
    Attendance,
    AttendanceStatus,
    Meeting,
    MentorMonthFigure,
    MentorMonthSnapshot,
    MonthlyReport,
    Person,
    Role,
)
from tests.bot.console.site import Site
from tests.support.driver import Clock, Driver

ROW = re.compile(r'<tr id="mentor-(\d+)">(.*?)</tr>', re.S)
CELL = re.compile(r"<td>(?:<a [^>]*>)?(.*?)(?:</a>)?</td>", re.S)
FIGURE = re.compile(r"<dt>(.*?)</dt><dd>(.*?)</dd>", re.S)
TREND = re.compile(r'<table id="omzet-trend".*?</table>', re.S)
REPORTS = re.compile(r'<p id="reports-sent">.*?</p>\s*<p class="muted" id="reports-computed">.*?</p>', re.S)
OPTIONS = re.compile(r'<option value="([^"]*)"')
GROUPS_COMPUTED = re.compile(r'id="groups-computed">(.*?)<')


@pytest.fixture
def site(sessions: async_sessionmaker[AsyncSession], config: Config, clock: Clock) -> Site:
    return Site(sessions, config, clock)


def table_of(page: str) -> list[tuple[int, list[str]]]:
    """(mentor id, cells) of each row of the mentors' table, in page order."""
    return [(int(mentor_id), [html.unescape(cell) for cell in CELL.findall(cells)])
            for mentor_id, cells in ROW.findall(page)]


async def kinerja(sessions: async_sessionmaker[AsyncSession], month: str, clock: Clock,
                  config: Config) -> list[tuple[int, list[str]]]:
    """What `kinerja` computes for the month now, as the table's cells."""
    async with sessions() as session:
        months = await mentor_months(session, month, clock.now, config)
    return [(m.mentor_id, [MentorPages._cell(value, config.language) for value in row])
            for m, row in zip(months, performance_rows(months), strict=True)]


async def programme(driver: Driver, clock: Clock, mentor: Person, participant: Person) -> tuple[Person, Person]:
    """Two groups with a month of work: an answered question, a session with attendance, reports."""
    dewi = await driver.add_person(role=Role.PENDAMPING, name="Dewi Lestari", phone="+6281100000009")
    tono = await driver.add_person(role=Role.PESERTA, name="Tono Martono", phone="+6281200000009",
                                   mentor_id=dewi.id, cohort="Angkatan 2", business_name="Bakso Tono")
    await driver.add_person(role=Role.PENDAMPING, name="Agus Salim", phone="+6281100000008")
    await driver.say(participant, "Kak, cara hitung HPP keripik gimana ya biar ga rugi?")
    await driver.press(participant, "tp:keuangan")
    clock.advance(hours=2)
    await driver.say(mentor, "jawab 1 Hitung semua bahan per kilo dulu, bagi jumlah bungkus.")
    await driver.say(tono, "kak izin tanya, stok bakso sisa banyak tiap sore, enaknya diapain?")
    await driver.press(tono, "tp:pemasaran")
    starts = clock.now - timedelta(days=2)
    async with driver.sessions.begin() as session:
        meeting = Meeting(title="Kelas pemasaran digital", cohort="Angkatan 1", starts_at=starts, mentor_id=mentor.id,
                          ends_at=starts + timedelta(hours=2), checkin_code="4821", checkin_opens_at=starts,
                          checkin_closes_at=starts + timedelta(hours=2), late_after_at=starts + timedelta(minutes=15),
                          created_at=starts - timedelta(days=7))
        session.add(meeting)
        await session.flush()
        session.add(Attendance(meeting_id=meeting.id, participant_id=participant.id, status=AttendanceStatus.HADIR,
                               created_at=starts, updated_at=starts))
        for month, omzet in (("2026-02", 4_000_000), ("2026-03", 5_000_000)):
            session.add(MonthlyReport(participant_id=participant.id, month=month, omzet=omzet,
                                      submitted_at=clock.now - timedelta(hours=1),
                                      created_at=clock.now, updated_at=clock.now))
    clock.advance(days=1)
    return dewi, tono


async def test_the_table_and_each_mentors_page_are_what_kinerja_computes(
        site: Site, driver: Driver, clock: Clock, config: Config, sessions: async_sessionmaker[AsyncSession],
        coordinator: Person, mentor: Person, participant: Person) -> None:
    await programme(driver, clock, mentor, participant)
    month = month_of(clock.now, config.timezone)
    async with site.browser() as browser:
        await site.sign_in(browser, coordinator)
        table = await browser.get(f"/console/pendamping?bulan={month}")
        own = await browser.get(f"/console/pendamping/{mentor.id}?bulan={month}")
        by_name = await browser.get(f"/console/pendamping?bulan={month}&urut=nama")
    expected = await kinerja(sessions, month, clock, config)

    assert table.status_code == 200
    assert table_of(table.text) == expected
    assert len(expected) == 3
    assert expected[0][1][1] == "Budi Santoso"
    assert dict(FIGURE.findall(own.text)) == {
        html.escape(t(key), quote=True): value for key, value in zip(HEADER[2:], expected[0][1][2:], strict=True)}
    assert t("desk.mentor_rank", month="Maret 2026", rank=1, count=3) in own.text
    assert [cells[1] for _id, cells in table_of(by_name.text)] == ["Agus Salim", "Budi Santoso", "Dewi Lestari"]
    assert sorted(table_of(by_name.text)) == sorted(expected)  # each row keeps its rank
    async with sessions() as session:
        stored = (await session.execute(select(MentorMonthFigure.mentor_id).where(MentorMonthFigure.month == month)
                                        .order_by(MentorMonthFigure.rank))).scalars().all()
    assert stored == [mentor_id for mentor_id, _cells in expected]


async def test_the_running_month_is_stored_once_and_renewed_a_minute_later(
        site: Site, driver: Driver, clock: Clock, config: Config, sessions: async_sessionmaker[AsyncSession],
        coordinator: Person, mentor: Person, participant: Person) -> None:
    _dewi, tono = await programme(driver, clock, mentor, participant)
    month = month_of(clock.now, config.timezone)
    async with site.browser() as browser:
        await site.sign_in(browser, coordinator)
        first = await browser.get(f"/console/pendamping?bulan={month}")
        before = await kinerja(sessions, month, clock, config)
        await driver.say(tono, "kak satu lagi, harga bakso naik ga papa ya?")  # Dewi's second question
        clock.advance(seconds=30)
        within_the_minute = await browser.get(f"/console/pendamping?bulan={month}")
        clock.advance(seconds=31)
        later = await browser.get(f"/console/pendamping?bulan={month}")
    after = await kinerja(sessions, month, clock, config)

    assert before != after  # the new question counts for Dewi
    assert table_of(first.text) == before
    assert table_of(within_the_minute.text) == before
    assert table_of(later.text) == after


async def test_an_empty_month_is_stored_as_empty_and_shown_so(
        site: Site, sessions: async_sessionmaker[AsyncSession], coordinator: Person) -> None:
    async with site.browser() as browser:
        await site.sign_in(browser, coordinator)
        page = await browser.get("/console/pendamping?bulan=2025-06")
    async with sessions() as session:
        snapshot = await session.get(MentorMonthSnapshot, "2025-06")

    assert page.status_code == 200
    assert t("web.nothing") in page.text
    assert snapshot is not None
    assert snapshot.mentors == 0


async def test_the_monthly_kinerja_job_stores_the_month_it_sends(
        site: Site, driver: Driver, clock: Clock, config: Config, sessions: async_sessionmaker[AsyncSession],
        coordinator: Person, mentor: Person, participant: Person) -> None:
    await programme(driver, clock, mentor, participant)
    clock.advance(days=30)  # April: the job sends March
    await driver.run_job("mentor_performance")
    async with sessions() as session:
        snapshot = await session.get(MentorMonthSnapshot, "2026-03")
    expected = await kinerja(sessions, "2026-03", clock, config)
    async with site.browser() as browser:
        await site.sign_in(browser, coordinator)
        table = await browser.get("/console/pendamping?bulan=2026-03")

    assert snapshot is not None
    assert snapshot.computed_at == clock.now
    assert snapshot.mentors == 3
    assert table_of(table.text) == expected


async def test_the_report_counts_in_sql_are_the_laporan_roll(
        driver: Driver, clock: Clock, config: Config, sessions: async_sessionmaker[AsyncSession],
        mentor: Person, participant: Person) -> None:
    dewi, tono = await programme(driver, clock, mentor, participant)  # Sari sent March, Tono did not
    clock.advance(days=40)  # after March's deadline
    late = await driver.add_person(role=Role.PESERTA, name="Lina Marlina", phone="+6281200000007",
                                   mentor_id=dewi.id, cohort="Angkatan 2", business_name="Jamu Lina")
    gone = await driver.add_person(role=Role.PESERTA, name="Eko Prasetyo", phone="+6281200000006",
                                   mentor_id=mentor.id, cohort="Angkatan 1", is_active=False)
    async with driver.sessions.begin() as session:
        for person in (late, gone, tono):
            session.add(MonthlyReport(participant_id=person.id, month="2026-03", omzet=1_500_000,
                                      submitted_at=clock.now if person is not tono else None,
                                      created_at=clock.now, updated_at=clock.now))
    async with sessions() as session:
        for scope in (None, Person.mentor_id == dewi.id, Person.mentor_id == mentor.id):
            roll = await report_roll(session, "2026-03", clock.now, config, scope)
            assert await roll_counts(session, "2026-03", clock.now, config, scope) == (sum(roll.values()), len(roll))
        assert await roll_counts(session, "2026-03", clock.now, config) == (2, 3)  # sent: Sari, Lina; owed: Sari, Tono, Lina (not Eko)


async def test_a_restarted_console_shows_the_stored_overview_and_renews_it_in_the_background(
        driver: Driver, clock: Clock, config: Config, sessions: async_sessionmaker[AsyncSession],
        coordinator: Person, mentor: Person, participant: Person) -> None:
    before = Site(sessions, config, clock)
    async with before.browser() as browser:
        await before.sign_in(browser, coordinator)
        first = await browser.get("/console/")
        cookies = dict(browser.cookies)
    await driver.add_person(role=Role.PESERTA, name="Joko Susilo", phone="+6281200000005", mentor_id=mentor.id,
                            cohort="Angkatan 1", business_name="Tahu Joko")
    restarted = Site(sessions, config, clock)
    restarted.console.background = True  # as in `klinik run`
    async with restarted.browser() as browser:
        browser.cookies.update(cookies)
        right_away = await browser.get("/console/")
        clock.advance(seconds=61)
        a_minute_later = await browser.get("/console/")
        await asyncio.gather(*restarted.console.refreshing.values())
        renewed = await browser.get("/console/")

    assert 'id="count-participants">1<' in first.text
    assert 'id="count-participants">1<' in right_away.text  # as stored: nothing scanned in the request
    assert 'id="count-participants">1<' in a_minute_later.text  # shown while it is computed again
    assert 'id="count-participants">2<' in renewed.text
    assert GROUPS_COMPUTED.search(first.text).group(1) == GROUPS_COMPUTED.search(right_away.text).group(1)


async def before_and_after_a_restart(sessions: async_sessionmaker[AsyncSession], config: Config, clock: Clock,
                                     coordinator: Person, path: str) -> tuple[Any, Any]:
    """The page as a console computes it, then as a restarted one shows it (stored figures, background mode)."""
    before = Site(sessions, config, clock)
    async with before.browser() as browser:
        await before.sign_in(browser, coordinator)
        first = await browser.get(path)
        cookies = dict(browser.cookies)
    restarted = Site(sessions, config, clock)
    restarted.console.background = True
    async with restarted.browser() as browser:
        browser.cookies.update(cookies)
        again = await browser.get(path)
    return first, again


async def test_a_restarted_console_shows_the_stored_report_roll_and_trend(
        driver: Driver, clock: Clock, config: Config, sessions: async_sessionmaker[AsyncSession],
        coordinator: Person, mentor: Person, participant: Person) -> None:
    await programme(driver, clock, mentor, participant)
    first, again = await before_and_after_a_restart(sessions, config, clock, coordinator, "/console/laporan?bulan=2026-03")

    assert t("desk.reports_sent", sent=1, due=2) in first.text  # Sari sent March, Tono not yet
    assert TREND.search(first.text).group(0) == TREND.search(again.text).group(0)
    assert REPORTS.search(first.text).group(0) == REPORTS.search(again.text).group(0)
    assert format_rupiah(5_000_000) in TREND.search(again.text).group(0)


async def test_a_restarted_console_offers_the_stored_filter_values(
        driver: Driver, clock: Clock, config: Config, sessions: async_sessionmaker[AsyncSession],
        coordinator: Person, mentor: Person, participant: Person) -> None:
    await programme(driver, clock, mentor, participant)
    first, again = await before_and_after_a_restart(sessions, config, clock, coordinator, "/console/peserta")

    assert f'<option value="{mentor.id}" >Budi Santoso</option>' in first.text
    assert OPTIONS.findall(again.text) == OPTIONS.findall(first.text)
    assert "Angkatan 2" in OPTIONS.findall(again.text)


async def test_a_new_participant_counts_at_once_not_a_minute_later(
        site: Site, driver: Driver, clock: Clock, config: Config, sessions: async_sessionmaker[AsyncSession],
        coordinator: Person, mentor: Person, participant: Person) -> None:
    dewi, _tono = await programme(driver, clock, mentor, participant)
    month = month_of(clock.now, config.timezone)
    async with site.browser() as browser:
        await site.sign_in(browser, coordinator)
        before = await browser.get(f"/console/pendamping?bulan={month}")
        clock.advance(seconds=5)
        await driver.add_person(role=Role.PESERTA, name="Lina Marlina", phone="+6281200000007", mentor_id=dewi.id,
                                cohort="Angkatan 2", business_name="Jamu Lina")
        after = await browser.get(f"/console/pendamping?bulan={month}")

    participants = {mentor_id: cells[2] for mentor_id, cells in table_of(before.text)}
    assert participants[dewi.id] == "1"
    assert {mentor_id: cells[2] for mentor_id, cells in table_of(after.text)}[dewi.id] == "2"
    assert table_of(after.text) == await kinerja(sessions, month, clock, config)

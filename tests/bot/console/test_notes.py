"""Mentors' notes on /console/peserta/<id>: the mentor reads and adds notes on their own participants, a coordinator
reads them only, another mentor sees neither; CSRF on the form."""

from __future__ import annotations

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from handlers.kernel.config import Config
from handlers.kernel.i18n import t
from handlers.kernel.messages import Channel
from storage.models import ParticipantNote, Person, Role
from tests.bot.console.site import Site
from tests.support.driver import Clock, Driver

NOTE = "Sari mau ikut bazar Depok bulan depan, bantu siapkan stok"


@pytest.fixture
def site(sessions: async_sessionmaker[AsyncSession], config: Config, clock: Clock) -> Site:
    return Site(sessions, config, clock)


async def kept(driver: Driver) -> list[tuple[int, str]]:
    async with driver.sessions() as session:
        return [(row.author_id, row.text) for row in
                (await session.execute(select(ParticipantNote).order_by(ParticipantNote.id))).scalars()]


async def test_the_mentor_adds_a_note_in_the_page_and_reads_the_chats(
        site: Site, driver: Driver, mentor: Person, participant: Person) -> None:
    await driver.say(mentor, "catatan 081200000001 udah daftar NIB", channel=Channel.TELEGRAM)
    async with site.browser() as browser:
        await site.sign_in(browser, mentor)
        page = await browser.get(f"/console/peserta/{participant.id}")
        token = await site.form_token(browser, f"/console/peserta/{participant.id}")
        added = await browser.post(f"/console/peserta/{participant.id}/catatan", data={"csrf": token, "note": NOTE})
        empty = await browser.post(f"/console/peserta/{participant.id}/catatan", data={"csrf": token, "note": "  "})

    assert 'id="note-text"' in page.text
    assert "udah daftar NIB" in page.text
    assert added.status_code == 200
    assert t("notes.saved", name="Sari Wulandari") in added.text
    assert NOTE in added.text
    assert empty.status_code == 400
    assert t("notes.usage") in empty.text
    assert await kept(driver) == [(mentor.id, "udah daftar NIB"), (mentor.id, NOTE)]


async def test_a_coordinator_reads_only_and_another_mentor_neither_reads_nor_writes(
        site: Site, driver: Driver, mentor: Person, participant: Person, coordinator: Person) -> None:
    await driver.say(mentor, f"catatan 081200000001 {NOTE}", channel=Channel.TELEGRAM)
    dewi = await driver.add_person(role=Role.PENDAMPING, name="Dewi Lestari", phone="+6281100000009")
    async with site.browser() as browser:
        await site.sign_in(browser, coordinator)
        page = await browser.get(f"/console/peserta/{participant.id}")
        token = await site.form_token(browser, f"/console/peserta/{participant.id}")
        written = await browser.post(f"/console/peserta/{participant.id}/catatan", data={"csrf": token, "note": "x"})
    async with site.browser() as browser:
        await site.sign_in(browser, dewi)
        token = await site.form_token(browser, "/console/antrian")
        foreign = await browser.get(f"/console/peserta/{participant.id}")
        by_dewi = await browser.post(f"/console/peserta/{participant.id}/catatan", data={"csrf": token, "note": "x"})
    async with site.browser() as browser:
        await site.sign_in(browser, mentor)
        forged = await browser.post(f"/console/peserta/{participant.id}/catatan", data={"csrf": "palsu", "note": "x"})

    assert NOTE in page.text
    assert 'id="note-text"' not in page.text
    assert written.status_code == 403
    assert t("notes.read_only") in written.text
    assert foreign.status_code == 403
    assert NOTE not in foreign.text
    assert by_dewi.status_code == 403
    assert forged.status_code == 403
    assert t("web.refused_csrf") in forged.text
    assert await kept(driver) == [(mentor.id, NOTE)]

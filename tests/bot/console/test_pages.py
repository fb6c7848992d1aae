"""Console pages for each role: what each sees, what each may do, and refusals; actions use the chat's functions."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from handlers.kernel.config import Config
from handlers.kernel.i18n import t
from storage.models import AuditEntry, MonthlyReport, NudgeLog, Person, Role, Ticket, TicketStatus
from tests.bot.console.site import Site, csrf_of
from tests.support.driver import Clock, Driver

QUESTION = "Kak, gimana caranya biar keripik saya bisa masuk minimarket? perlu izin apa aja ya"
ROSTER_HEADER = "role,name,phone,mentor_phone,cohort,business_name,district\n"

SQLITE_ONLY = pytest.mark.sqlite_only  # the rest run on PostgreSQL too (--postgres)


@pytest.fixture
def site(sessions: async_sessionmaker[AsyncSession], config: Config, clock: Clock) -> Site:
    return Site(sessions, config, clock)


async def ask(driver: Driver, participant: Person, text: str = QUESTION) -> int:
    """The participant asks in chat and picks a topic; the new ticket's id."""
    await driver.say(participant, text)
    await driver.press(participant, "tp:lainnya")
    async with driver.sessions() as session:
        return int((await session.execute(select(Ticket.id).order_by(Ticket.id.desc()).limit(1))).scalar_one())


async def other_group(driver: Driver) -> tuple[Person, Person]:
    """Another mentor and their participant."""
    other_mentor = await driver.add_person(role=Role.PENDAMPING, name="Dewi Lestari", phone="+6281100000009")
    other = await driver.add_person(role=Role.PESERTA, name="Tono Martono", phone="+6281200000009",
                                    mentor_id=other_mentor.id, cohort="Angkatan 2", business_name="Bakso Tono")
    return other_mentor, other


@SQLITE_ONLY
async def test_a_participant_opens_no_staff_page(site: Site, participant: Person) -> None:
    async with site.browser() as browser:
        await site.sign_in(browser, participant)
        answers = {path: await browser.get(path) for path in
                   ("/console/", "/console/peserta", f"/console/peserta/{participant.id}", "/console/antrian",
                    "/console/tiket/1", "/console/roster")}

    for answer in answers.values():
        assert answer.status_code == 403
        assert t("web.refused_role") in answer.text


@SQLITE_ONLY
async def test_a_mentor_sees_only_their_own_participants_and_tickets(
        site: Site, driver: Driver, mentor: Person, participant: Person) -> None:
    _other_mentor, other = await other_group(driver)
    mine = await ask(driver, participant)
    theirs = await ask(driver, other, "Bang, modal usaha bakso dari KUR syaratnya apa?")
    async with site.browser() as browser:
        await site.sign_in(browser, mentor)
        overview = await browser.get("/console/")
        listing = await browser.get("/console/peserta")
        own_story = await browser.get(f"/console/peserta/{participant.id}")
        foreign_story = await browser.get(f"/console/peserta/{other.id}")
        queue = await browser.get("/console/antrian")
        foreign_ticket = await browser.get(f"/console/tiket/{theirs}")
        roster = await browser.get("/console/roster")

    assert overview.status_code == 303
    assert overview.headers["location"] == "/console/antrian"
    assert "Sari Wulandari" in listing.text
    assert "Tono Martono" not in listing.text
    assert own_story.status_code == 200
    assert "masuk minimarket" in own_story.text
    assert 'id="move-mentor"' not in own_story.text  # moving is the coordinator's
    assert foreign_story.status_code == 403
    assert t("web.refused_not_yours") in foreign_story.text
    assert f'id="ticket-{mine}"' in queue.text
    assert f'id="ticket-{theirs}"' not in queue.text
    assert foreign_ticket.status_code == 403
    assert "KUR" not in foreign_ticket.text
    assert roster.status_code == 403


async def test_a_mentor_answers_in_the_page_and_the_participant_gets_it_on_whatsapp(
        site: Site, driver: Driver, mentor: Person, participant: Person) -> None:
    number = await ask(driver, participant)
    await driver.received(participant)
    async with site.browser() as browser:
        await site.sign_in(browser, mentor)
        page = await browser.get(f"/console/tiket/{number}")
        assert 'id="answer"' in page.text
        assert 'id="answer-submit"' in page.text
        answered = await browser.post(f"/console/tiket/{number}/jawab", data={
            "csrf": csrf_of(page.text), "answer": "Urus PIRT dulu bu di Dinkes, gratis kok. Nanti saya bantu."})

    assert answered.status_code == 200
    received = await driver.received(participant)
    assert len(received) == 1
    assert "Urus PIRT dulu bu" in received[0]
    assert "Budi Santoso" in received[0]
    rows = await driver.outbox(participant)
    assert rows[-1].channel == "whatsapp"
    assert rows[-1].address == participant.phone
    assert t("core.answer_sent", number=str(number), participant=participant.name) in answered.text
    async with driver.sessions() as session:
        ticket = await session.get(Ticket, number)
        assert ticket is not None
        assert ticket.status == TicketStatus.ANSWERED
    assert not [text for text in await site.texts_to(mentor) if "PIRT" in text]  # the page is the reply


@SQLITE_ONLY
async def test_an_empty_answer_changes_nothing(site: Site, driver: Driver, mentor: Person,
                                               participant: Person) -> None:
    number = await ask(driver, participant)
    await driver.received(participant)
    async with site.browser() as browser:
        await site.sign_in(browser, mentor)
        token = await site.form_token(browser, f"/console/tiket/{number}")
        answer = await browser.post(f"/console/tiket/{number}/jawab", data={"csrf": token, "answer": "   "})

    assert answer.status_code == 400
    assert t("web.answer_empty") in answer.text
    assert await driver.received(participant) == []


async def test_the_coordinator_overview_counts_at_risk_and_open_questions(
        site: Site, driver: Driver, clock: Clock, coordinator: Person, participant: Person) -> None:
    await ask(driver, participant)
    _other_mentor, other = await other_group(driver)
    async with driver.sessions.begin() as session:
        session.add(NudgeLog(participant_id=other.id, period="2026-W10", step="nudge", sent_at=clock.now))
    async with site.browser() as browser:
        await site.sign_in(browser, coordinator)
        overview = await browser.get("/console/")
        at_risk = await browser.get("/console/peserta?risiko=1")
        searched = await browser.get("/console/peserta?q=keripik")
        by_cohort = await browser.get("/console/peserta?cohort=Angkatan+2")

    assert overview.status_code == 200
    assert 'id="count-participants">2<' in overview.text
    assert 'id="count-at-risk">1<' in overview.text
    assert "<td>0–1 hari</td><td>1</td>" in overview.text
    assert "Tono Martono" in at_risk.text
    assert "Sari Wulandari" not in at_risk.text
    assert "Sari Wulandari" in searched.text
    assert "Tono Martono" not in searched.text
    assert "Tono Martono" in by_cohort.text
    assert "Sari Wulandari" not in by_cohort.text


@SQLITE_ONLY
async def test_the_list_is_paginated_on_the_server(site: Site, driver: Driver, coordinator: Person,
                                                    mentor: Person) -> None:
    async with driver.sessions.begin() as session:
        for number in range(55):
            session.add(Person(role=Role.PESERTA, name=f"Peserta {number:02d}", phone=f"+62812000010{number:02d}",
                               mentor_id=mentor.id, consent_given=True, created_at=driver.clock.now,
                               updated_at=driver.clock.now, extra={}))
    async with site.browser() as browser:
        await site.sign_in(browser, coordinator)
        first = await browser.get("/console/peserta")
        second = await browser.get("/console/peserta?halaman=2")

    assert first.text.count('<tr id="participant-') == 50
    assert 'id="page-next"' in first.text
    assert second.text.count('<tr id="participant-') == 5
    assert "Peserta 54" in second.text


async def test_the_coordinator_moves_a_participant_with_the_chats_mentor_change(
        site: Site, driver: Driver, coordinator: Person, mentor: Person, participant: Person) -> None:
    other_mentor, _other = await other_group(driver)
    number = await ask(driver, participant)
    async with site.browser() as browser:
        await site.sign_in(browser, coordinator)
        page = await browser.get(f"/console/peserta/{participant.id}")
        assert 'id="move-mentor"' in page.text
        assert 'id="move-submit"' in page.text
        moved = await browser.post(f"/console/peserta/{participant.id}/pindah",
                                   data={"csrf": csrf_of(page.text), "mentor": str(other_mentor.id)})

    assert moved.status_code == 200
    assert 'id="participant-mentor">Dewi Lestari<' in moved.text
    stored = await driver.refresh(participant)
    assert stored.mentor_id == other_mentor.id
    async with driver.sessions() as session:
        ticket = await session.get(Ticket, number)
        assert ticket is not None
        assert ticket.mentor_id == other_mentor.id
        actions = (await session.execute(select(AuditEntry.action, AuditEntry.actor_id))).all()
    assert ("mentor_changed", coordinator.id) in actions
    assert any("Dewi Lestari" in text for text in await driver.received(participant))
    assert await site.texts_to(other_mentor)  # the brief


@SQLITE_ONLY
async def test_the_coordinator_messages_and_deactivates_a_participant(
        site: Site, driver: Driver, coordinator: Person, participant: Person) -> None:
    async with site.browser() as browser:
        await site.sign_in(browser, coordinator)
        token = await site.form_token(browser, f"/console/peserta/{participant.id}")
        sent = await browser.post(f"/console/peserta/{participant.id}/pesan",
                                  data={"csrf": token, "text": "Bu Sari, jangan lupa sesi Kamis ya 🙏"})
        gone = await browser.post(f"/console/peserta/{participant.id}/nonaktif", data={"csrf": token})

    assert sent.status_code == 200
    assert t("web.message_sent", name="Sari Wulandari") in sent.text
    assert any("jangan lupa sesi Kamis" in text and "Rina Dinas" in text for text in await driver.received(participant))
    assert gone.status_code == 200
    assert not (await driver.refresh(participant)).is_active


async def test_a_roster_with_a_bad_line_changes_nothing_and_shows_the_line(
        site: Site, driver: Driver, tmp_path: Path, coordinator: Person, mentor: Person) -> None:
    bad = (ROSTER_HEADER + f"peserta,Wati Keripik,081277700001,{mentor.phone},Angkatan 3,Keripik Wati,Beji\n"
           f"peserta,Joko Bengkel,08xx-salah,{mentor.phone},Angkatan 3,Bengkel Joko,Sukmajaya\n")
    good = bad.replace("08xx-salah", "081277700002")
    async with site.browser() as browser:
        await site.sign_in(browser, coordinator)
        token = await site.form_token(browser, "/console/roster")
        refused = await browser.post("/console/roster", data={"csrf": token},
                                     files={"file": ("roster.csv", bad.encode(), "text/csv")})
        async with driver.sessions() as session:
            names = set((await session.execute(select(Person.name))).scalars())
        accepted = await browser.post("/console/roster", data={"csrf": token},
                                      files={"file": ("roster.csv", good.encode(), "text/csv")})

    assert refused.status_code == 400
    assert 'id="roster-errors"' in refused.text
    assert t("roster.line", line=3, reason="").rstrip() in refused.text
    assert "Wati Keripik" not in names
    assert accepted.status_code == 200
    assert 'id="roster-done"' in accepted.text
    async with driver.sessions() as session:
        joined = set((await session.execute(select(Person.name).where(Person.cohort == "Angkatan 3"))).scalars())
    assert joined == {"Wati Keripik", "Joko Bengkel"}


@SQLITE_ONLY
async def test_a_roster_that_is_not_csv_or_xlsx_is_refused(site: Site, coordinator: Person) -> None:
    async with site.browser() as browser:
        await site.sign_in(browser, coordinator)
        token = await site.form_token(browser, "/console/roster")
        answer = await browser.post("/console/roster", data={"csrf": token},
                                    files={"file": ("roster.xls", b"\xd0\xcf\x11\xe0", "application/vnd.ms-excel")})

    assert answer.status_code == 400
    assert t("web.roster_type") in answer.text


@SQLITE_ONLY
async def test_a_participants_story_reads_in_time_order(site: Site, driver: Driver, clock: Clock,
                                                         coordinator: Person, participant: Person) -> None:
    async with driver.sessions.begin() as session:
        session.add(MonthlyReport(participant_id=participant.id, month="2026-02", omzet=3_500_000, workers=2,
                                  customers=40, submitted_at=clock.now - timedelta(days=3),
                                  created_at=clock.now, updated_at=clock.now))
        session.add(NudgeLog(participant_id=participant.id, period="2026-W10", step="nudge",
                             sent_at=clock.now - timedelta(days=1)))
    await ask(driver, participant)
    async with site.browser() as browser:
        await site.sign_in(browser, coordinator)
        story = (await browser.get(f"/console/peserta/{participant.id}")).text

    report, nudge, question = (story.index("Rp 3.500.000"), story.index(t("web.nudge_step_nudge")),
                               story.index("masuk minimarket"))
    assert report < nudge < question
    assert "Februari 2026" in story


@SQLITE_ONLY
async def test_the_list_finds_the_unreachable_and_those_without_consent(
        site: Site, driver: Driver, coordinator: Person, participant: Person, mentor: Person) -> None:
    await driver.add_person(role=Role.PESERTA, name="Nomor Mati", phone="+6281200000031", mentor_id=mentor.id,
                            unreachable_reason="63024 invalid recipient")
    await driver.add_person(role=Role.PESERTA, name="Belum Setuju", phone="+6281200000032", mentor_id=mentor.id,
                            consent_given=None, consent_at=None)
    async with site.browser() as browser:
        await site.sign_in(browser, coordinator)
        unreachable = (await browser.get("/console/peserta?tak_terjangkau=1")).text
        no_consent = (await browser.get("/console/peserta?tanpa_izin=1")).text

    assert "Nomor Mati" in unreachable
    assert "Belum Setuju" not in unreachable
    assert "Belum Setuju" in no_consent
    assert "Sari Wulandari" not in no_consent

"""The web console in a real browser (headless Chromium) against the real app on loopback.

Sign-in codes are read where people read them: the coordinator's from their emulated Telegram
chat, the mentor's from the WhatsApp messages the app asked Twilio (Prism) to send. A failing test
leaves a screenshot and the HTML of every page it saw in tests/artifacts/screens/<test>/.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from handlers.kernel.messages import Attachment, Channel
from handlers.participation.scores import week_of
from storage.models import (
    Assignment,
    AuditEntry,
    NudgeLog,
    NudgeStep,
    ParticipationScore,
    Person,
    Role,
    Submission,
    SubmissionStatus,
    Ticket,
    TicketMessage,
)
from tests.e2e.browser import Browser
from tests.e2e.harness import (
    ANSWER,
    MENTOR_PHONE,
    PARTICIPANT_PHONE,
    Klinik,
    ask_on_whatsapp,
    body,
    mentor_on_telegram,
    participant_on_whatsapp,
)

pytestmark = pytest.mark.e2e

COORDINATOR_PHONE = "+6281300000001"
COORDINATOR_CHAT = 7001
OTHER_MENTOR_PHONE = "+6281100000002"
CODE = re.compile(r"(?<!\d)(\d{6})(?!\d)")
PNG = base64.b64decode("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8DwHwAFBQIAX8jx0gAAAABJRU5ErkJggg==")

ROSTER_HEADER = "role,name,phone,mentor_phone,cohort,business_name,district,channel\n"
ROSTER_WITH_TYPO = ROSTER_HEADER + (
    "peserta,Ani Rahmawati,0812-3000-0001,0811-0000-0001,Angkatan 1,Warung Ani,Beji,whatsapp\n"
    "pesrta,Joko Susilo,0812-3000-0002,0811-0000-0001,Angkatan 1,Bengkel Joko,Cilodong,whatsapp\n"
)


def code_in(text: str) -> str:
    """The six-digit sign-in code in a message from the bot."""
    found = CODE.search(text)
    assert found is not None, f"no code in {text!r}"
    return found.group(1)


async def sign_in(browser: Browser, phone: str, read_code: Callable[[], Awaitable[str]]) -> None:
    """Type the phone number, read the code the bot sent (``read_code()``), type it."""
    await browser.open("/console/masuk")
    await browser.fill("phone", phone)
    await browser.click("send-code")
    code = await read_code()
    await browser.fill("code", code)
    await browser.click("verify")


async def at_risk(klinik: Klinik, person: Person) -> None:
    """Sari's score fell last week and the nudge ladder is running for her."""
    now = datetime.now(UTC)
    week = week_of(now - timedelta(days=7), ZoneInfo(klinik.settings().timezone))
    async with klinik.sessions.begin() as session:
        session.add(ParticipationScore(week=week, participant_id=person.id, mentor_id=person.mentor_id,
                                       cohort=person.cohort, score=22.0, is_active=False, is_dropping=True,
                                       sessions_expected=2, sessions_alpa=2, alpa_streak=2,
                                       reasons=["alpa 2 sesi berturut-turut"], computed_at=now))
        session.add(NudgeLog(participant_id=person.id, period=week, step=NudgeStep.NUDGE,
                             sent_at=now - timedelta(days=2), reasons=["alpa 2 sesi berturut-turut"]))


async def test_coordinator_fixes_the_roster_and_moves_an_at_risk_participant(
        klinik: Klinik, browser: Browser, tmp_path: Path) -> None:
    coordinator = await klinik.add_person(role=Role.KOORDINATOR, name="Rina Dinas", phone=COORDINATOR_PHONE,
                                          telegram_user_id=str(COORDINATOR_CHAT),
                                          telegram_chat_id=str(COORDINATOR_CHAT), preferred_channel="telegram")
    budi = await mentor_on_telegram(klinik)
    dewi = await klinik.add_person(role=Role.PENDAMPING, name="Dewi Lestari", phone=OTHER_MENTOR_PHONE,
                                   preferred_channel="telegram", telegram_user_id="5002", telegram_chat_id="5002")
    sari = await participant_on_whatsapp(klinik, budi)
    await klinik.add_person(role=Role.PESERTA, name="Rudi Hartono", phone="+6281200000002", mentor_id=budi.id,
                            cohort="Angkatan 1", preferred_channel="whatsapp")
    await at_risk(klinik, sari)
    await klinik.start()
    await ask_on_whatsapp(klinik, PARTICIPANT_PHONE, "kak, modal buat beli oven dari mana ya? KUR bisa ga")
    await klinik.settled()

    async def telegram_code() -> str:
        message = await klinik.emulator.wait_for(klinik.token, COORDINATOR_CHAT, lambda m: bool(CODE.search(m.text or "")))
        return code_in(message.text or "")

    await sign_in(browser, COORDINATOR_PHONE, telegram_code)
    assert await browser.wait_path("/console/") == "/console/"
    session_cookie = await browser.cookie("klinik_sesi")
    assert session_cookie is not None
    assert (session_cookie["httpOnly"], session_cookie["sameSite"]) == (True, "Lax")

    # A roster with a typo on line 3: the page says which line and why, and nobody is added.
    people_before = await klinik.count(Person)
    roster = tmp_path / "roster.csv"
    roster.write_text(ROSTER_WITH_TYPO, encoding="utf-8")
    await browser.open("/console/roster")
    await browser.attach("roster-file", roster)
    await browser.click("roster-submit")
    errors = await browser.text("roster-errors")
    assert "baris 3" in errors
    assert "pesrta" in errors
    assert await klinik.count(Person) == people_before

    # Fixed, the same file goes in whole.
    roster.write_text(ROSTER_WITH_TYPO.replace("pesrta,", "peserta,"), encoding="utf-8")
    await browser.open("/console/roster")
    await browser.attach("roster-file", roster)
    await browser.click("roster-submit")
    assert not await browser.has("roster-errors")
    assert "dibuat 2" in await browser.text("roster-done")
    added = await klinik.all(Person, Person.phone.in_(["+6281230000001", "+6281230000002"]))
    assert sorted((p.name, p.mentor_id) for p in added) == [("Ani Rahmawati", budi.id), ("Joko Susilo", budi.id)]

    # The at-risk filter finds Sari (and not Rudi, who is fine); her story shows her question.
    await browser.open("/console/peserta")
    await browser.tick("f-at-risk")
    await browser.click("filter-submit")
    listed = await browser.text("participants")
    assert "Sari Wulandari" in listed
    assert "Rudi Hartono" not in listed
    await browser.follow("Sari Wulandari")
    assert await browser.where() == f"/console/peserta/{sari.id}"
    assert "modal buat beli oven" in await browser.text()

    # Moved to Dewi: the record, the open question, and Sari is told on WhatsApp who helps her now.
    await browser.choose("move-mentor", "Dewi Lestari")
    await browser.click("move-submit")
    (moved,) = await klinik.all(Person, Person.id == sari.id)
    assert moved.mentor_id == dewi.id
    (ticket,) = await klinik.all(Ticket, Ticket.participant_id == sari.id)
    assert ticket.mentor_id == dewi.id
    told = await klinik.wait_whatsapp(PARTICIPANT_PHONE, lambda r: "Dewi" in body(r))
    assert "Dewi Lestari" in body(told)
    actions = [entry.action for entry in await klinik.all(AuditEntry, AuditEntry.actor_id == coordinator.id)]
    assert {"console_sign_in", "mentor_changed"} <= set(actions)

    # The mentors' table of the month counts Sari with Dewi now (Budi keeps Rudi, Ani and Joko).
    await browser.click("nav-pendamping")
    assert (await browser.text(f"mentor-{dewi.id}")).split(" Dewi Lestari ")[1].split()[0] == "1"
    assert (await browser.text(f"mentor-{budi.id}")).split(" Budi Santoso ")[1].split()[0] == "3"


async def test_mentor_answers_in_the_page_and_the_participant_gets_it_on_whatsapp(
        klinik: Klinik, browser: Browser) -> None:
    now = datetime.now(UTC)
    budi = await klinik.add_person(role=Role.PENDAMPING, name="Budi Santoso", phone=MENTOR_PHONE,
                                   preferred_channel="whatsapp", topics="legalitas;pemasaran",
                                   last_inbound_at=now, last_whatsapp_inbound_at=now)  # wrote earlier today
    sari = await participant_on_whatsapp(klinik, budi)
    await klinik.start()
    await ask_on_whatsapp(klinik, PARTICIPANT_PHONE)
    await klinik.wait_whatsapp(MENTOR_PHONE, lambda r: "NIB" in body(r))  # his notification of the question
    (ticket,) = await klinik.all(Ticket, Ticket.participant_id == sari.id)

    async def whatsapp_code() -> str:
        return code_in(body(await klinik.wait_whatsapp(MENTOR_PHONE, lambda r: bool(CODE.search(body(r))))))

    await sign_in(browser, MENTOR_PHONE, whatsapp_code)
    assert await browser.wait_path("/console/antrian") == "/console/antrian"
    assert "Sari Wulandari" in await browser.text("queue")
    await browser.follow(f"#{ticket.id}")
    assert "daftar NIB" in await browser.text()
    await browser.fill("answer", ANSWER)
    await browser.click("answer-submit")

    delivered = await klinik.wait_whatsapp(PARTICIPANT_PHONE, lambda r: ANSWER in body(r))
    assert "Budi" in body(delivered)
    answers = await klinik.all(TicketMessage, TicketMessage.ticket_id == ticket.id, TicketMessage.author_id == budi.id)
    assert [message.text for message in answers] == [ANSWER]
    (answered,) = await klinik.all(Ticket, Ticket.id == ticket.id)
    assert answered.first_response_at is not None


async def test_mentor_reviews_a_tugas_with_its_photo_in_the_page(klinik: Klinik, browser: Browser) -> None:
    now = datetime.now(UTC)
    budi = await klinik.add_person(role=Role.PENDAMPING, name="Budi Santoso", phone=MENTOR_PHONE,
                                   preferred_channel="whatsapp", last_inbound_at=now, last_whatsapp_inbound_at=now)
    dewi = await klinik.add_person(role=Role.PESERTA, name="Dewi Lestari", phone="+6281200000002", mentor_id=budi.id,
                                   cohort="Angkatan 1", telegram_user_id="6002", telegram_chat_id="6002",
                                   preferred_channel="telegram")
    # Dewi sent her photo on Telegram: the submission keeps Telegram's file_id, fetched through the Bot API.
    file_id = await klinik.emulator.put_file(PNG, file_name="etalase.png", mime_type="image/png")
    async with klinik.sessions.begin() as session:
        tugas = Assignment(title="Foto etalase", cohort="Angkatan 1", mentor_id=budi.id, created_by_id=budi.id,
                           due_at=now + timedelta(days=3), created_at=now - timedelta(days=1))
        session.add(tugas)
        await session.flush()
        photo = Attachment("photo", file_id, Channel.TELEGRAM, "image/png", "etalase.png")
        submission = Submission(assignment_id=tugas.id, participant_id=dewi.id, text="etalase baru kak, udah rapi?",
                                attachments=[photo.to_json()], submitted_at=now)
        session.add(submission)
    await klinik.start()

    async def whatsapp_code() -> str:
        return code_in(body(await klinik.wait_whatsapp(MENTOR_PHONE, lambda r: bool(CODE.search(body(r))))))

    await sign_in(browser, MENTOR_PHONE, whatsapp_code)
    await browser.wait_path("/console/antrian")
    await browser.open(f"/console/tugas/{tugas.id}")
    assert "etalase baru kak" in await browser.text(f"submission-{dewi.id}")
    link = f"file-tugas-{submission.id}-0"
    assert await browser.has(link)
    assert await browser.image_loaded(f"#{link} img")  # the thumbnail came through the signed-in route
    ((_name, path),) = await browser.links(f"#{link}")
    assert path == f"/console/berkas/tugas/{submission.id}/0"

    await browser.open(path)  # the link opens the photo itself
    assert await browser.content_type() == "image/png"
    assert await browser.image_loaded("img")

    await browser.open(f"/console/tugas/{tugas.id}")
    await browser.click(f"accept-{submission.id}")
    (reviewed,) = await klinik.all(Submission, Submission.id == submission.id)
    assert (reviewed.status, reviewed.reviewed_by_id) == (SubmissionStatus.DITERIMA, budi.id)

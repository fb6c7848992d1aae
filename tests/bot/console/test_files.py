"""Files in the console: a tugas submission's, an izin request's and a ticket message's attachments open through
the signed-in file route, checked like the page that lists them (a mentor: only their own participants')."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from handlers.kernel.config import Config
from handlers.kernel.i18n import t
from handlers.kernel.messages import Attachment, Channel
from handlers.reports.digest import save_media
from storage.models import (
    Assignment,
    LeaveRequest,
    Meeting,
    Person,
    Role,
    Submission,
    Ticket,
    TicketMessage,
)
from tests.bot.console.site import Site
from tests.conftest import JAKARTA
from tests.support.driver import Clock, Driver

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64  # a photo of the product, as far as the console can tell
PDF = b"%PDF-1.4\n% surat dokter\n"


@pytest.fixture
def config(tmp_path: Path) -> Config:
    return Config(timezone=JAKARTA, coordinator_contact="Dinas KUKM (021-000)", media_dir=str(tmp_path / "media"))


@pytest.fixture
def site(sessions: async_sessionmaker[AsyncSession], config: Config, clock: Clock) -> Site:
    return Site(sessions, config, clock)


async def stored(driver: Driver, content: bytes, mime: str, name: str) -> Attachment:
    """A file kept by the bot (as the storage functions keep them), referred to as `media:<token>`."""
    async with driver.sessions.begin() as session:
        return await save_media(session, kind="photo" if mime.startswith("image/") else "document",
                                suffix=Path(name).suffix, mime=mime, name=name, now=driver.clock.now,
                                config=driver.config, write=lambda path: path.write_bytes(content))


async def files_of(driver: Driver, participant: Person, tugas: Assignment) -> dict[str, int]:
    """The participant's submission (a photo), izin request (a PDF) and question with a photo."""
    now = driver.clock.now
    photo = await stored(driver, PNG, "image/png", "etalase keripik.png")
    letter = await stored(driver, PDF, "application/pdf", "surat-dokter.pdf")
    async with driver.sessions.begin() as session:
        meeting = Meeting(title="Kelas pemasaran", cohort=participant.cohort, starts_at=now + timedelta(days=1),
                          ends_at=now + timedelta(days=1, hours=2), checkin_code="4821",
                          checkin_opens_at=now + timedelta(days=1), checkin_closes_at=now + timedelta(days=1, hours=2),
                          late_after_at=now + timedelta(days=1, minutes=15), created_at=now)
        ticket = Ticket(participant_id=participant.id, mentor_id=participant.mentor_id, topic="pemasaran",
                        created_at=now, last_message_at=now)
        session.add_all([meeting, ticket])
        await session.flush()
        submission = Submission(assignment_id=tugas.id, participant_id=participant.id, text="ini foto etalase kak",
                                attachments=[photo.to_json()], submitted_at=now)
        leave = LeaveRequest(meeting_id=meeting.id, participant_id=participant.id, kind="sakit",
                             reason="lagi demam kak", attachments=[letter.to_json()], created_at=now)
        message = TicketMessage(ticket_id=ticket.id, author_id=participant.id, kind="question",
                                text="kemasan begini udah oke belum?", attachments=[photo.to_json()], created_at=now)
        session.add_all([submission, leave, message])
        await session.flush()
        return {"tugas": submission.id, "izin": leave.id, "tiket": message.id, "ticket": ticket.id}


async def world(driver: Driver, mentor: Person, participant: Person) -> tuple[dict[str, int], dict[str, int], Person]:
    """Budi's Sari and Dewi's Tono, each with their files; and Dewi."""
    dewi = await driver.add_person(role=Role.PENDAMPING, name="Dewi Lestari", phone="+6281100000009")
    tono = await driver.add_person(role=Role.PESERTA, name="Tono Martono", phone="+6281200000009",
                                   mentor_id=dewi.id, cohort="Angkatan 1")
    async with driver.sessions.begin() as session:
        tugas = Assignment(title="Foto etalase", cohort="Angkatan 1", due_at=driver.clock.now + timedelta(days=3),
                           created_at=driver.clock.now)
        session.add(tugas)
    return await files_of(driver, participant, tugas), await files_of(driver, tono, tugas), dewi


async def test_a_mentor_opens_their_participants_files_from_the_pages_that_list_them(
        site: Site, driver: Driver, mentor: Person, participant: Person) -> None:
    sari, _tono, _dewi = await world(driver, mentor, participant)
    async with site.browser() as browser:
        await site.sign_in(browser, mentor)
        async with driver.sessions() as session:
            assignment_id = (await session.get(Submission, sari["tugas"])).assignment_id  # type: ignore[union-attr]
        tugas_page = await browser.get(f"/console/tugas/{assignment_id}")
        leave_page = await browser.get("/console/izin")
        ticket_page = await browser.get(f"/console/tiket/{sari['ticket']}")
        story = await browser.get(f"/console/peserta/{participant.id}")
        photo = await browser.get(f"/console/berkas/tugas/{sari['tugas']}/0")
        letter = await browser.get(f"/console/berkas/izin/{sari['izin']}/0")
        asked = await browser.get(f"/console/berkas/tiket/{sari['tiket']}/0")

    link = f'href="/console/berkas/tugas/{sari["tugas"]}/0"'
    assert link in tugas_page.text
    assert f'<img src="/console/berkas/tugas/{sari["tugas"]}/0"' in tugas_page.text  # a thumbnail
    assert f'href="/console/berkas/izin/{sari["izin"]}/0"' in leave_page.text
    assert f'href="/console/berkas/tiket/{sari["tiket"]}/0"' in ticket_page.text
    assert link in story.text
    assert f'href="/console/berkas/tiket/{sari["tiket"]}/0"' in story.text
    assert (photo.status_code, photo.content, photo.headers["content-type"]) == (200, PNG, "image/png")
    assert photo.headers["content-disposition"] == 'inline; filename="etalase keripik.png"'
    assert photo.headers["x-content-type-options"] == "nosniff"
    assert "sandbox" in photo.headers["content-security-policy"]
    assert photo.headers["cache-control"] == "no-store"
    assert (letter.status_code, letter.content, letter.headers["content-type"]) == (200, PDF, "application/pdf")
    assert letter.headers["content-disposition"] == 'attachment; filename="surat-dokter.pdf"'  # never shown inline
    assert (asked.status_code, asked.content) == (200, PNG)


async def test_a_mentor_cannot_fetch_another_groups_files(
        site: Site, driver: Driver, mentor: Person, participant: Person) -> None:
    _sari, tono, _dewi = await world(driver, mentor, participant)
    async with site.browser() as browser:
        await site.sign_in(browser, mentor)
        answers = {kind: await browser.get(f"/console/berkas/{kind}/{tono[kind]}/0") for kind in ("tugas", "izin", "tiket")}

    assert {kind: answer.status_code for kind, answer in answers.items()} == dict.fromkeys(answers, 403)
    assert all(PNG not in answer.content and PDF not in answer.content for answer in answers.values())
    assert t("web.refused_not_yours") in answers["tugas"].text
    assert t("web.refused_not_yours") in answers["izin"].text
    assert answers["tugas"].headers["content-type"].startswith("text/html")


async def test_a_coordinator_opens_any_groups_files_and_an_expert_only_their_tickets(
        site: Site, driver: Driver, mentor: Person, participant: Person, coordinator: Person) -> None:
    _sari, tono, _dewi = await world(driver, mentor, participant)
    expert = await driver.add_person(role=Role.NARASUMBER, name="Hasan Narasumber", phone="+6281100000101")
    async with site.browser() as browser:
        await site.sign_in(browser, coordinator)
        seen = [await browser.get(f"/console/berkas/{kind}/{tono[kind]}/0") for kind in ("tugas", "izin", "tiket")]
    async with site.browser() as browser:
        await site.sign_in(browser, expert)
        tugas = await browser.get(f"/console/berkas/tugas/{tono['tugas']}/0")
        ticket = await browser.get(f"/console/berkas/tiket/{tono['tiket']}/0")

    assert [answer.status_code for answer in seen] == [200, 200, 200]
    assert [answer.content for answer in seen] == [PNG, PDF, PNG]
    assert (tugas.status_code, ticket.status_code) == (403, 403)
    assert t("web.refused_role") in tugas.text
    assert PNG not in ticket.content


async def test_missing_files_bad_paths_and_signed_out_visitors(
        site: Site, driver: Driver, mentor: Person, participant: Person) -> None:
    sari, _tono, _dewi = await world(driver, mentor, participant)
    async with driver.sessions.begin() as session:
        gone = Submission(assignment_id=(await session.get(Submission, sari["tugas"])).assignment_id,  # type: ignore[union-attr]
                          participant_id=participant.id, version=2, submitted_at=driver.clock.now,
                          attachments=[Attachment("photo", "AgAD-telegram-file", Channel.TELEGRAM, "image/jpeg").to_json()])
        session.add(gone)
        await session.flush()
        gone_id = gone.id
    async with site.browser() as outside:
        signed_out = await outside.get(f"/console/berkas/tugas/{sari['tugas']}/0")
    async with site.browser() as browser:
        await site.sign_in(browser, mentor)
        answers = [await browser.get(path) for path in (
            f"/console/berkas/tugas/{sari['tugas']}/1", f"/console/berkas/foto/{sari['tugas']}/0",
            "/console/berkas/tugas/999999/0", f"/console/berkas/tugas/{sari['tugas']}/x")]
        unfetchable = await browser.get(f"/console/berkas/tugas/{gone_id}/0")  # Telegram is not configured here

    assert (signed_out.status_code, signed_out.headers["location"]) == (303, "/console/masuk")
    assert [answer.status_code for answer in answers] == [404, 404, 404, 404]
    assert unfetchable.status_code == 502
    assert t("files.unavailable") in unfetchable.text

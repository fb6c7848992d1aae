"""UU PDP rights in practice: withdrawing consent by typing, `data saya`, erasure, versioned consent, retention."""

from __future__ import annotations

import asyncio
import json
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import JSON, String, Text, func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.cli import main
from handlers.activities.session_form import announce_meeting
from handlers.kernel.config import Config
from handlers.kernel.consent import consent_version
from handlers.kernel.i18n import catalog
from handlers.kernel.messages import Attachment, Channel
from handlers.kernel.outbox import message_of
from handlers.participation.scores import compute_scores, week_of
from scheduler.jobs import JOBS
from scheduler.runner import run_job
from storage.models import (
    Attendance,
    AuditEntry,
    Base,
    ConsentRecord,
    InboxItem,
    LeaveRequest,
    MediaLink,
    Meeting,
    MonthlyReport,
    OutboxMessage,
    OutboxStatus,
    Person,
    Role,
    Submission,
    Ticket,
    TicketMessage,
    TicketStatus,
    UnknownContact,
)
from tests.support.driver import Driver
from tests.support.programme import Programme

TG = Channel.TELEGRAM
JAKARTA = ZoneInfo("Asia/Jakarta")
CONFIRM_WITHDRAW = "Anda ingin mencabut persetujuan pemrosesan data?"


@pytest.fixture
def config(tmp_path: Path) -> Config:
    """The shared test settings, with generated files kept in the test's folder."""
    return Config(timezone=JAKARTA, coordinator_contact="Dinas KUKM (021-000)", media_dir=str(tmp_path / "media"))


async def ask(driver: Driver, participant: Person, text: str) -> None:
    await driver.say(participant, text)
    await driver.press(participant, "tp:legalitas")


async def rows(driver: Driver, model: type[Any], *where: Any) -> list[Any]:
    async with driver.sessions() as session:
        return list((await session.execute(select(model).where(*where).order_by(model.id))).scalars())


# ---------------------------------------------------------------------- withdrawing and coming back


async def test_typed_withdrawal_is_confirmed_stops_processing_and_tells_mentor_and_coordinator(
        driver: Driver, participant: Person, mentor: Person, coordinator: Person) -> None:
    await ask(driver, participant, "kak cara daftar NIB gimana")
    await driver.received(mentor)

    await driver.say(participant, "cabut persetujuan")
    confirm = await driver.last(participant)
    await driver.say(participant, "1")

    assert message_of(confirm).text.startswith(CONFIRM_WITHDRAW)
    assert [b.payload for b in message_of(confirm).buttons] == ["pdp:withdraw", "pdp:keep"]
    assert (await driver.received(participant))[-1].startswith("Persetujuan Anda sudah dicabut.")
    assert (await driver.refresh(participant)).consent_given is False
    assert await driver.received(mentor) == [
        "ℹ️ Sari Wulandari mencabut persetujuan data. Bot tidak lagi memproses pesannya atau mengirim pengingat; "
        "pertanyaannya yang terbuka sudah ditutup."]
    assert (await driver.received(coordinator)) == [
        "ℹ️ Sari Wulandari (+6281200000001) mencabut persetujuan data lewat chat. Data tidak lagi diproses."]
    assert (await rows(driver, Ticket))[0].status == TicketStatus.CLOSED
    assert [m.text for m in await rows(driver, TicketMessage)] == ["kak cara daftar NIB gimana"]
    (record,) = await rows(driver, ConsentRecord)
    assert (record.given, record.action, record.channel, record.version) == (
        False, "withdrawn", "whatsapp", consent_version())


async def test_after_withdrawal_nothing_is_processed_until_setuju(driver: Driver, participant: Person,
                                                                   mentor: Person) -> None:
    await driver.say(participant, "saya mau berhenti kak")
    await driver.press(participant, "pdp:withdraw")
    await driver.say(participant, "kak modal usaha dari mana ya")

    assert await rows(driver, Ticket) == []
    await driver.say(participant, "setuju")

    stored = await driver.refresh(participant)
    assert (stored.consent_given, stored.consent_channel, stored.consent_version) == (True, "whatsapp",
                                                                                      consent_version())
    history = [(r.action, r.given, r.channel) for r in await rows(driver, ConsentRecord)]
    assert history == [("withdrawn", False, "whatsapp"), ("agreed", True, "whatsapp")]


@pytest.mark.parametrize("text", ["cabut persetujuan", "Cabut persetujuan saya kak", "berhenti",
                                  "mau berhenti dari program ini", "tarik prsetujuan", "saya tidak setuju lagi",
                                  "stop kirim pesan"])
async def test_close_variants_ask_to_confirm_withdrawal(driver: Driver, participant: Person, text: str) -> None:
    await driver.say(participant, text)

    assert (await driver.received(participant))[-1].startswith(CONFIRM_WITHDRAW)


@pytest.mark.parametrize("text", ["usaha saya berhenti produksi karena modal habis", "berhenti jualan online bagus?",
                                  "cara cabut izin usaha lama gmn"])
async def test_sentences_about_the_business_stay_questions(driver: Driver, participant: Person, text: str) -> None:
    await driver.say(participant, text)

    assert not any(CONFIRM_WITHDRAW in said for said in await driver.received(participant))
    assert (await driver.refresh(participant)).consent_given is True


async def test_saying_no_keeps_consent(driver: Driver, participant: Person) -> None:
    await driver.say(participant, "berhenti")
    await driver.say(participant, "2")

    assert (await driver.received(participant))[-1] == "Baik, persetujuan Anda tetap berlaku."
    assert (await driver.refresh(participant)).consent_given is True


async def test_erasure_request_in_chat_reaches_the_coordinators(driver: Driver, participant: Person,
                                                                coordinator: Person) -> None:
    await driver.say(participant, "tolong hapus data saya")
    await driver.press(participant, "pdp:erase")

    assert (await driver.received(coordinator))[-1] == (
        "🗑️ Sari Wulandari (+6281200000001) meminta datanya dihapus. Persetujuannya sudah dicabut. Jalankan "
        "*klinik pdp erase +6281200000001* untuk menghapus.")
    assert (await driver.refresh(participant)).consent_given is False


async def test_a_changed_consent_text_asks_again(driver: Driver, mentor: Person,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    sari = await driver.add_person(role=Role.PESERTA, name="Sari", phone="+6281200000009", mentor_id=mentor.id,
                                   consent_given=None, consent_at=None)
    await driver.say(sari, "halo")
    await driver.say(sari, "1")
    first = (await driver.refresh(sari)).consent_version
    await driver.say(sari, "menu")
    assert (await driver.received(sari))[-1].startswith("Halo Sari!")

    texts = catalog()
    monkeypatch.setitem(texts["id"], "core.consent_question", texts["id"]["core.consent_question"] + " (revisi)")
    await driver.say(sari, "menu")
    asked = await driver.received(sari)
    await driver.say(sari, "setuju")

    assert asked[0] == "Teks persetujuan data kami sudah berubah sejak Anda menyetujuinya. Mohon baca dan setujui lagi."
    assert "Apakah Anda setuju? (revisi)" in asked[1]
    assert (await driver.refresh(sari)).consent_version == consent_version() != first


# ---------------------------------------------------------------------- no consent, no processing


async def test_people_without_consent_get_no_announcements_and_no_score(
        driver: Driver, sessions: async_sessionmaker[AsyncSession], mentor: Person, participant: Person,
        config: Config) -> None:
    never = await driver.add_person(role=Role.PESERTA, name="Dewi", phone="+6281200000002", mentor_id=mentor.id,
                                    cohort="Angkatan 1", consent_given=None)
    declined = await driver.add_person(role=Role.PESERTA, name="Eka", phone="+6281200000003", mentor_id=mentor.id,
                                       cohort="Angkatan 1", consent_given=False)
    async with sessions.begin() as session:
        meeting = Meeting(title="Kelas", cohort="Angkatan 1", starts_at=driver.clock.now + timedelta(days=1),
                          ends_at=driver.clock.now + timedelta(days=1, hours=2), checkin_code="1234",
                          checkin_opens_at=driver.clock.now, checkin_closes_at=driver.clock.now + timedelta(days=2),
                          late_after_at=driver.clock.now + timedelta(days=1), created_at=driver.clock.now)
        session.add(meeting)
        await session.flush()
        told = {message.person_id for message in await announce_meeting(session, meeting, config)}
        scored = {s.participant_id for s in await compute_scores(session, week_of(driver.clock.now, JAKARTA),
                                                                 driver.clock.now, config)}

    assert told == scored == {participant.id}
    assert never.id not in told
    assert declined.id not in told


# ---------------------------------------------------------------------- data saya


async def test_data_saya_sends_a_file_whose_contents_match_the_database(
        driver: Driver, participant: Person, mentor: Person, config: Config) -> None:
    driver.config = config
    await ask(driver, participant, "kak cara daftar NIB gimana")
    await driver.say(mentor, "jawab 1 Daftar lewat oss.go.id ya", channel=TG)
    await driver.say(participant, "data saya")

    row = await driver.last(participant)
    (attachment,) = message_of(row).attachments
    assert message_of(row).text.startswith("📄 Ini salinan data Anda di Klinik Bisnis")
    assert (attachment.kind, attachment.mime, attachment.name) == ("document", "application/json",
                                                                   "data-saya-20260304.json")
    async with driver.sessions() as session:
        link = await session.get(MediaLink, attachment.ref.removeprefix("media:"))
        assert link is not None
        assert link.expires_at == driver.clock.now + timedelta(hours=24)
        stored = await session.get(Person, participant.id)
    data = json.loads(await asyncio.to_thread(Path(link.ref).read_text, encoding="utf-8"))
    assert data["profile"]["name"] == stored.name == "Sari Wulandari"
    assert (data["profile"]["phone"], data["profile"]["business_name"], data["profile"]["mentor"]) == (
        "+6281200000001", "Keripik Sari", "Budi Santoso")
    (question,) = data["questions"]
    assert [(m["from"], m["text"]) for m in question["messages"]] == [
        ("you", "kak cara daftar NIB gimana"), ("Budi Santoso", "Daftar lewat oss.go.id ya")]
    assert question["number"] == 1
    assert question["status"] == "answered"


async def test_data_saya_works_without_consent(driver: Driver, participant: Person, config: Config) -> None:
    driver.config = config
    await driver.say(participant, "berhenti")
    await driver.press(participant, "pdp:withdraw")
    await driver.say(participant, "data saya")

    assert message_of(await driver.last(participant)).attachments


# ---------------------------------------------------------------------- erasure

NIK = "3201234567890001"
QUESTION = "kak cara daftar NIB untuk keripik pedas level lima"
FOLLOW_UP = "ini foto dapur produksi kami di gang mawar"
SUBMISSION = "Harga jual keripik pedas Rp15.000 per bungkus"
LEAVE_REASON = "anak saya demam tinggi sejak kemarin"
PROBLEM = "bahan baku singkong mahal sekali bulan ini"


def personal_strings(person: Person) -> list[str]:
    return [person.name, person.phone, person.phone.lstrip("+"), "0" + person.phone[3:], person.business_name,
            "880077", NIK, QUESTION, FOLLOW_UP, SUBMISSION, LEAVE_REASON, PROBLEM]


async def text_values(session: AsyncSession) -> list[tuple[str, str, str]]:
    """(table, column, value) of every string and JSON column of every table."""
    found = []
    for table in Base.metadata.sorted_tables:
        columns = [c for c in table.columns if isinstance(c.type, String | Text | JSON)]
        if not columns:
            continue
        for row in await session.execute(select(*columns)):
            for column, value in zip(columns, row, strict=True):
                if value is not None:
                    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
                    found.append((table.name, column.name, text))
    return found


async def test_erasure_leaves_no_personal_string_in_any_table_and_keeps_the_counts(
        driver: Driver, sessions: async_sessionmaker[AsyncSession], participant: Person, mentor: Person,
        coordinator: Person, config: Config, db_url: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    driver.config = config
    programme = Programme(sessions)
    early = "halo saya Sari Wulandari no 081200000001 mau daftar"  # written before she was on the roster
    await programme.add(
        UnknownContact(channel="whatsapp", address=participant.phone, phone=participant.phone,
                       display_name=participant.name, last_text=early, message_count=1,
                       first_seen_at=driver.clock.now, last_seen_at=driver.clock.now),
        InboxItem(channel="whatsapp", external_id="SM-early", received_at=driver.clock.now,
                  processed_at=driver.clock.now, payload={"channel": "whatsapp", "address": participant.phone,
                                                          "external_id": "SM-early", "text": early,
                                                          "received_at": driver.clock.now.isoformat()}))
    await programme.set_person(participant, extra={"nik": NIK}, telegram_user_id="880077", telegram_chat_id="880077")
    await ask(driver, participant, QUESTION)
    await driver.say(participant, FOLLOW_UP, attachments=[Attachment("photo", "MEDIA-1", Channel.WHATSAPP,
                                                                      "image/jpeg")])
    await driver.say(mentor, "jawab 1 Halo Sari Wulandari, daftar lewat oss.go.id", channel=TG)
    await driver.say(participant, "sudah, makasih kak 5 bintang mantap")
    await driver.say(participant, "data saya")
    meeting = await programme.meeting(driver.clock.now - timedelta(days=1), cohort="Angkatan 1",
                                      present={participant: "hadir"})
    tugas = await programme.tugas(driver.clock.now, cohort="Angkatan 1")
    await programme.add(
        Submission(assignment_id=tugas.id, participant_id=participant.id, version=2, text=SUBMISSION,
                   submitted_at=driver.clock.now),
        LeaveRequest(meeting_id=meeting.id, participant_id=participant.id, kind="sakit", reason=LEAVE_REASON,
                     created_at=driver.clock.now),
        MonthlyReport(participant_id=participant.id, month="2026-02", omzet=3_500_000, workers=2, customers=40,
                      main_problem=PROBLEM, submitted_at=driver.clock.now, created_at=driver.clock.now,
                      updated_at=driver.clock.now))
    async with sessions() as session:
        before = await text_values(session)
        counts = {model.__tablename__: await session.scalar(select(func.count()).select_from(model))
                  for model in (Ticket, TicketMessage, Attendance, Submission, MonthlyReport)}
        export_files = [Path(link.ref) for link in (await session.execute(select(MediaLink))).scalars()]
    assert [term for term in personal_strings(participant) if not any(term in value for *_, value in before)] == []
    monkeypatch.setenv("KLINIK_DATABASE_URL", db_url)
    monkeypatch.setenv("KLINIK_MEDIA_DIR", str(tmp_path / "media"))

    assert await asyncio.to_thread(main, ["pdp", "erase", "0812-0000-0001", "--yes"]) == 0

    async with sessions() as session:
        after = await text_values(session)
        assert counts == {model.__tablename__: await session.scalar(select(func.count()).select_from(model))
                          for model in (Ticket, TicketMessage, Attendance, Submission, MonthlyReport)}
        erased = await session.get(Person, participant.id)
        report = (await session.execute(select(MonthlyReport))).scalar_one()
        (entry,) = (await session.execute(select(AuditEntry).where(AuditEntry.action == "pdp_erase"))).scalars()
    leaks = [(table, column, term) for table, column, value in after for term in personal_strings(participant)
             if term in value]
    assert sorted(set(leaks)) == []
    assert erased is not None
    assert (erased.name, erased.is_active, erased.role, erased.cohort) == (
        "(data dihapus)", False, "peserta", "Angkatan 1")
    assert (report.omzet, report.workers) == (3_500_000, 2)  # the programme's figures stay
    assert entry.subject == f"person:{participant.id}"
    assert entry.detail["source"] == "cli"
    assert export_files
    assert not any(path.exists() for path in export_files)


def test_erase_asks_for_confirmation(cli_db: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                     capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "r.csv").write_text("role,name,phone\nkoordinator,Rina Dinas,0813-0000-0001\n", encoding="utf-8")
    assert main(["roster", "import", str(tmp_path / "r.csv")]) == 0
    monkeypatch.setattr("builtins.input", lambda _prompt: "tidak")

    assert main(["pdp", "erase", "0813-0000-0001"]) == 1
    assert capsys.readouterr().err.strip() == "Dibatalkan; tidak ada yang dihapus."
    assert main(["pdp", "export", "0813-0000-0001", "--out", str(tmp_path / "rina.json")]) == 0
    assert json.loads((tmp_path / "rina.json").read_text(encoding="utf-8"))["profile"]["name"] == "Rina Dinas"


@pytest.fixture
def cli_db(tmp_path: Path, sqlite_template: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    import shutil

    path = tmp_path / "cli.db"
    shutil.copy(sqlite_template, path)
    monkeypatch.chdir(tmp_path)
    url = f"sqlite+aiosqlite:///{path}"
    monkeypatch.setenv("KLINIK_DATABASE_URL", url)
    return url


# ---------------------------------------------------------------------- retention


async def test_retention_job_removes_exactly_what_is_due(
        sessions: async_sessionmaker[AsyncSession], config: Config, tmp_path: Path) -> None:
    now = datetime(2026, 6, 10, 2, 5, tzinfo=JAKARTA)  # the daily run at 02:00
    days = timedelta(days=1)
    media = tmp_path / "media"
    media.mkdir()
    files = {name: media / f"{name}.bin" for name in ("expired", "old", "fresh")}
    for path in files.values():
        path.write_bytes(b"x")
    payload = {"channel": "whatsapp", "address": "+6281299999999", "external_id": "x", "text": "rahasia",
               "received_at": now.isoformat()}
    part = {"text": "isi pesan", "part": 1, "parts": 1}

    def inbox(key: str, age: timedelta, processed: bool) -> InboxItem:
        return InboxItem(channel="whatsapp", external_id=key, payload=payload | {"external_id": key},
                         received_at=now - age, processed_at=now - age if processed else None)

    def outbox(status: str, age: timedelta) -> OutboxMessage:
        return OutboxMessage(channel="whatsapp", address="+6281299999999", payload=part, status=status,
                             created_at=now - age, next_attempt_at=now - age)

    def link(name: str, age: timedelta, expires_in: timedelta) -> MediaLink:
        return MediaLink(token=name, source="file", ref=str(files[name]), name=f"{name}.bin", created_at=now - age,
                         expires_at=now + expires_in)

    def unknown(address: str, age: timedelta) -> UnknownContact:
        return UnknownContact(channel="whatsapp", address=address, phone=address, display_name="Tamu",
                              last_text="mau daftar", message_count=1, first_seen_at=now - age, last_seen_at=now - age)

    async with sessions.begin() as session:
        session.add_all([
            inbox("old", 31 * days, True), inbox("young", 29 * days, True), inbox("unprocessed", 40 * days, False),
            outbox(OutboxStatus.SENT, 91 * days), outbox(OutboxStatus.FAILED, 95 * days),
            outbox(OutboxStatus.PENDING, 100 * days), outbox(OutboxStatus.HELD, 100 * days),
            outbox(OutboxStatus.SENT, 89 * days),
            link("expired", 2 * days, -days), link("old", 31 * days, 10 * days), link("fresh", days, days),
            unknown("+6281211111111", 91 * days), unknown("+6281222222222", 89 * days)])
    retention = next(job for job in JOBS if job.id == "retention")

    await run_job(retention, sessions, config, now - timedelta(hours=1))  # 01:05: not yet
    async with sessions() as session:
        assert all(i.payload.get("text") for i in (await session.execute(select(InboxItem))).scalars())
    await run_job(retention, sessions, config, now)
    await run_job(retention, sessions, config, now + timedelta(minutes=30))  # once a day

    async with sessions() as session:
        inboxes = {i.external_id: i.payload for i in (await session.execute(select(InboxItem))).scalars()}
        outboxes = [(o.status, message_of(o).text) for o in
                    (await session.execute(select(OutboxMessage).order_by(OutboxMessage.id))).scalars()]
        links = set((await session.execute(select(MediaLink.token))).scalars())
        unknowns = set((await session.execute(select(UnknownContact.address))).scalars())
    assert inboxes == {"old": {"redacted": True}, "young": payload | {"external_id": "young"},
                       "unprocessed": payload | {"external_id": "unprocessed"}}
    assert outboxes == [("sent", ""), ("failed", ""), ("pending", "isi pesan"), ("held", "isi pesan"),
                        ("sent", "isi pesan")]
    assert links == {"fresh"}
    assert [path.exists() for path in files.values()] == [False, False, True]
    assert unknowns == {"+6281222222222"}


async def test_withdrawal_by_text_stops_the_next_nudge(
        driver: Driver, sessions: async_sessionmaker[AsyncSession], participant: Person, mentor: Person,
        config: Config) -> None:
    programme = Programme(sessions)
    monday = datetime(2026, 3, 2, 10, tzinfo=JAKARTA)
    await programme.set_person(participant, created_at=monday - timedelta(days=1),
                               last_inbound_at=monday - timedelta(hours=14))
    await programme.meeting(monday, cohort="Angkatan 1")
    await programme.meeting(monday + timedelta(days=1), cohort="Angkatan 1")  # alpa twice: a nudge is due
    await driver.say(participant, "berhenti")
    await driver.press(participant, "pdp:withdraw")
    await driver.received(participant)
    nudges = next(job for job in JOBS if job.id == "participation_nudges")

    await run_job(nudges, sessions, config, datetime(2026, 3, 4, 9, 30, tzinfo=JAKARTA))

    assert await driver.received(participant) == []

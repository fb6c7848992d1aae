"""Broadcasts (siaran): compose in chat, preview with the recipients, confirm, schedule, cancel, quiet hours,
who is skipped, and the delivery report counted from the outbox."""

from __future__ import annotations

import json
import shutil
import sqlite3
import time
from collections import Counter
from datetime import datetime
from pathlib import Path

import pytest
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.cli import main
from handlers.broadcasts.audience import Scope
from handlers.broadcasts.report import run_broadcasts
from handlers.broadcasts.rules import BroadcastsRules
from handlers.broadcasts.sending import create
from handlers.kernel.config import Config
from handlers.kernel.messages import Channel
from handlers.kernel.outbox import message_of
from storage.bulk import bulk_insert
from storage.models import (
    Broadcast,
    BroadcastStatus,
    ConversationState,
    OutboxMessage,
    OutboxStatus,
    ParticipationScore,
    Person,
    Role,
)
from tests.conftest import JAKARTA
from tests.support.driver import Driver

TG = Channel.TELEGRAM
NEWS = "Besok pelatihan foto produk jam 9 di aula kecamatan, bawa HP masing2 ya"


@pytest.fixture
async def second(driver: Driver, mentor: Person) -> Person:
    """Another participant of `mentor`, same cohort."""
    return await driver.add_person(role=Role.PESERTA, name="Dewi Lestari", phone="+6281200000002",
                                   mentor_id=mentor.id, cohort="Angkatan 1", district="Cimanggis",
                                   preferred_channel=Channel.WHATSAPP.value)


@pytest.fixture
async def not_agreed(driver: Driver, mentor: Person) -> Person:
    """A participant in the cohort who has not agreed to data processing."""
    return await driver.add_person(role=Role.PESERTA, name="Tono Wibowo", phone="+6281200000003",
                                   mentor_id=mentor.id, cohort="Angkatan 1", consent_given=None)


@pytest.fixture
async def other_group(driver: Driver) -> Person:
    """A participant of another mentor, in another cohort."""
    other = await driver.add_person(role=Role.PENDAMPING, name="Andi Wijaya", phone="+6281100000002")
    return await driver.add_person(role=Role.PESERTA, name="Rudi Hartono", phone="+6281200000009",
                                   mentor_id=other.id, cohort="Angkatan 2", preferred_channel="whatsapp")


async def broadcast_rows(driver: Driver, number: int = 1) -> list[OutboxMessage]:
    async with driver.sessions() as session:
        query = select(OutboxMessage).where(OutboxMessage.ref == f"bc:{number}").order_by(OutboxMessage.id)
        return list((await session.execute(query)).scalars())


async def broadcasts(driver: Driver) -> list[Broadcast]:
    async with driver.sessions() as session:
        return list((await session.execute(select(Broadcast).order_by(Broadcast.id))).scalars())


async def run_job(driver: Driver) -> list[str]:
    """The scheduler's broadcast job at the driver's clock; the texts it owes (reports)."""
    async with driver.sessions.begin() as session:
        out = await run_broadcasts(session, driver.clock.now, driver.config)
    return [message.text for message in out]


async def test_compose_preview_confirm_sends_one_row_per_recipient_and_skips_no_consent(
        driver: Driver, coordinator: Person, participant: Person, second: Person, not_agreed: Person,
        other_group: Person) -> None:
    await driver.say(coordinator, "siaran angkatan 1")
    assert (await driver.received(coordinator))[-1].startswith("📢 Siaran untuk angkatan 1.\n\nTulis pengumumannya.")

    await driver.say(coordinator, NEWS)

    preview = message_of(await driver.last(coordinator)).text
    assert preview.startswith(f"👀 *Pratinjau siaran* untuk angkatan 1:\n\n📢 *Pengumuman dari Rina Dinas*\n\n{NEWS}"
                              "\n\n👥 Penerima: *2* peserta (dilewati: 1 belum setuju).\n🕒 Dikirim sekarang.\n\n")
    assert await broadcast_rows(driver) == []

    await driver.say(coordinator, "iya kirim")

    assert (await driver.received(coordinator))[-1] == (
        "✅ Siaran #1 sedang dikirim ke 2 peserta. Laporan pengiriman menyusul setelah selesai "
        "(atau ketik *siaran laporan 1*).")
    rows = await broadcast_rows(driver)
    told = f"📢 *Pengumuman dari Rina Dinas*\n\n{NEWS}"
    assert [(row.recipient_id, message_of(row).text, row.status) for row in rows] == [
        (participant.id, told, OutboxStatus.PENDING), (second.id, told, OutboxStatus.PENDING)]
    [sent] = await broadcasts(driver)
    assert (sent.status, sent.recipients, sent.skipped) == (BroadcastStatus.SENDING, 2, {"no_consent": 1})


async def test_a_photo_with_caption_goes_to_every_recipient(driver: Driver, coordinator: Person,
                                                            participant: Person, second: Person) -> None:
    from handlers.kernel.messages import Attachment
    photo = Attachment("photo", "https://api.twilio.com/Media/ME1", Channel.WHATSAPP, "image/jpeg")
    await driver.say(coordinator, "siaran kecamatan beji")
    await driver.say(coordinator, "Jadwal bazar UMKM", attachments=[photo])
    assert "📎 1 lampiran" in message_of(await driver.last(coordinator)).text
    await driver.say(coordinator, "ya")

    rows = await broadcast_rows(driver)
    assert [row.recipient_id for row in rows] == [participant.id]
    [attachment] = message_of(rows[0]).attachments
    assert (attachment.kind, attachment.ref.startswith("media:"), attachment.mime) == ("photo", True, "image/jpeg")


async def test_mentor_reaches_only_their_own_group(driver: Driver, mentor: Person, participant: Person,
                                                   second: Person, other_group: Person) -> None:
    await driver.say(mentor, "siaran", channel=TG)
    assert (await driver.received(mentor))[-1].startswith("📢 Siaran untuk semua peserta di kelompok Anda.")
    await driver.say(mentor, "Kak, tugas minggu ini dikumpulkan Jumat ya", channel=TG)
    assert "👥 Penerima: *2* peserta." in message_of(await driver.last(mentor)).text

    await driver.press(mentor, "bc:ya", channel=TG)

    assert sorted(row.recipient_id for row in await broadcast_rows(driver)) == sorted([participant.id, second.id])
    # Nobody of angkatan 2 in the group: told at once, before writing the announcement.
    await driver.say(mentor, "siaran angkatan 2", channel=TG)
    assert (await driver.received(mentor))[-1] == "Tidak ada penerima untuk angkatan 2 di kelompok Anda. Siaran tidak dibuat."
    assert len(await broadcasts(driver)) == 1


async def test_bad_input_gets_a_clear_answer_and_sends_nothing(driver: Driver, coordinator: Person,
                                                               participant: Person, config: Config) -> None:
    await driver.say(coordinator, "siaran planet mars")
    assert (await driver.received(coordinator))[-1].startswith("Tulis untuk siapa pengumumannya:")
    await driver.say(coordinator, "siaran semua")
    await driver.say(coordinator, "x" * 3001)
    assert (await driver.received(coordinator))[-1] == (
        "Pengumuman terlalu panjang (3001 karakter, paling banyak 3000). Ringkas dulu lalu kirim lagi.")
    await driver.say(coordinator, NEWS)
    await driver.say(coordinator, "hari ini jam 8")
    assert (await driver.received(coordinator))[-1].startswith("Rabu, 4 Mar 2026 08.00 WIB sudah lewat.")
    await driver.say(coordinator, "hmm bentar ya aku cek dulu")
    assert (await driver.received(coordinator))[-1].startswith("Balas *ya* untuk mengirim, *tidak* untuk")
    await driver.say(coordinator, "/siaran laporan 99")
    assert (await driver.received(coordinator))[-1] == "Siaran 99 tidak ditemukan (atau bukan siaran Anda)."

    assert (await broadcasts(driver), await broadcast_rows(driver)) == ([], [])


async def test_a_programme_may_keep_broadcasts_to_coordinators(driver: Driver, mentor: Person,
                                                               participant: Person) -> None:
    driver.config = driver.config.with_rules(BroadcastsRules(mentors_may_send=False))

    await driver.say(mentor, "siaran", channel=TG)

    assert (await driver.received(mentor))[-1].startswith("Maaf, siaran di program ini hanya dikirim koordinator.")
    assert await broadcasts(driver) == []


async def test_participant_is_refused_and_nothing_changes(driver: Driver, participant: Person) -> None:
    await driver.say(participant, "siaran")
    await driver.say(participant, "/siaran semua")

    assert await driver.received(participant) == [
        "Maaf, perintah ini bukan untuk peran Anda. Ketik *menu* untuk melihat pilihan Anda."] * 2
    assert await broadcasts(driver) == []
    async with driver.sessions() as session:
        assert (await session.get(ConversationState, participant.id)) is None


async def test_schedule_for_tomorrow_then_cancel_sends_nothing(driver: Driver, coordinator: Person,
                                                               participant: Person) -> None:
    await driver.say(coordinator, "siaran semua")
    await driver.say(coordinator, NEWS)
    await driver.say(coordinator, "besok jam 9")
    assert "🕒 Dijadwalkan: Kamis, 5 Mar 2026 09.00 WIB." in message_of(await driver.last(coordinator)).text
    await driver.say(coordinator, "ya")
    assert (await driver.received(coordinator))[-1] == (
        "🕒 Siaran #1 dijadwalkan Kamis, 5 Mar 2026 09.00 WIB. Ketik *siaran batal 1* untuk membatalkan.")
    assert await run_job(driver) == []
    assert await broadcast_rows(driver) == []

    await driver.say(coordinator, "siaran batal 1")

    assert (await driver.received(coordinator))[-1] == (
        "🛑 Siaran #1 dibatalkan. Pesan yang belum terkirim: 0 dihentikan.")
    driver.clock.advance(days=1, minutes=1)
    assert await run_job(driver) == []
    assert await broadcast_rows(driver) == []
    assert [b.status for b in await broadcasts(driver)] == [BroadcastStatus.CANCELLED]


async def test_a_scheduled_broadcast_goes_when_due_and_kamis_depan_is_understood(
        driver: Driver, coordinator: Person, participant: Person) -> None:
    await driver.say(coordinator, "siaran semua")
    await driver.say(coordinator, NEWS)
    await driver.say(coordinator, "kamis depan 08.00")
    await driver.say(coordinator, "ya")
    assert (await driver.received(coordinator))[-1].startswith("🕒 Siaran #1 dijadwalkan Kamis, 12 Mar 2026 08.00 WIB.")

    driver.clock.now = datetime(2026, 3, 12, 7, 59, tzinfo=JAKARTA)
    await run_job(driver)
    assert await broadcast_rows(driver) == []
    driver.clock.now = datetime(2026, 3, 12, 8, 0, tzinfo=JAKARTA)
    await run_job(driver)

    assert [row.recipient_id for row in await broadcast_rows(driver)] == [participant.id]


async def test_cancelling_while_sending_stops_the_messages_not_sent_yet(driver: Driver, coordinator: Person,
                                                                        participant: Person, second: Person) -> None:
    await driver.say(coordinator, "siaran semua")
    await driver.say(coordinator, NEWS)
    await driver.say(coordinator, "ya")
    first = (await broadcast_rows(driver))[0]
    async with driver.sessions.begin() as session:
        await session.execute(update(OutboxMessage).where(OutboxMessage.id == first.id)
                              .values(status=OutboxStatus.SENT, external_id="SM1"))

    await driver.say(coordinator, "siaran batal 1")

    assert (await driver.received(coordinator))[-1] == (
        "🛑 Siaran #1 dibatalkan. Pesan yang belum terkirim: 1 dihentikan.")
    [report] = await run_job(driver)
    assert report.splitlines()[1:] == ["✅ Terkirim: 1 (diterima 0, dibaca 0)", "🛑 Dibatalkan sebelum terkirim: 1"]


async def test_in_quiet_hours_it_waits_until_they_end(driver: Driver, coordinator: Person,
                                                      participant: Person) -> None:
    driver.clock.now = datetime(2026, 3, 4, 22, 15, tzinfo=JAKARTA)
    await driver.say(coordinator, "siaran semua")
    await driver.say(coordinator, NEWS)
    preview = message_of(await driver.last(coordinator)).text
    await driver.say(coordinator, "ya")

    assert "\n🌙 Sekarang jam tenang: dikirim Kamis, 5 Mar 2026 07.00 WIB.\n" in preview
    assert (await driver.received(coordinator))[-1] == (
        "🌙 Sekarang jam tenang, jadi siaran #1 dikirim Kamis, 5 Mar 2026 07.00 WIB. "
        "Ketik *siaran batal 1* untuk membatalkan.")
    driver.clock.now = datetime(2026, 3, 5, 6, 59, tzinfo=JAKARTA)
    await run_job(driver)
    assert await broadcast_rows(driver) == []
    driver.clock.now = datetime(2026, 3, 5, 7, 0, tzinfo=JAKARTA)
    await run_job(driver)
    assert [row.recipient_id for row in await broadcast_rows(driver)] == [participant.id]


async def test_report_counts_each_state_once_when_everything_settled(
        driver: Driver, mentor: Person, participant: Person, second: Person, not_agreed: Person) -> None:
    third = await driver.add_person(role=Role.PESERTA, name="Wati", phone="+6281200000004", mentor_id=mentor.id)
    fourth = await driver.add_person(role=Role.PESERTA, name="Yanti", phone="+6281200000005", mentor_id=mentor.id)
    await driver.add_person(role=Role.PESERTA, name="Joko", phone="+6281200000006", mentor_id=mentor.id,
                            is_active=False)
    await driver.say(mentor, "siaran", channel=TG)
    await driver.say(mentor, NEWS, channel=TG)
    await driver.say(mentor, "ok", channel=TG)
    states = {participant.id: (OutboxStatus.SENT, "read", None), second.id: (OutboxStatus.SENT, "delivered", None),
              third.id: (OutboxStatus.FAILED, "undelivered", "twilio 63003: undelivered"),
              fourth.id: (OutboxStatus.HELD, None, "outside the 24-hour window: template notice sent")}
    assert await run_job(driver) == []  # all four still pending: no report yet
    async with driver.sessions.begin() as session:
        for recipient, (status, delivery, error) in states.items():
            await session.execute(update(OutboxMessage).where(OutboxMessage.recipient_id == recipient,
                                                              OutboxMessage.ref == "bc:1")
                                  .values(status=status, delivery_status=delivery, error=error))
    await driver.received(mentor)

    reports = await run_job(driver)

    assert reports == ["📊 *Laporan siaran #1* (semua peserta di kelompok Anda, selesai): 4 penerima\n"
                       "✅ Terkirim: 2 (diterima 2, dibaca 1)\n"
                       "💬 Menunggu balasan: 1 (di luar 24 jam WhatsApp: terkirim begitu mereka membalas)\n"
                       "❌ Gagal: 1\n"
                       "   • nomor tidak aktif di WhatsApp (63003): 1\n"
                       "⏭️ Dilewati: 2 (1 belum setuju, 1 nonaktif)"]
    assert await run_job(driver) == []
    await driver.say(mentor, "siaran laporan 1", channel=TG)
    assert (await driver.received(mentor))[-1] == reports[0]


async def test_at_risk_and_agency_scopes_pick_their_participants(driver: Driver, coordinator: Person,
                                                                participant: Person, second: Person) -> None:
    async with driver.sessions.begin() as session:
        for week, dropping in (("2026-W08", second.id), ("2026-W09", participant.id)):
            for person in (participant, second):
                session.add(ParticipationScore(week=week, participant_id=person.id, score=0.3,
                                               is_dropping=person.id == dropping, computed_at=driver.clock.now))
        (await session.get(Person, second.id)).extra = {"instansi": "Dinas Koperasi"}  # type: ignore[union-attr]

    await driver.say(coordinator, "siaran berisiko")
    await driver.say(coordinator, "Kak, minggu ini kita ketemu yuk, ada yang bisa dibantu?")
    await driver.say(coordinator, "ya")
    await driver.say(coordinator, "siaran instansi dinas koperasi")
    await driver.say(coordinator, "Info KUR dari Dinas Koperasi")
    await driver.say(coordinator, "ya")

    assert [row.recipient_id for row in await broadcast_rows(driver, 1)] == [participant.id]
    assert [row.recipient_id for row in await broadcast_rows(driver, 2)] == [second.id]


async def test_an_announcement_starting_with_a_command_word_is_the_announcement(
        driver: Driver, coordinator: Person, participant: Person) -> None:
    await driver.say(coordinator, "siaran semua")

    await driver.say(coordinator, "laporan bulanan wajib dikirim paling lambat tanggal 5 ya")

    preview = message_of(await driver.last(coordinator)).text
    assert "\n\nlaporan bulanan wajib dikirim paling lambat tanggal 5 ya\n\n👥 Penerima: *1* peserta." in preview
    await driver.say(coordinator, "gak jadi")
    assert (await driver.received(coordinator))[-1] == "Dibatalkan. Ketik *menu* untuk melihat pilihan."
    assert await broadcasts(driver) == []


async def test_a_10000_recipient_broadcast_is_written_in_one_go_within_seconds(
        driver: Driver, sessions: async_sessionmaker[AsyncSession], config: Config) -> None:
    now = driver.clock.now
    people = [{"role": Role.PESERTA.value, "name": f"Peserta {n}", "phone": f"+62812{n:08d}", "cohort": "Angkatan 1",
               "extra": {}, "preferred_channel": "whatsapp" if n % 3 else "telegram",
               "telegram_chat_id": None if n % 3 else str(70000 + n), "consent_given": True, "created_at": now,
               "updated_at": now} for n in range(10_000)]
    async with sessions.begin() as session:
        await bulk_insert(session, Person.__table__, people)  # type: ignore[arg-type]

    started = time.perf_counter()
    async with sessions.begin() as session:
        _broadcast, audience = await create(session, Scope("all"), NEWS, [], sender=None, wanted=None, now=now,
                                            config=config, source="cli")
    elapsed = time.perf_counter() - started

    rows = await broadcast_rows(driver)
    assert (len(audience.recipients) if audience else 0, len(rows)) == (10_000, 10_000)
    assert Counter(row.channel for row in rows) == {"whatsapp": 6_666, "telegram": 3_334}
    assert elapsed < 6.0, f"{elapsed:.1f} s"


# ---------------------------------------------------------------------- command line

ROSTER = ["role,name,phone,mentor_phone,cohort,district",
          "pendamping,Budi Santoso,0811-0000-0001,,Angkatan 1,",
          "peserta,Sari Wulandari,0812-0000-0001,0811-0000-0001,Angkatan 1,Beji",
          "peserta,Dewi Lestari,0812-0000-0002,0811-0000-0001,Angkatan 2,Beji"]


@pytest.fixture
def cli_db(tmp_path: Path, sqlite_template: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """A migrated SQLite file the CLI reaches through KLINIK_DATABASE_URL, with a roster."""
    path = tmp_path / "cli.db"
    shutil.copy(sqlite_template, path)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("KLINIK_DATABASE_URL", f"sqlite+aiosqlite:///{path}")
    monkeypatch.setenv("KLINIK_MEDIA_DIR", str(tmp_path / "media"))
    (tmp_path / "roster.csv").write_text("\n".join(ROSTER) + "\n", encoding="utf-8")
    assert main(["roster", "import", str(tmp_path / "roster.csv")]) == 0
    with sqlite3.connect(path) as db:
        db.execute("UPDATE people SET consent_given = 1 WHERE phone != '+6281200000002'")
    return f"sqlite+aiosqlite:///{path}"


def test_cli_sends_from_a_file_with_media_lists_reports_and_cancels(
        cli_db: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "teks.txt").write_text("Bazar UMKM Sabtu ini di alun-alun.\n", encoding="utf-8")
    (tmp_path / "poster.png").write_bytes(b"\x89PNG\r\n\x1a\n")
    capsys.readouterr()

    assert main(["siaran", "kirim", "--ke", "angkatan 1", "--file", "teks.txt", "--coba"]) == 0
    assert capsys.readouterr().out.strip() == "Siaran untuk angkatan 1: 1 penerima. Percobaan: tidak ada yang dikirim."
    assert main(["siaran", "kirim", "--ke", "angkatan 2", "--file", "teks.txt"]) == 1
    assert capsys.readouterr().err.strip() == (
        "Tidak ada penerima untuk angkatan 2 (dilewati: 1 belum setuju); siaran tidak dibuat.")
    assert main(["siaran", "kirim", "--ke", "kecamatan beji", "--file", "teks.txt", "--media", "poster.png"]) == 0
    assert capsys.readouterr().out.startswith("✅ Siaran #1 sedang dikirim ke 1 peserta.")
    with sqlite3.connect(tmp_path / "cli.db") as db:
        [(payload,)] = db.execute("SELECT payload FROM outbox WHERE ref = 'bc:1'").fetchall()
    sent = json.loads(payload)
    assert sent["text"] == "📢 *Pengumuman Klinik Bisnis*\n\nBazar UMKM Sabtu ini di alun-alun."
    assert [(a["kind"], a["name"], a["mime"]) for a in sent["attachments"]] == [("photo", "poster.png", "image/png")]
    assert main(["siaran", "kirim", "--ke", "semua", "--file", "teks.txt", "--jadwal", "2099-01-02 08.00"]) == 0
    assert capsys.readouterr().out.startswith("🕒 Siaran #2 dijadwalkan Jumat, 2 Jan 2099 08.00 WIB.")
    assert main(["siaran", "kirim", "--ke", "planet mars", "--file", "teks.txt"]) == 2
    assert main(["siaran", "kirim", "--ke", "semua", "--file", "teks.txt", "--jadwal", "kemarin sore"]) == 2
    capsys.readouterr()

    assert main(["siaran", "batal", "2"]) == 0
    assert main(["siaran", "batal", "2"]) == 1
    assert main(["siaran", "list"]) == 0
    listed = capsys.readouterr().out.splitlines()
    assert [line.split()[:2] for line in listed[-2:]] == [["#2", "dibatalkan"], ["#1", "sedang"]]
    assert main(["siaran", "laporan", "1"]) == 0
    assert capsys.readouterr().out.splitlines()[:3] == [
        "📊 *Laporan siaran #1* (wilayah beji, sedang dikirim): 1 penerima",
        "✅ Terkirim: 0 (diterima 0, dibaca 0)", "⏳ Masih dikirim: 1"]


async def test_a_group_that_empties_while_the_announcement_is_written_gets_nothing_sent(
        driver: Driver, sessions: async_sessionmaker[AsyncSession], mentor: Person, participant: Person,
        second: Person) -> None:
    await driver.say(mentor, "siaran", channel=TG)
    assert (await driver.received(mentor))[-1].startswith("📢 Siaran untuk semua peserta di kelompok Anda.")
    async with sessions.begin() as session:  # both leave the programme meanwhile
        await session.execute(update(Person).where(Person.id.in_([participant.id, second.id])).values(is_active=False))

    await driver.say(mentor, "bsk kumpul jam 9 ya bapak ibu", channel=TG)

    assert (await driver.received(mentor))[-1].startswith("Tidak ada penerima untuk semua peserta di kelompok Anda.")
    assert await broadcasts(driver) == []
    await driver.say(mentor, "ya", channel=TG)  # nothing waits for a confirmation any more
    assert await broadcasts(driver) == []

"""Mentor changes: a coordinator moves participants to another mentor (chat preview, Ya/Batal; CLI dry run and
--ya); each participant is told once, open tickets follow, the new mentor gets a brief, periods are recorded."""

from __future__ import annotations

import asyncio
import shutil
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.cli import main
from handlers.kernel.config import Config
from handlers.kernel.dates import month_of
from handlers.kernel.messages import Channel
from handlers.kernel.outbox import message_of
from handlers.reports.performance import mentor_months
from storage.db import make_engine, make_sessionmaker
from storage.models import AuditEntry, Mentorship, MonthlyReport, Person, Role, Ticket
from tests.support.driver import Driver
from tests.support.programme import Programme

TG = Channel.TELEGRAM


@pytest.fixture
async def new_mentor(driver: Driver) -> Person:
    """A second mentor on WhatsApp."""
    return await driver.add_person(role=Role.PENDAMPING, name="Andi Wijaya", phone="+6281100000002",
                                   preferred_channel=Channel.WHATSAPP.value, topics="keuangan")


@pytest.fixture
async def second(driver: Driver, mentor: Person) -> Person:
    """Another participant of `mentor`."""
    return await driver.add_person(role=Role.PESERTA, name="Dewi Lestari", phone="+6281200000002",
                                   mentor_id=mentor.id, cohort="Angkatan 1", business_name="Batik Dewi",
                                   preferred_channel=Channel.WHATSAPP.value)


async def ask(driver: Driver, participant: Person, text: str, topic: str) -> None:
    await driver.say(participant, text)
    await driver.press(participant, f"tp:{topic}")


async def tickets(driver: Driver) -> list[Ticket]:
    async with driver.sessions() as session:
        return list((await session.execute(select(Ticket).order_by(Ticket.id))).scalars())


async def periods(driver: Driver) -> list[tuple[int, int, object, object]]:
    async with driver.sessions() as session:
        rows = (await session.execute(select(Mentorship).order_by(Mentorship.participant_id, Mentorship.id))).scalars()
        return [(m.participant_id, m.mentor_id, m.started_at, m.ended_at) for m in rows]


async def test_moving_a_mentors_group_tells_each_once_moves_tickets_briefs_and_records_periods(
        driver: Driver, mentor: Person, participant: Person, second: Person, new_mentor: Person,
        coordinator: Person) -> None:
    joined = driver.clock.now
    await ask(driver, participant, "cara daftar NIB gmn kak", "legalitas")
    async with driver.sessions.begin() as session:
        session.add(MonthlyReport(participant_id=participant.id, month="2026-02", omzet=3_500_000,
                                  submitted_at=driver.clock.now, created_at=driver.clock.now,
                                  updated_at=driver.clock.now))
    moved_at = driver.clock.advance(days=3)
    for person in (participant, second, mentor, new_mentor):
        await driver.received(person)

    await driver.say(coordinator, "pindahpeserta 081100000001 081100000002")
    confirm = message_of(await driver.last(coordinator))
    assert confirm.text.startswith("Pindahkan 2 peserta dari Budi Santoso ke Andi Wijaya?\n\n"
                                   "• Dewi Lestari (+6281200000002): Budi Santoso → Andi Wijaya\n"
                                   "• Sari Wulandari (+6281200000001): Budi Santoso → Andi Wijaya")
    assert [button.label for button in confirm.buttons] == ["Ya, pindahkan", "Batal"]
    assert ((await driver.refresh(participant)).mentor_id, (await tickets(driver))[0].mentor_id) == (mentor.id,
                                                                                                    mentor.id)
    assert await periods(driver) == []

    await driver.press(coordinator, confirm.buttons[0].payload)

    assert (await driver.received(coordinator))[-1] == "✅ 2 peserta dipindah dari Budi Santoso ke Andi Wijaya."
    assert await driver.received(participant) == [
        "Halo Sari Wulandari, mulai sekarang pendamping Anda adalah *Andi Wijaya*. Pertanyaan berikutnya langsung "
        "ke beliau. Pertanyaan Anda yang masih terbuka (#1) ikut dipindah."]
    assert await driver.received(second) == [
        "Halo Dewi Lestari, mulai sekarang pendamping Anda adalah *Andi Wijaya*. Pertanyaan berikutnya langsung "
        "ke beliau."]
    briefs = await driver.received(new_mentor)
    assert len(briefs) == 2
    assert briefs[1] == ("👋 Peserta baru Anda: *Sari Wulandari* (+6281200000001)\n"
                         "Usaha: Keripik Sari · Angkatan 1\nTopik ditanyakan: Legalitas/Perizinan (1)\n"
                         "Presensi: 0 hadir, 0 terlambat, 0 izin, 0 sakit, 0 alpa\n"
                         "Laporan terakhir: Februari 2026 — omzet Rp 3.500.000\n"
                         "Pertanyaan terbuka yang kini Anda tangani: #1")
    assert briefs[0].startswith("👋 Peserta baru Anda: *Dewi Lestari* (+6281200000002)\nUsaha: Batik Dewi")
    assert await driver.received(mentor) == [
        "ℹ️ 2 peserta Anda dipindah ke pendamping lain oleh koordinator:\n• Dewi Lestari → Andi Wijaya\n"
        "• Sari Wulandari → Andi Wijaya\nTerima kasih atas pendampingannya."]
    assert [(await driver.refresh(p)).mentor_id for p in (participant, second)] == [new_mentor.id, new_mentor.id]
    assert [t.mentor_id for t in await tickets(driver)] == [new_mentor.id]
    assert await periods(driver) == [(participant.id, mentor.id, joined, moved_at),
                                     (participant.id, new_mentor.id, moved_at, None),
                                     (second.id, mentor.id, joined, moved_at),
                                     (second.id, new_mentor.id, moved_at, None)]
    async with driver.sessions() as session:
        audit = list((await session.execute(select(AuditEntry).where(AuditEntry.action == "mentor_changed")
                                            .order_by(AuditEntry.id))).scalars())
    assert [(a.actor_id, a.subject, a.detail) for a in audit] == [
        (coordinator.id, f"person:{second.id}", {"from": mentor.id, "to": new_mentor.id, "source": "chat",
                                                 "tickets": []}),
        (coordinator.id, f"person:{participant.id}", {"from": mentor.id, "to": new_mentor.id, "source": "chat",
                                                      "tickets": [1]})]

    await driver.say(second, "kak, mau tanya soal modal usaha")
    await driver.press(second, "tp:permodalan")
    assert [t.mentor_id for t in await tickets(driver)] == [new_mentor.id, new_mentor.id]
    assert await driver.received(new_mentor)
    assert not await driver.received(mentor)


async def test_cancel_and_wrong_numbers_move_nothing_and_participants_may_not_move_anyone(
        driver: Driver, mentor: Person, participant: Person, new_mentor: Person, coordinator: Person) -> None:
    await driver.say(coordinator, "pindahpeserta 081100000001 081100000002")
    await driver.press(coordinator, message_of(await driver.last(coordinator)).buttons[1].payload)
    await driver.say(coordinator, "pindahpeserta 081100000001 081200000001")
    await driver.say(coordinator, "pindahpeserta 081100000001")
    await driver.say(participant, "pindahpeserta 081100000001 081100000002")
    await driver.press(participant, f"pp:ya:{mentor.id}:{new_mentor.id}")

    said = await driver.received(coordinator)
    assert said[1:] == ["Dibatalkan; tidak ada yang dipindah.",
                        "Tidak ada yang dipindah.\n⚠️ 081200000001 bukan nomor pendamping aktif di roster.",
                        "Tulis: *pindahpeserta 0811… 0811…* (nomor pendamping lama, lalu nomor pendamping baru)."]
    assert (await driver.refresh(participant)).mentor_id == mentor.id
    assert await periods(driver) == []
    assert await driver.received(new_mentor) == []
    assert not any("pendamping Anda adalah" in text for text in await driver.received(participant))


# ---------------------------------------------------------------------- command line


@pytest.fixture
def cli_db(tmp_path: Path, sqlite_template: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """A migrated SQLite file the CLI reaches through KLINIK_DATABASE_URL."""
    path = tmp_path / "cli.db"
    shutil.copy(sqlite_template, path)
    monkeypatch.chdir(tmp_path)
    url = f"sqlite+aiosqlite:///{path}"
    monkeypatch.setenv("KLINIK_DATABASE_URL", url)
    monkeypatch.setenv("KLINIK_MEDIA_DIR", str(tmp_path / "media"))
    return url


def mentors_of(url: str) -> dict[str, str | None]:
    async def run() -> dict[str, str | None]:
        engine = make_engine(url)
        try:
            async with make_sessionmaker(engine)() as session:
                return await _mentors(session)
        finally:
            await engine.dispose()
    return asyncio.run(run())


async def _mentors(session: AsyncSession) -> dict[str, str | None]:
    people = {p.id: p for p in (await session.execute(select(Person))).scalars()}
    return {p.name: people[p.mentor_id].name if p.mentor_id else None for p in people.values()
            if p.role == Role.PESERTA}


ROSTER = ["role,name,phone,mentor_phone,cohort",
          "pendamping,Budi Santoso,0811-0000-0001,,Angkatan 1", "pendamping,Andi Wijaya,0811-0000-0002,,Angkatan 1",
          "pendamping,Citra Ayu,0811-0000-0003,,Angkatan 1",
          "peserta,Sari Wulandari,0812-0000-0001,0811-0000-0001,Angkatan 1",
          "peserta,Dewi Lestari,0812-0000-0002,0811-0000-0001,Angkatan 1",
          "peserta,Rudi Hartono,0812-0000-0003,0811-0000-0001,Angkatan 1"]


def test_cli_previews_then_moves_a_list_and_a_file(cli_db: str, tmp_path: Path,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "roster.csv").write_text("\n".join(ROSTER) + "\n", encoding="utf-8")
    assert main(["roster", "import", str(tmp_path / "roster.csv")]) == 0
    capsys.readouterr()
    before = mentors_of(cli_db)

    dry = main(["pendamping", "pindah", "--dari", "0811-0000-0001", "--ke", "0811-0000-0002",
                "--peserta", "0812-0000-0001"])
    assert (dry, capsys.readouterr().out.splitlines()) == (0, [
        "• Sari Wulandari (+6281200000001): Budi Santoso → Andi Wijaya",
        "Pratinjau: 1 peserta akan dipindah. Jalankan lagi dengan --ya untuk memindahkan."])
    assert mentors_of(cli_db) == before

    assert main(["pendamping", "pindah", "--dari", "0811-0000-0001", "--ke", "0811-0000-0002",
                 "--peserta", "0812-0000-0001", "--ya"]) == 0
    assert capsys.readouterr().out.splitlines()[-1] == "1 peserta dipindah; 3 pesan diantrikan."

    mapping = tmp_path / "map.csv"
    mapping.write_text("peserta,pendamping_baru\n0812-0000-0002,0811-0000-0003\n0899-0000-0000,0811-0000-0003\n",
                       encoding="utf-8")
    assert main(["pendamping", "pindah", "--berkas", str(mapping), "--ya"]) == 1
    assert capsys.readouterr().err.splitlines() == [
        "• Dewi Lestari (+6281200000002): Budi Santoso → Citra Ayu",
        "⚠️ 0899-0000-0000 bukan nomor peserta aktif di roster. (baris 3)",
        "Tidak ada yang dipindah: perbaiki dulu masalah di atas."]
    mapping.write_text("0812-0000-0002;0811-0000-0003\n0812-0000-0003;0811-0000-0003\n", encoding="utf-8")
    assert main(["pendamping", "pindah", "--berkas", str(mapping), "--ya"]) == 0
    assert mentors_of(cli_db) == {"Sari Wulandari": "Andi Wijaya", "Dewi Lestari": "Citra Ayu",
                                  "Rudi Hartono": "Citra Ayu"}
    assert main(["pendamping", "pindah"]) == 2


def test_cli_file_in_xlsx_moves_all_or_nothing(cli_db: str, tmp_path: Path,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    from openpyxl import Workbook

    (tmp_path / "roster.csv").write_text("\n".join(ROSTER) + "\n", encoding="utf-8")
    assert main(["roster", "import", str(tmp_path / "roster.csv")]) == 0
    before = mentors_of(cli_db)

    def sheet(*rows: tuple[object, ...]) -> Path:
        book = Workbook()
        for row in rows:
            book.active.append(row)
        path = tmp_path / "pindah.xlsx"
        book.save(path)
        return path

    bad = sheet(("No HP peserta", "No HP pendamping baru"), (81200000001, 81100000002), (),
                ("0812-0000-0002", None), ("0812-0000-0003", "0811-0000-0009"), ("0812-0000-0001", "0811-0000-0003"))
    capsys.readouterr()
    assert main(["pendamping", "pindah", "--berkas", str(bad), "--ya"]) == 1
    assert capsys.readouterr().err.splitlines() == [
        "• Sari Wulandari (+6281200000001): Budi Santoso → Andi Wijaya",
        "⚠️ Baris ini perlu dua nomor: peserta, lalu pendamping baru. (baris 4)",
        "⚠️ 0811-0000-0009 bukan nomor pendamping aktif di roster. (baris 5)",
        "⚠️ Sari Wulandari ada lebih dari sekali di berkas. (baris 6)",
        "Tidak ada yang dipindah: perbaiki dulu masalah di atas."]
    assert mentors_of(cli_db) == before

    good = sheet(("peserta", "pendamping_baru"), (81200000001, 81100000002), ("0812-0000-0002", 6281100000003.0))
    assert main(["pendamping", "pindah", "--berkas", str(good), "--ya"]) == 0
    assert capsys.readouterr().out.splitlines()[-1] == "2 peserta dipindah; 5 pesan diantrikan."
    assert mentors_of(cli_db) == {"Sari Wulandari": "Andi Wijaya", "Dewi Lestari": "Citra Ayu",
                                  "Rudi Hartono": "Budi Santoso"}

    broken = tmp_path / "rusak.xlsx"
    broken.write_bytes(b"bukan excel")
    assert main(["pendamping", "pindah", "--berkas", str(broken)]) == 1
    assert capsys.readouterr().err.strip() == f"Berkas {broken} tidak terbaca: pakai CSV (UTF-8) atau XLSX."




async def test_kinerja_counts_attendance_for_the_mentor_of_that_day(
        driver: Driver, sessions: async_sessionmaker[AsyncSession], config: Config, mentor: Person,
        participant: Person, new_mentor: Person, coordinator: Person) -> None:
    programme = Programme(sessions)
    start = driver.clock.now
    await programme.meeting(start + timedelta(days=1), mentor=mentor, present={participant: "hadir"})
    driver.clock.advance(days=3)
    await driver.say(coordinator, "pindahpeserta 081100000001 081100000002")
    await driver.press(coordinator, message_of(await driver.last(coordinator)).buttons[0].payload)
    await programme.meeting(start + timedelta(days=5), mentor=new_mentor, present={participant: "terlambat"})

    month = month_of(start, config.timezone)
    async with sessions() as session:
        months = {m.name: m for m in await mentor_months(session, month, start + timedelta(days=10), config)}
    assert [(months[name].participants, months[name].recorded, months[name].present)
            for name in ("Budi Santoso", "Andi Wijaya")] == [(0, 1, 1), (1, 1, 1)]

"""Rekap workbooks: every figure equals a hand count, from chat (coordinator, mentor) and from the CLI."""

import asyncio
import shutil
import subprocess
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from openpyxl import load_workbook
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.cli import main
from handlers.kernel.config import Config
from handlers.kernel.messages import Channel
from handlers.kernel.outbox import message_of
from storage.models import MediaLink, MonthlyReport, OutboxMessage, Person, Role
from tests.support.driver import Driver
from tests.support.programme import Programme

JAKARTA = ZoneInfo("Asia/Jakarta")
SHEETS = ["Rekap", "Peserta", "Presensi", "Presensi per peserta", "Tugas", "Laporan bulanan", "Konsultasi",
          "Topik konsultasi"]


def at(day: int, hour: int = 10, month: int = 11, minute: int = 0) -> datetime:
    return datetime(2026, month, day, hour, minute, tzinfo=JAKARTA)


def local(day: int, hour: int = 10, month: int = 11, minute: int = 0) -> datetime:
    """The naive local time a workbook cell holds."""
    return at(day, hour, month, minute).replace(tzinfo=None)


@pytest.fixture
def config(tmp_path: Path) -> Config:
    return Config(timezone=JAKARTA, coordinator_contact="Dinas KUKM (021-000)", media_dir=str(tmp_path / "media"))


@pytest.fixture
async def month(sessions: async_sessionmaker[AsyncSession], driver: Driver, mentor: Person, participant: Person,
                coordinator: Person) -> dict[str, Person]:
    """November 2026: two of Budi's participants in Angkatan 1, one of Dewi's in Angkatan 2, and some of December."""
    programme = Programme(sessions)
    dewi = await driver.add_person(role=Role.PENDAMPING, name="Dewi Lestari", phone="+6281100000002",
                                   telegram_chat_id="5002", preferred_channel=Channel.TELEGRAM.value)
    joko = await driver.add_person(role=Role.PESERTA, name="Joko Susilo", phone="+6281200000002", mentor_id=mentor.id,
                                   cohort="Angkatan 1", business_name="=HYPERLINK(\"http://x\",\"klik\")")
    wati = await driver.add_person(role=Role.PESERTA, name="Wati", phone="+6281200000003", mentor_id=dewi.id,
                                   cohort="Angkatan 2", extra={"instansi": "DKPP"})
    await programme.meeting(at(3), cohort="Angkatan 1", present={participant: "hadir"})  # Joko: alpa on closing
    await programme.meeting(at(5), mentor=dewi, present={wati: "sakit"})
    await programme.meeting(at(10), cohort="Angkatan 1", present={participant: "terlambat", joko: "izin"})
    await programme.meeting(at(2, month=12), cohort="Angkatan 1", present={participant: "hadir"})  # next month
    await programme.tugas(at(6, 23), cohort="Angkatan 1", sent={participant: at(5)})
    await programme.tugas(at(20, 23), mentor=dewi, sent={wati: at(21, 8)})
    await programme.report(participant, "2026-11", at(28))
    await programme.report(joko, "2026-10", at(1))
    await programme.add(MonthlyReport(participant_id=wati.id, month="2026-11", omzet=2_500_000, workers=3,
                                      customers=40, permits=["NIB", "PIRT"], form_step="done",
                                      submitted_at=at(29), created_at=at(29), updated_at=at(29)))
    await programme.ticket(participant, at(3, 14), answered_at=at(4, 10), rating=5)  # 2 + 2 working hours
    await programme.ticket(wati, at(4, 9), answered_at=at(4, 11), rating=4)  # 2 working hours
    await programme.ticket(joko, at(27, month=10))  # last month
    await programme.ticket(joko, at(25, 9))  # open
    return {"sari": participant, "joko": joko, "wati": wati, "dewi": dewi}


async def workbook_of(sessions: async_sessionmaker[AsyncSession], row: OutboxMessage) -> Path:
    attachment = message_of(row).attachments[0]
    async with sessions() as session:
        link = await session.get(MediaLink, attachment.ref.removeprefix("media:"))
    assert link is not None
    assert link.name.endswith(".xlsx")
    return Path(link.ref)


def rows(path: Path, sheet: str) -> list[tuple[object, ...]]:
    return list(load_workbook(path)[sheet].iter_rows(values_only=True))


async def test_coordinator_picks_the_programme_and_gets_hand_counted_sheets(
        sessions: async_sessionmaker[AsyncSession], driver: Driver, config: Config, month: dict[str, Person],
        coordinator: Person) -> None:
    driver.config = config
    driver.clock.now = at(1, 9, month=12)
    await driver.say(coordinator, "rekap 2026-11")
    pick = await driver.last(coordinator)
    assert message_of(pick).text.startswith("📑 Rekap November 2026: pilih cakupannya.")
    assert [b.label for b in message_of(pick).buttons] == [
        "Seluruh program", "Angkatan: Angkatan 1", "Angkatan: Angkatan 2", "Pendamping: Budi Santoso",
        "Pendamping: Dewi Lestari"]

    await driver.press(coordinator, message_of(pick).buttons[0].payload)

    sent = await driver.last(coordinator)
    assert message_of(sent).text == ("📎 Rekap seluruh program — November 2026\nPeserta: 3 · sesi presensi: 5 · "
                                     "tugas: 3 · laporan: 2 · pertanyaan: 3")
    path = await workbook_of(sessions, sent)
    assert load_workbook(path).sheetnames == SHEETS
    assert rows(path, "Presensi") == [
        ("Tanggal dan jam", "Sesi", "Angkatan", "Pendamping", "Nama peserta", "Nama usaha", "Status",
         "Waktu presensi"),
        (local(3), "Pertemuan", "Angkatan 1", None, "Joko Susilo", "=HYPERLINK(\"http://x\",\"klik\")", "Alpa", None),
        (local(3), "Pertemuan", "Angkatan 1", None, "Sari Wulandari", "Keripik Sari", "Hadir", local(3)),
        (local(5), "Pertemuan", None, "Dewi Lestari", "Wati", None, "Sakit", local(5)),
        (local(10), "Pertemuan", "Angkatan 1", None, "Joko Susilo", "=HYPERLINK(\"http://x\",\"klik\")", "Izin",
         local(10)),
        (local(10), "Pertemuan", "Angkatan 1", None, "Sari Wulandari", "Keripik Sari", "Terlambat", local(10))]
    assert rows(path, "Presensi per peserta")[1:] == [
        ("Joko Susilo", "Angkatan 1", 0, 0, 1, 0, 1, 2), ("Sari Wulandari", "Angkatan 1", 1, 1, 0, 0, 0, 2),
        ("Wati", "Angkatan 2", 0, 0, 0, 1, 0, 1)]
    assert rows(path, "Tugas")[1:] == [
        ("Tugas", local(6, 23), "Joko Susilo", "Angkatan 1", "Belum dikirim", None, None),
        ("Tugas", local(6, 23), "Sari Wulandari", "Angkatan 1", "Terkirim", local(5), None),
        ("Tugas", local(20, 23), "Wati", "Angkatan 2", "Terlambat", local(21, 8), None)]
    assert rows(path, "Laporan bulanan")[1:] == [
        ("November 2026", "Joko Susilo", "Angkatan 1", "Belum lapor", None, None, None, None, None),
        ("November 2026", "Sari Wulandari", "Angkatan 1", "Terkirim", 1_000_000, 1, 10, None, local(28)),
        ("November 2026", "Wati", "Angkatan 2", "Terkirim", 2_500_000, 3, 40, "NIB; PIRT", local(29))]
    tickets = rows(path, "Konsultasi")[1:]
    assert [(r[2], r[3], r[5], r[6], r[8]) for r in tickets] == [
        ("Sari Wulandari", "Budi Santoso", "answered", 4, 5), ("Wati", "Dewi Lestari", "answered", 2, 4),
        ("Joko Susilo", "Budi Santoso", "open", None, None)]
    assert rows(path, "Topik konsultasi")[1:] == [("lainnya", 3, 2, 3, None, 4.5)]
    register = {r[1]: r for r in rows(path, "Peserta")[1:]}
    assert register["Sari Wulandari"][7:15] == (2, 2, 100, 1, 1, "2026-11", 1_000_000, 1)
    assert register["Joko Susilo"][7:15] == (0, 2, 0, 0, 1, "2026-10", 1_000_000, 1)
    assert register["Wati"][5:15] == ("DKPP", None, 0, 1, 0, 1, 1, "2026-11", 2_500_000, 1)


async def test_formula_text_stays_text(sessions: async_sessionmaker[AsyncSession], driver: Driver, config: Config,
                                       month: dict[str, Person], coordinator: Person) -> None:
    driver.config = config
    driver.clock.now = at(1, 9, month=12)
    await driver.press(coordinator, "rkp:2026-11|cohort|Angkatan 1")

    path = await workbook_of(sessions, await driver.last(coordinator))
    cell = load_workbook(path)["Presensi"]["F2"]
    assert (cell.value, cell.data_type, cell.quotePrefix) == ("=HYPERLINK(\"http://x\",\"klik\")", "s", True)
    assert [r[1] for r in rows(path, "Peserta")[1:]] == ["Joko Susilo", "Sari Wulandari"]


async def test_mentor_gets_their_own_group_at_once(sessions: async_sessionmaker[AsyncSession], driver: Driver,
                                                   config: Config, month: dict[str, Person], mentor: Person) -> None:
    driver.config = config
    driver.clock.now = at(1, 9, month=12)
    await driver.say(mentor, "rekap 2026-11", channel=Channel.TELEGRAM)

    sent = await driver.last(mentor)
    assert message_of(sent).text.startswith("📎 Rekap kelompok Budi Santoso — November 2026\nPeserta: 2 ·")
    path = await workbook_of(sessions, sent)
    assert [r[4] for r in rows(path, "Presensi")[1:]] == ["Joko Susilo", "Sari Wulandari", "Joko Susilo",
                                                         "Sari Wulandari"]
    assert [r[2] for r in rows(path, "Konsultasi")[1:]] == ["Sari Wulandari", "Joko Susilo"]


async def test_coordinator_names_a_scope_and_a_wrong_month_is_explained(
        driver: Driver, config: Config, month: dict[str, Person], coordinator: Person) -> None:
    driver.config = config
    driver.clock.now = at(1, 9, month=12)
    await driver.say(coordinator, "rekap 2026-13")
    await driver.say(coordinator, "rekap 2026-11 pendamping dewi")
    await driver.say(coordinator, "rekap 2026-11 angkatan 9")

    said = await driver.received(coordinator)
    assert said[0] == "Ketik *rekap* untuk bulan ini, atau *rekap 2026-11* untuk bulan tertentu."
    assert said[1].startswith("📎 Rekap kelompok Dewi Lestari — November 2026\nPeserta: 1 ·")
    assert said[2] == "“angkatan 9” tidak ditemukan sebagai angkatan atau pendamping. Ketik *rekap* untuk memilih."


async def test_participant_cannot_ask_for_a_rekap(driver: Driver, participant: Person) -> None:
    await driver.say(participant, "rekap")

    assert "Rekap" not in " ".join(await driver.received(participant))


def test_cli_writes_the_workbook_of_a_cohort(tmp_path: Path, sqlite_template: Path, monkeypatch: pytest.MonkeyPatch,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    shutil.copy(sqlite_template, tmp_path / "cli.db")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("KLINIK_DATABASE_URL", f"sqlite+aiosqlite:///{tmp_path}/cli.db")
    roster = tmp_path / "roster.csv"
    roster.write_text("role,name,phone,cohort,mentor_phone\npendamping,Budi Santoso,0811-0000-0001,,\n"
                      "peserta,Sari,0812-0000-0001,Angkatan 1,0811-0000-0001\n"
                      "peserta,Joko,0812-0000-0002,Angkatan 2,0811-0000-0001\n")
    assert main(["roster", "import", str(roster)]) == 0
    capsys.readouterr()

    assert main(["rekap", "--bulan", "2026-11", "--angkatan", "Angkatan 1", "-o", "out/r.xlsx"]) == 0
    assert main(["rekap", "--bulan", "2026-11", "--pendamping", "0811-0000-0099"]) == 1
    assert main(["rekap", "--dari", "2026-11-30", "--sampai", "2026-11-01"]) == 2

    said = capsys.readouterr().out
    assert said.startswith("Rekap Angkatan Angkatan 1 — November 2026\nDitulis: out/r.xlsx\n")
    assert [r[1] for r in rows(tmp_path / "out/r.xlsx", "Peserta")[1:]] == ["Sari"]


@pytest.mark.skipif(shutil.which("soffice") is None, reason="LibreOffice (soffice) is not installed")
async def test_libreoffice_opens_the_workbook(sessions: async_sessionmaker[AsyncSession], driver: Driver,
                                              config: Config, month: dict[str, Person], coordinator: Person,
                                              tmp_path: Path) -> None:
    """Headless LibreOffice converts the workbook (a valid file, no repair prompt)."""
    driver.config = config
    driver.clock.now = at(1, 9, month=12)
    await driver.press(coordinator, "rkp:2026-11|programme|")
    path = await workbook_of(sessions, await driver.last(coordinator))

    done = await asyncio.to_thread(
        subprocess.run, ["soffice", "--headless", "--convert-to", "csv", "--outdir", str(tmp_path / "csv"), str(path)],
        capture_output=True, timeout=120, check=False)

    assert done.returncode == 0
    assert list((tmp_path / "csv").glob("*.csv"))

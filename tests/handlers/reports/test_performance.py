"""Monthly mentor performance: every figure equals a hand count; the ranking and pages go out once."""

import shutil
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
from scheduler.jobs import JOBS
from scheduler.runner import run_job
from storage.models import MediaLink, MonthlyReport, NudgeLog, Person, Role, Submission
from tests.support.driver import Driver
from tests.support.programme import Programme

JAKARTA = ZoneInfo("Asia/Jakarta")
BUDI_PAGE = (
    "📋 *Kinerja Anda — November 2026*\n👥 Peserta: 2\n"
    "❓ Pertanyaan: 3, dijawab 2 · median 9 jam kerja · tepat waktu (≤ 8 jam) 33,3%\n"
    "⭐ Rating: 5 (1 penilaian)\n📅 Sesi: 1 · presensi kelompok 50%\n📝 Tugas dinilai: 1 · median 4 jam kerja\n"
    "📄 Laporan: 2 dari 2\n⚠️ Peserta berisiko: 1, kembali aktif 1\n💰 Perubahan omzet: +50%\n\n"
    "Yang bisa ditingkatkan:\n• Jawab lebih cepat: 33,3% pertanyaan dijawab dalam 8 jam kerja (target 80%).\n"
    "• Ajak peserta hadir: presensi kelompok 50%.")


def at(day: int, hour: int = 10, month: int = 11) -> datetime:
    return datetime(2026, month, day, hour, tzinfo=JAKARTA)


@pytest.fixture
def config(tmp_path: Path) -> Config:
    return Config(timezone=JAKARTA, coordinator_contact="Dinas KUKM (021-000)", media_dir=str(tmp_path / "media"))


@pytest.fixture
async def november(sessions: async_sessionmaker[AsyncSession], driver: Driver, mentor: Person, participant: Person,
                   coordinator: Person) -> dict[str, Person]:
    """Budi (Sari, Joko) answers slowly and his group attends half; Dewi (Wati) answers fast but collects no report."""
    programme = Programme(sessions)
    dewi = await driver.add_person(role=Role.PENDAMPING, name="Dewi Lestari", phone="+6281100000002",
                                   telegram_chat_id="5002", preferred_channel=Channel.TELEGRAM.value)
    joko = await driver.add_person(role=Role.PESERTA, name="Joko Susilo", phone="+6281200000002", mentor_id=mentor.id,
                                   cohort="Angkatan 1")
    wati = await driver.add_person(role=Role.PESERTA, name="Wati", phone="+6281200000003", mentor_id=dewi.id,
                                   cohort="Angkatan 2")
    await programme.ticket(participant, at(3, 14), answered_at=at(4, 10), rating=5)  # 2 + 2 = 4 working hours
    await programme.ticket(joko, at(5, 9), answered_at=at(6, 15))  # 7 + 7 = 14: late
    await programme.ticket(joko, at(25, 9))  # never answered, past 8 working hours: late
    await programme.ticket(wati, at(4, 9), answered_at=at(4, 11), rating=4)  # 2
    await programme.ticket(wati, at(2, 9, month=12), answered_at=at(2, 10, month=12))  # December: not counted
    await programme.meeting(at(3), mentor=mentor, present={participant: "hadir"})  # Joko: alpa
    await programme.meeting(at(5), mentor=dewi, present={wati: "hadir"})
    await programme.meeting(at(10), cohort="Angkatan 1", present={participant: "terlambat", joko: "izin"})
    tugas = await programme.tugas(at(6, 23), cohort="Angkatan 1")
    await programme.add(Submission(assignment_id=tugas.id, participant_id=participant.id, submitted_at=at(5),
                                   status="diterima", reviewed_by_id=mentor.id, reviewed_at=at(5, 14)))  # 4 h
    await programme.report(participant, "2026-10", at(1))  # omzet 1.000.000
    await programme.add(
        MonthlyReport(participant_id=participant.id, month="2026-11", omzet=1_500_000, form_step="done",
                      submitted_at=at(30), created_at=at(30), updated_at=at(30)),
        MonthlyReport(participant_id=joko.id, month="2026-11", omzet=2_000_000, form_step="done",
                      submitted_at=at(29), created_at=at(29), updated_at=at(29)),
        NudgeLog(participant_id=joko.id, period="2026-W46", step="nudge", sent_at=at(10), resolved_at=at(15),
                 resolution="replied"),
        NudgeLog(participant_id=wati.id, period="2026-W47", step="nudge", sent_at=at(20)))
    await programme.keep_outcomes()  # as sending the reports keeps them
    return {"sari": participant, "joko": joko, "wati": wati, "dewi": dewi}


async def run_performance(sessions: async_sessionmaker[AsyncSession], config: Config, now: datetime) -> int:
    return await run_job(next(j for j in JOBS if j.id == "mentor_performance"), sessions, config, now)


async def test_first_working_day_sends_ranking_workbook_and_pages_once(
        sessions: async_sessionmaker[AsyncSession], config: Config, driver: Driver, november: dict[str, Person],
        coordinator: Person, mentor: Person) -> None:
    counts = [await run_performance(sessions, config, now)
              for now in (at(1, 6, month=12), at(1, 7, month=12), at(1, 8, month=12), at(2, 9, month=12))]

    assert counts == [0, 4, 0, 0]
    ranking, workbook = await driver.outbox(coordinator)
    assert message_of(ranking).text == (
        "🏅 *Kinerja pendamping — November 2026*\n(urut: dijawab ≤ 8 jam kerja, lalu presensi, lalu rating)\n\n"
        "1. Dewi Lestari — tepat waktu 100% · median 2 jam · presensi 100% · ⭐ 4\n"
        "2. Budi Santoso — tepat waktu 33,3% · median 9 jam · presensi 50% · ⭐ 5\n\n"
        "Respons pertama: pertanyaan yang dibuat bulan ini, jam kerja sampai jawaban pertama. "
        "Rincian ada di file Excel.\n\n"
        "🏅 *Hasil program* (laporan bulanan, 2 peserta melapor)\nOmzet: +50%")  # Sari: 1 juta in Oct, 1,5 in Nov
    async with sessions() as session:
        link = await session.get(MediaLink, message_of(workbook).attachments[0].ref.removeprefix("media:"))
    assert link is not None
    rows = list(load_workbook(link.ref)["Kinerja pendamping"].iter_rows(values_only=True))
    assert rows[0][:6] == ("Peringkat", "Pendamping", "Peserta", "Pertanyaan", "Dijawab",
                           "Median respons pertama (jam kerja)")
    assert rows[1] == (1, "Dewi Lestari", 1, 1, 1, 2, 1, 0, 100, 4, 1, 1, 100, 0, None, 0, 1, 1, 0, None)
    assert rows[2] == (2, "Budi Santoso", 2, 3, 2, 9, 1, 2, 33.3, 5, 1, 1, 50, 1, 4, 2, 2, 1, 1, 50)
    assert str(rows[4][0]).startswith("November 2026. Respons pertama: pertanyaan yang dibuat bulan ini")
    assert await driver.received(mentor) == [BUDI_PAGE]
    assert (await driver.received(november["dewi"]))[0].endswith(
        "Yang bisa ditingkatkan:\n• Ingatkan laporan bulanan: baru 0 dari 1.\n"
        "• Hubungi 1 peserta berisiko yang belum kembali aktif (ketik *peserta*).")


async def test_a_holiday_on_the_first_moves_the_report_to_the_next_working_day(
        sessions: async_sessionmaker[AsyncSession], config: Config, november: dict[str, Person]) -> None:
    # 1 Nov 2026 is a Sunday: October's report waits for Monday 2 Nov, 07:00.
    counts = [await run_performance(sessions, config, now) for now in (at(1, 9), at(2, 6), at(2, 7))]

    assert counts == [0, 0, 4]


async def test_kinerja_on_demand(driver: Driver, config: Config, november: dict[str, Person], coordinator: Person,
                                 mentor: Person) -> None:
    driver.config = config
    driver.clock.now = at(1, 9, month=12)
    await driver.say(mentor, "kinerja 2026-11", channel=Channel.TELEGRAM)
    await driver.say(coordinator, "kinerja 2026-11")
    await driver.say(coordinator, "kinerja november")

    assert await driver.received(mentor) == [BUDI_PAGE]
    said = await driver.received(coordinator)
    assert said[0].startswith("🏅 *Kinerja pendamping — November 2026*")
    assert [[a.kind for a in message_of(row).attachments] for row in (await driver.outbox(coordinator))[:2]] == [
        ["photo"], ["document"]]
    assert said[1] == "📎 Rincian semua pendamping (Excel)."
    assert said[2] == "Ketik *kinerja* untuk bulan ini, atau *kinerja 2026-11* untuk bulan tertentu."


def test_cli_prints_the_ranking_and_writes_the_workbook(tmp_path: Path, sqlite_template: Path,
                                                        monkeypatch: pytest.MonkeyPatch,
                                                        capsys: pytest.CaptureFixture[str]) -> None:
    shutil.copy(sqlite_template, tmp_path / "cli.db")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("KLINIK_DATABASE_URL", f"sqlite+aiosqlite:///{tmp_path}/cli.db")
    roster = tmp_path / "roster.csv"
    roster.write_text("role,name,phone,cohort,mentor_phone\npendamping,Budi Santoso,0811-0000-0001,,\n"
                      "peserta,Sari,0812-0000-0001,Angkatan 1,0811-0000-0001\n")
    assert main(["roster", "import", str(roster)]) == 0
    capsys.readouterr()

    assert main(["kinerja", "--bulan", "2026-11", "-o", "k.xlsx"]) == 0
    assert main(["kinerja", "--bulan", "November"]) == 2

    said = capsys.readouterr().out
    assert said.startswith("🏅 *Kinerja pendamping — November 2026*")
    assert "1. Budi Santoso — tepat waktu – · median – jam · presensi – · ⭐ –" in said
    rows = list(load_workbook(tmp_path / "k.xlsx")["Kinerja pendamping"].iter_rows(values_only=True))
    assert rows[1][:5] == (1, "Budi Santoso", 1, 0, 0)

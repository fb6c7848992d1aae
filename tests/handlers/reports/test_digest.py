"""Weekly digest: figures equal to hand-computed values, in the text, the chart and the workbook."""

import json
import tomllib
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from matplotlib.image import imread
from openpyxl import load_workbook
from PIL import Image
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from handlers.kernel.config import Config
from handlers.kernel.messages import Channel
from handlers.kernel.outbox import message_of
from handlers.reports import digest
from handlers.reports.targets import set_targets
from scheduler.jobs import JOBS
from scheduler.runner import run_job
from storage.models import (
    LeaveRequest,
    MediaLink,
    NudgeLog,
    OutboxMessage,
    ParticipationScore,
    Person,
    Role,
)
from tests.support.driver import Driver
from tests.support.programme import Programme

JAKARTA = ZoneInfo("Asia/Jakarta")
ROOT = Path(__file__).resolve().parents[3]
JOKO_REASONS = ("alpa 1 dari 1 sesi minggu ini; 1 tugas belum dikirim; laporan bulanan Februari 2026 belum dikirim; "
                "tidak ada pesan 26 hari; 1 pengingat tidak dibalas")
DIGEST = f"""📊 *Ringkasan mingguan Klinik Bisnis*
2–8 Mar 2026

👥 Peserta: 3 · aktif 66,7% (−33,3 poin)
📅 Presensi 66,7% · 📝 Tugas tepat waktu 50%
📄 Laporan bulanan terkirim: 1 dari 3

Angkatan (aktif terendah dulu):
• Angkatan 1: aktif 50% (−50 poin), presensi 50%, tugas 50%
• Angkatan 2: aktif 100% (±0 poin), presensi 100%, tugas –

⚠️ Peserta berisiko: 1
• Joko Susilo (Angkatan 1) — {JOKO_REASONS}

❓ Pertanyaan belum dijawab: 1
< 1 hari: 0 · 1–3 hari: 0 · 3–7 hari: 0 · > 7 hari: 1

⏱️ Respons pertama pendamping: median 3 jam kerja · ⭐ Rating rata-rata: 4,5
✅ Dijawab tepat waktu (≤ 8 jam kerja): 2 dari 2 (100%)

🎯 WUB Pamekasan: 8.202 dari 10.000 warga dilatih (82%)
████████░░

🏅 *Hasil program* (laporan bulanan, 1 peserta melapor)
Belum ada izin usaha, omzet, atau tenaga kerja yang dilaporkan.

Rincian per angkatan, pendamping, dan instansi ada di grafik dan file Excel."""


def at(day: int, hour: int = 10, month: int = 3) -> datetime:
    return datetime(2026, month, day, hour, tzinfo=JAKARTA)


@pytest.fixture
def config(tmp_path: Path) -> Config:
    return Config(timezone=JAKARTA, coordinator_contact="Dinas KUKM (021-000)", media_dir=str(tmp_path / "media"))


@pytest.fixture
async def week(sessions: async_sessionmaker[AsyncSession], driver: Driver, mentor: Person, participant: Person,
               coordinator: Person) -> dict[str, Person]:
    """Week 2026-W10 of two cohorts: Sari does everything, Joko nothing, Wati (another mentor) most."""
    programme = Programme(sessions)
    dewi = await driver.add_person(role=Role.PENDAMPING, name="Dewi Lestari", phone="+6281100000002",
                                   telegram_chat_id="5002", preferred_channel=Channel.TELEGRAM.value)
    joko = await driver.add_person(role=Role.PESERTA, name="Joko Susilo", phone="+6281200000002", mentor_id=mentor.id,
                                   cohort="Angkatan 1", extra={"instansi": " disperindag"})
    wati = await driver.add_person(role=Role.PESERTA, name="Wati", phone="+6281200000003", mentor_id=dewi.id,
                                   cohort="Angkatan 2", extra={"instansi": "DKPP"})
    await programme.set_person(participant, extra={"instansi": "Disperindag"}, last_inbound_at=at(4))
    await programme.set_person(joko, last_inbound_at=at(10, 9, month=2))
    await programme.set_person(wati, last_inbound_at=at(4, 9))
    for person in (participant, joko, wati):
        await programme.set_person(person, created_at=at(1, 9, month=2))
    await programme.meeting(at(3), cohort="Angkatan 1", present={participant: "hadir"})
    await programme.meeting(at(5), mentor=dewi, present={wati: "terlambat"})
    later = await programme.meeting(at(10), cohort="Angkatan 1", closed=False)
    await programme.tugas(at(6, 23), cohort="Angkatan 1", sent={participant: at(5)})
    await programme.report(participant, "2026-02", at(2))
    await programme.ticket(participant, at(3, 14), answered_at=at(4, 10), rating=5)  # 2 + 2 working hours
    await programme.ticket(wati, at(4, 9), answered_at=at(4, 11), rating=4)  # 2 working hours
    await programme.ticket(joko, at(27, month=2))
    await programme.add(
        LeaveRequest(meeting_id=later.id, participant_id=participant.id, kind="izin", created_at=at(6)),
        *[ParticipationScore(week="2026-W09", participant_id=p.id, mentor_id=p.mentor_id, cohort=p.cohort,
                             score=80.0, is_active=True, computed_at=at(2, 7)) for p in (participant, joko, wati)],
        *[NudgeLog(participant_id=joko.id, period="2026-W10", step=step, sent_at=sent)
          for step, sent in (("nudge", at(2, 9)), ("mentor", at(5, 9)), ("coordinator", at(8, 9)))])
    targets = tomllib.loads((ROOT / "bot/templates/targets_example.toml").read_text(encoding="utf-8"))
    async with sessions.begin() as session:
        await set_targets(session, targets["programme"], targets["agency"], at(1))
    return {"sari": participant, "joko": joko, "wati": wati, "dewi": dewi}


async def run_digest(sessions: async_sessionmaker[AsyncSession], config: Config, now: datetime) -> int:
    return await run_job(next(j for j in JOBS if j.id == "weekly_digest"), sessions, config, now)


async def media_path(sessions: async_sessionmaker[AsyncSession], row: OutboxMessage) -> Path:
    token = message_of(row).attachments[0].ref.removeprefix("media:")
    async with sessions() as session:
        link = await session.get(MediaLink, token)
    assert link is not None
    return Path(link.ref)


async def test_digest_text_holds_hand_computed_figures(
        sessions: async_sessionmaker[AsyncSession], config: Config, driver: Driver, week: dict[str, Person],
        coordinator: Person) -> None:
    await run_digest(sessions, config, at(9, 7))

    assert await driver.received(coordinator) == [DIGEST, "📎 Rincian lengkap (Excel): angkatan, pendamping, "
                                                          "peserta berisiko, pertanyaan, target."]


async def test_workbook_has_one_sheet_per_table_with_the_figures(
        sessions: async_sessionmaker[AsyncSession], config: Config, driver: Driver, week: dict[str, Person],
        coordinator: Person) -> None:
    await run_digest(sessions, config, at(9, 7))

    book = load_workbook(await media_path(sessions, (await driver.outbox(coordinator))[1]))
    assert book.sheetnames == ["Ringkasan", "Angkatan", "Pendamping", "Berisiko", "Pertanyaan", "Target",
                               "Hasil program"]
    cohorts = [row[:7] for row in book["Angkatan"].iter_rows(min_row=2, values_only=True)]
    assert cohorts == [("Angkatan 1", 2, 1, 50, -50, 50, 50), ("Angkatan 2", 1, 1, 100, 0, 100, None)]
    mentors = {row[0]: row[-5:] for row in book["Pendamping"].iter_rows(min_row=2, values_only=True)}
    assert mentors == {"Budi Santoso": (1, 1, 4, 5, 1), "Dewi Lestari": (0, 1, 2, 4, 1)}
    assert [row[0] for row in book["Berisiko"].iter_rows(min_row=2, values_only=True)] == ["Joko Susilo"]
    targets = {row[0]: row[1:] for row in book["Target"].iter_rows(min_row=2, values_only=True)}
    assert targets["Disperindag"] == (300, 0, 2, 1, 1, 0.3)
    assert targets["DKPP"] == (300, 0, 1, 1, 1, 0.3)
    assert targets["WUB Pamekasan"] == (10000, 8200, None, 2, 8202, 82)


async def test_chart_opens_and_plots_the_same_figures(
        sessions: async_sessionmaker[AsyncSession], config: Config, driver: Driver, week: dict[str, Person],
        coordinator: Person) -> None:
    await run_digest(sessions, config, at(9, 7))

    row = (await driver.outbox(coordinator))[0]
    path = await media_path(sessions, row)
    plotted = json.loads(Image.open(path).text["Description"])
    assert (message_of(row).attachments[0].kind, imread(path).shape[1]) == ("photo", 792)
    assert plotted["period"] == "2–8 Mar 2026"
    assert plotted["weeks"] == ["12–18 Jan", "19–25 Jan", "26 Jan–1 Feb", "2–8 Feb", "9–15 Feb", "16–22 Feb",
                                "23 Feb–1 Mar", "2–8 Mar"]
    assert plotted["active"][0] == ["Semua peserta", [None] * 6 + [100.0, 66.7]]
    assert plotted["answers"] == [2, 0, 0]
    assert plotted["rates"] == [["Semua peserta", 66.7, 50.0], ["Angkatan 1", 50.0, 50.0], ["Angkatan 2", 100.0, None]]
    assert ["Disperindag", 1, 300, "1", "300"] in plotted["progress"]


async def test_mentor_summary_names_who_slips_and_what_waits(
        sessions: async_sessionmaker[AsyncSession], config: Config, driver: Driver, week: dict[str, Person],
        mentor: Person) -> None:
    await run_digest(sessions, config, at(9, 7))

    assert await driver.received(mentor) == [
        "📋 *Ringkasan mingguan kelompok Anda* — 2–8 Mar 2026\n\n👥 Peserta: 2 · aktif 1 (50%)\n\n"
        f"Perlu perhatian (1):\n• Joko Susilo — {JOKO_REASONS}\n\n"
        "Menunggu Anda: 1 pertanyaan (terlama 9 hari) · 1 tugas perlu dinilai · 1 permintaan izin\n"
        "🙋 Ketik *izin* untuk melihat dan memutuskan pengajuan izin."]
    assert await driver.received(week["dewi"]) == [
        "📋 *Ringkasan mingguan kelompok Anda* — 2–8 Mar 2026\n\n👥 Peserta: 1 · aktif 1 (100%)\n\n"
        "✅ Tidak ada peserta yang menurun. Terima kasih!\n\n"
        "Menunggu Anda: 0 pertanyaan · 0 tugas perlu dinilai · 0 permintaan izin"]


async def test_digest_goes_out_once_a_week_from_monday_seven(
        sessions: async_sessionmaker[AsyncSession], config: Config, driver: Driver, week: dict[str, Person],
        coordinator: Person) -> None:
    counts = [await run_digest(sessions, config, now) for now in (at(9, 6), at(9, 7), at(9, 8), at(10, 9))]

    assert counts == [0, 4, 0, 0]


async def test_ringkasan_on_demand_gives_the_week_so_far(
        sessions: async_sessionmaker[AsyncSession], config: Config, driver: Driver, week: dict[str, Person],
        coordinator: Person, mentor: Person) -> None:
    driver.config = config
    driver.clock.now = at(4, 9)
    await driver.say(coordinator, "ringkasan")
    await driver.say(mentor, "/ringkasan", channel=Channel.TELEGRAM)
    await driver.run_job("summary_requests")  # the figures follow from the background job

    preparing, text, workbook = await driver.outbox(coordinator)
    assert message_of(preparing).text == "⏳ Ringkasan 2026-W10 sedang disiapkan… Kami kirim di sini begitu siap."
    assert message_of(text).text.startswith("📊 *Ringkasan mingguan Klinik Bisnis*\n2–8 Mar 2026 (s.d. 4 Mar, 09.00 WIB)")
    assert [a.kind for a in message_of(text).attachments + message_of(workbook).attachments] == ["photo", "document"]
    assert (await driver.received(mentor))[-1].startswith("📋 *Ringkasan mingguan kelompok Anda* — 2–8 Mar 2026")


async def test_participant_cannot_ask_for_the_digest(driver: Driver, participant: Person) -> None:
    await driver.say(participant, "ringkasan")

    assert await driver.received(participant) == [
        "Maaf, perintah ini bukan untuk peran Anda. Ketik *menu* untuk melihat pilihan Anda."]


async def test_week_closed_at_midnight_is_stored_once_and_gives_the_same_digest(
        sessions: async_sessionmaker[AsyncSession], config: Config, driver: Driver, week: dict[str, Person],
        coordinator: Person, mentor: Person) -> None:
    close = next(j for j in JOBS if j.id == "weekly_scores")
    runs = [await run_job(close, sessions, config, now) for now in (at(8, 23), at(9, 0), at(9, 6))]
    async with sessions() as session:
        stored = (await session.execute(select(ParticipationScore.participant_id, ParticipationScore.computed_at)
                                        .where(ParticipationScore.week == "2026-W10"))).all()
    await run_digest(sessions, config, at(9, 7))

    assert runs == [0, 0, 0]
    assert sorted(pid for pid, _ in stored) == sorted(p.id for p in (week["sari"], week["joko"], week["wati"]))
    assert {computed for _, computed in stored} == {at(9, 0)}  # stored at midnight, not again at 06:00
    assert (await driver.received(coordinator))[0] == DIGEST
    assert (await driver.received(mentor))[0].startswith(
        f"📋 *Ringkasan mingguan kelompok Anda* — 2–8 Mar 2026\n\n👥 Peserta: 2 · aktif 1 (50%)\n\n"
        f"Perlu perhatian (1):\n• Joko Susilo — {JOKO_REASONS}")


async def test_digest_from_the_stored_week_equals_the_one_scored_on_the_spot(
        sessions: async_sessionmaker[AsyncSession], config: Config, week: dict[str, Person]) -> None:
    now = at(9, 7)
    async with sessions() as session:
        scored = await digest.week_scores(session, "2026-W10", now, config)
        await digest.score_and_store(session, "2026-W10", now, config, scored)
        await session.commit()  # as close_week's job commits: the digest's side connections read the stored week
        on_the_spot = await digest.digest_of(session, "2026-W10", scored, now, config)
        found = await digest.stored_digest(session, "2026-W10", now, config)  # as the Monday job reads it
        assert found is not None
        stored, from_stored = found
        summaries = [await digest.mentor_summaries(session, "2026-W10", summed, figured.at_risk)
                     for summed, figured in ((scored, on_the_spot), (stored, from_stored))]
        from_stored.at_risk.close()

    assert from_stored == on_the_spot
    assert from_stored.at_risk[0].name == "Joko Susilo"
    assert (stored.participants, stored.by_mentor) == (scored.participants, scored.by_mentor) == (
        3, {week["joko"].mentor_id: [2, 1], week["dewi"].id: [1, 1]})
    assert summaries[0] == summaries[1]


async def test_ringkasan_of_a_closed_week_shows_the_week_as_stored_when_it_closed(
        sessions: async_sessionmaker[AsyncSession], config: Config, driver: Driver, week: dict[str, Person],
        coordinator: Person) -> None:
    await run_job(next(j for j in JOBS if j.id == "weekly_scores"), sessions, config, at(9, 0))
    await Programme(sessions).set_person(week["joko"], last_inbound_at=at(10, 8))  # writes after the week closed
    driver.config = config
    driver.clock.now = at(10, 9)
    await driver.say(coordinator, "ringkasan 2026-W10")
    await driver.run_job("summary_requests")

    assert (await driver.received(coordinator))[1] == DIGEST


async def test_a_week_already_stored_by_its_digest_is_not_scored_again_when_the_job_first_runs(
        sessions: async_sessionmaker[AsyncSession], config: Config, week: dict[str, Person]) -> None:
    await run_job(next(j for j in JOBS if j.id == "weekly_scores"), sessions, config, at(4, 9))  # W09, two days late

    async with sessions() as session:
        stored = (await session.execute(select(ParticipationScore.score)
                                        .where(ParticipationScore.week == "2026-W09"))).scalars().all()
    assert stored == [80.0, 80.0, 80.0]

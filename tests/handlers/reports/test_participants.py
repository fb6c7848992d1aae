"""`peserta`: a mentor's list with score and last activity, one participant's record, tolerant names."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from handlers.kernel.messages import Channel
from handlers.kernel.outbox import message_of
from storage.models import Person, Role
from tests.support.driver import Driver
from tests.support.programme import Programme

JAKARTA = ZoneInfo("Asia/Jakarta")
TG = Channel.TELEGRAM


def at(day: int, hour: int = 10, month: int = 3) -> datetime:
    return datetime(2026, month, day, hour, tzinfo=JAKARTA)


@pytest.fixture
async def group(sessions: async_sessionmaker[AsyncSession], driver: Driver, mentor: Person,
                participant: Person) -> dict[str, Person]:
    """Budi's group on 4 March: Sari is doing well, Joko went quiet; Tono belongs to another mentor."""
    programme = Programme(sessions)
    joko = await driver.add_person(role=Role.PESERTA, name="Joko Susilo", phone="+6281200000002", mentor_id=mentor.id,
                                   cohort="Angkatan 1", business_name="Warung Joko")
    other = await driver.add_person(role=Role.PENDAMPING, name="Dewi Lestari", phone="+6281100000002")
    tono = await driver.add_person(role=Role.PESERTA, name="Tono", phone="+6281200000003", mentor_id=other.id,
                                   cohort="Angkatan 2", business_name="Bakso Tono")
    await programme.set_person(participant, created_at=at(1, 9, month=2), last_inbound_at=at(3, 20))
    await programme.set_person(joko, created_at=at(1, 9, month=2), last_inbound_at=at(10, 9, month=2))
    await programme.set_person(tono, created_at=at(1, 9, month=2))
    await programme.meeting(at(3), mentor=mentor, present={participant: "hadir"})
    await programme.tugas(at(2, 23), mentor=mentor, sent={participant: at(2)})
    await programme.report(participant, "2026-02", at(3))
    return {"sari": participant, "joko": joko, "tono": tono, "dewi": other}


async def test_mentor_lists_own_participants_slipping_first(driver: Driver, mentor: Person,
                                                            group: dict[str, Person]) -> None:
    await driver.say(mentor, "peserta", channel=TG)

    reply = message_of(await driver.last(mentor))
    lines = reply.text.split("\n")
    assert lines[0] == "👥 *Peserta kelompok Anda*: 2 orang, 1 perlu perhatian (⚠️ di atas)"
    assert lines[2].startswith("⚠️ *Joko Susilo* (Warung Joko) · skor ")
    assert lines[2].endswith(" · terakhir menulis 22 hari lalu")
    assert lines[3].startswith("🟢 *Sari Wulandari* (Keripik Sari) · skor ")
    assert lines[3].endswith(" · terakhir menulis kemarin")
    assert "Tono" not in reply.text
    assert [b.payload for b in reply.buttons] == [f"pst:{group['joko'].id}", f"pst:{group['sari'].id}"]


async def test_record_of_one_participant_in_informal_spelling(driver: Driver, participant: Person, mentor: Person,
                                                              group: dict[str, Person]) -> None:
    await driver.say(participant, "kak cara naikin omzet gmn")
    await driver.press(participant, "tp:pemasaran")

    await driver.say(mentor, "peserta bu sri wulandari", channel=TG)

    record = message_of(await driver.last(mentor))
    assert record.text.startswith(
        "👤 *Sari Wulandari* — Keripik Sari\nAngkatan 1 · Kec. Beji · Pendamping: Budi Santoso · 📱 +6281200000001\n\n"
        "📊 Skor minggu ini: ")
    assert "📍 Presensi: 1 hadir, 0 terlambat, 0 izin, 0 sakit, 0 alpa" in record.text
    assert "📝 Tugas: 1 dari 1 terkirim" in record.text
    assert "📄 Laporan terakhir: Februari 2026 — omzet Rp 1.000.000" in record.text
    assert "❓ Pertanyaan: #1 Pemasaran (menunggu jawaban)" in record.text
    assert [b.payload for b in record.buttons] == ["tk:1", "cmd:peserta"]


async def test_record_says_why_a_participant_slips(driver: Driver, mentor: Person, group: dict[str, Person]) -> None:
    await driver.press(mentor, f"pst:{group['joko'].id}", channel=TG)

    record = (await driver.received(mentor))[-1]
    assert "(perlu perhatian)\nAlasan: alpa 1 dari 1 sesi minggu ini; 1 tugas belum dikirim" in record
    assert "📝 Tugas: 0 dari 1 terkirim; belum: Tugas (batas " in record
    assert "📄 Laporan terakhir: belum pernah lapor" in record
    assert "❓ Pertanyaan: belum pernah bertanya" in record


async def test_several_matches_become_options(driver: Driver, mentor: Person, group: dict[str, Person]) -> None:
    sari_dewi = await driver.add_person(role=Role.PESERTA, name="Sari Dewi", phone="+6281200000009",
                                        mentor_id=mentor.id, business_name="Jamu Sari")

    await driver.say(mentor, "peserta sari", channel=TG)

    reply = message_of(await driver.last(mentor))
    assert reply.text == "Ada beberapa peserta yang cocok dengan “sari”. Pilih salah satu:"
    assert sorted(b.payload for b in reply.buttons) == sorted([f"pst:{group['sari'].id}", f"pst:{sari_dewi.id}"])


async def test_business_name_finds_the_participant(driver: Driver, mentor: Person, group: dict[str, Person]) -> None:
    await driver.say(mentor, "peserta warung joko", channel=TG)

    assert (await driver.received(mentor))[-1].startswith("👤 *Joko Susilo* — Warung Joko")


async def test_mentor_cannot_open_another_mentors_participant(driver: Driver, mentor: Person,
                                                              group: dict[str, Person]) -> None:
    await driver.say(mentor, "peserta tono", channel=TG)
    await driver.press(mentor, f"pst:{group['tono'].id}", channel=TG)

    assert (await driver.received(mentor))[-2:] == [
        "Peserta “tono” tidak ditemukan di daftar Anda. Ketik *peserta* untuk melihat daftarnya.",
        f"Peserta “{group['tono'].id}” tidak ditemukan di daftar Anda. Ketik *peserta* untuk melihat daftarnya."]


async def test_coordinator_is_asked_for_a_name_or_cohort(driver: Driver, coordinator: Person,
                                                         group: dict[str, Person]) -> None:
    await driver.say(coordinator, "peserta")
    hint = message_of(await driver.last(coordinator))
    await driver.say(coordinator, "peserta angkatan 2")
    await driver.say(coordinator, "peserta tono")

    assert hint.text.startswith("Ketik *peserta <nama>* untuk catatan satu peserta, atau *peserta <angkatan>*")
    assert [b.payload for b in hint.buttons] == ["pstc:Angkatan 1", "pstc:Angkatan 2"]
    cohort, record = (await driver.received(coordinator))[-2:]
    assert cohort.startswith("👥 *Peserta Angkatan 2*: 1 orang")
    assert record.startswith("👤 *Tono* — Bakso Tono\nAngkatan 2 · Kec. - · Pendamping: Dewi Lestari")


async def test_participant_is_refused_and_a_participants_sentence_stays_a_question(
        driver: Driver, participant: Person, mentor: Person) -> None:
    await driver.say(participant, "peserta")
    await driver.say(participant, "peserta lain ada yg jual keripik jg ga kak")

    refused, question = await driver.received(participant)
    assert refused.startswith("Maaf, perintah ini bukan untuk peran Anda.")
    assert question.startswith("Pertanyaan Anda tentang")

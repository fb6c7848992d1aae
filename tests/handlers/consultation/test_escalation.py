"""A mentor hands a ticket to a narasumber of its topic; the mentor stays informed and can still add."""

import pytest

from handlers.kernel.messages import Button, Channel
from handlers.kernel.outbox import message_of
from storage.models import Person, Role, TicketEscalation
from tests.support.driver import Driver

TG = Channel.TELEGRAM


@pytest.fixture
async def lawyer(driver: Driver) -> Person:
    return await driver.add_person(role=Role.NARASUMBER, name="Dr. Hana", phone="+6281400000001",
                                   topics="legalitas;halal", preferred_channel="whatsapp")


@pytest.fixture
async def marketer(driver: Driver) -> Person:
    return await driver.add_person(role=Role.NARASUMBER, name="Pak Joko", phone="+6281400000002",
                                   topics="pemasaran;digital", preferred_channel="whatsapp")


async def ask_and_escalate(driver: Driver, participant: Person, mentor: Person, expert: Person) -> None:
    await driver.say(participant, "sertifikat halal untuk keripik gimana?")
    await driver.press(participant, "tp:legalitas")
    await driver.press(mentor, "esc:1", channel=TG)
    await driver.press(mentor, f"escx:1:{expert.id}", channel=TG)
    await driver.say(mentor, "Sudah punya P-IRT, tanya alur SiHalal", channel=TG)


async def test_mentor_sees_only_experts_of_the_topic(driver: Driver, participant: Person, mentor: Person,
                                                     lawyer: Person, marketer: Person) -> None:
    await driver.say(participant, "sertifikat halal untuk keripik gimana?")
    await driver.press(participant, "tp:legalitas")

    await driver.say(mentor, "eskalasi 1", channel=TG)

    offer = await driver.last(mentor)
    assert message_of(offer).text == "Teruskan #1 (Legalitas/Perizinan) ke narasumber:"
    assert message_of(offer).buttons == (Button("Dr. Hana (legalitas, halal)", f"escx:1:{lawyer.id}"),)


async def test_expert_receives_ticket_with_note_and_participant_is_told(driver: Driver, participant: Person,
                                                                        mentor: Person, lawyer: Person) -> None:
    await ask_and_escalate(driver, participant, mentor, lawyer)

    to_expert = (await driver.received(lawyer))[0]
    assert to_expert.startswith("🎓 Pertanyaan *#1* diteruskan kepada Anda oleh Budi Santoso.\n"
                                "Peserta: Sari Wulandari (Keripik Sari) · Topik: Legalitas/Perizinan\n"
                                "Catatan: Sudah punya P-IRT, tanya alur SiHalal\n\n"
                                "sertifikat halal untuk keripik gimana?")
    assert (await driver.received(participant))[-1] == (
        "Pertanyaan #1 Anda diteruskan ke narasumber Dr. Hana agar dijawab oleh ahlinya.")
    assert (await driver.received(mentor))[-1] == "#1 diteruskan ke Dr. Hana. Anda tetap menerima salinan jawabannya."


async def test_expert_answer_names_expert_and_mentor_gets_a_copy(driver: Driver, participant: Person,
                                                                 mentor: Person, lawyer: Person) -> None:
    await ask_and_escalate(driver, participant, mentor, lawyer)

    await driver.say(lawyer, "jawab 1 Daftar di ptsp.halal.go.id, pilih self declare.")

    answer = (await driver.received(participant))[-1]
    assert answer.startswith("💬 Jawaban narasumber Dr. Hana untuk pertanyaan #1:")
    assert (await driver.received(mentor))[-1] == (
        "📋 Salinan jawaban narasumber Dr. Hana untuk #1:\n\nDaftar di ptsp.halal.go.id, pilih self declare.\n\n"
        "Anda masih bisa menambahkan jawaban.")


async def test_mentor_can_still_add_to_the_thread(driver: Driver, participant: Person, mentor: Person,
                                                  lawyer: Person) -> None:
    await ask_and_escalate(driver, participant, mentor, lawyer)
    await driver.say(lawyer, "jawab 1 Daftar di ptsp.halal.go.id.")

    await driver.say(mentor, "jawab 1 Saya bantu isi formulirnya Kamis.", channel=TG)

    assert (await driver.received(participant))[-1].startswith("💬 Jawaban pendamping Budi Santoso untuk pertanyaan #1:")
    assert (await driver.received(lawyer))[-1].startswith("📋 Salinan jawaban pendamping Budi Santoso untuk #1:")


async def test_follow_up_reaches_mentor_and_expert(driver: Driver, participant: Person, mentor: Person,
                                                   lawyer: Person) -> None:
    await ask_and_escalate(driver, participant, mentor, lawyer)

    await driver.say(participant, "Biayanya berapa?")

    assert (await driver.received(lawyer))[-1].startswith("➕ Tambahan untuk #1 dari Sari Wulandari")
    assert (await driver.received(mentor))[-1].startswith("➕ Tambahan untuk #1 dari Sari Wulandari")


async def test_unrelated_expert_may_not_answer(driver: Driver, participant: Person, mentor: Person,
                                               lawyer: Person, marketer: Person) -> None:
    await ask_and_escalate(driver, participant, mentor, lawyer)

    await driver.say(marketer, "jawab 1 saya jawab")

    assert await driver.received(marketer) == ["Pertanyaan #1 tidak ditemukan di daftar Anda."]


async def test_without_experts_of_the_topic_all_are_offered(driver: Driver, participant: Person, mentor: Person,
                                                            marketer: Person) -> None:
    await driver.say(participant, "sertifikat halal gimana?")
    await driver.press(participant, "tp:legalitas")

    await driver.press(mentor, "esc:1", channel=TG)

    offer = await driver.last(mentor)
    assert message_of(offer).text == (
        "Belum ada narasumber khusus Legalitas/Perizinan. Pilih salah satu narasumber untuk #1:")
    assert [b.payload for b in message_of(offer).buttons] == [f"escx:1:{marketer.id}"]


async def test_escalation_without_note_is_recorded(driver: Driver, participant: Person, mentor: Person,
                                                   lawyer: Person) -> None:
    await driver.say(participant, "sertifikat halal gimana?")
    await driver.press(participant, "tp:legalitas")
    await driver.press(mentor, f"escx:1:{lawyer.id}", channel=TG)

    await driver.press(mentor, f"escg:1:{lawyer.id}", channel=TG)

    async with driver.sessions() as session:
        escalation = await session.get(TicketEscalation, 1)
        assert escalation is not None
        assert (escalation.expert_id, escalation.from_id, escalation.note) == (lawyer.id, mentor.id, "")

"""A participant's question reaches their own mentor and the answer comes back."""

from handlers.kernel.messages import Channel
from handlers.kernel.outbox import message_of
from storage.models import Person, Role
from tests.support.driver import Driver

TOPIC_PROMPT = ("Pertanyaan Anda tentang *Legalitas/Perizinan*, betul? Pilih ✅ untuk meneruskan ke pendamping, "
                "atau pilih topik lain.\n\n1. ✅ Legalitas/Perizinan\n2. Permodalan\n3. Pemasaran\n"
                "4. Keuangan/Pembukuan\n5. Produksi\n6. Digital\n7. Lainnya\nBalas dengan angka 1–7.")


async def test_question_becomes_ticket_for_own_mentor(driver: Driver, participant: Person, mentor: Person) -> None:
    await driver.say(participant, "Bagaimana cara daftar NIB?")
    await driver.say(participant, "1")

    assert await driver.received(participant) == [
        TOPIC_PROMPT,
        "✅ Pertanyaan Anda diterima sebagai *#1*. Pendamping Anda, Budi Santoso, akan menjawab di sini."]
    notification = await driver.last(mentor)
    assert notification.channel == "telegram"
    assert "Bagaimana cara daftar NIB?" in message_of(notification).text
    assert [b.payload for b in message_of(notification).buttons] == ["ans:1", "close:1"]


async def test_mentor_answers_with_button_then_text(driver: Driver, participant: Person, mentor: Person) -> None:
    await driver.say(participant, "Bagaimana cara daftar NIB?")
    await driver.press(participant, "tp:legalitas")
    await driver.press(mentor, "ans:1", channel=Channel.TELEGRAM)
    await driver.say(mentor, "Daftar di oss.go.id dengan NIK.", channel=Channel.TELEGRAM)

    answer = (await driver.received(participant))[-1]
    assert answer.startswith("💬 Jawaban pendamping Budi Santoso untuk pertanyaan #1:")
    assert "Daftar di oss.go.id dengan NIK." in answer


async def test_mentor_answers_by_replying_to_notification(driver: Driver, participant: Person, mentor: Person) -> None:
    await driver.say(participant, "Modal usaha dari mana?")
    await driver.press(participant, "tp:permodalan")
    notification = await driver.last(mentor)
    async with driver.sessions.begin() as session:
        row = await session.get(type(notification), notification.id)
        row.external_id = "777"

    await driver.say(mentor, "Coba KUR di bank.", channel=Channel.TELEGRAM, reply_to="777")

    assert "Coba KUR di bank." in (await driver.received(participant))[-1]


async def test_follow_up_joins_open_ticket(driver: Driver, participant: Person, mentor: Person) -> None:
    await driver.say(participant, "Pertanyaan pertama")
    await driver.press(participant, "tp:lainnya")
    await driver.say(participant, "Tambahan: usaha saya keripik")

    texts = await driver.received(mentor)
    assert texts[-1].startswith("➕ Tambahan untuk #1 dari Sari Wulandari")
    assert (await driver.received(participant))[-1] == "Pesan Anda ditambahkan ke pertanyaan #1."


async def test_other_mentor_cannot_answer(driver: Driver, participant: Person, mentor: Person) -> None:
    other = await driver.add_person(role=Role.PENDAMPING, name="Lain", phone="+6281100000002")
    await driver.say(participant, "Halo")
    await driver.press(participant, "tp:lainnya")
    await driver.press(other, "ans:1")

    assert await driver.received(other) == ["Pertanyaan #1 tidak ditemukan di daftar Anda."]


async def test_participant_cannot_use_mentor_command(driver: Driver, participant: Person, mentor: Person) -> None:
    await driver.say(participant, "/jawab 1 saya jawab sendiri")

    assert await driver.received(participant) == [
        "Maaf, perintah ini bukan untuk peran Anda. Ketik *menu* untuk melihat pilihan Anda."]
    assert await driver.outbox(mentor) == []

"""Outgoing messages become outbox rows: split to the channel's limit, buttons as numbered options."""

from handlers.kernel.messages import Address, Button, Channel, Outgoing
from handlers.kernel.outbox import enqueue, message_of, split_text
from storage.models import Person
from tests.support.driver import Driver


def test_split_never_cuts_and_never_drops_text() -> None:
    text = " ".join(f"kata{i}" for i in range(3000))

    parts = split_text(text, 1600)

    assert all(len(part) <= 1600 for part in parts)
    assert " ".join(parts) == text


def test_split_prefers_paragraph_boundaries() -> None:
    text = "a" * 1000 + "\n\n" + "b" * 1000

    assert split_text(text, 1600) == ["a" * 1000, "b" * 1000]


async def test_long_answer_to_whatsapp_becomes_ordered_parts(driver: Driver, participant: Person) -> None:
    long_text = "Langkah usaha. " * 400  # 6,000 characters
    async with driver.sessions.begin() as session:
        await enqueue(session, Outgoing(text=long_text, person_id=participant.id), driver.clock.now, driver.config)

    rows = await driver.outbox(participant)
    assert [message_of(row).part for row in rows] == [1, 2, 3, 4]
    assert all(len(message_of(row).text) <= 1600 for row in rows)
    assert " ".join(message_of(row).text for row in rows).split() == long_text.split()


async def test_whatsapp_buttons_are_numbered_and_a_digit_presses_them(driver: Driver, participant: Person, mentor: Person) -> None:
    await driver.say(participant, "Pertanyaan")
    await driver.press(participant, "tp:lainnya")
    await driver.say(await driver.refresh(mentor), "halo")  # mentor now writes from WhatsApp
    async with driver.sessions.begin() as session:
        await enqueue(session, Outgoing(text="Pilih:", to=Address(Channel.WHATSAPP, mentor.phone), person_id=mentor.id,
                                        buttons=(Button("Jawab", "ans:1"), Button("Tutup", "close:1"))),
                      driver.clock.now, driver.config)

    assert message_of(await driver.last(mentor)).text == "Pilih:\n\n1. Jawab\n2. Tutup\nBalas dengan angka 1–2."
    await driver.say(mentor, "1")
    assert (await driver.received(mentor))[-1] == "Tulis jawaban untuk #1 (ketik *batal* untuk membatalkan)."


async def test_a_large_batch_keeps_each_numbers_latest_options(driver: Driver, mentor: Person) -> None:
    people = [await driver.add_person(role="peserta", name=f"P{i}", phone=f"+62812000010{i:02d}", mentor_id=mentor.id)
              for i in range(25)]
    batch = [Outgoing(text="Pilih:", person_id=p.id, buttons=(Button("Menu", "cmd:menu"),)) for p in people]
    batch += [Outgoing(text="Info tanpa pilihan", person_id=p.id) for p in people[:5]]
    async with driver.sessions.begin() as session:
        from handlers.kernel.outbox import enqueue_all

        await enqueue_all(session, batch, driver.clock.now, driver.config)

    await driver.say(people[10], "1")
    await driver.say(people[0], "1")
    assert (await driver.received(people[10]))[-1].startswith("Halo P10! Tulis pertanyaan usaha Anda")
    assert (await driver.received(people[0]))[-1] == "Pilihan itu sudah tidak berlaku. Ketik *menu* untuk melihat pilihan."
    assert len(await driver.outbox()) == 32

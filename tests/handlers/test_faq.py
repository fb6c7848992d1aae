"""A mentor's answer becomes an FAQ after approval and is offered before a similar question is queued."""

from sqlalchemy import select

from handlers.kernel.messages import Channel
from handlers.kernel.outbox import message_of
from storage.models import FaqEntry, Person, Role, Ticket
from tests.support.driver import Driver

OFFER = ("Apakah ini jawaban yang Anda cari?\n\n❓ Bagaimana cara mengurus NIB untuk usaha makanan?\n\n"
         "💬 Daftar di oss.go.id dengan NIK dan email.\n\n1. 👍 Ya, terjawab\n2. Tidak, tanya pendamping\n"
         "Balas dengan angka 1–2.")


async def answered_and_approved(driver: Driver, participant: Person, mentor: Person, coordinator: Person) -> None:
    """Ticket #1 answered, its answer proposed from the confirmation button and approved."""
    await driver.say(participant, "Bagaimana cara mengurus NIB untuk usaha makanan?")
    await driver.press(participant, "tp:legalitas")
    await driver.say(mentor, "jawab 1 Daftar di oss.go.id dengan NIK dan email.", channel=Channel.TELEGRAM)
    confirmation = await driver.last(mentor)
    await driver.press(mentor, message_of(confirmation).buttons[0].payload, channel=Channel.TELEGRAM)
    await driver.press(coordinator, "fqa:1")


async def other_participant(driver: Driver, mentor: Person) -> Person:
    return await driver.add_person(role=Role.PESERTA, name="Dewi", phone="+6281200000002", mentor_id=mentor.id)


async def count_tickets(driver: Driver) -> int:
    async with driver.sessions() as session:
        return len(list((await session.execute(select(Ticket))).scalars()))


async def test_mentor_proposes_and_coordinator_approves(driver: Driver, participant: Person, mentor: Person,
                                                        coordinator: Person) -> None:
    await answered_and_approved(driver, participant, mentor, coordinator)

    texts = await driver.received(mentor)
    assert "Terima kasih! Jawaban diusulkan sebagai FAQ #1 dan menunggu persetujuan koordinator." in texts
    assert texts[-1] == ("👍 Usulan FAQ #1 Anda disetujui koordinator: “Bagaimana cara mengurus NIB untuk "
                         "usaha makanan?”.")
    review = (await driver.received(coordinator))[0]
    assert review.startswith("📚 Usulan FAQ #1 dari Budi Santoso (Legalitas/Perizinan).")


async def test_similar_question_in_informal_spelling_is_offered(driver: Driver, participant: Person,
                                                                mentor: Person, coordinator: Person) -> None:
    await answered_and_approved(driver, participant, mentor, coordinator)
    dewi = await other_participant(driver, mentor)

    await driver.say(dewi, "gmn cara ngurus nib utk usaha makanan kak?")

    assert await driver.received(dewi) == [OFFER]
    assert await count_tickets(driver) == 1


async def test_faq_that_helped_queues_nothing(driver: Driver, participant: Person, mentor: Person,
                                              coordinator: Person) -> None:
    await answered_and_approved(driver, participant, mentor, coordinator)
    dewi = await other_participant(driver, mentor)
    await driver.say(dewi, "gmn cara ngurus nib utk usaha makanan kak?")

    await driver.say(dewi, "1")

    assert (await driver.received(dewi))[-1] == "Senang bisa membantu! Jika masih ada pertanyaan, tulis saja di sini."
    assert await count_tickets(driver) == 1
    async with driver.sessions() as session:
        entry = await session.get(FaqEntry, 1)
        assert entry is not None
        assert (entry.times_offered, entry.times_helpful) == (1, 1)


async def test_one_tap_continues_to_the_mentor(driver: Driver, participant: Person, mentor: Person,
                                               coordinator: Person) -> None:
    await answered_and_approved(driver, participant, mentor, coordinator)
    dewi = await other_participant(driver, mentor)
    await driver.say(dewi, "gmn cara ngurus nib utk usaha makanan kak?")

    await driver.press(dewi, "fqn:1")
    await driver.press(dewi, "tp:legalitas")

    assert await count_tickets(driver) == 2
    assert "gmn cara ngurus nib utk usaha makanan kak?" in message_of(await driver.last(mentor)).text


async def test_proposal_not_yet_approved_is_not_offered(driver: Driver, participant: Person, mentor: Person) -> None:
    await driver.say(participant, "Bagaimana cara mengurus NIB untuk usaha makanan?")
    await driver.press(participant, "tp:legalitas")
    await driver.say(mentor, "jawab 1 Daftar di oss.go.id.", channel=Channel.TELEGRAM)
    await driver.say(mentor, "faq 1 Cara mengurus NIB?", channel=Channel.TELEGRAM)
    dewi = await other_participant(driver, mentor)

    await driver.say(dewi, "cara ngurus nib gimana")

    assert (await driver.received(dewi))[0].startswith("Pertanyaan Anda tentang *Legalitas/Perizinan*, betul?")


async def test_unrelated_question_gets_no_offer(driver: Driver, participant: Person, mentor: Person,
                                                coordinator: Person) -> None:
    await answered_and_approved(driver, participant, mentor, coordinator)
    dewi = await other_participant(driver, mentor)

    await driver.say(dewi, "cara daftar sertifikat halal untuk keripik")

    assert (await driver.received(dewi))[0].startswith("Pertanyaan Anda tentang *Legalitas/Perizinan*, betul?")


async def test_general_wording_replaces_the_participants_question(driver: Driver, participant: Person,
                                                                  mentor: Person, coordinator: Person) -> None:
    await driver.say(participant, "Saya Sari dari Beji, NIB saya hilang, gimana?")
    await driver.press(participant, "tp:legalitas")
    await driver.say(mentor, "jawab 1 Cetak ulang dari akun OSS Anda.", channel=Channel.TELEGRAM)

    await driver.say(mentor, "faq 1 Bagaimana jika dokumen NIB hilang?", channel=Channel.TELEGRAM)

    async with driver.sessions() as session:
        entry = await session.get(FaqEntry, 1)
        assert entry is not None
        assert (entry.question, entry.answer, entry.status) == (
            "Bagaimana jika dokumen NIB hilang?", "Cetak ulang dari akun OSS Anda.", "pending")

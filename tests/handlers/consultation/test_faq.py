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


async def answered_twice(driver: Driver, participant: Person, mentor: Person) -> None:
    """Ticket #1: a real answer, a follow-up, a second answer, then the mentor's "sama-sama" after thanks."""
    await driver.say(participant, "kak NIB sy hilang gmn ya")
    await driver.press(participant, "tp:legalitas")
    await driver.say(mentor, "jawab 1 Masuk ke akun OSS Anda lalu cetak ulang NIB-nya.", channel=Channel.TELEGRAM)
    await driver.say(participant, "akun OSS nya lupa password kak")
    await driver.say(mentor, "jawab 1 Pilih Lupa Kata Sandi di oss.go.id, link dikirim ke email.",
                     channel=Channel.TELEGRAM)
    await driver.say(mentor, "jawab 1 Sama-sama kak 🙏", channel=Channel.TELEGRAM)


async def stored_entry(driver: Driver, entry_id: int = 1) -> FaqEntry:
    async with driver.sessions() as session:
        entry = await session.get(FaqEntry, entry_id)
        assert entry is not None
        return entry


async def test_faq_lists_several_answers_and_suggests_the_closing_one(driver: Driver, participant: Person,
                                                                      mentor: Person) -> None:
    await answered_twice(driver, participant, mentor)
    await driver.press(participant, "close:1")

    await driver.say(mentor, "faq 1", channel=Channel.TELEGRAM)

    pick = message_of(await driver.last(mentor))
    assert pick.text == (
        "Pertanyaan #1 punya 3 jawaban. Mana yang dijadikan FAQ?\n\n"
        "*1.* Masuk ke akun OSS Anda lalu cetak ulang NIB-nya.\n"
        "*2.* Pilih Lupa Kata Sandi di oss.go.id, link dikirim ke email. ✅ _(menutup pertanyaan)_\n"
        "*3.* Sama-sama kak 🙏\n\n"
        "Pilih nomornya, atau ketik *faq 1 2*.")
    assert [b.label for b in pick.buttons] == ["⭐ Jawaban 1", "⭐ Jawaban 2", "⭐ Jawaban 3"]
    assert await count_tickets(driver) == 1


async def test_mentor_picks_the_answer_by_number(driver: Driver, participant: Person, mentor: Person) -> None:
    await answered_twice(driver, participant, mentor)

    await driver.say(mentor, "faq 1 1", channel=Channel.TELEGRAM)

    entry = await stored_entry(driver)
    assert (entry.question, entry.answer) == ("kak NIB sy hilang gmn ya",
                                              "Masuk ke akun OSS Anda lalu cetak ulang NIB-nya.")


async def test_mentor_picks_the_answer_with_its_option(driver: Driver, participant: Person, mentor: Person) -> None:
    await answered_twice(driver, participant, mentor)
    await driver.say(mentor, "faq 1", channel=Channel.TELEGRAM)
    option = message_of(await driver.last(mentor)).buttons[1]

    await driver.press(mentor, option.payload, channel=Channel.TELEGRAM)

    assert (await stored_entry(driver)).answer == "Pilih Lupa Kata Sandi di oss.go.id, link dikirim ke email."


async def test_general_wording_with_several_answers_takes_the_closing_one(driver: Driver, participant: Person,
                                                                         mentor: Person) -> None:
    await answered_twice(driver, participant, mentor)

    await driver.say(mentor, "faq 1 Bagaimana jika NIB hilang?", channel=Channel.TELEGRAM)

    entry = await stored_entry(driver)
    assert (entry.question, entry.answer) == ("Bagaimana jika NIB hilang?",
                                              "Pilih Lupa Kata Sandi di oss.go.id, link dikirim ke email.")


async def test_coordinator_edits_both_texts_before_approving(driver: Driver, participant: Person, mentor: Person,
                                                             coordinator: Person) -> None:
    await answered_twice(driver, participant, mentor)
    await driver.say(mentor, "faq 1 2", channel=Channel.TELEGRAM)
    await driver.received(coordinator)

    await driver.say(coordinator, "ubahfaq 1 tanya Bagaimana jika NIB hilang?")
    await driver.say(coordinator, "ubahfaq 1 jawab Masuk ke oss.go.id (pakai Lupa Kata Sandi bila perlu), "
                                  "lalu cetak ulang NIB.")
    await driver.say(coordinator, "tinjaufaq")
    await driver.press(coordinator, "fqa:1")

    texts = await driver.received(coordinator)
    assert texts[0].startswith("✏️ FAQ #1 diubah.\n\n📚 Usulan FAQ #1 dari Budi Santoso")
    review = texts[2]
    assert ("❓ Bagaimana jika NIB hilang?\n\n💬 Masuk ke oss.go.id (pakai Lupa Kata Sandi bila perlu), "
            "lalu cetak ulang NIB.") in review
    assert "Ketik *ubahfaq 1 tanya <teks>* atau *ubahfaq 1 jawab <teks>*." in review
    entry = await stored_entry(driver)
    assert (entry.question, entry.status) == ("Bagaimana jika NIB hilang?", "approved")


async def test_proposer_rewords_the_answer_with_the_option(driver: Driver, participant: Person, mentor: Person) -> None:
    await answered_twice(driver, participant, mentor)
    await driver.say(mentor, "faq 1 1", channel=Channel.TELEGRAM)
    proposed = message_of(await driver.last(mentor))

    await driver.press(mentor, proposed.buttons[1].payload, channel=Channel.TELEGRAM)
    await driver.say(mentor, "Buka oss.go.id, masuk, lalu cetak ulang NIB dari menu Perizinan.",
                     channel=Channel.TELEGRAM)

    assert proposed.text == "Terima kasih! Jawaban diusulkan sebagai FAQ #1 dan menunggu persetujuan koordinator."
    assert (await stored_entry(driver)).answer == "Buka oss.go.id, masuk, lalu cetak ulang NIB dari menu Perizinan."
    assert (await driver.received(mentor))[-1].startswith("✏️ Usulan FAQ #1 diubah dan menunggu persetujuan")


async def test_only_coordinator_or_proposer_may_edit_and_only_before_the_decision(
        driver: Driver, participant: Person, mentor: Person, coordinator: Person) -> None:
    other = await driver.add_person(role=Role.PENDAMPING, name="Lain", phone="+6281100000002")
    await answered_twice(driver, participant, mentor)
    await driver.say(mentor, "faq 1 1", channel=Channel.TELEGRAM)

    await driver.say(other, "ubahfaq 1 tanya intip")
    await driver.press(coordinator, "fqr:1")
    await driver.say(mentor, "ubahfaq 1 tanya Bagaimana jika NIB hilang?", channel=Channel.TELEGRAM)

    assert await driver.received(other) == ["FAQ #1 tidak ditemukan."]
    assert (await driver.received(mentor))[-1] == "FAQ #1 sudah diputuskan, tidak bisa diubah lagi."
    assert (await stored_entry(driver)).question == "kak NIB sy hilang gmn ya"

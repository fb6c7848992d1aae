"""When a ticket closes, the participant is asked once to rate it 1–5, with an optional comment."""

from datetime import datetime, timedelta

from sqlalchemy import select

from handlers.consultation.ticket_figures import mentor_ratings
from handlers.kernel.messages import Channel
from storage.models import Person, TicketRating
from tests.support.driver import Driver

TG = Channel.TELEGRAM
RATE_PROMPT = ("Bagaimana jawaban untuk pertanyaan #1? Beri nilai 1 (kurang) sampai 5 (sangat membantu).\n\n"
               "1. ⭐\n2. ⭐⭐\n3. ⭐⭐⭐\n4. ⭐⭐⭐⭐\n5. ⭐⭐⭐⭐⭐\nBalas dengan angka 1–5.")


async def answered(driver: Driver, participant: Person, mentor: Person) -> None:
    await driver.say(participant, "pinjem modal")
    await driver.press(participant, "tp:permodalan")
    await driver.say(mentor, "jawab 1 Coba KUR mikro di BRI.", channel=TG)


async def ratings(driver: Driver) -> list[tuple[int, str]]:
    async with driver.sessions() as session:
        rows = (await session.execute(select(TicketRating.score, TicketRating.comment))).all()
    return [(score, comment) for score, comment in rows]


async def test_participant_closing_rates_with_a_number_and_comments(driver: Driver, participant: Person,
                                                                    mentor: Person) -> None:
    await answered(driver, participant, mentor)
    await driver.press(participant, "close:1")
    prompt = (await driver.received(participant))[-1]

    await driver.say(participant, "5")
    await driver.say(participant, "Jelas sekali, terima kasih")

    assert prompt == RATE_PROMPT
    assert await ratings(driver) == [(5, "Jelas sekali, terima kasih")]
    assert [text.split("\n\n")[0] for text in (await driver.received(participant))[-2:]] == [
        "Terima kasih atas nilai 5! Ada komentar? Tulis di sini, atau pilih *Lewati*.",
        "Terima kasih, masukan Anda membantu kami memperbaiki layanan. 🙏"]


async def test_mentor_closing_asks_the_participant(driver: Driver, participant: Person, mentor: Person) -> None:
    await answered(driver, participant, mentor)

    await driver.say(mentor, "tutup 1", channel=TG)

    assert (await driver.received(participant))[-2:] == ["Pertanyaan #1 ditutup oleh Budi Santoso.", RATE_PROMPT]


async def test_asked_only_once_even_after_reopening(driver: Driver, participant: Person, mentor: Person) -> None:
    await answered(driver, participant, mentor)
    await driver.say(mentor, "tutup 1", channel=TG)
    await driver.say(mentor, "bukalagi 1", channel=TG)
    await driver.received(participant)

    await driver.say(mentor, "tutup 1", channel=TG)

    assert await driver.received(participant) == ["Pertanyaan #1 ditutup oleh Budi Santoso."]


async def test_second_rating_is_refused(driver: Driver, participant: Person, mentor: Person) -> None:
    await answered(driver, participant, mentor)
    await driver.press(participant, "close:1")
    await driver.press(participant, "rate:1:4")
    await driver.press(participant, "rskip:1")

    await driver.press(participant, "rate:1:1")

    assert (await driver.received(participant))[-1] == "Pertanyaan #1 sudah Anda nilai (4). Terima kasih!"
    assert await ratings(driver) == [(4, "")]


async def test_unanswered_ticket_is_not_rated(driver: Driver, participant: Person, mentor: Person) -> None:
    await driver.say(participant, "pinjem modal")
    await driver.press(participant, "tp:permodalan")

    await driver.say(participant, "tutup")

    assert (await driver.received(participant))[-1] == "Pertanyaan #1 ditutup. Terima kasih!"


async def test_much_later_text_is_a_new_question_not_a_comment(driver: Driver, participant: Person,
                                                               mentor: Person) -> None:
    await answered(driver, participant, mentor)
    await driver.press(participant, "close:1")
    await driver.press(participant, "rate:1:3")
    driver.clock.advance(hours=3)

    await driver.say(participant, "Mau tanya soal halal")

    assert await ratings(driver) == [(3, "")]
    assert (await driver.received(participant))[-1].startswith("Pertanyaan Anda tentang *Legalitas/Perizinan*")


async def test_others_cannot_rate(driver: Driver, participant: Person, mentor: Person) -> None:
    await answered(driver, participant, mentor)
    await driver.press(participant, "close:1")

    await driver.press(mentor, "rate:1:5", channel=TG)

    assert (await driver.received(mentor))[-1] == (
        "Maaf, perintah ini bukan untuk peran Anda. Ketik *menu* untuk melihat pilihan Anda.")
    assert await ratings(driver) == []


async def test_ratings_feed_mentor_average(driver: Driver, participant: Person, mentor: Person) -> None:
    await answered(driver, participant, mentor)
    await driver.press(participant, "close:1")
    await driver.press(participant, "rate:1:4")
    since: datetime = driver.clock.now - timedelta(days=7)

    async with driver.sessions() as session:
        summary = await mentor_ratings(session, since=since, until=driver.clock.now + timedelta(seconds=1))

    assert {mentor_id: (s.average, s.count) for mentor_id, s in summary.items()} == {mentor.id: (4.0, 1)}

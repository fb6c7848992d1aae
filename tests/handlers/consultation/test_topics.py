"""The bot guesses a question's topic from informal Indonesian and the participant confirms it."""

import pytest
from sqlalchemy import select

from handlers.consultation.rules import ConsultationRules
from handlers.consultation.topics import Topic, default_topics, guess_topic
from handlers.kernel.config import Config
from handlers.kernel.messages import Button
from handlers.kernel.outbox import message_of
from scheduler.jobs import JOBS
from scheduler.runner import run_job
from storage.models import ConversationState, Person, Ticket
from tests.support.driver import Driver


@pytest.mark.parametrize(("question", "topic"), [
    ("pinjem modal buat usaha", "permodalan"),
    ("mau ajuin KUR ke BRI syaratnya apa", "permodalan"),
    ("ngurus nib gimana kak", "legalitas"),
    ("sertifkat halal dimana", "legalitas"),
    ("P-IRT syaratnya apa", "legalitas"),
    ("jualan di shoppe", "digital"),
    ("pembukuan", "keuangan"),
    ("gmn cara promosiin produk biar laris", "pemasaran"),
    ("kemasan keripik biar awet", "produksi"),
    ("halo kak", "lainnya"),
])
def test_guess_tolerates_informal_spelling(question: str, topic: str) -> None:
    assert guess_topic(question, default_topics()).key == topic


async def tickets(driver: Driver) -> list[Ticket]:
    async with driver.sessions() as session:
        return list((await session.execute(select(Ticket).order_by(Ticket.id))).scalars())


async def test_participant_confirms_guessed_topic_with_one_tap(driver: Driver, participant: Person,
                                                               mentor: Person) -> None:
    await driver.say(participant, "ngurus nib gimana kak")
    prompt = await driver.last(participant)
    await driver.press(participant, "tp:legalitas")

    assert message_of(prompt).buttons[0] == Button("✅ Legalitas/Perizinan", "tp:legalitas")
    assert [(t.topic, t.mentor_id) for t in await tickets(driver)] == [("legalitas", mentor.id)]
    assert "— Legalitas/Perizinan:" in message_of(await driver.last(mentor)).text


async def test_participant_picks_another_topic_by_number(driver: Driver, participant: Person, mentor: Person) -> None:
    await driver.say(participant, "jualan di shopee")
    await driver.say(participant, "3")  # 1 is the guess (Digital), 2 Permodalan, 3 Legalitas…

    assert [t.topic for t in await tickets(driver)] == ["legalitas"]


async def test_typed_topic_name_is_accepted(driver: Driver, participant: Person, mentor: Person) -> None:
    await driver.say(participant, "Halo kak, saya mau tanya")
    await driver.say(participant, "keuangan")

    assert [t.topic for t in await tickets(driver)] == ["keuangan"]


async def test_more_text_before_choosing_joins_the_question(driver: Driver, participant: Person,
                                                            mentor: Person) -> None:
    await driver.say(participant, "Halo kak, mau tanya")
    await driver.say(participant, "saya mau pinjem modal")
    prompt = (await driver.received(participant))[-1]
    await driver.press(participant, "tp:permodalan")

    assert prompt.startswith("Pesan ditambahkan. Topiknya *Permodalan*, betul?")
    assert "Halo kak, mau tanya\nsaya mau pinjem modal" in message_of(await driver.last(mentor)).text


async def test_nothing_is_queued_before_the_topic_is_chosen(driver: Driver, participant: Person,
                                                            mentor: Person) -> None:
    await driver.say(participant, "pinjem modal")

    assert await tickets(driver) == []
    assert await driver.outbox(mentor) == []


async def test_question_left_without_topic_is_queued_by_job(driver: Driver, participant: Person,
                                                            mentor: Person) -> None:
    await driver.say(participant, "pinjem modal buat usaha")
    driver.clock.advance(minutes=61)
    job = next(job for job in JOBS if job.id == "pending_questions")
    await run_job(job, driver.sessions, driver.config, driver.clock.now)
    await run_job(job, driver.sessions, driver.config, driver.clock.now)

    assert [t.topic for t in await tickets(driver)] == ["permodalan"]
    async with driver.sessions() as session:
        assert await session.get(ConversationState, participant.id) is None


async def test_programme_topics_are_configurable(driver: Driver, participant: Person, mentor: Person) -> None:
    driver.config = Config(timezone=driver.config.timezone, rule_groups=(ConsultationRules(topics=(
        Topic("ekspor", (("id", "Ekspor"),), keywords=("ekspor", "luar negeri")),
        Topic("umum", (("id", "Umum"),)))),))
    await driver.say(participant, "bisa ekspor ke luar negri?")

    assert message_of(await driver.last(participant)).buttons == (
        Button("✅ Ekspor", "tp:ekspor"), Button("Umum", "tp:umum"))


async def test_stale_topic_button_gets_a_hint(driver: Driver, participant: Person, mentor: Person) -> None:
    await driver.press(participant, "tp:digital")

    assert await driver.received(participant) == [
        "Pilihan itu sudah tidak berlaku. Ketik *menu* untuk melihat pilihan."]


async def test_programme_may_queue_with_the_guess_without_asking(driver: Driver, participant: Person,
                                                                 mentor: Person) -> None:
    driver.config = Config(timezone=driver.config.timezone, rule_groups=(ConsultationRules(confirm_topic=False),))

    await driver.say(participant, "jualan di shopee")

    assert [t.topic for t in await tickets(driver)] == ["digital"]
    assert await driver.received(participant) == [
        "✅ Pertanyaan Anda diterima sebagai *#1*. Pendamping Anda, Budi Santoso, akan menjawab di sini."]

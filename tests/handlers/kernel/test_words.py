"""People's words land where they meant them: transcripts of consent, drafts, idle forms, commands and intents."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from handlers.kernel.messages import Channel
from handlers.kernel.outbox import message_of
from storage.models import (
    Assignment,
    ConversationState,
    LeaveRequest,
    Meeting,
    Person,
    Role,
    Ticket,
    TicketMessage,
    TicketRating,
)
from tests.support.driver import Driver

TG = Channel.TELEGRAM


async def add_session_tomorrow(driver: Driver, mentor: Person, cohort: str) -> Meeting:
    starts = driver.clock.now + timedelta(days=1)
    async with driver.sessions.begin() as session:
        meeting = Meeting(title="Kelas Pemasaran", cohort=cohort, mentor_id=None, starts_at=starts,
                          ends_at=starts + timedelta(hours=2), checkin_opens_at=starts - timedelta(minutes=30),
                          checkin_closes_at=starts + timedelta(minutes=15), late_after_at=starts,
                          checkin_code="4821", created_by_id=mentor.id, created_at=driver.clock.now)
        session.add(meeting)
    return meeting


async def thread(driver: Driver) -> list[tuple[int, str, str]]:
    async with driver.sessions() as session:
        rows = (await session.execute(select(TicketMessage).order_by(TicketMessage.id))).scalars()
        return [(row.ticket_id, row.kind, row.text) for row in rows]


async def asked_and_answered(driver: Driver, participant: Person, mentor: Person, question: str, topic: str,
                             answer: str) -> None:
    """The participant asks (topic confirmed), the mentor answers it as ticket 1 on Telegram."""
    await driver.say(participant, question)
    await driver.press(participant, f"tp:{topic}")
    await driver.say(mentor, f"jawab 1 {answer}", channel=TG)


async def test_question_sent_before_consent_is_offered_back_and_sent(driver: Driver, mentor: Person) -> None:
    sari = await driver.add_person(role=Role.PESERTA, name="Sari", phone="+6281200000009", mentor_id=mentor.id,
                                   consent_given=False, consent_at=None)
    await driver.say(sari, "gmn cara daftar NIB kak")
    await driver.say(sari, "iya setuju")
    offer = message_of(await driver.last(sari))

    assert offer.text.startswith("Pesan Anda sebelumnya:\n«gmn cara daftar NIB kak»\n\nKirim sebagai pertanyaan")
    await driver.press(sari, offer.buttons[0].payload)
    await driver.press(sari, "tp:legalitas")
    assert await thread(driver) == [(1, "question", "gmn cara daftar NIB kak")]


async def test_declining_consent_keeps_nothing_offered(driver: Driver, mentor: Person) -> None:
    sari = await driver.add_person(role=Role.PESERTA, name="Sari", phone="+6281200000009", mentor_id=mentor.id,
                                   consent_given=False, consent_at=None)
    await driver.say(sari, "gmn cara daftar NIB kak")
    await driver.say(sari, "gak")

    assert (await driver.refresh(sari)).consent_given is False
    assert not any("Pesan Anda sebelumnya" in text for text in await driver.received(sari))


async def test_command_word_during_topic_prompt_keeps_the_drafted_question(
        driver: Driver, participant: Person, mentor: Person) -> None:
    await driver.say(participant, "kak cara hitung HPP gmn")
    await driver.say(participant, "presensi")
    await driver.say(participant, "iya bener kak")

    assert await thread(driver) == [(1, "question", "kak cara hitung HPP gmn")]


async def test_question_beginning_with_a_staff_word_becomes_a_question(
        driver: Driver, participant: Person, mentor: Person) -> None:
    await driver.say(participant, "buka cabang baru perlu izin apa aja")
    await driver.say(participant, "1")

    assert await thread(driver) == [(1, "question", "buka cabang baru perlu izin apa aja")]


async def test_mentor_answer_beginning_with_a_command_word_is_the_answer(
        driver: Driver, participant: Person, mentor: Person) -> None:
    await driver.say(participant, "cara daftar OSS gmn kak")
    await driver.press(participant, "tp:legalitas")
    await driver.press(mentor, "ans:1", channel=TG)

    await driver.say(mentor, "Buka aplikasi OSS di HP, lalu pilih Daftar.", channel=TG)

    assert (await thread(driver))[-1] == (1, "answer", "Buka aplikasi OSS di HP, lalu pilih Daftar.")
    assert any("Buka aplikasi OSS" in text for text in await driver.received(participant))


async def test_thanks_after_an_answer_is_acknowledged_with_a_close_option(
        driver: Driver, participant: Person, mentor: Person) -> None:
    await asked_and_answered(driver, participant, mentor, "cara daftar OSS gmn kak", "legalitas", "Lewat oss.go.id, siapkan KTP.")

    await driver.say(participant, "ok sdh jelas kak makasih")
    reply = message_of(await driver.last(participant))

    assert len(await thread(driver)) == 2
    assert reply.text.startswith("Sama-sama 🙏")
    assert [b.payload for b in reply.buttons] == ["close:1"]


@pytest.mark.parametrize("thanks", ["oke kak mksh bnyk", "makasih bgt kak, jls bgt", "siap kak trims byk 🙏"])
async def test_shorthand_thanks_after_an_answer_is_not_added_to_the_question(
        driver: Driver, participant: Person, mentor: Person, thanks: str) -> None:
    await asked_and_answered(driver, participant, mentor, "modal awal gerobak bakso kira2 brp ya kak", "permodalan", "Sekitar 3-5 juta, mulai dari yg bekas juga bisa.")

    await driver.say(participant, thanks)

    assert len(await thread(driver)) == 2  # the question and the answer: nothing added for the mentor
    assert (await driver.received(participant))[-1].startswith("Sama-sama 🙏")


@pytest.mark.parametrize("done", ["selesai", "udah cukup kak", "oke beres kak 🙏"])
async def test_done_words_while_waiting_are_not_added_to_the_question(
        driver: Driver, participant: Person, mentor: Person, done: str) -> None:
    await driver.say(participant, "izin tanya kak, harga jual keripik 250gr brp yg pas")
    await driver.press(participant, "tp:pemasaran")

    await driver.say(participant, done)

    assert len(await thread(driver)) == 1  # the question only: the mentor is not sent "selesai"
    assert (await driver.received(participant))[-1] == "Baik 🙏 Pertanyaan #1 sedang menunggu jawaban pendamping."


async def test_typed_stars_after_closing_rate_the_ticket(driver: Driver, participant: Person, mentor: Person) -> None:
    await asked_and_answered(driver, participant, mentor, "cara daftar OSS gmn kak", "legalitas", "Lewat oss.go.id.")
    await driver.say(mentor, "tutup 1", channel=TG)

    await driver.say(participant, "5 bintang kak mantap")

    async with driver.sessions() as session:
        ticket = await session.get(Ticket, 1)
        assert ticket is not None
    assert (await driver.received(participant))[-1].startswith("Terima kasih")
    assert len(await thread(driver)) == 2


async def test_idle_form_lets_go_and_resumes_with_lanjut(driver: Driver, participant: Person, mentor: Person) -> None:
    meeting = await add_session_tomorrow(driver, mentor, participant.cohort or "")
    await driver.press(participant, f"att:leave:{meeting.id}:sakit")
    await driver.received(participant)
    driver.clock.advance(minutes=31)

    await driver.say(participant, "kak, cara hitung BEP gmn?")
    told = await driver.received(participant)
    await driver.press(participant, "tp:keuangan")
    await driver.say(participant, "lanjut")
    await driver.say(participant, "demam sejak semalam")

    assert "Ketik *lanjut*" in told[0]
    assert (await thread(driver))[0] == (1, "question", "kak, cara hitung BEP gmn?")
    async with driver.sessions() as session:
        reasons = (await session.execute(select(LeaveRequest.reason))).scalars().all()
    assert list(reasons) == ["demam sejak semalam"]


async def test_leave_words_offer_izin_for_the_next_session(driver: Driver, participant: Person, mentor: Person) -> None:
    await add_session_tomorrow(driver, mentor, participant.cohort or "")

    await driver.say(participant, "bsk sy ga bs dtg kak")
    offer = message_of(await driver.last(participant))

    assert "Kelas Pemasaran" in offer.text
    assert [b.payload.rsplit(":", 1)[-1] for b in offer.buttons][:2] == ["izin", "sakit"]
    assert await thread(driver) == []


async def test_lone_greeting_is_not_a_ticket(driver: Driver, participant: Person, mentor: Person) -> None:
    await driver.say(participant, "P")
    await driver.say(participant, "👍")

    assert await thread(driver) == []
    assert await driver.received(mentor) == []


async def test_mentor_text_outside_a_form_is_kept_and_offered_as_an_answer(
        driver: Driver, participant: Person, mentor: Person) -> None:
    await driver.say(participant, "cara daftar OSS gmn kak")
    await driver.press(participant, "tp:legalitas")
    await driver.say(mentor, "buka 1", channel=TG)

    await driver.say(mentor, "Buka oss.go.id di HP,", channel=TG)
    await driver.say(mentor, "lalu daftar pakai NIK.", channel=TG)
    offer = message_of(await driver.last(mentor))
    await driver.press(mentor, offer.buttons[0].payload, channel=TG)

    assert [b.payload for b in offer.buttons] == ["sdr:1", "sdr:drop"]
    assert (await thread(driver))[-1] == (1, "answer", "Buka oss.go.id di HP,\nlalu daftar pakai NIK.")


async def test_question_while_collecting_a_tugas_is_asked_about_not_swallowed(
        driver: Driver, participant: Person, mentor: Person) -> None:
    async with driver.sessions.begin() as session:
        session.add(Assignment(title="Hitung HPP", description="Hitung HPP 3 produk", cohort=participant.cohort,
                               mentor_id=None, due_at=driver.clock.now + timedelta(days=3), created_by_id=mentor.id,
                               created_at=driver.clock.now))
    await driver.press(participant, "tgs:send:1")
    await driver.say(participant, "HPP keripik 9rb per bungkus")

    await driver.say(participant, "kak formatnya harus pdf ga?")
    choice = message_of(await driver.last(participant))
    await driver.press(participant, choice.buttons[1].payload)

    assert choice.text.startswith("Pesan ini bagian dari tugas, atau pertanyaan")
    assert await thread(driver) == [(1, "question", "kak formatnya harus pdf ga?")]
    async with driver.sessions() as session:
        state = await session.get(ConversationState, participant.id)
    assert state is not None
    assert state.data["texts"] == ["HPP keripik 9rb per bungkus"]


async def test_a_kept_question_can_be_dropped_and_lanjut_with_nothing_kept_says_so(
        driver: Driver, mentor: Person) -> None:
    sari = await driver.add_person(role=Role.PESERTA, name="Sari", phone="+6281200000009", mentor_id=mentor.id,
                                   consent_given=False, consent_at=None)
    await driver.say(sari, "kak mau tanya soal modal usaha")
    await driver.say(sari, "iya setuju kak")
    offer = message_of(await driver.last(sari))

    await driver.press(sari, offer.buttons[1].payload)
    await driver.say(sari, "lanjut")

    assert (await driver.received(sari))[-2:] == ["Baik, pesan itu tidak dikirim.",
                                                  "Tidak ada formulir yang tersimpan. Ketik *menu* untuk pilihan."]
    assert await thread(driver) == []
    assert await driver.received(mentor) == []


@pytest.mark.parametrize(("typed", "meant"), [("presnsi", "presensi"), ("lapran", "laporan"), ("tgas", "tugas"),
                                              ("/presnsi", "presensi")])
async def test_a_mistyped_command_word_is_offered_not_sent_as_a_question(
        driver: Driver, participant: Person, mentor: Person, typed: str, meant: str) -> None:
    await driver.say(participant, typed)
    offer = message_of(await driver.last(participant))

    await driver.press(participant, offer.buttons[0].payload)
    answered = (await driver.received(participant))[-1]
    await driver.say(participant, meant)  # what the word itself answers

    assert offer.text.startswith(f"Maksud Anda *{meant}*?")
    assert [b.payload.split(":")[:2] for b in offer.buttons] == [["cmd", meant], ["draft", "send"]]
    assert await thread(driver) == []
    assert answered == (await driver.received(participant))[-1]


@pytest.mark.parametrize(("text", "offer_text", "button"), [
    ("presentasi", "Maksud Anda *presensi*?", 1),  # close to a command: the second choice keeps it as a question
    ("bsk sy ga bisa dtg kak, ada acara keluarga",  # leave words with no session scheduled
     "Belum ada sesi terjadwal yang bisa diajukan izin. Kirim pesan Anda ke pendamping?", 0),
])
async def test_a_message_offered_as_something_else_can_still_be_the_question(
        driver: Driver, participant: Person, mentor: Person, text: str, offer_text: str, button: int) -> None:
    await driver.say(participant, text)
    offer = message_of(await driver.last(participant))

    await driver.press(participant, offer.buttons[button].payload)
    await driver.press(participant, "tp:lainnya")

    assert offer.text.startswith(offer_text)
    assert [(kind, body) for _, kind, body in await thread(driver)] == [("question", text)]


async def test_mentor_typo_is_offered_and_longer_words_are_not(driver: Driver, participant: Person,
                                                               mentor: Person) -> None:
    await driver.say(mentor, "antrin", channel=TG)
    offer = message_of(await driver.last(mentor))
    await driver.say(participant, "tugasnya")

    assert offer.text.startswith("Maksud Anda *antrian*?")
    assert [b.payload for b in offer.buttons] == ["cmd:antrian"]
    assert (await driver.received(participant))[-1].startswith("Pertanyaan Anda tentang")


async def test_a_number_beyond_the_options_shown_says_which_numbers_there_are(
        driver: Driver, participant: Person, mentor: Person) -> None:
    await driver.say(participant, "menu")  # three options on WhatsApp
    await driver.say(participant, "5")
    await driver.say(participant, "2")  # the options still stand

    texts = await driver.received(participant)
    assert texts[1] == "Angka 5 tidak ada di pilihan. Balas dengan angka 1–3, atau ketik *menu*."
    assert texts[2] == "Tidak ada tugas terbuka. 👍"  # option 2 of the menu: tugas


async def test_a_number_after_an_answer_with_one_option_says_there_is_one(
        driver: Driver, participant: Person, mentor: Person) -> None:
    await asked_and_answered(driver, participant, mentor, "modal awal brp ya kak", "permodalan", "Sekitar 3 juta.")

    await driver.say(participant, "5")  # not a rating: none was asked yet
    await driver.say(participant, "1")  # the one option still stands: close

    texts = await driver.received(participant)
    stray = texts.index("Angka 5 tidak ada di pilihan. Balas dengan angka 1, atau ketik *menu*.")
    assert texts[stray - 1].startswith("💬 Jawaban pendamping")
    assert texts[stray + 1] == "Pertanyaan #1 ditutup. Terima kasih!"


@pytest.mark.parametrize(("rating", "score"), [("⭐⭐⭐⭐⭐", 5), ("bintang 5 kak mantap", 5), ("4/5 makasih kak", 4)])
async def test_stars_after_an_answer_close_the_question_and_rate_it(
        driver: Driver, participant: Person, mentor: Person, rating: str, score: int) -> None:
    await asked_and_answered(driver, participant, mentor, "cara daftar OSS gmn kak", "legalitas", "Lewat oss.go.id, siapkan KTP.")

    await driver.say(participant, rating)

    assert len(await thread(driver)) == 2  # the stars are not sent to the mentor as a follow-up
    async with driver.sessions() as session:
        ticket = (await session.execute(select(Ticket))).scalars().one()
        rated = (await session.execute(select(TicketRating.score))).scalars().all()
    assert (ticket.status, rated) == ("closed", [score])
    assert (await driver.received(participant))[-2:] == [
        "Pertanyaan #1 ditutup. Terima kasih!",
        f"Terima kasih atas nilai {score}! Ada komentar? Tulis di sini, atau pilih *Lewati*.\n\n1. Lewati\nBalas dengan angka 1."]


async def test_a_bare_number_after_an_answer_is_not_taken_as_stars(
        driver: Driver, participant: Person, mentor: Person) -> None:
    await asked_and_answered(driver, participant, mentor, "sebaiknya brp karyawan dulu kak", "produksi", "Sekarang sudah berapa orang yang bantu?")

    await driver.say(participant, "3 kak")

    assert [text for _, _, text in await thread(driver)][-1] == "3 kak"  # the answer reaches the mentor


@pytest.mark.parametrize("typed", ["antrian dong", "antrian kak pls", "antrian ya"])
async def test_a_command_with_polite_words_after_it_is_the_command(
        driver: Driver, participant: Person, mentor: Person, typed: str) -> None:
    await driver.say(mentor, typed, channel=TG)

    assert (await driver.received(mentor))[-1] == "🎉 Tidak ada pertanyaan yang menunggu jawaban."


async def test_participant_command_with_polite_words_and_a_question_with_one(
        driver: Driver, participant: Person, mentor: Person) -> None:
    await driver.say(participant, "tugas dong kak")
    await driver.say(participant, "tugas kelompok boleh ga kak")

    texts = await driver.received(participant)
    assert texts[0] == "Tidak ada tugas terbuka. 👍"
    assert texts[1].startswith("Pertanyaan Anda tentang")

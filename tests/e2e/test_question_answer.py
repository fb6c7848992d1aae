"""A question reaches the participant's own mentor on the other channel and the answer comes back.

The real KlinikApp runs in the test's event loop: Telegram through the telegram-test-api
emulator, WhatsApp through webhooks signed with twilio's RequestValidator and outbound
messages sent to Prism serving Twilio's OpenAPI spec.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from storage.models import (
    AuditEntry,
    OutboxMessage,
    OutboxStatus,
    Person,
    Role,
    Ticket,
    TicketStatus,
)
from tests.e2e.harness import (
    ANSWER,
    MENTOR_CHAT,
    PARTICIPANT_CHAT,
    PARTICIPANT_PHONE,
    QUESTION,
    WHATSAPP_FROM,
    Klinik,
    body,
    eventually,
    mentor_on_telegram,
    participant_on_whatsapp,
)

pytestmark = pytest.mark.e2e

async def test_whatsapp_question_is_answered_by_telegram_mentor_replying(klinik: Klinik) -> None:
    mentor = await mentor_on_telegram(klinik)
    participant = await participant_on_whatsapp(klinik, mentor)
    await klinik.start()
    emulator, token = klinik.emulator, klinik.token

    await klinik.whatsapp(participant.phone, QUESTION, ProfileName="Sari")
    topic = await klinik.wait_whatsapp(participant.phone)
    assert body(topic).startswith("Pertanyaan Anda tentang *Legalitas/Perizinan*, betul?")
    assert "\n1. ✅ Legalitas/Perizinan\n" in body(topic)
    assert (topic.data["From"], topic.data["To"]) == (f"whatsapp:{WHATSAPP_FROM}", f"whatsapp:{participant.phone}")
    assert topic.data["StatusCallback"] == f"{klinik.base_url}/twilio/status"
    await klinik.whatsapp(participant.phone, "1")

    received = await klinik.wait_whatsapp(participant.phone)
    assert body(received) == ("✅ Pertanyaan Anda diterima sebagai *#1*. Pendamping Anda, Budi Santoso, "
                              "akan menjawab di sini.")
    notice = await emulator.wait_for(token, MENTOR_CHAT, lambda m: "Pertanyaan baru" in (m.text or ""))
    assert notice.text == ("❓ Pertanyaan baru <b>#1</b> dari Sari Wulandari (Keripik Sari) — Legalitas/Perizinan:"
                           f"\n\n{QUESTION}\n\nBalas pesan ini, atau pilih <b>Jawab</b>.")
    assert notice.button_texts == ["Jawab", "Tutup"]
    assert notice.callback_data == ["ans:1", "close:1"]

    await emulator.send_message(token, MENTOR_CHAT, ANSWER, reply_to_message_id=notice.message_id)

    answer = await klinik.wait_whatsapp(participant.phone)
    assert body(answer).startswith(f"💬 Jawaban pendamping Budi Santoso untuk pertanyaan #1:\n\n{ANSWER}\n\n")
    assert body(answer).endswith("1. Selesai, terima kasih\nBalas dengan angka 1.")
    sent = await emulator.wait_for(token, MENTOR_CHAT, lambda m: "terkirim" in (m.text or ""))
    assert sent.text == "Jawaban #1 terkirim ke Sari Wulandari."
    await klinik.settled()
    (ticket,) = await klinik.all(Ticket)
    assert (ticket.participant_id, ticket.mentor_id, ticket.status) == (participant.id, mentor.id,
                                                                        TicketStatus.ANSWERED)
    assert len(klinik.twilio_messages(participant.phone)) == 3


async def test_telegram_participant_links_consents_asks_and_whatsapp_mentor_answers(klinik: Klinik) -> None:
    mentor = await klinik.add_person(role=Role.PENDAMPING, name="Rudi Hartono", phone="+6281100000002",
                                     preferred_channel="whatsapp",
                                     last_whatsapp_inbound_at=datetime.now(UTC) - timedelta(hours=1))
    participant = await klinik.add_person(role=Role.PESERTA, name="Dewi Lestari", phone="+6281200000002",
                                          mentor_id=mentor.id, business_name="Batik Dewi", consent_given=None,
                                          consent_at=None)
    await klinik.start()
    emulator, token, user = klinik.emulator, klinik.token, PARTICIPANT_CHAT

    await emulator.send_message(token, user, "Halo", first_name="Dewi")
    ask_contact = await emulator.wait_for(token, user)
    assert "Bagikan nomor saya" in (ask_contact.text or "")
    (button,) = ask_contact.reply_markup["keyboard"][0]
    assert button == {"text": "📱 Bagikan nomor saya", "request_contact": True}

    # Telegram shares the number without a plus; the roster holds E.164.
    contact = {"phone_number": "6281200000002", "first_name": "Dewi", "user_id": user}
    await emulator.send_message(token, user, None, contact=contact, first_name="Dewi")
    consent = await emulator.wait_for(token, user, lambda m: "Apakah Anda setuju?" in (m.text or ""))
    assert consent.text.startswith("Halo Dewi Lestari! Selamat datang di Klinik Bisnis.")
    assert consent.callback_data == ["consent:yes", "consent:no"]
    await emulator.send_callback(token, user, consent.button("Setuju"), consent.message_id, first_name="Dewi")
    thanks = await emulator.wait_for(token, user, lambda m: "Persetujuan" in (m.text or ""))
    assert thanks.text == "Terima kasih, Dewi Lestari. Persetujuan Anda sudah dicatat."

    await emulator.send_message(token, user, "Gimana cara jualan batik di shopee biar laris?", first_name="Dewi")
    topic = await emulator.wait_for(token, user, lambda m: "betul?" in (m.text or ""))
    assert topic.text.startswith("Pertanyaan Anda tentang <b>Pemasaran</b>")
    await emulator.send_callback(token, user, topic.callback_data[0], topic.message_id, first_name="Dewi")
    received = await emulator.wait_for(token, user, lambda m: "diterima" in (m.text or ""))
    assert received.text == ("✅ Pertanyaan Anda diterima sebagai <b>#1</b>. Pendamping Anda, Rudi Hartono, "
                             "akan menjawab di sini.")

    notice = await klinik.wait_whatsapp(mentor.phone, lambda r: "Pertanyaan baru" in body(r))
    assert body(notice).startswith("❓ Pertanyaan baru *#1* dari Dewi Lestari (Batik Dewi) — Pemasaran:")
    assert body(notice).endswith("\n\n1. Jawab\n2. Tutup\nBalas dengan angka 1–2.")
    await klinik.whatsapp(mentor.phone, "1")
    prompt = await klinik.wait_whatsapp(mentor.phone)
    assert body(prompt) == "Tulis jawaban untuk #1 (ketik *batal* untuk membatalkan)."
    await klinik.whatsapp(mentor.phone, "Foto produk dengan cahaya alami dan pakai fitur Shopee Live tiap sore.")

    answer = await emulator.wait_for(token, user, lambda m: "Jawaban" in (m.text or ""))
    assert answer.text == ("💬 Jawaban pendamping Rudi Hartono untuk pertanyaan #1:\n\nFoto produk dengan cahaya "
                           "alami dan pakai fitur Shopee Live tiap sore.\n\nAda yang kurang jelas? Tulis saja di sini.")
    assert answer.callback_data == ["close:1"]
    confirmed = await klinik.wait_whatsapp(mentor.phone)
    assert body(confirmed).startswith("Jawaban #1 terkirim ke Dewi Lestari.")
    await klinik.settled()
    (linked,) = await klinik.all(Person, Person.id == participant.id)
    assert (linked.telegram_user_id, linked.telegram_chat_id, linked.consent_given) == (str(user), str(user), True)
    assert await klinik.count(AuditEntry, AuditEntry.action == "consent") == 1
    (ticket,) = await klinik.all(Ticket)
    assert (ticket.mentor_id, ticket.status) == (mentor.id, TicketStatus.ANSWERED)


async def test_question_committed_before_a_stop_reaches_the_mentor_once_after_restart(klinik: Klinik) -> None:
    mentor = await mentor_on_telegram(klinik)
    participant = await participant_on_whatsapp(klinik, mentor)
    first = klinik.build()
    first.worker.stop()  # this process dies before its delivery worker sends anything
    await klinik.start(first)

    await klinik.whatsapp(participant.phone, QUESTION)
    await klinik.whatsapp(participant.phone, "1")  # the topic menu is stored even though it was not sent
    notice_row = (OutboxMessage.recipient_id == mentor.id, OutboxMessage.ref == "ticket:1",
                  OutboxMessage.status == OutboxStatus.PENDING)
    await eventually(lambda: klinik.count(OutboxMessage, *notice_row), what="notification committed")
    await klinik.stop()
    assert await klinik.emulator.bot_calls(klinik.token, "sendMessage") == []
    assert klinik.twilio_messages() == []

    await klinik.start()  # a new process on the same database

    notice = await klinik.emulator.wait_for(klinik.token, MENTOR_CHAT, lambda m: "Pertanyaan baru" in (m.text or ""))
    assert QUESTION in (notice.text or "")
    await klinik.wait_whatsapp(PARTICIPANT_PHONE, lambda r: "diterima sebagai *#1*" in body(r))
    await klinik.settled()
    await klinik.stop()
    calls = await klinik.emulator.bot_calls(klinik.token, "sendMessage")
    notices = [c for c in calls if c["params"]["chat_id"] == str(MENTOR_CHAT) and "#1" in c["params"]["text"]]
    assert len(notices) == 1
    assert [body(r)[:30] for r in klinik.twilio_messages(PARTICIPANT_PHONE)] == [
        "Pertanyaan Anda tentang *Legal", "✅ Pertanyaan Anda diterima seb"]
    assert await klinik.count(OutboxMessage, OutboxMessage.status != OutboxStatus.SENT) == 0

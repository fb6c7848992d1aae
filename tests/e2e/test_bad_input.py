"""Bad input at the edges: each gets its expected answer and changes nothing it should not.

Every test compares row counts of the tables the bot writes before and after (``changes``),
so "no ticket" also means no stray state, menu, person or audit row.
"""

from __future__ import annotations

import time
import uuid

import pytest

from storage.models import InboxItem, Ticket, TicketStatus, UnknownContact
from tests.e2e.harness import (
    MENTOR_CHAT,
    QUESTION,
    Klinik,
    ask_on_whatsapp,
    body,
    mentor_on_telegram,
    new_sid,
    participant_on_whatsapp,
)

pytestmark = pytest.mark.e2e


async def test_forged_twilio_signature_is_refused_and_nothing_is_stored(klinik: Klinik) -> None:
    participant = await participant_on_whatsapp(klinik, await mentor_on_telegram(klinik))
    await klinik.start()
    before = await klinik.counts()
    form = klinik.whatsapp_form(participant.phone, QUESTION)
    status = {"MessageSid": new_sid(), "MessageStatus": "undelivered", "ErrorCode": "63016"}

    attempts = {
        "unsigned": await klinik.post("/twilio/whatsapp", data=form),
        "another account's token": await klinik.post("/twilio/whatsapp", data=form, headers={
            "X-Twilio-Signature": klinik.signature("/twilio/whatsapp", form, auth_token="f" * 32)}),
        "body changed after signing": await klinik.post("/twilio/whatsapp", data=form | {"Body": "Transfer dulu"},
                                                        headers={"X-Twilio-Signature": klinik.signature(
                                                            "/twilio/whatsapp", form)}),
        "signed for another URL": await klinik.post("/twilio/whatsapp", data=form, headers={
            "X-Twilio-Signature": klinik.signature("/twilio/status", form)}),
        "forged status callback": await klinik.post("/twilio/status", data=status, headers={
            "X-Twilio-Signature": "bm90IGEgc2lnbmF0dXJl"}),
    }

    assert {name: r.status_code for name, r in attempts.items()} == dict.fromkeys(attempts, 403)
    assert await klinik.changes(before) == {}
    assert klinik.twilio_messages() == []


async def test_the_same_message_sid_twice_makes_one_ticket_and_one_reply(klinik: Klinik) -> None:
    mentor = await mentor_on_telegram(klinik)
    participant = await participant_on_whatsapp(klinik, mentor)
    await klinik.start()
    question = klinik.whatsapp_form(participant.phone, QUESTION)
    confirm = klinik.whatsapp_form(participant.phone, "1")

    for form in (question, question):  # Twilio retries a webhook it thinks failed
        assert (await klinik.post_signed("/twilio/whatsapp", form)).status_code == 200
    await klinik.wait_whatsapp(participant.phone, lambda r: "betul?" in body(r))
    await klinik.settled()
    for form in (confirm, confirm):
        assert (await klinik.post_signed("/twilio/whatsapp", form)).status_code == 200
    await klinik.emulator.wait_for(klinik.token, MENTOR_CHAT, lambda m: "Pertanyaan baru" in (m.text or ""))
    await klinik.settled()

    assert await klinik.count(InboxItem) == 2
    assert await klinik.count(Ticket) == 1
    assert [body(r)[:22] for r in klinik.twilio_messages(participant.phone)] == [
        "Pertanyaan Anda tentan", "✅ Pertanyaan Anda dite"]
    assert len(await klinik.emulator.bot_calls(klinik.token, "sendMessage")) == 1


async def test_unknown_number_gets_a_polite_answer_and_is_recorded(klinik: Klinik) -> None:
    await participant_on_whatsapp(klinik, await mentor_on_telegram(klinik))
    await klinik.start()
    before = await klinik.counts()

    await klinik.whatsapp("+6285799990000", "Halo, saya mau ikut program UMKM", ProfileName="Pak Joko")

    reply = await klinik.wait_whatsapp("+6285799990000")
    assert body(reply) == ("Maaf, nomor Anda belum terdaftar di program ini. Silakan hubungi Dinas KUKM Kota Depok "
                           "(021-000) agar didaftarkan. Pesan Anda sudah kami catat.")
    assert await klinik.changes(before) == {"inbox": 1, "unknown_contacts": 1, "outbox": 1}
    (unknown,) = await klinik.all(UnknownContact)
    assert (unknown.channel, unknown.phone, unknown.display_name, unknown.last_text, unknown.message_count) == (
        "whatsapp", "+6285799990000", "Pak Joko", "Halo, saya mau ikut program UMKM", 1)


async def test_a_20000_character_message_is_refused_without_a_ticket(klinik: Klinik) -> None:
    participant = await participant_on_whatsapp(klinik, await mentor_on_telegram(klinik))
    await klinik.start()
    before = await klinik.counts()
    text = ("Saya mau tanya soal modal usaha keripik. " * 500)[:19_999] + "?"

    await klinik.whatsapp(participant.phone, text)

    reply = await klinik.wait_whatsapp(participant.phone)
    assert body(reply) == ("Pesan Anda terlalu panjang (20.000 karakter; paling banyak 4.000). "
                           "Mohon dipersingkat, atau kirim sebagai dokumen.")
    assert await klinik.changes(before) == {"inbox": 1, "outbox": 1}
    assert await klinik.emulator.bot_calls(klinik.token, "sendMessage") == []


async def test_a_sticker_gets_a_cannot_process_reply(klinik: Klinik) -> None:
    participant = await participant_on_whatsapp(klinik, await mentor_on_telegram(klinik))
    await klinik.start()
    before = await klinik.counts()
    media = (f"https://api.twilio.com/2010-04-01/Accounts/{klinik.prism.account_sid}/Messages/{new_sid('MM')}"
             f"/Media/{new_sid('ME')}")

    await klinik.whatsapp(participant.phone, "", NumMedia="1", MediaContentType0="image/webp", MediaUrl0=media)

    reply = await klinik.wait_whatsapp(participant.phone)
    assert body(reply) == "Maaf, stiker belum bisa kami proses. Silakan kirim teks, foto, atau dokumen."
    assert await klinik.changes(before) == {"inbox": 1, "outbox": 1}


async def test_a_participant_cannot_use_the_mentor_answer_command(klinik: Klinik) -> None:
    mentor = await mentor_on_telegram(klinik)
    participant = await participant_on_whatsapp(klinik, mentor)
    await klinik.start()
    await ask_on_whatsapp(klinik, participant.phone, QUESTION)
    await klinik.wait_whatsapp(participant.phone, lambda r: "diterima" in body(r))
    await klinik.settled()
    before = await klinik.counts()
    mentor_calls = len(await klinik.emulator.bot_calls(klinik.token))

    await klinik.whatsapp(participant.phone, "/jawab 1 Sudah beres, saya jawab sendiri")

    reply = await klinik.wait_whatsapp(participant.phone)
    assert body(reply) == "Maaf, perintah ini bukan untuk peran Anda. Ketik *menu* untuk melihat pilihan Anda."
    assert await klinik.changes(before) == {"inbox": 1, "outbox": 1}
    (ticket,) = await klinik.all(Ticket)
    assert ticket.status == TicketStatus.OPEN
    assert len(await klinik.emulator.bot_calls(klinik.token)) == mentor_calls


async def test_telegram_webhook_requires_the_secret_token(klinik: Klinik) -> None:
    await mentor_on_telegram(klinik)
    secret = f"rahasia-{uuid.uuid4().hex}"
    await klinik.start(telegram={"mode": "webhook", "webhook_secret": secret})
    (hook,) = await klinik.emulator.bot_calls(klinik.token, "setWebhook")
    assert (hook["params"]["url"], hook["params"]["secret_token"]) == (f"{klinik.base_url}/telegram/webhook",
                                                                       secret)
    stranger = {"id": 7001, "is_bot": False, "first_name": "Tono"}
    update = {"update_id": 900_001, "message": {"message_id": 1, "date": int(time.time()), "from": stranger,
                                                "chat": {"id": 7001, "type": "private", "first_name": "Tono"},
                                                "text": "Halo"}}
    before = await klinik.counts()

    refused = [await klinik.post("/telegram/webhook", json=update),
               await klinik.post("/telegram/webhook", json=update,
                                 headers={"X-Telegram-Bot-Api-Secret-Token": "tebakan"})]
    assert [r.status_code for r in refused] == [403, 403]
    assert await klinik.changes(before) == {}

    accepted = [await klinik.post("/telegram/webhook", json=update,
                                  headers={"X-Telegram-Bot-Api-Secret-Token": secret}) for _ in range(2)]
    assert [r.status_code for r in accepted] == [200, 200]
    ask = await klinik.emulator.wait_for(klinik.token, 7001)
    assert "Bagikan nomor saya" in (ask.text or "")
    assert await klinik.changes(before) == {"inbox": 1, "outbox": 1}  # the repeated update id is ignored

    # Telegram itself (the emulator) delivers to the webhook with the secret header.
    await klinik.emulator.send_message(klinik.token, MENTOR_CHAT, "halo")
    hint = await klinik.emulator.wait_for(klinik.token, MENTOR_CHAT)
    assert hint.text == ("Untuk menjawab, balas notifikasi pertanyaan atau pilih <b>Jawab</b>. "
                         "Ketik <b>menu</b> untuk pilihan lain.")
    assert await klinik.count(InboxItem, InboxItem.channel == "telegram") == 2

"""Identities through the real peers: a borrowed contact card links nobody; a group chat captures nobody."""

from __future__ import annotations

import pytest

from storage.models import AuditEntry, InboxItem, Person
from tests.e2e.harness import MENTOR_CHAT, Klinik, mentor_on_telegram

pytestmark = pytest.mark.e2e

ATTACKER = 666
GROUP = -1001234567


async def test_contact_card_takeover_is_refused_and_changes_nothing(klinik: Klinik) -> None:
    coordinator = await klinik.add_person(role="koordinator", name="Rina Dinas", phone="+6281300000001",
                                          preferred_channel="whatsapp")
    await klinik.start()
    emulator, token = klinik.emulator, klinik.token
    before = await klinik.counts()

    # A card typed by hand (no user_id), then a card that is someone else's (another user_id).
    await emulator.send_message(token, ATTACKER, None, contact={"phone_number": "6281300000001", "first_name": "R"})
    refused = await emulator.wait_for(token, ATTACKER)
    await emulator.send_message(token, ATTACKER, None,
                                contact={"phone_number": "6281300000001", "first_name": "R", "user_id": 4242})
    refused_again = await emulator.wait_for(token, ATTACKER)
    await emulator.send_command(token, ATTACKER, "/buka 1")
    asked = await emulator.wait_for(token, ATTACKER)

    assert (refused.text or "").startswith("Maaf, kartu kontak ini tidak bisa kami pastikan sebagai nomor Anda")
    assert (refused_again.text or "").startswith("Mohon bagikan nomor Anda sendiri")
    assert "Bagikan nomor saya" in (asked.text or "")
    (stored,) = await klinik.all(Person, Person.id == coordinator.id)
    assert (stored.telegram_user_id, stored.telegram_chat_id) == (None, None)
    assert await klinik.changes(before) == {"inbox": 3, "outbox": 3}
    assert await klinik.count(AuditEntry) == 0


async def test_group_chat_gets_one_notice_and_captures_nobody(klinik: Klinik) -> None:
    mentor = await mentor_on_telegram(klinik)
    await klinik.start()
    emulator, token = klinik.emulator, klinik.token
    group = {"id": GROUP, "type": "supergroup", "title": "Alumni WUB"}
    before = await klinik.counts()

    await emulator.send_message(token, MENTOR_CHAT, "/antrian@klinik_bot", chat=group)
    notice = await emulator.wait_for(token, GROUP)
    await emulator.send_message(token, MENTOR_CHAT, "halo semua, ada yang tahu cara daftar NIB?", chat=group)
    await emulator.send_message(token, MENTOR_CHAT, None, chat=group,
                                contact={"phone_number": "6281100000001", "first_name": "B", "user_id": MENTOR_CHAT})
    await klinik.settled()

    assert (notice.text or "").startswith("Halo! Klinik Bisnis hanya melayani lewat chat pribadi")
    assert await emulator.get_updates(token, GROUP) == []
    assert await emulator.get_updates(token, MENTOR_CHAT) == []
    (stored,) = await klinik.all(Person, Person.id == mentor.id)
    assert (stored.telegram_chat_id, stored.last_inbound_at) == (str(MENTOR_CHAT), None)
    assert await klinik.changes(before) == {"inbox": 3, "outbox": 1}
    assert all(item.payload.get("redacted") and "text" not in item.payload for item in await klinik.all(InboxItem))

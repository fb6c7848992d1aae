"""Identities that cannot be borrowed: a Telegram account links only through its own contact, audited;
a coordinator unlinks a person whose phone changed hands; group chats capture nobody."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import func, select

from handlers.kernel.messages import Address, Channel, Inbound
from handlers.kernel.outbox import message_of
from storage.models import AuditEntry, InboxItem, Person, Role, Ticket, UnknownContact
from tests.support.driver import Driver

TG = Channel.TELEGRAM
NOT_VERIFIED = ("Maaf, kartu kontak ini tidak bisa kami pastikan sebagai nomor Anda sendiri. Bagikan nomor Anda "
                "lewat pilihan *Bagikan nomor saya* di bawah kolom pesan.")
NOT_OWN = "Mohon bagikan nomor Anda sendiri dengan tombol *Bagikan nomor saya*, bukan kontak orang lain."
PRIVATE_ONLY = ("Halo! Klinik Bisnis hanya melayani lewat chat pribadi, agar data dan pertanyaan setiap orang tetap "
                "rahasia. Silakan kirim pesan langsung ke bot ini. Pesan di grup tidak kami catat.")


async def audit(driver: Driver, *actions: str) -> list[tuple[str, str, dict[str, object]]]:
    async with driver.sessions() as session:
        query = select(AuditEntry).where(AuditEntry.action.in_(actions)).order_by(AuditEntry.id)
        return [(entry.action, entry.subject, entry.detail) for entry in (await session.execute(query)).scalars()]


async def count(driver: Driver, model: type) -> int:
    async with driver.sessions() as session:
        return int((await session.execute(select(func.count()).select_from(model))).scalar_one())


async def texts_to(driver: Driver, address: str) -> list[str]:
    return [message_of(row).text for row in await driver.outbox() if row.address == address]


async def test_contact_card_without_user_id_is_refused_and_changes_nothing(driver: Driver,
                                                                           coordinator: Person) -> None:
    await driver.say("666", "", channel=TG, contact_phone=coordinator.phone, contact_user_id=None)
    await driver.say("666", "buka 2", channel=TG)

    assert await texts_to(driver, "666") == [
        NOT_VERIFIED, "Halo! 👋 Ini Klinik Bisnis. Agar kami bisa mengenali Anda, tekan tombol *Bagikan nomor saya* "
        "di bawah."]
    stored = await driver.refresh(coordinator)
    assert (stored.telegram_user_id, stored.telegram_chat_id) == (None, None)
    assert (await count(driver, UnknownContact), await audit(driver, "telegram_link")) == (0, [])


async def test_someone_elses_contact_card_is_refused(driver: Driver, coordinator: Person) -> None:
    await driver.say("666", "", channel=TG, contact_phone=coordinator.phone, contact_user_id="4242")

    assert await texts_to(driver, "666") == [NOT_OWN]
    assert (await driver.refresh(coordinator)).telegram_user_id is None


async def test_own_contact_links_with_an_audit_entry(driver: Driver, mentor: Person) -> None:
    sari = await driver.add_person(role=Role.PESERTA, name="Sari", phone="+6281200000009", mentor_id=mentor.id)

    await driver.say("4711", "", channel=TG, contact_phone="0812-0000-0009")

    assert (await driver.refresh(sari)).telegram_user_id == "4711"
    assert await audit(driver, "telegram_link") == [
        ("telegram_link", f"person:{sari.id}", {"channel": "telegram", "account": "4711"})]


async def test_a_new_account_of_the_same_number_relinks_with_an_audit_entry(driver: Driver, mentor: Person) -> None:
    await driver.say("7777", "", channel=TG, contact_phone=mentor.phone)

    stored = await driver.refresh(mentor)
    assert (stored.telegram_user_id, stored.telegram_chat_id) == ("7777", "7777")
    assert await audit(driver, "telegram_relink") == [
        ("telegram_relink", f"person:{mentor.id}",
         {"channel": "telegram", "account": "7777", "previous_account": "5001"})]


async def test_coordinator_unlinks_a_person_whose_phone_changed_hands(driver: Driver, mentor: Person,
                                                                      coordinator: Person) -> None:
    await driver.say(coordinator, "lepas 0811-0000-0001")
    await driver.say(mentor, "antrian", channel=TG)

    assert (await driver.received(coordinator))[-1] == (
        "✅ Akun Telegram Budi Santoso (+6281100000001) dilepas. Untuk memakai Telegram lagi, ia harus membagikan "
        "nomornya sendiri.")
    stored = await driver.refresh(mentor)
    assert (stored.telegram_user_id, stored.telegram_chat_id, stored.preferred_channel) == (None, None, "whatsapp")
    assert message_of((await driver.outbox())[-1]).request_contact is True  # the old account is a stranger now
    assert await audit(driver, "telegram_unlink") == [
        ("telegram_unlink", f"person:{mentor.id}", {"channel": "telegram", "account": "5001", "source": "chat"})]


async def test_only_coordinators_unlink(driver: Driver, participant: Person, mentor: Person) -> None:
    await driver.say(mentor, "/lepas 0812-0000-0001", channel=TG)

    assert (await driver.received(mentor))[-1].startswith("Maaf, perintah ini bukan untuk peran Anda.")


async def test_group_chat_is_answered_once_and_captures_nobody(driver: Driver, mentor: Person,
                                                               participant: Person) -> None:
    group = "-100123"
    for text in ("/antrian@klinik_bot", "halo semua"):
        await driver.deliver(Inbound(address=Address(TG, group), external_id=f"grp-{text}",
                                     received_at=driver.clock.now, sender_id="5001", sender_name="Budi",
                                     text=text, is_private=False))
    await driver.say(participant, "kak cara daftar NIB gmn")

    assert await texts_to(driver, group) == [PRIVATE_ONLY]
    stored = await driver.refresh(mentor)
    assert (stored.telegram_chat_id, stored.last_inbound_at) == ("5001", None)
    assert (await count(driver, UnknownContact), await count(driver, Ticket)) == (0, 0)
    async with driver.sessions() as session:
        kept = [item.payload for item in (await session.execute(select(InboxItem))).scalars()
                if item.external_id.startswith("grp-")]
    assert all(payload.get("text") is None and payload.get("sender_id") is None for payload in kept)


async def test_group_contact_card_links_nobody(driver: Driver, coordinator: Person) -> None:
    await driver.deliver(Inbound(address=Address(TG, "-100777"), external_id="grp-contact", received_at=driver.clock.now,
                                 sender_id="666", contact_phone=coordinator.phone, contact_user_id="666",
                                 is_private=False))

    assert (await driver.refresh(coordinator)).telegram_user_id is None


def test_inbound_rows_written_before_the_private_flag_read_as_private() -> None:
    old = {"channel": "telegram", "address": "5001", "external_id": "1", "received_at": datetime.now(UTC).isoformat()}

    assert Inbound.from_json(old).is_private is True
    group = Inbound(address=Address(TG, "-1"), external_id="2", received_at=datetime.now(UTC), is_private=False)
    assert Inbound.from_json(group.to_json()).is_private is False

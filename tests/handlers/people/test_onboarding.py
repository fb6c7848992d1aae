"""Who is writing: roster match by number, Telegram contact sharing, consent, and bad input."""

from sqlalchemy import func, select

from handlers.kernel.messages import Channel
from handlers.kernel.outbox import message_of
from storage.models import AuditEntry, Person, Role, Ticket, UnknownContact
from tests.support.driver import Driver


async def count(driver: Driver, model: type) -> int:
    async with driver.sessions() as session:
        return int((await session.execute(select(func.count()).select_from(model))).scalar_one())


async def test_unknown_whatsapp_number_is_told_whom_to_contact_and_recorded(driver: Driver) -> None:
    await driver.say("+6281999999999", "halo, mau daftar")

    rows = await driver.outbox()
    assert message_of(rows[-1]).text == ("Maaf, nomor Anda belum terdaftar di program ini. Silakan hubungi "
                                       "Dinas KUKM (021-000) agar didaftarkan. Pesan Anda sudah kami catat.")
    async with driver.sessions() as session:
        contact = (await session.execute(select(UnknownContact))).scalar_one()
    assert (contact.phone, contact.last_text, contact.message_count) == ("+6281999999999", "halo, mau daftar", 1)


async def test_telegram_stranger_is_asked_to_share_contact(driver: Driver) -> None:
    await driver.say("4711", "halo", channel=Channel.TELEGRAM)

    row = (await driver.outbox())[-1]
    assert message_of(row).request_contact is True
    assert row.address == "4711"


async def test_shared_contact_links_telegram_and_asks_consent(driver: Driver, mentor: Person) -> None:
    sari = await driver.add_person(role=Role.PESERTA, name="Sari", phone="+6281200000009", mentor_id=mentor.id,
                                   consent_given=None, consent_at=None)

    await driver.say("4711", "", channel=Channel.TELEGRAM, contact_phone="0812-0000-0009")

    linked = await driver.refresh(sari)
    assert (linked.telegram_user_id, linked.preferred_channel) == ("4711", "telegram")
    assert message_of(await driver.last(sari)).buttons[0].payload == "consent:yes"


async def test_nothing_proceeds_without_consent(driver: Driver, mentor: Person) -> None:
    sari = await driver.add_person(role=Role.PESERTA, name="Sari", phone="+6281200000009", mentor_id=mentor.id,
                                   consent_given=None, consent_at=None)

    await driver.say(sari, "Bagaimana cara daftar NIB?")
    await driver.say(sari, "2")

    assert await count(driver, Ticket) == 0
    assert (await driver.received(sari))[-1].startswith("Baik, data Anda tidak akan kami proses.")
    assert (await driver.refresh(sari)).consent_given is False


async def test_consent_is_recorded_with_time_and_audit(driver: Driver, mentor: Person) -> None:
    sari = await driver.add_person(role=Role.PESERTA, name="Sari", phone="+6281200000009", mentor_id=mentor.id,
                                   consent_given=None, consent_at=None)

    await driver.say(sari, "halo")
    await driver.say(sari, "1")

    stored = await driver.refresh(sari)
    assert (stored.consent_given, stored.consent_at) == (True, driver.clock.now)
    assert await count(driver, AuditEntry) == 1


async def test_sticker_gets_a_hint_and_changes_nothing(driver: Driver, participant: Person) -> None:
    await driver.say(participant, "", unsupported="stiker")

    assert await driver.received(participant) == [
        "Maaf, stiker belum bisa kami proses. Silakan kirim teks, foto, atau dokumen."]
    assert await count(driver, Ticket) == 0


async def test_twenty_thousand_characters_are_refused_politely(driver: Driver, participant: Person) -> None:
    await driver.say(participant, "x" * 20_000)

    assert await driver.received(participant) == [
        "Pesan Anda terlalu panjang (20.000 karakter; paling banyak 4.000). Mohon dipersingkat, atau kirim sebagai dokumen."]
    assert await count(driver, Ticket) == 0


async def test_batal_without_a_form_says_so(driver: Driver, participant: Person) -> None:
    await driver.say(participant, "batal")

    assert await driver.received(participant) == [
        "Tidak ada isian yang sedang berjalan. Ketik *menu* untuk melihat pilihan."]


async def test_coordinator_sees_unknown_numbers(driver: Driver, coordinator: Person) -> None:
    await driver.say("+6281999999999", "mau ikut pelatihan")

    await driver.say(coordinator, "asing")

    assert (await driver.received(coordinator))[-1] == (
        "Nomor tak terdaftar terbaru:\n• +6281999999999 (whatsapp, 1×, 4 Mar, 09.00 WIB): mau ikut pelatihan\n\n"
        "Daftarkan lewat impor roster bila mereka peserta.")


async def test_participant_cannot_list_unknown_numbers(driver: Driver, participant: Person) -> None:
    await driver.say(participant, "/asing")

    assert (await driver.received(participant))[-1].startswith("Maaf, perintah ini bukan untuk peran Anda.")

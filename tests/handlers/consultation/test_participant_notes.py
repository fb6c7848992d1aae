"""Mentors' notes on their own participants: `catatan 0812… teks` in chat (a ticket's note stays `catatan 12 teks`);
coordinators and experts do not write them; another group's participant is refused and nothing is kept."""

from sqlalchemy import func, select

from handlers.kernel.i18n import t
from handlers.kernel.messages import Channel
from handlers.kernel.outbox import message_of
from storage.models import ParticipantNote, Person, Role, TicketMessage
from tests.support.driver import Driver

TG = Channel.TELEGRAM


async def notes(driver: Driver) -> list[tuple[int, int, str]]:
    async with driver.sessions() as session:
        rows = await session.execute(select(ParticipantNote.participant_id, ParticipantNote.author_id,
                                            ParticipantNote.text).order_by(ParticipantNote.id))
        return [tuple(row) for row in rows]  # type: ignore[misc]


async def test_a_mentor_notes_on_their_participant_by_phone_in_any_spelling(
        driver: Driver, mentor: Person, participant: Person) -> None:
    await driver.say(mentor, "catatan 081200000001 Sari mau ikut bazar Depok bulan depan, bantu siapkan stok", channel=TG)
    saved = message_of(await driver.last(mentor)).text
    await driver.say(mentor, "catatan +6281200000001 udah daftar NIB", channel=TG)

    assert saved == t("notes.saved", "id", name="Sari Wulandari")
    assert await notes(driver) == [
        (participant.id, mentor.id, "Sari mau ikut bazar Depok bulan depan, bantu siapkan stok"),
        (participant.id, mentor.id, "udah daftar NIB")]
    assert await driver.received(participant) == []  # participants never see them


async def test_another_groups_participant_an_empty_note_and_non_mentors_are_refused(
        driver: Driver, mentor: Person, participant: Person, coordinator: Person) -> None:
    dewi = await driver.add_person(role=Role.PENDAMPING, name="Dewi Lestari", phone="+6281100000009")
    await driver.add_person(role=Role.PESERTA, name="Tono", phone="+6281200000009", mentor_id=dewi.id)
    await driver.say(mentor, "catatan 081200000009 ini bukan peserta saya", channel=TG)
    foreign = message_of(await driver.last(mentor)).text
    await driver.say(mentor, "catatan 081299999999 nomor ngasal", channel=TG)
    unknown = message_of(await driver.last(mentor)).text
    await driver.say(mentor, "catatan 081200000001", channel=TG)
    empty = message_of(await driver.last(mentor)).text
    await driver.say(coordinator, "catatan 081200000001 cek lagi ya")
    by_coordinator = message_of(await driver.last(coordinator)).text

    assert foreign == t("notes.not_yours", "id", phone="081200000009")
    assert unknown == t("notes.not_yours", "id", phone="081299999999")
    assert empty == t("notes.usage", "id")
    assert by_coordinator == t("notes.mentors_only", "id")
    assert await notes(driver) == []


async def test_a_tickets_note_is_still_catatan_with_the_ticket_number(
        driver: Driver, mentor: Person, participant: Person) -> None:
    await driver.say(participant, "kak pinjem modal buat oven gimana")
    await driver.press(participant, "tp:permodalan")
    await driver.say(mentor, "catatan 1 Pernah ditolak bank, cek SLIK", channel=TG)

    async with driver.sessions() as session:
        kinds = list((await session.execute(select(TicketMessage.kind).order_by(TicketMessage.id))).scalars())
        count = (await session.execute(select(func.count()).select_from(ParticipantNote))).scalar_one()
    assert kinds == ["question", "note"]
    assert count == 0

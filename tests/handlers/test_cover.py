"""A coordinator marks a mentor away with a backup: new tickets go to the backup, then routing returns."""

from datetime import datetime

import pytest

from handlers.kernel.messages import Channel
from scheduler.jobs import JOBS
from scheduler.runner import run_job
from storage.models import Person, Role, Ticket
from tests.conftest import JAKARTA
from tests.support.driver import Driver

TG = Channel.TELEGRAM


@pytest.fixture
async def backup(driver: Driver) -> Person:
    return await driver.add_person(role=Role.PENDAMPING, name="Andi Wijaya", phone="+6281100000009")


async def ask(driver: Driver, participant: Person, text: str = "pinjem modal") -> None:
    await driver.say(participant, text)
    await driver.press(participant, "tp:permodalan")


async def mentor_of_ticket(driver: Driver, number: int) -> int:
    async with driver.sessions() as session:
        ticket = await session.get(Ticket, number)
        assert ticket is not None
        return ticket.mentor_id


async def test_leave_routes_new_tickets_to_backup_and_back(driver: Driver, participant: Person, mentor: Person,
                                                           backup: Person, coordinator: Person) -> None:
    await driver.say(coordinator, "cuti Budi Santoso 2026-03-04 2026-03-06 Andi Wijaya")
    await ask(driver, participant)
    await driver.press(participant, "close:1")
    driver.clock.now = datetime(2026, 3, 7, 9, tzinfo=JAKARTA)
    await ask(driver, participant, "promosi di ig")

    assert (await driver.received(coordinator))[-1] == (
        "Cuti #1 dicatat: Budi Santoso 04/03/2026–06/03/2026, diganti Andi Wijaya. "
        "Pertanyaan yang sudah ada tetap pada pendamping; pertanyaan baru ke cadangan.")
    texts = await driver.received(participant)
    assert ("✅ Pertanyaan Anda diterima sebagai *#1*. Pendamping Anda, Budi Santoso, sedang cuti sampai 06/03; "
            "pertanyaan ini dijawab oleh Andi Wijaya.") in texts
    assert texts[-1] == "✅ Pertanyaan Anda diterima sebagai *#2*. Pendamping Anda, Budi Santoso, akan menjawab di sini."
    assert [await mentor_of_ticket(driver, 1), await mentor_of_ticket(driver, 2)] == [backup.id, mentor.id]


async def test_open_tickets_move_with_history_when_asked(driver: Driver, participant: Person, mentor: Person,
                                                         backup: Person, coordinator: Person) -> None:
    await ask(driver, participant)
    await driver.say(participant, "tambahan: untuk beli oven")

    await driver.say(coordinator, "cuti +6281100000001 04/03/2026 06/03/2026 +6281100000009 pindah")
    await driver.say(backup, "buka 1")

    assert await mentor_of_ticket(driver, 1) == backup.id
    assert (await driver.received(participant))[-1] == "Pertanyaan #1 Anda kini dijawab oleh pendamping Andi Wijaya."
    view = (await driver.received(backup))[-1]
    assert "Sari Wulandari: pinjem modal" in view
    assert "Sari Wulandari: tambahan: untuk beli oven" in view


async def test_leave_starting_later_moves_open_tickets_when_it_starts(driver: Driver, participant: Person,
                                                                      mentor: Person, backup: Person,
                                                                      coordinator: Person) -> None:
    await ask(driver, participant)
    await driver.say(coordinator, "cuti Budi 2026-03-09 2026-03-13 Andi pindah")
    job = next(job for job in JOBS if job.id == "answer_deadlines")
    await run_job(job, driver.sessions, driver.config, datetime(2026, 3, 8, 23, 50, tzinfo=JAKARTA))
    still_with_mentor = await mentor_of_ticket(driver, 1)

    await run_job(job, driver.sessions, driver.config, datetime(2026, 3, 9, 0, 10, tzinfo=JAKARTA))

    assert (still_with_mentor, await mentor_of_ticket(driver, 1)) == (mentor.id, backup.id)


async def test_cancelled_leave_returns_routing_at_once(driver: Driver, participant: Person, mentor: Person,
                                                       backup: Person, coordinator: Person) -> None:
    await driver.say(coordinator, "cuti Budi 2026-03-04 2026-03-20 Andi")
    await driver.say(coordinator, "cuti")
    listing = (await driver.received(coordinator))[-1]
    await driver.say(coordinator, "cuti batal 1")
    await ask(driver, participant)

    assert "1. Budi Santoso 04/03–20/03/2026, diganti Andi Wijaya" in listing
    assert await mentor_of_ticket(driver, 1) == mentor.id


@pytest.mark.parametrize(("command", "reply"), [
    ("cuti Budi 2026-03-10", "Cara mencatat cuti:"),
    ("cuti Budi 2026-03-14 2026-03-10 Andi", "Tanggal selesai lebih awal dari tanggal mulai."),
    ("cuti Budi 2026-03-10 2026-03-14 Budi", "Pendamping cadangan harus orang lain."),
    ("cuti Siapa 2026-03-10 2026-03-14 Andi", "Tidak ditemukan (atau lebih dari satu) pendamping dengan nama/nomor “Siapa”."),
])
async def test_bad_leave_requests_change_nothing(driver: Driver, mentor: Person, backup: Person,
                                                 coordinator: Person, command: str, reply: str) -> None:
    await driver.say(coordinator, command)
    await driver.say(coordinator, "cuti")

    texts = await driver.received(coordinator)
    assert texts[0].startswith(reply)
    assert texts[1].startswith("🏖 Cuti pendamping:\nTidak ada.")


async def test_only_coordinators_record_leave(driver: Driver, mentor: Person, backup: Person) -> None:
    await driver.say(mentor, "cuti Budi 2026-03-10 2026-03-14 Andi", channel=TG)

    assert await driver.received(mentor) == [
        "Maaf, perintah ini bukan untuk peran Anda. Ketik *menu* untuk melihat pilihan Anda."]

"""A coordinator marks a mentor away with a backup: new tickets go to the backup, then routing returns."""

import asyncio
import shutil
from datetime import datetime
from pathlib import Path

import pytest
from sqlalchemy import select

from bot.cli import main
from handlers.kernel.messages import Channel
from handlers.kernel.outbox import message_of
from scheduler.jobs import JOBS
from scheduler.runner import run_job
from storage.db import make_engine, make_sessionmaker
from storage.models import OutboxMessage, Person, Role, Ticket
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
        "Cuti #1 dicatat: Budi Santoso 4–6 Mar 2026, diganti Andi Wijaya. "
        "Pertanyaan yang sudah ada tetap pada pendamping; pertanyaan baru ke cadangan.")
    texts = await driver.received(participant)
    assert ("✅ Pertanyaan Anda diterima sebagai *#1*. Pendamping Anda, Budi Santoso, sedang cuti sampai 6 Mar 2026; "
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

    assert "1. Budi Santoso 4–20 Mar 2026, diganti Andi Wijaya" in listing
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


async def test_same_leave_entered_twice_is_refused_and_told_once(driver: Driver, mentor: Person, backup: Person,
                                                                 coordinator: Person) -> None:
    await driver.say(coordinator, "cuti Budi 10/3 14/3 Andi")
    await driver.say(coordinator, "cuti Budi 12/3 20/3 Andi")

    assert (await driver.received(coordinator))[-1] == (
        "Budi Santoso sudah tercatat cuti 10–14 Mar 2026 (cuti #1), jadi tidak dicatat dua kali. "
        "Untuk mengubahnya, batalkan dulu cuti #1.")
    assert await driver.received(mentor) == [
        "🏖 Cuti Anda 10–14 Mar 2026 dicatat. Pertanyaan baru dijawab oleh Andi Wijaya."]
    assert len(await driver.received(backup)) == 1


@pytest.mark.parametrize(("typed", "recorded"), [
    ("cuti Budi 7/12 9/12 Andi", "Budi Santoso 7–9 Des 2026"),
    ("cuti Budi 7 Des 9 desember Andi", "Budi Santoso 7–9 Des 2026"),
    ("cuti Budi 2/3 5 Mar Andi", "Budi Santoso 2–5 Mar 2026"),  # begun two days ago: still this year
    ("cuti Budi 28/12 3/1 Andi", "Budi Santoso 28 Des 2026–3 Jan 2027"),
])
async def test_short_dates_are_read_in_the_programme_year(driver: Driver, mentor: Person, backup: Person,
                                                          coordinator: Person, typed: str, recorded: str) -> None:
    await driver.say(coordinator, typed)

    assert (await driver.received(coordinator))[-1].startswith(f"Cuti #1 dicatat: {recorded}, diganti Andi Wijaya.")


async def test_moving_a_question_to_a_mentor_on_leave_asks_first(driver: Driver, participant: Person, mentor: Person,
                                                                 backup: Person, coordinator: Person) -> None:
    citra = await driver.add_person(role=Role.PENDAMPING, name="Citra Lestari", phone="+6281100000003")
    await driver.say(coordinator, f"cuti Citra 2/3 6/3 {backup.phone}")
    await ask(driver, participant)
    await driver.say(coordinator, "pindahkan 1 Citra")
    question = message_of(await driver.last(coordinator))
    still_with = await mentor_of_ticket(driver, 1)

    await driver.say(coordinator, "2")  # WhatsApp option 2: to the backup instead

    assert question.text.startswith("⚠️ Citra Lestari sedang cuti 2–6 Mar 2026 (cadangan: Andi Wijaya). "
                                    "Tetap alihkan #1 ke Citra Lestari?")
    assert [b.payload for b in question.buttons] == [f"hand:1:{citra.id}:ok", f"hand:1:{backup.id}", "hand:1:no"]
    assert (still_with, await mentor_of_ticket(driver, 1)) == (mentor.id, backup.id)
    assert await driver.received(citra) == ["🏖 Cuti Anda 2–6 Mar 2026 dicatat. Pertanyaan baru dijawab oleh Andi Wijaya."]


async def test_moving_to_a_mentor_on_leave_happens_only_when_confirmed(driver: Driver, participant: Person,
                                                                       mentor: Person, backup: Person,
                                                                       coordinator: Person) -> None:
    citra = await driver.add_person(role=Role.PENDAMPING, name="Citra Lestari", phone="+6281100000003")
    await driver.say(coordinator, "cuti Citra 2/3 6/3 Andi")
    await ask(driver, participant)
    await driver.say(coordinator, "pindahkan 1 Citra")
    await driver.press(coordinator, "hand:1:no")
    kept = (await driver.received(coordinator))[-1]

    await driver.press(coordinator, f"hand:1:{citra.id}:ok")

    assert kept == "Baik, #1 tidak dialihkan (tetap pada Budi Santoso)."
    assert (await driver.received(coordinator))[-1] == "#1 dialihkan ke Citra Lestari."
    assert await mentor_of_ticket(driver, 1) == citra.id


def test_cli_refuses_the_same_leave_twice(tmp_path: Path, sqlite_template: Path, monkeypatch: pytest.MonkeyPatch,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    shutil.copy(sqlite_template, tmp_path / "cli.db")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("KLINIK_DATABASE_URL", f"sqlite+aiosqlite:///{tmp_path}/cli.db")
    roster = tmp_path / "roster.csv"
    roster.write_text("role,name,phone\npendamping,Budi Santoso,0811-0000-0001\npendamping,Andi Wijaya,0811-0000-0009\n")
    assert main(["roster", "import", str(roster)]) == 0
    capsys.readouterr()

    first = main(["cuti", "add", "Budi", "2030-03-10", "14 Mar 2030", "Andi"])
    second = main(["cuti", "add", "Budi", "12/3/2030", "2030-03-20", "Andi", "--pindah"])

    said = capsys.readouterr()
    assert (first, second) == (0, 1)
    assert said.out.startswith("Cuti #1 dicatat: Budi Santoso 10–14 Mar 2030, diganti Andi Wijaya.")
    assert said.err == ("Budi Santoso sudah tercatat cuti 10–14 Mar 2030 (cuti #1), jadi tidak dicatat dua kali. "
                        "Untuk mengubahnya, batalkan dulu cuti #1.\n")
    assert len(asyncio.run(outbox_rows(tmp_path / "cli.db"))) == 2  # the mentor and the backup, told once


async def outbox_rows(path: Path) -> list[OutboxMessage]:
    engine = make_engine(f"sqlite+aiosqlite:///{path}")
    try:
        async with make_sessionmaker(engine)() as session:
            return list((await session.execute(select(OutboxMessage))).scalars())
    finally:
        await engine.dispose()

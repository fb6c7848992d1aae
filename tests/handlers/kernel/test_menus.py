"""WhatsApp options are written when the transaction commits, in key order: read back within the transaction,
dropped with a rollback, and two transactions showing options to the same numbers in opposite orders both
commit (PostgreSQL: no deadlock, which would cost its 1 s deadlock_timeout). Run with --postgres."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import select

from handlers.kernel.messages import Address, Button, Channel, Outgoing
from handlers.kernel.outbox import enqueue, menu_choice
from storage.models import Menu, Person, Role
from tests.support.driver import Driver


def options(person: Person, *payloads: str) -> Outgoing:
    return Outgoing(text="Pilih:", person_id=person.id,
                    buttons=tuple(Button(f"Pilihan {n}", payload) for n, payload in enumerate(payloads, 1)))


async def picked(driver: Driver, person: Person, text: str) -> str | None:
    async with driver.sessions() as session:
        return await menu_choice(session, Address(Channel.WHATSAPP, person.phone), text)


async def test_options_shown_are_picked_in_the_same_transaction_and_dropped_with_a_rollback(
        driver: Driver, participant: Person) -> None:
    address = Address(Channel.WHATSAPP, participant.phone)
    async with driver.sessions.begin() as session:
        await enqueue(session, options(participant, "cmd:menu", "cmd:tanya"), driver.clock.now, driver.config)
        assert await menu_choice(session, address, "2") == "cmd:tanya"
        await enqueue(session, Outgoing(text="Oke kak", person_id=participant.id), driver.clock.now, driver.config)
        assert await menu_choice(session, address, "1") is None  # a message without options clears them
        await enqueue(session, options(participant, "cmd:izin"), driver.clock.now, driver.config)
    assert await picked(driver, participant, "1") == "cmd:izin"

    async def show_then_fail() -> None:
        async with driver.sessions.begin() as session:
            await enqueue(session, options(participant, "cmd:tugas"), driver.clock.now, driver.config)
            raise RuntimeError("gagal di tengah jalan")

    with pytest.raises(RuntimeError):
        await show_then_fail()
    assert await picked(driver, participant, "1") == "cmd:izin"


async def test_two_transactions_showing_options_to_two_numbers_in_opposite_orders_both_commit(
        driver: Driver, db_kind: str) -> None:
    if db_kind != "postgres":
        pytest.skip("SQLite has one writer: its transactions never overlap")
    first = await driver.add_person(role=Role.PENDAMPING, name="Bu Sari", phone="+6281100000071")
    second = await driver.add_person(role=Role.PENDAMPING, name="Pak Budi", phone="+6281100000072")
    both_queued = asyncio.Barrier(2)

    async def show(order: list[Person], label: str) -> None:
        async with driver.sessions.begin() as session:
            for person in order:
                await enqueue(session, options(person, f"{label}:{person.id}"), driver.clock.now, driver.config)
                await session.flush()
            await both_queued.wait()  # each has shown its options before either commits

    async with asyncio.timeout(5):  # a deadlock would raise after PostgreSQL's 1 s deadlock_timeout
        await asyncio.gather(show([first, second], "a"), show([second, first], "b"))

    chosen = [await picked(driver, person, "1") for person in (first, second)]
    assert all(choice is not None for choice in chosen)
    assert len(await driver.outbox()) == 4


async def test_options_shown_inside_a_savepoint_that_rolled_back_were_never_shown(
        driver: Driver, participant: Person) -> None:
    address = Address(Channel.WHATSAPP, participant.phone)
    async with driver.sessions.begin() as session:
        await enqueue(session, options(participant, "cmd:menu"), driver.clock.now, driver.config)
        savepoint = await session.begin_nested()
        await enqueue(session, options(participant, "cmd:tugas"), driver.clock.now, driver.config)
        assert await menu_choice(session, address, "1") == "cmd:tugas"
        await savepoint.rollback()
        assert await menu_choice(session, address, "1") == "cmd:menu"
    assert await picked(driver, participant, "1") == "cmd:menu"


async def test_a_message_without_options_leaves_no_row_for_the_number(driver: Driver, participant: Person) -> None:
    other = await driver.add_person(role=Role.PESERTA, name="Peserta Dewi", phone="+6281290000777")
    async with driver.sessions.begin() as session:
        await enqueue(session, options(participant, "cmd:menu"), driver.clock.now, driver.config)
    async with driver.sessions.begin() as session:
        await enqueue(session, Outgoing(text="Oke kak", person_id=participant.id), driver.clock.now, driver.config)
        await enqueue(session, Outgoing(text="Halo kak", person_id=other.id), driver.clock.now, driver.config)

    async with driver.sessions() as session:
        assert (await session.execute(select(Menu.address))).scalars().all() == []
    assert await picked(driver, participant, "1") is None
